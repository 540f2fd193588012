"""Agreement rate between two predictions of the same quantity (e.g. rule-derived vs model-predicted stage).

Per case the two values agree when they are equal. Conventions: a case where *both* values are
missing (``None``) is left out (there is nothing to compare); a case where exactly one is missing is
a disagreement (one source produced a value the other did not). The rate is ``n_agree / n_compared``,
NaN when no case is compared.

Examples::

    >>> from maerad.eval.agreement import agreement_rate
    >>> r = agreement_rate(["IB1", "IIB", None, "IVA"], ["IB1", "IIIB", None, None])
    >>> r.rate, r.n_compared, r.n_agree, r.n_both_missing
    (0.3333333333333333, 3, 1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maerad.eval.inputs import LabelInput, as_label_list, check_same_length
from maerad.eval.json_data import jsonable

__all__ = ["AgreementResult", "agreement_rate"]


@dataclass(frozen=True)
class AgreementResult:
    """How often two predictions agree.

    Attributes:
        rate: ``n_agree / n_compared`` (NaN when ``n_compared`` is 0).
        n_compared: cases where at least one of the two values is present.
        n_agree: compared cases with equal values.
        n_both_missing: cases left out because both values are ``None``.
    """

    rate: float
    n_compared: int
    n_agree: int
    n_both_missing: int

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data."""
        result: dict[str, Any] = jsonable(self)
        return result


def agreement_rate(a: LabelInput, b: LabelInput) -> AgreementResult:
    """Fraction of cases where ``a`` and ``b`` give the same label (module conventions for ``None``).

    Args:
        a: ``(N,)`` labels of the first source (e.g. the rule engine); ``None`` = not produced.
        b: ``(N,)`` labels of the second source (e.g. the model).

    Raises:
        InputError: different lengths, no cases, or a value that is not a label.
    """
    x = as_label_list(a, "a", allow_missing=True)
    y = as_label_list(b, "b", allow_missing=True)
    check_same_length(a=x, b=y)
    pairs = [(u, v) for u, v in zip(x, y, strict=True) if not (u is None and v is None)]
    agree = sum(u == v for u, v in pairs)
    return AgreementResult(
        rate=agree / len(pairs) if pairs else float("nan"), n_compared=len(pairs), n_agree=agree,
        n_both_missing=len(x) - len(pairs),
    )
