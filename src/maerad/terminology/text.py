"""Text normalisation for term matching that keeps what distinguishes concepts.

rapidfuzz's ``default_process`` strips every non-alphanumeric character, which turns ``"MI < 1/2"`` and
``"MI ≥ 1/2"`` into the same string; here comparison signs, percentages, digits, units and negation
words survive. :func:`normalize_text`:

1. NFKC (full-width ``＞＝``, ``％``, ``ＭＩ`` and the Roman-numeral characters ``Ⅱ`` become ASCII);
2. case folding;
3. one spelling per comparison sign: ``>=``, ``=>``, ``≧``, ``⩾`` → ``≥``;
   ``<=``, ``=<``, ``≦``, ``⩽`` → ``≤``;
4. dashes, brackets and punctuation become spaces (``/`` and ``.`` are kept between digits);
5. a sign, a number and its unit are glued together (``"≥ 50 %"`` → ``"≥50%"``, ``"3 mm"`` → ``"3mm"``),
   and the fraction ``1/2`` is written ``50%`` (``"MI < 1/2"`` → ``"mi <50%"``);
6. a few British spellings map to American ones (``tumour`` → ``tumor``, ``oedema`` → ``edema``);
7. whitespace is collapsed, and removed next to Chinese characters.

Examples::

    >>> normalize_text("Deep myometrial invasion (＞＝ 50 ％)")
    'deep myometrial invasion ≥50%'
    >>> normalize_text("子宫肌层 浸润深度 ≥ 50%")
    '子宫肌层浸润深度≥50%'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["has_cjk", "normalize_text", "strip_parenthetical"]

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAS_CJK = re.compile(f"[{_CJK}]")
_DIGIT = re.compile(r"\d")
_SIGNS = (("≧", "≥"), ("⩾", "≥"), (">=", "≥"), ("=>", "≥"), ("≦", "≤"), ("⩽", "≤"), ("<=", "≤"), ("=<", "≤"))
_TO_SPACE = str.maketrans({c: " " for c in "()[]{},;:!?\"'`·、，。：；‐‑‒–—―−-_*#=+|\\~^"})
_SLASH = re.compile(r"(?<!\d)\s*/\s*|\s*/\s*(?!\d)")
_GLUE_SIGN = re.compile(r"\s*([<>≤≥])\s*(?=\d)")
_DOT = re.compile(r"\.(?!\d)|(?<!\d)\.")
_GLUE_FRACTION = re.compile(r"(\d)\s*/\s*(\d)")
_HALF = re.compile(r"(?<![\d/.])1/2(?![\d/])")
_GLUE_UNIT = re.compile(r"(\d)\s+(%|mm\b|cm\b|ml\b)")
_CJK_SPACE = re.compile(f"(?<=[{_CJK}])\\s+|\\s+(?=[{_CJK}])")
_SPELLING = {
    "tumour": "tumor",
    "tumours": "tumors",
    "oedema": "edema",
    "haemorrhagic": "hemorrhagic",
    "haemorrhage": "hemorrhage",
    "haematoma": "hematoma",
    "oestrogen": "estrogen",
}
_PARENS = re.compile(r"\s*[(（][^()（）]*[)）]\s*")


def has_cjk(text: str) -> bool:
    """True if ``text`` contains a CJK ideograph (the mention is then compared with Chinese terms)."""
    return _HAS_CJK.search(text) is not None


def normalize_text(text: str) -> str:
    """Normalise a term or mention for comparison (see the module docstring)."""
    s = unicodedata.normalize("NFKC", text).casefold()
    for old, new in _SIGNS:
        if old in s:
            s = s.replace(old, new)
    if "/" in s:
        s = _SLASH.sub(" ", s)
        s = _GLUE_FRACTION.sub(r"\1/\2", s)
        s = _HALF.sub("50%", s)
    if "." in s:
        s = _DOT.sub(" ", s)
    s = s.translate(_TO_SPACE)
    if _DIGIT.search(s):
        s = _GLUE_SIGN.sub(r" \1", s)
        s = _GLUE_UNIT.sub(r"\1\2", s)
    words = s.split()
    if any(w in _SPELLING for w in words):
        words = [_SPELLING.get(w, w) for w in words]
    s = " ".join(words)
    if _HAS_CJK.search(s):
        s = _CJK_SPACE.sub("", s)
    return s


def strip_parenthetical(text: str) -> str:
    """``text`` without parenthesised parts.

    ``"deep myometrial invasion (≥ 50 %)"`` → ``"deep myometrial invasion"``.
    """
    return " ".join(_PARENS.sub(" ", text).split())
