"""`AnatomicalPriorLoss`: measurements on a reconstruction scored against anatomical priors.

A loss is a list of :class:`PriorTerm` (a measurement, a prior and a weight) plus optional regions
derived from the image (:class:`GatedRegion`). It is called on an image ``(B, C, *S)`` — typically
``MAE.reconstruct(x, output)`` — with named soft masks and the voxel spacing. What is differentiable
with respect to the image:

* :class:`ContrastDifference` — always (it averages intensities inside the masks);
* :class:`Volume`, :class:`AxisLength`, :class:`Thickness` — only through masks computed from the
  image (gated regions, or a segmenter run on the image); on label-map masks they are constants that
  still report and score the anatomy but give no gradient.

A term whose regions are (nearly) empty in a sample (an organ outside the slice) scores zero there.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import torch
from torch import nn

from maerad.errors import ConfigError
from maerad.losses.anatomy.measurements import (
    contrast_difference,
    mean_thickness,
    principal_axis_lengths,
    region_volume,
)
from maerad.losses.anatomy.priors import Prior, RangePrior, spec_prior
from maerad.losses.anatomy.regions import GatedRegion

__all__ = [
    "AnatomicalPriorLoss",
    "AnatomicalPriorOutput",
    "AxisLength",
    "ContrastDifference",
    "Measurement",
    "PriorTerm",
    "Thickness",
    "Volume",
    "contrast_ordering",
    "uterine_prior_loss",
]


class Measurement(Protocol):
    """``(image (B, C, *S), regions, spacing) → (B,)``; ``regions`` names the masks it reads."""

    @property
    def name(self) -> str: ...

    @property
    def regions(self) -> tuple[str, ...]: ...

    def __call__(
        self, image: torch.Tensor, regions: Mapping[str, torch.Tensor], spacing: Sequence[float]
    ) -> torch.Tensor: ...


def _finite_number(value: object, low: float, *, strict: bool) -> bool:
    """Whether ``value`` is a finite real number (not a bool) above ``low`` (``>= low`` unless strict)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        return False
    return float(value) > low if strict else float(value) >= low


def _mask(regions: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    if name not in regions:
        raise ConfigError(f"anatomical prior needs region {name!r}; have {sorted(regions)}")
    return regions[name]


@dataclass(frozen=True)
class Volume:
    """Volume of ``region`` in mL (2D masks need ``slice_thickness`` in mm)."""

    region: str
    slice_thickness: float | None = None

    @property
    def name(self) -> str:
        return f"volume[{self.region}]"

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.region,)

    def __call__(
        self, image: torch.Tensor, regions: Mapping[str, torch.Tensor], spacing: Sequence[float]
    ) -> torch.Tensor:
        return region_volume(_mask(regions, self.region), spacing, slice_thickness=self.slice_thickness)


@dataclass(frozen=True)
class AxisLength:
    """Longest (``"major"``) or shortest (``"minor"``) principal-axis extent of ``region`` in mm."""

    region: str
    which: Literal["major", "minor"] = "major"
    factor: float | None = None

    def __post_init__(self) -> None:
        if self.which not in ("major", "minor"):
            raise ConfigError(f"AxisLength which must be 'major' or 'minor', got {self.which!r}")
        if self.factor is not None and not _finite_number(self.factor, 0.0, strict=True):
            raise ConfigError(f"AxisLength factor must be a finite number > 0 or None, got {self.factor!r}")

    @property
    def name(self) -> str:
        return f"{self.which}_length[{self.region}]"

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.region,)

    def __call__(
        self, image: torch.Tensor, regions: Mapping[str, torch.Tensor], spacing: Sequence[float]
    ) -> torch.Tensor:
        lengths = principal_axis_lengths(_mask(regions, self.region), spacing, factor=self.factor)
        return lengths[:, 0] if self.which == "major" else lengths[:, -1]


