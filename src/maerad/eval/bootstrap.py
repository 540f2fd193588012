"""Bootstrap confidence intervals for any metric of paired case arrays.

The cases (rows of the arrays, resampled *together* so that pairs stay pairs) are drawn with
replacement ``n_resamples`` times; the metric is recomputed on every resample and the interval is read
from the distribution of those values:

* ``"percentile"``: the ``alpha/2`` and ``1 − alpha/2`` quantiles of the resampled values;
* ``"basic"`` (reverse percentile): ``2·θ̂ − q(1 − alpha/2)``, ``2·θ̂ − q(alpha/2)``;
* ``"bca"``: bias-corrected and accelerated quantile levels (Efron 1987), the bias from the share of
  resampled values below θ̂ (ties count ½) and the acceleration from the jackknife (n leave-one-out
  evaluations).

The indices come from ``numpy.random.default_rng(seed)`` in fixed-size blocks, so a seed gives the
same interval whether or not the metric is ``batched``. Resamples where the metric is NaN / infinite
(e.g. an AUC on a resample with one class) are dropped; ``n_valid`` says how many were kept.

With ``batched=True`` the metric receives arrays with a leading resample axis, ``(B, N, ...)``, and
must return ``(B,)`` values — e.g. ``lambda x: x.mean(axis=-1)`` — which is much faster than calling
it once per resample.

Examples::

    >>> import numpy as np
    >>> from maerad.eval.bootstrap import bootstrap_ci
    >>> x = np.arange(20.0)
    >>> r = bootstrap_ci(lambda a: a.mean(axis=-1), x, batched=True, seed=1)
    >>> r.estimate, r.low < 9.5 < r.high, r.n_valid
    (9.5, True, 1000)
    >>> from maerad.eval.classification import accuracy
    >>> truth, pred = ["IB1", "IIB", "IIB", "IVA"], ["IB1", "IIB", "IB1", "IVA"]
    >>> r = bootstrap_ci(accuracy, truth, pred, n_resamples=200)
    >>> r.estimate
    0.75
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from maerad.errors import ConfigError, InputError
from maerad.eval.json_data import jsonable

__all__ = ["BootstrapResult", "Method", "bootstrap_ci"]

Method = Literal["percentile", "basic", "bca"]
_METHODS = ("percentile", "basic", "bca")
_BLOCK_ELEMENTS = 1_000_000  # indices drawn per block: bounds memory for large N


@dataclass(frozen=True)
class BootstrapResult:
    """A metric value with its bootstrap confidence interval.

    Attributes:
        estimate: the metric on the original cases.
        low, high: the interval bounds (NaN when no resample gave a finite value).
        confidence: ``1 − alpha`` (e.g. 0.95).
        method: ``"percentile"``, ``"basic"`` or ``"bca"``.
        n_resamples: resamples drawn.
        n_valid: resamples with a finite metric value (the ones the interval is read from).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n_resamples: int
    n_valid: int

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data (NaN → ``None``)."""
        result: dict[str, Any] = jsonable(self)
        return result


def _evaluate(
    metric_fn: Callable[..., Any], arrays: list[npt.NDArray[Any]], idx: npt.NDArray[np.intp], batched: bool
) -> npt.NDArray[np.float64]:
    """Metric values ``(M,)`` on the resamples given by the index rows ``idx`` of shape ``(M, K)``."""
    if batched:
        out = np.asarray(metric_fn(*(a[idx] for a in arrays)), dtype=np.float64)
        if out.shape != (idx.shape[0],):
            raise ConfigError(
                f"metric_fn: with batched=True it must return one value per resample, shape "
                f"({idx.shape[0]},), got shape {out.shape}"
            )
        return out
    return np.array([float(metric_fn(*(a[row] for a in arrays))) for row in idx], dtype=np.float64)


def _sequence_array(values: Any) -> npt.NDArray[Any]:
    """A sequence as a 1-D array with one element per case: numbers, booleans and strings keep a
    numpy dtype; anything else (``None``, tuples of concept ids, mixed values) becomes ``object``."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nested sequences
        array = np.empty(0, dtype=object)
    if array.ndim == 1 and array.dtype != object:
        return array
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _as_arrays(arrays: tuple[Any, ...]) -> tuple[list[npt.NDArray[Any]], int]:
    if not arrays:
        raise InputError("bootstrap_ci: give at least one array of cases")
    out: list[npt.NDArray[Any]] = []
    for k, a in enumerate(arrays):
        if isinstance(a, np.ndarray):
            array = a
        elif isinstance(a, (str, bytes)) or not hasattr(a, "__len__"):
            raise InputError(f"arrays[{k}]: expected one value per case, got {type(a).__name__}")
        else:
            array = _sequence_array(a)
        if array.ndim == 0:
            raise InputError(f"arrays[{k}]: expected one value per case, got a scalar")
        out.append(array)
    lengths = [len(a) for a in out]
    if len(set(lengths)) > 1:
        raise InputError(f"bootstrap_ci: paired arrays must have one value per case, got lengths {lengths}")
    if lengths[0] == 0:
        raise InputError("bootstrap_ci: no cases (the arrays are empty)")
    return out, lengths[0]


