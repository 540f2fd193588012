"""`PhantomConfig`: every knob of the synthetic phantom, validated on construction.

UNCERTAIN points of the SPEC are parameters here (node short-axis threshold U5, FIGO 2018 boundary
convention U1, O-RADS malignancy rates, Weibull shape U15 via :class:`RecurrenceParams`).

Examples::

    >>> cfg = PhantomConfig(size=(12, 64, 64), spacing=(5.0, 3.0, 3.0))
    >>> cfg.field_of_view_mm
    (60.0, 192.0, 192.0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from maerad.data.phantom.recurrence import RecurrenceParams
from maerad.errors import ConfigError

__all__ = ["CASE_KINDS", "ORADS_RATES_CHINESE_COHORT", "ORADS_RATES_PPV", "PhantomConfig"]

CASE_KINDS: tuple[str, ...] = ("cervical", "endometrial", "adnexal", "pelvic_floor", "normal")
"""The kinds of case the phantom generates (``"mixed"`` draws one of these per case)."""

# SPEC §3.2: PPV per O-RADS score [O1] (score 2 "< 0.5 %" taken as 0.5 %).
ORADS_RATES_PPV: dict[int, float] = {1: 0.0, 2: 0.005, 3: 0.05, 4: 0.50, 5: 0.90}
# SPEC §3.2: observed malignancy rates in the independent Chinese cohort (reader 1) [O12].
ORADS_RATES_CHINESE_COHORT: dict[int, float] = {1: 0.0, 2: 0.0, 3: 0.054, 4: 0.80, 5: 0.897}


def _default_kind_weights() -> dict[str, float]:
    return {"cervical": 0.3, "endometrial": 0.25, "adnexal": 0.2, "pelvic_floor": 0.1, "normal": 0.15}


@dataclass(frozen=True)
class PhantomConfig:
    """Geometry, acquisition and sampling parameters of the phantom.

    Args:
        size: grid shape ``(D, H, W)`` (slices, rows, columns); axial slices along ``D``.
        spacing: voxel size in mm along ``(d, h, w)``; thick slices by default.
        field_strength_t: 1.5 or 3.0; selects the T1/T2 columns of SPEC §5.2.
        t2w_tr_ms, t2w_te_ms: T2-weighted TSE timing (SPEC §5.3 suggests TR ≈ 4000, TE ≈ 90–100).
        dwi_te_ms, b_value: diffusion-weighted spin-echo EPI (``dwi_b800`` uses ``b_value``).
        t1c_tr_ms, t1c_te_ms, t1c_flip_deg: post-contrast fat-saturated spoiled gradient echo.
        gd_relaxivity: r1 of the contrast agent, s⁻¹·mM⁻¹.
        fat_suppression: fraction of fat signal removed on DWI and T1c (0–1).
        noise_level: Rician noise σ as a fraction of the brightest tissue signal of each sequence.
        bias_strength: amplitude of the multiplicative smooth bias field (0 = none).
        supersample: odd number of sub-slices per slice averaged for partial volume.
        psf_sigma_px: in-plane Gaussian point-spread σ in pixels (0 = none).
        deformation_mm: amplitude of the smooth random displacement field applied to all anatomy.
        texture: amplitude of the smooth intra-tissue signal texture (fraction).
        kind_weights: probabilities of each kind when ``kind="mixed"``.
        node_short_axis_mm: short-axis threshold for a suspicious node (SPEC §1.5, U5: 10, alt 8).
        figo2018_boundaries: ``"corrigendum_2019"`` or ``"original_2018"`` (SPEC §1.1.1, U1).
        orads_malignancy_rates: O-RADS score → probability of malignancy (SPEC §3.2).
        recurrence: endometrial recurrence simulator parameters (SPEC §7.2).

    Raises:
        ConfigError: any value outside its allowed range; the message names the field.
    """

    size: tuple[int, int, int] = (24, 128, 128)
    spacing: tuple[float, float, float] = (5.0, 1.5, 1.5)
    field_strength_t: float = 1.5
    t2w_tr_ms: float = 4000.0
    t2w_te_ms: float = 100.0
    dwi_te_ms: float = 70.0
    b_value: float = 800.0
    t1c_tr_ms: float = 4.5
    t1c_te_ms: float = 2.0
    t1c_flip_deg: float = 12.0
    gd_relaxivity: float = 4.0
    fat_suppression: float = 0.9
    noise_level: float = 0.02
    bias_strength: float = 0.2
    supersample: int = 3
    psf_sigma_px: float = 0.5
    deformation_mm: float = 1.5
    texture: float = 0.04
    kind_weights: Mapping[str, float] = field(default_factory=_default_kind_weights)
    node_short_axis_mm: float = 10.0
    figo2018_boundaries: Literal["corrigendum_2019", "original_2018"] = "corrigendum_2019"
    orads_malignancy_rates: Mapping[int, float] = field(default_factory=lambda: dict(ORADS_RATES_PPV))
    recurrence: RecurrenceParams = field(default_factory=RecurrenceParams)

    def __post_init__(self) -> None:
        size = _tuple_of(self.size, "size", int)
        if any(n < 4 for n in size):
            raise ConfigError(f"phantom config field 'size': every dimension must be >= 4, got {size}")
        object.__setattr__(self, "size", size)
        spacing = _tuple_of(self.spacing, "spacing", float)
        if not all(math.isfinite(s) and 0.1 <= s <= 20.0 for s in spacing):
            raise ConfigError(
                f"phantom config field 'spacing': values must be in [0.1, 20] mm, got {spacing}"
            )
        object.__setattr__(self, "spacing", spacing)
        if self.field_strength_t not in (1.5, 3.0):
            raise ConfigError(
                f"phantom config field 'field_strength_t': expected 1.5 or 3.0, got {self.field_strength_t!r}"
            )
        for name in (
            "t2w_tr_ms",
            "t2w_te_ms",
            "dwi_te_ms",
            "b_value",
            "t1c_tr_ms",
            "t1c_te_ms",
            "gd_relaxivity",
        ):
            _positive(getattr(self, name), name)
        if not 0.0 < self.t1c_flip_deg < 90.0:
            raise ConfigError(
                f"phantom config field 't1c_flip_deg': expected (0, 90), got {self.t1c_flip_deg!r}"
            )
        for name in ("fat_suppression", "noise_level", "bias_strength", "texture"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(
                    f"phantom config field {name!r}: expected a number in [0, 1], got {value!r}"
                )
        if not isinstance(self.supersample, int) or self.supersample < 1 or self.supersample % 2 == 0:
            raise ConfigError(
                f"phantom config field 'supersample': expected an odd integer >= 1, got {self.supersample!r}"
            )
        for name, top in (("psf_sigma_px", 3.0), ("deformation_mm", 5.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= top:
                raise ConfigError(
                    f"phantom config field {name!r}: expected a number in [0, {top}], got {value!r}"
                )
        weights = dict(self.kind_weights)
        unknown = sorted(set(weights) - set(CASE_KINDS))
        if (
            unknown
            or not weights
            or any(not (w >= 0 and math.isfinite(w)) for w in weights.values())
            or sum(weights.values()) <= 0
        ):
            raise ConfigError(
                f"phantom config field 'kind_weights': expected non-negative weights for "
                f"{', '.join(CASE_KINDS)} with a positive sum, got {weights}"
            )
        object.__setattr__(self, "kind_weights", weights)
        if not 3.0 <= self.node_short_axis_mm <= 20.0:
            raise ConfigError(
                f"phantom config field 'node_short_axis_mm': expected 3–20 mm, got "
                f"{self.node_short_axis_mm!r}"
            )
        if self.figo2018_boundaries not in ("corrigendum_2019", "original_2018"):
            raise ConfigError(
                "phantom config field 'figo2018_boundaries': expected corrigendum_2019 or "
                f"original_2018, got {self.figo2018_boundaries!r}"
            )
        rates = {int(k): float(v) for k, v in dict(self.orads_malignancy_rates).items()}
        if set(rates) != {1, 2, 3, 4, 5} or not all(0.0 <= r <= 1.0 for r in rates.values()):
            raise ConfigError(
                "phantom config field 'orads_malignancy_rates': expected probabilities in "
                f"[0, 1] for scores 1–5, got {rates}"
            )
        object.__setattr__(self, "orads_malignancy_rates", rates)
        if not isinstance(self.recurrence, RecurrenceParams):
            raise ConfigError("phantom config field 'recurrence': expected a RecurrenceParams")

    @property
    def field_of_view_mm(self) -> tuple[float, float, float]:
        """Extent of the grid in mm along ``(d, h, w)``."""
        return (
            self.size[0] * self.spacing[0],
            self.size[1] * self.spacing[1],
            self.size[2] * self.spacing[2],
        )

    def replace(self, **changes: Any) -> PhantomConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (stored in each study's metadata)."""
        out = dataclasses.asdict(self)
        out["size"] = list(self.size)
        out["spacing"] = list(self.spacing)
        out["kind_weights"] = dict(self.kind_weights)
        out["orads_malignancy_rates"] = {str(k): v for k, v in self.orads_malignancy_rates.items()}
        out["recurrence"] = self.recurrence.to_dict()
        return out


def _tuple_of(value: Any, name: str, kind: type) -> tuple[Any, Any, Any]:
    try:
        items = tuple(value)
    except TypeError:
        raise ConfigError(f"phantom config field {name!r}: expected 3 numbers, got {value!r}") from None
    if len(items) != 3:
        raise ConfigError(f"phantom config field {name!r}: expected 3 numbers, got {value!r}")
    if kind is int:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            raise ConfigError(f"phantom config field {name!r}: expected 3 integers, got {value!r}")
        return items[0], items[1], items[2]
    try:
        floats = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise ConfigError(f"phantom config field {name!r}: expected 3 numbers, got {value!r}") from None
    return floats[0], floats[1], floats[2]


def _positive(value: Any, name: str) -> None:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ConfigError(f"phantom config field {name!r}: expected a positive number, got {value!r}")