@dataclass(frozen=True)
class Thickness:
    """Mean thickness (2 · content / boundary) of a sheet-like ``region`` in mm."""

    region: str

    @property
    def name(self) -> str:
        return f"thickness[{self.region}]"

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.region,)

    def __call__(
        self, image: torch.Tensor, regions: Mapping[str, torch.Tensor], spacing: Sequence[float]
    ) -> torch.Tensor:
        return mean_thickness(_mask(regions, self.region), spacing)


@dataclass(frozen=True)
class ContrastDifference:
    """``mean(I | darker) − mean(I | brighter)`` on channel ``channel`` (negative = ordering holds)."""

    darker: str
    brighter: str
    channel: int = 0

    @property
    def name(self) -> str:
        return f"contrast[{self.darker}<{self.brighter}]"

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.darker, self.brighter)

    def __call__(
        self, image: torch.Tensor, regions: Mapping[str, torch.Tensor], spacing: Sequence[float]
    ) -> torch.Tensor:
        if not 0 <= self.channel < image.shape[1]:
            raise ConfigError(
                f"{self.name}: channel {self.channel} not in an image of {image.shape[1]} channels"
            )
        plane = image[:, self.channel]
        return contrast_difference(plane, _mask(regions, self.darker), _mask(regions, self.brighter))


@dataclass(frozen=True)
class PriorTerm:
    """One scored measurement: ``weight · mean_b prior.penalty(measurement)``."""

    measurement: Measurement
    prior: Prior
    weight: float = 1.0


def contrast_ordering(
    darker: str,
    brighter: str,
    *,
    channel: int = 0,
    margin: float = 0.0,
    scale: float = 1.0,
    weight: float = 1.0,
) -> PriorTerm:
    """ "``darker`` is darker than ``brighter`` by at least ``margin``" as a hinge term:
    ``((mean_darker − mean_brighter + margin)₊ / scale)²``."""
    return PriorTerm(
        ContrastDifference(darker, brighter, channel), RangePrior(high=-margin, scale=scale), weight
    )


@dataclass
class AnatomicalPriorOutput:
    """Total loss and, per term name, the measurements ``(B,)``, penalties ``(B,)`` and validity."""

    loss: torch.Tensor
    values: dict[str, torch.Tensor] = field(default_factory=dict)
    penalties: dict[str, torch.Tensor] = field(default_factory=dict)
    valid: dict[str, torch.Tensor] = field(default_factory=dict)


