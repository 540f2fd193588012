"""Corpus BLEU (Papineni et al. 2002), pure Python: clipped n-gram precision and brevity penalty.

For n = 1 … ``max_order`` (4 by default), over the whole corpus:

* ``p_n = Σ_sentences Σ_ngrams min(count in hypothesis, max count in any reference) / Σ_sentences
  (number of hypothesis n-grams)`` — each hypothesis n-gram is credited at most as often as it occurs
  in a single reference (clipping);
* brevity penalty ``BP = 1`` if ``c > r`` else ``exp(1 − r / c)``, with ``c`` the total hypothesis
  length and ``r`` the sum over sentences of the reference length closest to the hypothesis length
  (the shorter one on a tie); ``BP = 0`` when ``c = 0``;
* ``BLEU = BP · exp(Σ_n log p_n / max_order)`` (uniform weights), in [0, 1] — not multiplied by 100.

Smoothing (for short texts, where a zero ``p_n`` makes BLEU 0):

* ``"none"``: any ``p_n = 0`` gives BLEU = 0 (Papineni);
* ``"add1"``: for n ≥ 2, add 1 to the numerator and the denominator of ``p_n`` (Lin & Och 2004);
* ``"epsilon"``: a zero numerator is replaced by ``epsilon`` (0.1 by default; Chen & Cherry 2014,
  method 1).

Texts are tokenised with :func:`maerad.eval.text_tokens.tokenize` (words and punctuation for English,
one token per character for Chinese) unless another ``tokenizer`` is given. BLEU of generated report
text is a secondary metric: it rewards wording, not clinical correctness.

Examples::

    >>> from maerad.eval.bleu import corpus_bleu
    >>> corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]).score
    1.0
    >>> r = corpus_bleu(["the cat sat on the mat"], ["the cat is on the mat"], smoothing="add1")
    >>> round(r.score, 4)  # (5/6 · 4/6 · 2/5 · 1/4) ** (1/4)
    0.4855
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from maerad.errors import ConfigError, InputError
from maerad.eval.json_data import jsonable
from maerad.eval.text_tokens import tokenize

__all__ = ["BleuResult", "Smoothing", "corpus_bleu", "ngram_counts"]

Smoothing = Literal["none", "add1", "epsilon"]


@dataclass(frozen=True)
class BleuResult:
    """Corpus BLEU and its parts.

    Attributes:
        score: BLEU in [0, 1].
        precisions: the (smoothed) n-gram precisions ``p_1 … p_N``.
        matches, totals: per order, the clipped matching n-grams and the hypothesis n-grams (unsmoothed).
        brevity_penalty: BP.
        hypothesis_length, reference_length: ``c`` and ``r`` in tokens.
    """

    score: float
    precisions: tuple[float, ...]
    matches: tuple[int, ...]
    totals: tuple[int, ...]
    brevity_penalty: float
    hypothesis_length: int
    reference_length: int

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data."""
        result: dict[str, Any] = jsonable(self)
        return result


def ngram_counts(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    """Counts of the n-grams (tuples of ``n`` consecutive tokens) of ``tokens``."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _references(references: Sequence[str | Sequence[str]], n: int) -> list[list[str]]:
    if len(references) != n:
        raise InputError(f"references: {len(references)} entries for {n} hypotheses; need one per hypothesis")
    out: list[list[str]] = []
    for i, ref in enumerate(references):
        refs = [ref] if isinstance(ref, str) else list(ref)
        if not refs or not all(isinstance(r, str) for r in refs):
            raise InputError(f"references[{i}]: expected a text or a non-empty list of texts, got {ref!r}")
        out.append(refs)
    return out


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    max_order: int = 4,
    smoothing: Smoothing = "none",
    epsilon: float = 0.1,
    tokenizer: Callable[[str], list[str]] = tokenize,
) -> BleuResult:
    """Corpus-level BLEU of ``hypotheses`` against ``references`` (module docstring for the definition).

    Args:
        hypotheses: N generated texts.
        references: N entries, each one reference text or a list of reference texts for that hypothesis.
        max_order: the largest n-gram order (4 for BLEU-4).
        smoothing: ``"none"``, ``"add1"`` or ``"epsilon"``.
        epsilon: the value replacing a zero match count with ``smoothing="epsilon"``.
        tokenizer: text → tokens; default :func:`~maerad.eval.text_tokens.tokenize`.

    Raises:
        InputError: no hypotheses, a hypothesis that is not a string, or a references list that does
            not have one entry (string or non-empty list of strings) per hypothesis.
        ConfigError: ``max_order`` < 1, an unknown ``smoothing``, or ``epsilon`` ≤ 0.
    """
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ConfigError(f"max_order: expected an integer ≥ 1, got {max_order!r}")
    if smoothing not in ("none", "add1", "epsilon"):
        raise ConfigError(f"smoothing: expected 'none', 'add1' or 'epsilon', got {smoothing!r}")
    if not epsilon > 0:
        raise ConfigError(f"epsilon: expected a positive number, got {epsilon!r}")
    if isinstance(hypotheses, str) or not hypotheses:
        raise InputError("hypotheses: expected a non-empty list of texts")
    for i, h in enumerate(hypotheses):
        if not isinstance(h, str):
            raise InputError(f"hypotheses[{i}]: expected a string, got {h!r}")
    refs = _references(references, len(hypotheses))

    matches = [0] * max_order
    totals = [0] * max_order
    c = r = 0
    for hyp_text, ref_texts in zip(hypotheses, refs, strict=True):
        hyp = tokenizer(hyp_text)
        ref_tokens = [tokenizer(t) for t in ref_texts]
        c += len(hyp)
        r += min((len(x) for x in ref_tokens), key=lambda length: (abs(length - len(hyp)), length))
        for n in range(1, max_order + 1):
            counts = ngram_counts(hyp, n)
            max_ref: Counter[tuple[str, ...]] = Counter()
            for x in ref_tokens:
                max_ref |= ngram_counts(x, n)  # element-wise maximum over references
            matches[n - 1] += sum(min(k, max_ref[g]) for g, k in counts.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)

    precisions: list[float] = []
    for n, (m, t) in enumerate(zip(matches, totals, strict=True), start=1):
        if smoothing == "add1" and n >= 2:
            precisions.append((m + 1) / (t + 1))
        elif t == 0:
            precisions.append(0.0)
        elif smoothing == "epsilon" and m == 0:
            precisions.append(epsilon / t)
        else:
            precisions.append(m / t)
    bp = 0.0 if c == 0 else (1.0 if c > r else math.exp(1 - r / c))
    score = 0.0
    if min(precisions) > 0 and c > 0:
        score = bp * math.exp(sum(math.log(p) for p in precisions) / max_order)
    return BleuResult(score=score, precisions=tuple(precisions), matches=tuple(matches), totals=tuple(totals),
                      brevity_penalty=bp, hypothesis_length=c, reference_length=r)
