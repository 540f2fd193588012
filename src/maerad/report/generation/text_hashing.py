"""Hashed character n-gram and word features of short texts (ontology terms, field labels).

A text is normalised (Unicode NFKC, case-folded, whitespace collapsed), wrapped in boundary marks
``<…>``, and cut into every character n-gram with ``n`` in ``ngram_range`` plus one feature per word.
Each feature is hashed with CRC-32 (stable across processes and Python versions, unlike ``hash``)
into ``buckets`` slots. Character n-grams work the same for English and Chinese terms, so the
embedding of ``"deep myometrial invasion (≥ 50 %)"`` shares features with its synonyms and with
``"子宫肌层浸润深度≥50%"`` shares none — the alignment learns that link from data.

Examples::

    >>> ids = text_features("Obturator lymph node", buckets=1024)
    >>> ids == text_features("obturator  LYMPH node", buckets=1024), max(ids) < 1024
    (True, True)
"""

from __future__ import annotations

import re
import unicodedata
import zlib

from maerad.errors import ConfigError

__all__ = ["normalise_text", "text_features"]

_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"\w+")


def normalise_text(text: str) -> str:
    """NFKC, case-folded, with runs of white space collapsed to one space and trimmed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def text_features(text: str, *, buckets: int, ngram_range: tuple[int, int] = (2, 4)) -> list[int]:
    """Hashed feature ids of ``text`` (character n-grams and words), in a fixed order.

    Args:
        text: any text; an empty text gives the features of ``"<>"``.
        buckets: number of hash slots (ids are in ``[0, buckets)``).
        ngram_range: smallest and largest n-gram length (inclusive).

    Raises:
        ConfigError: ``buckets < 1`` or an empty / non-positive n-gram range.
    """
    low, high = ngram_range
    if buckets < 1:
        raise ConfigError(f"buckets must be >= 1, got {buckets}")
    if low < 1 or high < low:
        raise ConfigError(f"ngram_range must be (low, high) with 1 <= low <= high, got {ngram_range}")
    norm = normalise_text(text)
    wrapped = f"<{norm}>"
    features = [f"c:{wrapped[i:i + n]}" for n in range(low, high + 1) for i in range(len(wrapped) - n + 1)]
    features += [f"w:{w}" for w in _WORDS.findall(norm)]
    if not features:
        features = [f"c:{wrapped}"]
    return [zlib.crc32(f.encode("utf-8")) % buckets for f in features]
