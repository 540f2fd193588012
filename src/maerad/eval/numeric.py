"""Errors of measured quantities: absolute errors (sizes in mm), relative errors (tumour volume).

* Absolute error per case: ``|pred − truth|``; summarised by the mean (MAE) and the median.
* Tumour-volume relative error per case: ``|pred − truth| / truth``. A true volume of 0 makes it
  undefined and raises :class:`~maerad.errors.InputError` naming the case (leave lesion-free cases out
  of this metric, or score them with an absolute error); negative volumes or sizes are errors too.

Examples::

    >>> from maerad.eval.numeric import size_mae, volume_relative_error
    >>> r = size_mae([20.0, 35.0, 41.0], [22.0, 35.0, 37.0])
    >>> r.mae, r.median, r.per_case
    (2.0, 2.0, (2.0, 0.0, 4.0))
    >>> volume_relative_error([10.0, 40.0], [12.0, 30.0]).mean
    0.225
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.errors import InputError
from maerad.eval.inputs import NumberInput, as_float_array, check_same_length
from maerad.eval.json_data import jsonable

__all__ = ["ErrorSummary", "absolute_errors", "mean_absolute_error", "size_mae", "volume_relative_error"]


@dataclass(frozen=True)
class ErrorSummary:
    """Per-case errors and their mean and median.

    Attributes:
        n: number of cases.
        mean: mean error (for absolute errors: the MAE).
        median: median error.
        per_case: the ``n`` errors in case order.
    """

    n: int
    mean: float
    median: float
    per_case: tuple[float, ...]

    @property
    def mae(self) -> float:
        """Alias of :attr:`mean` for absolute errors."""
        return self.mean

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-compatible data."""
        result: dict[str, Any] = jsonable(self)
        return result


def _summary(errors: npt.NDArray[np.float64]) -> ErrorSummary:
    return ErrorSummary(n=int(errors.size), mean=float(errors.mean()), median=float(np.median(errors)),
                        per_case=tuple(float(e) for e in errors))


def _pair(
    truth: NumberInput, pred: NumberInput, names: tuple[str, str] = ("truth", "pred")
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    t, p = as_float_array(truth, names[0]), as_float_array(pred, names[1])
    check_same_length(**{names[0]: t, names[1]: p})
    return t, p


def _non_negative(values: npt.NDArray[np.float64], name: str, quantity: str) -> None:
    bad = np.flatnonzero(values < 0)
    if bad.size:
        raise InputError(f"{name}[{int(bad[0])}]: {quantity} must be ≥ 0, got {values[bad[0]]}")


def absolute_errors(truth: NumberInput, pred: NumberInput) -> ErrorSummary:
    """``|pred − truth|`` per case, with mean (MAE) and median.

    Args:
        truth: ``(N,)`` true values.
        pred: ``(N,)`` predicted values.

    Raises:
        InputError: different lengths, no cases, a non-number or a non-finite value.
    """
    t, p = _pair(truth, pred)
    return _summary(np.abs(p - t))


def mean_absolute_error(truth: NumberInput, pred: NumberInput) -> float:
    """Mean of ``|pred − truth|`` over the ``(N,)`` paired cases."""
    return absolute_errors(truth, pred).mean


def size_mae(truth_mm: NumberInput, pred_mm: NumberInput) -> ErrorSummary:
    """Absolute size errors in mm (e.g. maximum tumour diameter): per case, MAE and median.

    Args:
        truth_mm: ``(N,)`` true sizes in mm, ≥ 0.
        pred_mm: ``(N,)`` predicted sizes in mm, ≥ 0.

    Raises:
        InputError: a negative size, or any error of :func:`absolute_errors`.
    """
    t, p = _pair(truth_mm, pred_mm, ("truth_mm", "pred_mm"))
    _non_negative(t, "truth_mm", "a size")
    _non_negative(p, "pred_mm", "a size")
    return _summary(np.abs(p - t))


def volume_relative_error(truth: NumberInput, pred: NumberInput) -> ErrorSummary:
    """Relative volume error ``|pred − truth| / truth`` per case, with mean and median.

    Args:
        truth: ``(N,)`` true volumes (any unit, e.g. mL), > 0.
        pred: ``(N,)`` predicted volumes in the same unit, ≥ 0.

    Raises:
        InputError: a true volume of 0 (relative error undefined; the message names the case), a
            negative volume, or any error of :func:`absolute_errors`.
    """
    t, p = _pair(truth, pred)
    _non_negative(t, "truth", "a volume")
    _non_negative(p, "pred", "a volume")
    zero = np.flatnonzero(t == 0)
    if zero.size:
        raise InputError(
            f"truth[{int(zero[0])}]: true volume is 0, so the relative error |pred − true| / true is "
            "undefined; leave lesion-free cases out of this metric"
        )
    return _summary(np.abs(p - t) / t)
