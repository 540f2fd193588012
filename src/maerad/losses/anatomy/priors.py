"""Priors that score a measurement, and the anatomical ranges of SPEC §5.4.

Every range of :data:`SPEC_PRIORS` is ``ASSUMPTION``-tagged in the SPEC (soft constraints built from
the dimensions of SPEC §5.1); the basis keys (``[A1]`` …) are the SPEC's source keys. Where the SPEC
marks a point as uncertain the bound is a parameter: e.g. the postmenopausal endometrial thickness
threshold (4 vs 5 mm, SPEC §8 U13) is changed with ``spec_prior(name, high=4.0)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from maerad.errors import ConfigError

__all__ = ["SPEC_PRIORS", "GaussianPrior", "Prior", "PriorEntry", "RangePrior", "spec_prior"]


class Prior(Protocol):
    """Anything that turns measurements ``(B,)`` into non-negative penalties ``(B,)``."""

    def penalty(self, value: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class RangePrior:
    """A plausible range with a hinge outside it.

    ``penalty = (d / scale) ** power`` with ``d = max(low - v, 0) + max(v - high, 0)``: exactly zero
    inside ``[low, high]``, strictly increasing with the distance outside. ``power=2`` (default) is
    smooth at the bounds; ``power=1`` is a plain hinge.

    Args:
        low: lower bound (``-inf`` for none).
        high: upper bound (``inf`` for none).
        scale: distance that costs 1 (default: the width of the range if finite, else 1).
        power: 1 or 2.
    """

    low: float = -math.inf
    high: float = math.inf
    scale: float | None = None
    power: int = 2

    def __post_init__(self) -> None:
        if math.isnan(self.low) or math.isnan(self.high) or self.low > self.high:
            raise ConfigError(f"range prior needs low <= high, got [{self.low}, {self.high}]")
        if self.low == math.inf or self.high == -math.inf:  # nothing would lie inside
            raise ConfigError(f"range prior [{self.low}, {self.high}] contains no value; use -inf for no low "
                              "bound and inf for no high bound")
        if self.power not in (1, 2):
            raise ConfigError(f"range prior power must be 1 or 2, got {self.power}")
        if self.scale is not None and not (self.scale > 0 and math.isfinite(self.scale)):
            raise ConfigError(f"range prior scale must be a finite number > 0, got {self.scale}")

    @property
    def effective_scale(self) -> float:
        if self.scale is not None:
            return self.scale
        width = self.high - self.low
        return width if math.isfinite(width) and width > 0 else 1.0

    def penalty(self, value: torch.Tensor) -> torch.Tensor:
        """``(B,)`` measurements → ``(B,)`` penalties."""
        below = torch.relu(self.low - value) if math.isfinite(self.low) else torch.zeros_like(value)
        above = torch.relu(value - self.high) if math.isfinite(self.high) else torch.zeros_like(value)
        return ((below + above) / self.effective_scale) ** self.power

    def contains(self, value: torch.Tensor) -> torch.Tensor:
        """``(B,)`` bool: the measurement lies inside the range."""
        return (value >= self.low) & (value <= self.high)


@dataclass(frozen=True)
class GaussianPrior:
    """A Gaussian prior: ``penalty = 0.5 * ((v - mean) / std) ** 2`` (the negative log-density up to a
    constant); zero only at the mean."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        if not (self.std > 0 and math.isfinite(self.std)):
            raise ConfigError(f"Gaussian prior std must be a finite number > 0, got {self.std}")
        if not math.isfinite(self.mean):
            raise ConfigError(f"Gaussian prior mean must be finite, got {self.mean}")

    def penalty(self, value: torch.Tensor) -> torch.Tensor:
        """``(B,)`` measurements → ``(B,)`` penalties."""
        return 0.5 * ((value - self.mean) / self.std) ** 2


@dataclass(frozen=True)
class PriorEntry:
    """One row of the SPEC §5.4 table."""

    name: str
    quantity: str
    unit: str
    low: float
    high: float
    basis: str
    spec: str = "SPEC §5.4"
    status: str = "ASSUMPTION"
    note: str = ""

    def prior(self, *, scale: float | None = None, power: int = 2) -> RangePrior:
        """The :class:`RangePrior` of this row."""
        return RangePrior(self.low, self.high, scale=scale, power=power)


def _entry(
    name: str, quantity: str, unit: str, low: float, high: float, basis: str, note: str = ""
) -> PriorEntry:
    return PriorEntry(name=name, quantity=quantity, unit=unit, low=low, high=high, basis=basis, note=note)


# SPEC §5.4 (ASSUMPTION, built from SPEC §5.1): "penalise outside" ranges.
SPEC_PRIORS: dict[str, PriorEntry] = {
    e.name: e
    for e in (
        _entry(
            "uterine_length_premenopausal", "uterine length, premenopausal", "mm", 50.0, 100.0, "[A1][A2][A3]"
        ),
        _entry(
            "uterine_length_postmenopausal",
            "uterine length, postmenopausal",
            "mm",
            30.0,
            80.0,
            "[A2]",
            note="≈ 42 mm mean at 80 years",
        ),
        _entry("cervical_length", "cervical length", "mm", 20.0, 45.0, "[A13]"),
        _entry(
            "endometrial_thickness_premenopausal",
            "endometrial thickness (double layer), premenopausal",
            "mm",
            2.0,
            16.0,
            "[A12]",
            note="cycle range SECONDARY",
        ),
        _entry(
            "endometrial_thickness_postmenopausal",
            "endometrial thickness, postmenopausal",
            "mm",
            0.0,
            5.0,
            "[A12]",
            note="flag threshold 4 vs 5 mm is UNCERTAIN (SPEC §8 U13): spec_prior(name, high=4.0) for 4 mm",
        ),
        _entry(
            "junctional_zone_thickness",
            "junctional-zone thickness",
            "mm",
            1.0,
            12.0,
            "[A6][A7]",
            note="> 12 mm is the adenomyosis flag; '< 8 mm normal' is UNCERTAIN, not shipped (SPEC §8 U12)",
        ),
        _entry("ovarian_volume_premenopausal", "ovarian volume, premenopausal", "mL", 0.0, 20.0, "[A4]"),
        _entry("ovarian_volume_postmenopausal", "ovarian volume, postmenopausal", "mL", 0.0, 10.0, "[A4]"),
    )
}


def spec_prior(
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    scale: float | None = None,
    power: int = 2,
) -> RangePrior:
    """The range prior of a SPEC §5.4 row, with optional overrides of its bounds.

    Raises:
        ConfigError: unknown ``name`` (the message lists the known ones).

    Examples::

        >>> spec_prior("cervical_length")
        RangePrior(low=20.0, high=45.0, scale=None, power=2)
        >>> spec_prior("endometrial_thickness_postmenopausal", high=4.0).high   # SPEC §8 U13
        4.0
    """
    if name not in SPEC_PRIORS:
        raise ConfigError(f"unknown anatomical prior {name!r}; known: {', '.join(sorted(SPEC_PRIORS))}")
    entry = SPEC_PRIORS[name]
    return RangePrior(
        entry.low if low is None else low, entry.high if high is None else high, scale=scale, power=power
    )
