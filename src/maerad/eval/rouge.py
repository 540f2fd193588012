"""ROUGE-L (Lin 2004): F-measure of the longest common subsequence (LCS), pure Python.

Per (hypothesis, reference) pair, with ``L`` the LCS length in tokens:
``P = L / len(hypothesis)``, ``R = L / len(reference)``, ``F = (1 + β²)·P·R / (R + β²·P)``
(``β = 1``: the harmonic mean; F = 0 when L = 0). With several references the one with the highest
F is used. Two empty texts score F = 1; an empty text against a non-empty one scores 0. The corpus
score is the mean over pairs of F (and of the P and R of the chosen references).

Texts are tokenised by :func:`maerad.eval.text_tokens.tokenize` (per character for Chinese). Like
BLEU it measures wording only and is secondary to the clinical field metrics.

Examples::

    >>> from maerad.eval.rouge import lcs_length, rouge_l
    >>> lcs_length(list("ABCBDAB"), list("BDCABA"))
    4
    >>> round(rouge_l(["肿瘤侵犯宫旁"], ["肿瘤未侵犯宫旁"]).f, 4)  # P = 6/6, R = 6/7, F = 12/13
    0.9231
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from maerad.errors import ConfigError, InputError
from maerad.eval.json_data import jsonable
from maerad.eval.text_tokens import tokenize

__all__ = ["RougeResult", "lcs_length", "rouge_l"]


@dataclass(frozen=True)
class RougeResult:
    """ROUGE-L averaged over the pairs.

    Attributes:
        f: mean F-measure.
        precision: mean LCS precision (of the reference chosen per pair).
        recall: mean LCS recall.
        per_pair: the F of each pair, in order.
    """

    f: float
    precision: float
    recall: float
    per_pair: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data."""
        result: dict[str, Any] = jsonable(self)
        return result


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of token sequences ``a`` and ``b`` (O(len a · len b))."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _score(hyp: list[str], ref: list[str], beta: float) -> tuple[float, float, float]:
    if not hyp and not ref:
        return 1.0, 1.0, 1.0
    lcs = lcs_length(hyp, ref)
    if lcs == 0:
        return 0.0, 0.0, 0.0
    p, r = lcs / len(hyp), lcs / len(ref)
    return (1 + beta**2) * p * r / (r + beta**2 * p), p, r


def rouge_l(
    hypotheses: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    beta: float = 1.0,
    tokenizer: Callable[[str], list[str]] = tokenize,
) -> RougeResult:
    """Mean ROUGE-L F over (hypothesis, references) pairs (module docstring for the definition).

    Args:
        hypotheses: N generated texts.
        references: N entries, each one reference text or a list of reference texts.
        beta: weight of recall relative to precision (1 = F1).
        tokenizer: text → tokens; default :func:`~maerad.eval.text_tokens.tokenize`.

    Raises:
        InputError: no hypotheses, a non-string text, or not one references entry per hypothesis.
        ConfigError: ``beta`` ≤ 0.
    """
    if not beta > 0:
        raise ConfigError(f"beta: expected a positive number, got {beta!r}")
    if isinstance(hypotheses, str) or not hypotheses:
        raise InputError("hypotheses: expected a non-empty list of texts")
    if len(references) != len(hypotheses):
        raise InputError(
            f"references: {len(references)} entries for {len(hypotheses)} hypotheses; need one per hypothesis"
        )
    scores: list[tuple[float, float, float]] = []
    for i, (h, ref) in enumerate(zip(hypotheses, references, strict=True)):
        refs = [ref] if isinstance(ref, str) else list(ref)
        if not isinstance(h, str):
            raise InputError(f"hypotheses[{i}]: expected a string, got {h!r}")
        if not refs or not all(isinstance(x, str) for x in refs):
            raise InputError(f"references[{i}]: expected a text or a non-empty list of texts, got {ref!r}")
        hyp = tokenizer(h)
        scores.append(max(_score(hyp, tokenizer(x), beta) for x in refs))
    n = len(scores)
    return RougeResult(f=sum(s[0] for s in scores) / n, precision=sum(s[1] for s in scores) / n,
                       recall=sum(s[2] for s in scores) / n, per_pair=tuple(s[0] for s in scores))