def _bca_levels(
    metric_fn: Callable[..., Any], arrays: list[npt.NDArray[Any]], n: int, batched: bool,
    estimate: float, valid: npt.NDArray[np.float64], alpha: float,
) -> tuple[float, float]:
    normal = NormalDist()
    share = (np.sum(valid < estimate) + 0.5 * np.sum(valid == estimate)) / valid.size
    z0 = normal.inv_cdf(float(np.clip(share, 0.5 / valid.size, 1 - 0.5 / valid.size)))
    jack: list[npt.NDArray[np.float64]] = []
    cols = np.arange(n - 1)
    block = max(1, _BLOCK_ELEMENTS // max(n - 1, 1))
    for start in range(0, n if n > 1 else 0, block):
        left_out = np.arange(start, min(start + block, n))[:, None]
        jack.append(_evaluate(metric_fn, arrays, cols[None, :] + (cols[None, :] >= left_out), batched))
    values = np.concatenate(jack) if jack else np.zeros(0)
    values = values[np.isfinite(values)]
    d = values.mean() - values if values.size > 1 else np.zeros(1)
    spread = float(np.sum(d**2))
    accel = float(np.sum(d**3)) / (6.0 * spread**1.5) if spread > 0 else 0.0
    levels = []
    for q in (alpha / 2, 1 - alpha / 2):
        z = z0 + normal.inv_cdf(q)
        levels.append(normal.cdf(z0 + z / (1 - accel * z)))
    return levels[0], levels[1]


def bootstrap_ci(
    metric_fn: Callable[..., Any],
    *arrays: Any,
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    method: Method = "percentile",
    batched: bool = False,
) -> BootstrapResult:
    """Point estimate and ``1 − alpha`` bootstrap confidence interval of ``metric_fn(*arrays)``.

    Args:
        metric_fn: the metric; called as ``metric_fn(*resampled_arrays)`` and returning a number, or
            with ``batched=True`` called on ``(B, N, ...)`` arrays and returning ``(B,)`` numbers.
        *arrays: paired case arrays, each ``(N, ...)``; a list or tuple is one case per element (pass
            a numpy array for ``(N, D)`` data). The same resampled case indices apply to all of them.
        n_resamples: number of bootstrap resamples (≥ 1).
        alpha: 1 − confidence level, in (0, 1); 0.05 gives a 95 % interval.
        seed: seed of the index generator; the same seed gives the same interval.
        method: ``"percentile"``, ``"basic"`` or ``"bca"`` (module docstring).
        batched: whether ``metric_fn`` is vectorised over a leading resample axis.

    Returns:
        A :class:`BootstrapResult` (estimate, low, high, …).

    Raises:
        InputError: no arrays, empty arrays, or arrays of different lengths.
        ConfigError: ``n_resamples`` < 1, ``alpha`` outside (0, 1), an unknown ``method``, or a batched
            metric returning the wrong shape.
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ConfigError(f"n_resamples: expected an integer ≥ 1, got {n_resamples!r}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha: expected a number in (0, 1) such as 0.05, got {alpha!r}")
    if method not in _METHODS:
        raise ConfigError(f"method: expected one of {', '.join(_METHODS)}, got {method!r}")
    data, n = _as_arrays(arrays)
    estimate = float(_evaluate(metric_fn, data, np.arange(n)[None, :], batched)[0])

    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_ELEMENTS // n)
    values = np.concatenate([
        _evaluate(metric_fn, data, rng.integers(0, n, size=(min(block, n_resamples - start), n)), batched)
        for start in range(0, n_resamples, block)
    ])
    valid = values[np.isfinite(values)]
    low = high = float("nan")
    if valid.size and (method == "percentile" or np.isfinite(estimate)):
        if method == "bca":
            levels = _bca_levels(metric_fn, data, n, batched, estimate, valid, alpha)
        else:
            levels = (alpha / 2, 1 - alpha / 2)
        q_low, q_high = (float(v) for v in np.quantile(valid, levels))
        low, high = (2 * estimate - q_high, 2 * estimate - q_low) if method == "basic" else (q_low, q_high)
    return BootstrapResult(estimate=estimate, low=low, high=high, confidence=1.0 - alpha, method=method,
                           n_resamples=n_resamples, n_valid=int(valid.size))
