"""Harrell's concordance index (C-index) for right-censored times and a risk score (SPEC §7.3).

Definition implemented (SPEC §7.3, scikit-survival convention [R6]):

* ``risk``: higher = earlier expected event (pass ``−predicted_survival_time`` for a time-like score;
  lifelines' ``concordance_index`` takes the opposite sign).
* A pair (i, j) is **comparable** when ``time[i] < time[j]`` and ``event[i] = 1``: the subject with
  the strictly shorter observed time had the event.
* **Tied times are never comparable**: pairs with ``time[i] == time[j]`` are left out whatever their
  event indicators (also an event and a censoring at the same time). Other packages count some of
  these pairs; this is the convention used here.
* A comparable pair is concordant when ``risk[i] > risk[j]``, discordant when ``risk[i] < risk[j]``,
  and a tie in risk counts ½.
* ``C = (concordant + ½ · tied_risk) / comparable``; NaN when no pair is comparable.

The computation is a vectorised O(n²) comparison in numpy, processed in row blocks so that memory
stays bounded (≈ 10⁷ pair comparisons per block).

Examples::

    >>> from maerad.eval.c_index import concordance, concordance_index
    >>> concordance_index([2, 4, 6, 8], [1, 1, 0, 1], [0.9, 0.4, 0.5, 0.1])  # SPEC §7.3 reference
    0.8
    >>> r = concordance([2, 4, 6, 8], [1, 1, 0, 1], [0.9, 0.4, 0.5, 0.1])
    >>> r.comparable, r.concordant, r.discordant, r.tied_risk
    (5, 4, 1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.errors import InputError
from maerad.eval.inputs import NumberInput, as_float_array, check_same_length
from maerad.eval.json_data import jsonable

__all__ = ["ConcordanceResult", "concordance", "concordance_index"]

_BLOCK_PAIRS = 10_000_000


@dataclass(frozen=True)
class ConcordanceResult:
    """Harrell's C and its pair counts.

    Attributes:
        c_index: ``(concordant + ½·tied_risk) / comparable`` (NaN when ``comparable`` is 0).
        comparable: number of comparable pairs.
        concordant: comparable pairs ranked correctly by the risk.
        discordant: comparable pairs ranked the wrong way.
        tied_risk: comparable pairs with equal risk.
    """

    c_index: float
    comparable: int
    concordant: int
    discordant: int
    tied_risk: int

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data (NaN → ``None``)."""
        result: dict[str, Any] = jsonable(self)
        return result


def _events(event: NumberInput, name: str) -> npt.NDArray[np.bool_]:
    raw = np.asarray(event)
    if raw.dtype == np.bool_:
        values = raw.astype(np.float64).reshape(-1) if raw.ndim == 1 else as_float_array(raw, name)
    else:
        values = as_float_array(event, name)
    bad = np.flatnonzero((values != 0) & (values != 1))
    if bad.size:
        raise InputError(f"{name}[{int(bad[0])}]: expected an event indicator 0/1, got {values[bad[0]]}")
    return np.equal(values, 1.0)


def concordance(time: NumberInput, event: NumberInput, risk: NumberInput) -> ConcordanceResult:
    """Harrell's C-index with its pair counts (module docstring for the definition, SPEC §7.3).

    Args:
        time: ``(N,)`` observed times (event or censoring), finite.
        event: ``(N,)`` event indicators: 1 / ``True`` = event observed, 0 / ``False`` = censored.
        risk: ``(N,)`` predicted risk scores, higher = earlier event, finite.

    Raises:
        InputError: different lengths, no subjects, non-finite values, or an event indicator other
            than 0/1.
    """
    t = as_float_array(time, "time")
    d = _events(event, "event")
    r = as_float_array(risk, "risk")
    n = check_same_length(time=t, event=d, risk=r)
    comparable = concordant = tied = 0
    block = max(1, _BLOCK_PAIRS // n)
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        # SPEC §7.3: comparable iff T_i < T_j and δ_i = 1 (tied times never comparable).
        ok = (t[rows, None] < t[None, :]) & d[rows, None]
        comparable += int(ok.sum())
        concordant += int((ok & (r[rows, None] > r[None, :])).sum())
        tied += int((ok & (r[rows, None] == r[None, :])).sum())
    c = (concordant + 0.5 * tied) / comparable if comparable else float("nan")
    return ConcordanceResult(c_index=c, comparable=comparable, concordant=concordant,
                             discordant=comparable - concordant - tied, tied_risk=tied)


def concordance_index(time: NumberInput, event: NumberInput, risk: NumberInput) -> float:
    """Harrell's C-index (SPEC §7.3); NaN when no pair is comparable. See :func:`concordance`.

    Args:
        time: ``(N,)`` observed times.
        event: ``(N,)`` event indicators (1 = event, 0 = censored).
        risk: ``(N,)`` risk scores (higher = earlier event).
    """
    return concordance(time, event, risk).c_index
