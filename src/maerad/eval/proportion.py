"""Confidence intervals of a proportion (an accuracy): the Wilson score interval.

A percentile bootstrap of an accuracy collapses to a single point when every case is right or every
case is wrong (all resamples give 0/n or n/n), and it is too narrow for small n. The Wilson score
interval (Wilson 1927; recommended for small n by Brown, Cai & DasGupta 2001, *Statistical Science*
16:101) has close to nominal coverage down to a handful of cases and is never degenerate:
0 correct of 6 gives [0, 0.390], 6 of 6 gives [0.610, 1]. Its bounds are

``(p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)``, with ``p̂ = k/n`` and ``z`` the
``1 − alpha/2`` normal quantile.

Examples::

    >>> from maerad.eval.proportion import wilson_interval
    >>> r = wilson_interval(0, 6)
    >>> r.estimate, r.low, round(r.high, 3), r.n
    (0.0, 0.0, 0.39, 6)
    >>> r = wilson_interval(45, 50)
    >>> round(r.low, 3), round(r.high, 3)
    (0.786, 0.957)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from maerad.errors import ConfigError, InputError
from maerad.eval.json_data import jsonable

__all__ = ["ProportionResult", "wilson_interval"]


@dataclass(frozen=True)
class ProportionResult:
    """A proportion ``successes / n`` with its confidence interval.

    Attributes:
        estimate: ``successes / n``.
        low, high: the interval bounds, within [0, 1].
        confidence: ``1 − alpha`` (e.g. 0.95).
        method: ``"wilson"``.
        successes, n: the counts (correct cases, cases).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    successes: int
    n: int

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data."""
        result: dict[str, Any] = jsonable(self)
        return result


def wilson_interval(successes: int, n: int, *, alpha: float = 0.05) -> ProportionResult:
    """The Wilson score ``1 − alpha`` interval of ``successes`` out of ``n`` (module docstring).

    Raises:
        InputError: ``n`` < 1 or ``successes`` outside 0..n.
        ConfigError: ``alpha`` outside (0, 1).
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha: expected a number in (0, 1) such as 0.05, got {alpha!r}")
    if n < 1 or not 0 <= successes <= n:
        raise InputError(f"proportion: expected 0 <= successes <= n and n >= 1, got {successes} of {n}")
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    # exact ends where the algebra gives them (0/n, n/n), not 1e-17 from rounding
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return ProportionResult(estimate=p, low=low, high=high, confidence=1.0 - alpha, method="wilson",
                            successes=int(successes), n=int(n))
