"""Numeric fields: a regression head and the per-field normalisation of its targets.

The head maps the decoder's step features ``(B, d)`` to one standardised value per step. Each number
field has its own statistics (mean, standard deviation in the field's unit — mm, mL, U/mL, degrees,
grade) fitted on the training targets; a field never seen in training falls back to the centre of
its plausible range and a quarter of its width. The generator de-standardises the output and clamps it
into the field's (possibly constrained) range (:mod:`.numeric_constraints`).

Examples::

    >>> stats = NumericStats.fit({"t/size_mm": [10.0, 20.0, 30.0]})
    >>> round(stats.normalise("t/size_mm", 30.0), 3), stats.denormalise("t/size_mm", 0.0)
    (1.225, 20.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["MIN_STD", "NumericHead", "NumericStats"]

MIN_STD = 1.0
"""Smallest standard deviation used for a field (unit of the field), so constant targets stay finite."""


class NumericHead(nn.Module):
    """``(…, d)`` step features → ``(…,)`` standardised values (a two-layer MLP)."""

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or dim
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Standardised predictions, one per row of ``features``."""
        return self.net(features).squeeze(-1)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class NumericStats:
    """Mean and standard deviation per field key (``template@version/field``)."""

    stats: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def fit(cls, values: Mapping[str, Iterable[float]]) -> NumericStats:
        """Statistics of the training values of each field (population std, at least :data:`MIN_STD`)."""
        out: dict[str, tuple[float, float]] = {}
        for key, seq in values.items():
            xs = [float(v) for v in seq]
            if not xs:
                continue
            mean = sum(xs) / len(xs)
            std = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
            out[key] = (mean, max(std, MIN_STD))
        return cls(out)

    def get(self, key: str, value_range: tuple[float, float] | None = None) -> tuple[float, float]:
        """``(mean, std)`` of ``key``; unseen fields: centre and quarter width of ``value_range``."""
        if key in self.stats:
            return self.stats[key]
        if value_range is None or not all(math.isfinite(v) for v in value_range):
            return (0.0, MIN_STD)
        low, high = value_range
        return ((low + high) / 2, max((high - low) / 4, MIN_STD))

    def normalise(self, key: str, value: float, value_range: tuple[float, float] | None = None) -> float:
        """``(value − mean) / std``."""
        mean, std = self.get(key, value_range)
        return (value - mean) / std

    def denormalise(self, key: str, z: float, value_range: tuple[float, float] | None = None) -> float:
        """``mean + z · std``."""
        mean, std = self.get(key, value_range)
        return mean + z * std

    def to_dict(self) -> dict[str, list[float]]:
        """JSON form: key → ``[mean, std]``."""
        return {k: [m, s] for k, (m, s) in self.stats.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Iterable[float]]) -> NumericStats:
        """Inverse of :meth:`to_dict`."""
        out: dict[str, tuple[float, float]] = {}
        for k, v in data.items():
            mean, std = (float(x) for x in v)
            out[k] = (mean, std)
        return cls(out)