class AnatomicalPriorLoss(nn.Module):
    """Sum of weighted prior terms on measurements of an image.

    Args:
        terms: the scored measurements (names must be unique).
        derived: regions computed from the image before measuring (e.g. :class:`GatedRegion`).
        min_voxels: a term is scored in a sample only if each of its masks sums to at least this
            (a finite number >= 0).

    Raises:
        ConfigError: repeated term names, a negative or non-finite weight or ``min_voxels``.

    Examples::

        >>> import torch
        >>> from maerad.losses.anatomy import AnatomicalPriorLoss, contrast_ordering
        >>> loss_fn = AnatomicalPriorLoss([contrast_ordering("jz", "myo", margin=0.1)])
        >>> image = torch.zeros(1, 1, 8, 8); image[0, 0, :, :4] = 0.8; image[0, 0, :, 4:] = 0.5
        >>> jz = torch.zeros(1, 8, 8); jz[0, :, :4] = 1
        >>> out = loss_fn(image, {"jz": jz, "myo": 1 - jz}, spacing=(1.0, 1.0))
        >>> round(float(out.loss), 3)                           # (0.8 - 0.5 + 0.1)² = 0.16
        0.16
    """

    def __init__(
        self, terms: Sequence[PriorTerm], *, derived: Sequence[GatedRegion] = (), min_voxels: float = 1.0
    ) -> None:
        super().__init__()
        names = [t.measurement.name for t in terms]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"anatomical prior terms must be unique, repeated: {duplicates}")
        if any(not math.isfinite(t.weight) or t.weight < 0 for t in terms):
            raise ConfigError("anatomical prior term weights must be finite and >= 0")
        if not _finite_number(min_voxels, 0.0, strict=False):
            raise ConfigError(f"min_voxels must be a finite number >= 0, got {min_voxels!r}")
        self.terms = list(terms)
        self.derived = list(derived)
        self.min_voxels = float(min_voxels)

    def forward(
        self, image: torch.Tensor, regions: Mapping[str, torch.Tensor], spacing: Sequence[float]
    ) -> AnatomicalPriorOutput:
        """Score ``image``.

        Args:
            image: ``(B, C, *S)`` (e.g. a reconstruction).
            regions: name → ``(B, *S)`` soft masks (labels, segmenter probabilities, priors).
            spacing: voxel size in mm per spatial axis.

        Returns:
            :class:`AnatomicalPriorOutput` with the scalar ``loss``.
        """
        masks = dict(regions)
        for derived in self.derived:
            masks[derived.name] = derived(image, masks)
        out = AnatomicalPriorOutput(loss=image.new_zeros(()))
        for term in self.terms:
            name = term.measurement.name
            value = term.measurement(image, masks, spacing)
            valid = torch.ones_like(value, dtype=torch.bool)
            for region in term.measurement.regions:
                valid &= _mask(masks, region).flatten(1).sum(dim=1) >= self.min_voxels
            penalty = torch.where(valid, term.prior.penalty(value), torch.zeros_like(value))
            out.values[name], out.penalties[name], out.valid[name] = value, penalty, valid
            out.loss = out.loss + term.weight * penalty.mean()
        return out


def uterine_prior_loss(
    *,
    menopausal: Literal["pre", "post"] = "pre",
    t2w_channel: int = 0,
    contrast_margin: float = 0.0,
    ovary_slice_thickness: float | None = None,
    include_ovaries: bool = True,
) -> AnatomicalPriorLoss:
    """The SPEC §5.4 priors on the standard region names.

    Regions expected: ``uterus``, ``cervix``, ``endometrium``, ``junctional_zone``,
    ``outer_myometrium`` and (if ``include_ovaries``) ``ovary_left``, ``ovary_right``. Terms: uterine
    and cervical length (major axis), endometrial and junctional-zone thickness, ovarian volumes, and
    the T2W orderings of SPEC §5.3 (junctional zone darker than outer myometrium and than
    endometrium).

    Args:
        menopausal: selects the pre- or postmenopausal ranges.
        t2w_channel: channel index of the T2-weighted sequence.
        contrast_margin: required intensity gap of the orderings.
        ovary_slice_thickness: slice thickness (mm) for ovarian volumes from 2D masks.
        include_ovaries: add the ovarian-volume terms.
    """
    if menopausal not in ("pre", "post"):
        raise ConfigError(f"menopausal must be 'pre' or 'post', got {menopausal!r}")
    status = "premenopausal" if menopausal == "pre" else "postmenopausal"
    terms = [
        PriorTerm(AxisLength("uterus"), spec_prior(f"uterine_length_{status}")),
        PriorTerm(AxisLength("cervix"), spec_prior("cervical_length")),
        PriorTerm(Thickness("endometrium"), spec_prior(f"endometrial_thickness_{status}")),
        PriorTerm(Thickness("junctional_zone"), spec_prior("junctional_zone_thickness")),
        # SPEC §5.3: junctional zone low on T2W, outer myometrium intermediate, endometrium high
        contrast_ordering("junctional_zone", "outer_myometrium", channel=t2w_channel, margin=contrast_margin),
        contrast_ordering("junctional_zone", "endometrium", channel=t2w_channel, margin=contrast_margin),
    ]
    if include_ovaries:
        for side in ("ovary_left", "ovary_right"):
            terms.append(
                PriorTerm(Volume(side, ovary_slice_thickness), spec_prior(f"ovarian_volume_{status}"))
            )
    return AnatomicalPriorLoss(terms)
