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
Whole-organ quantities (an organ's length or volume) need 3D masks of the whole organ: a 2D slice shows
a cross-section, which such a prior would misjudge; measurements built with ``whole_organ=True`` refuse
2D masks.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import torch
from torch import nn

from maerad.errors import ConfigError, InputError
from maerad.losses.anatomy.measurements import (
    SLAB_FACTOR,
    contrast_difference,
    mean_thickness,
    principal_axis_lengths,
    region_volume,
)
from maerad.losses.anatomy.priors import Prior, RangePrior, spec_prior
from maerad.losses.anatomy.regions import GatedRegion

__all__ = [
    "UTERUS_LENGTH_FACTOR",
    "AnatomicalPriorLoss",
    "AnatomicalPriorOutput",
    "AxisLength",
    "ContrastDifference",
    "Measurement",
    "PriorTerm",
    "Thickness",
    "Volume",
    "channel_index",
    "contrast_ordering",
    "uterine_prior_loss",
]

#: Uterine length / standard deviation along the uterus's principal axis (SPEC §5.1 length: external os
#: to fundus). An ``ASSUMPTION`` calibrated on maerad's phantom, whose uterus is a cylindrical cervix and a
#: pear-shaped corpus at a flexion angle: the median over 30 normal cases (seeds 200–229), which then
#: read 0.80–1.08 × their true length (strongly flexed ones short); neither the ellipsoid's 2√5 (reads
#: 0.97–1.31 ×) nor the rod's √12 (0.75–1.01 ×) fits that shape. ``benchmarks/probe_uterine_priors.py``
#: re-measures it.
UTERUS_LENGTH_FACTOR = 3.7


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


def _whole_organ_mask(regions: Mapping[str, torch.Tensor], name: str, measurement: str) -> torch.Tensor:
    """The mask of ``name``, refused unless 3D: a whole-organ quantity of a 2D slice is a cross-section's."""
    mask = _mask(regions, name)
    if mask.ndim != 4:
        raise ConfigError(
            f"{measurement} is a whole-organ measurement and needs (B, D, H, W) masks of the whole organ, "
            f"got {tuple(mask.shape)}: on a 2D slice it would measure a cross-section (on 2D data use "
            "uterine_prior_loss(geometry=False), or build the terms yourself with whole_organ=False)"
        )
    return mask


def channel_index(channel: object, sequences: Sequence[str] | None) -> int:
    """The image channel of ``channel``: an index, or a sequence name looked up in ``sequences`` (the
    image's channel names in order, e.g. a dataset's ``sequences``).

    Raises:
        ConfigError: a name without ``sequences``, a name not among them, or a negative index.
    """
    if isinstance(channel, str):
        if sequences is None:
            raise ConfigError(f"channel {channel!r} is a sequence name: give sequences=[...], the image's "
                              "channel names in order")
        names = list(sequences)
        if channel not in names:
            raise ConfigError(f"sequence {channel!r} is not among the image's channels {names}")
        return names.index(channel)
    # NumPy integers are indices too; bools and floats are not
    if isinstance(channel, bool) or not isinstance(channel, numbers.Integral) or int(channel) < 0:
        raise ConfigError(f"channel must be a sequence name or an index >= 0, got {channel!r}")
    return int(channel)


def _check_soft_mask(name: str, mask: object) -> None:
    """A soft mask is a tensor with values in [0, 1] (logits or a signed map would give negative volumes)."""
    if not isinstance(mask, torch.Tensor):
        raise InputError(f"region {name!r} must be a torch.Tensor soft mask, got {type(mask).__name__}")
    if mask.dtype == torch.bool or mask.device.type == "meta" or mask.numel() == 0:
        return
    low, high = torch.aminmax(mask.detach())
    if not (float(low) >= 0.0 and float(high) <= 1.0):  # NaN fails too
        raise InputError(f"region {name!r} must be a soft mask with values in [0, 1], got values in "
                         f"[{float(low) + 0.0:g}, {float(high) + 0.0:g}] (probabilities, not logits)")


@dataclass(frozen=True)
class Volume:
    """Volume of ``region`` in mL (2D masks need ``slice_thickness`` in mm: the volume of that slab).

    With ``whole_organ=True`` (an organ's volume, as in :func:`uterine_prior_loss`) 2D masks are refused.
    """

    region: str
    slice_thickness: float | None = None
    whole_organ: bool = False

    def __post_init__(self) -> None:
        if self.slice_thickness is not None and not _finite_number(self.slice_thickness, 0.0, strict=True):
            raise ConfigError(f"Volume slice_thickness must be a finite number > 0 (mm) or None, got "
                              f"{self.slice_thickness!r}")

    @property
    def name(self) -> str:
        return f"volume[{self.region}]"

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.region,)

    def __call__(
        self, image: torch.Tensor, regions: Mapping[str, torch.Tensor], spacing: Sequence[float]
    ) -> torch.Tensor:
        mask = _whole_organ_mask(regions, self.region, self.name) if self.whole_organ \
            else _mask(regions, self.region)
        return region_volume(mask, spacing, slice_thickness=self.slice_thickness)


@dataclass(frozen=True)
class AxisLength:
    """Longest (``"major"``) or shortest (``"minor"``) principal-axis extent of ``region`` in mm:
    ``factor · sqrt(λ)`` (see :func:`~maerad.losses.anatomy.measurements.principal_axis_lengths`).

    With ``whole_organ=True`` (an organ's length, as in :func:`uterine_prior_loss`) 2D masks are refused.
    """

    region: str
    which: Literal["major", "minor"] = "major"
    factor: float | None = None
    whole_organ: bool = False

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
        mask = _whole_organ_mask(regions, self.region, self.name) if self.whole_organ \
            else _mask(regions, self.region)
        lengths = principal_axis_lengths(mask, spacing, factor=self.factor)
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
    channel: int | str = 0,
    sequences: Sequence[str] | None = None,
    margin: float = 0.0,
    scale: float = 1.0,
    weight: float = 1.0,
) -> PriorTerm:
    """ "``darker`` is darker than ``brighter`` by at least ``margin``" as a hinge term:
    ``((mean_darker − mean_brighter + margin)₊ / scale)²``.

    ``margin`` and ``scale`` are in the image's intensity units (after the data's normalisation: a wrong
    ordering costs ~10⁴ times more on raw 0–1000 intensities than on percentile-normalised ones).
    ``channel`` is an index or a sequence name (then ``sequences`` names the image's channels in order).
    """
    if not _finite_number(margin, 0.0, strict=False):
        raise ConfigError(f"contrast margin must be a finite number >= 0 (intensity units), got {margin!r}")
    if not _finite_number(scale, 0.0, strict=True):
        raise ConfigError(f"contrast scale must be a finite number > 0 (intensity units), got {scale!r}")
    return PriorTerm(
        ContrastDifference(darker, brighter, channel_index(channel, sequences)),
        RangePrior(high=-float(margin), scale=float(scale)),
        weight,
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
        if not isinstance(image, torch.Tensor) or image.ndim not in (4, 5):
            got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise InputError(f"image must be a (B, C, *S) torch.Tensor with 2 or 3 spatial axes, got {got}")
        for name, mask in regions.items():
            _check_soft_mask(name, mask)
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
    t2w_channel: int | str = 0,
    sequences: Sequence[str] | None = None,
    contrast_margin: float = 0.0,
    geometry: bool = True,
    include_ovaries: bool = True,
    postmenopausal_endometrium_max_mm: float = 5.0,
    uterus_length_factor: float = UTERUS_LENGTH_FACTOR,
    min_voxels: float = 1.0,
) -> AnatomicalPriorLoss:
    """The SPEC §5.4 priors on the standard region names, for 3D masks of the whole organs.

    Regions expected: ``uterus`` (corpus **and** cervix: SPEC's length runs from the external os to the
    fundus), ``cervix``, ``endometrium``, ``junctional_zone``, ``outer_myometrium`` and, with
    ``include_ovaries``, ``ovary_left`` and ``ovary_right`` (follicles included); for maerad's phantom
    :func:`~maerad.losses.anatomy.phantom_regions.phantom_region_masks` makes them. Terms:

    * ``major_length[uterus]``: principal-axis length × ``uterus_length_factor``;
    * ``major_length[cervix]``: principal-axis length of a uniform rod (``SLAB_FACTOR`` = √12);
    * ``minor_length[endometrium]``: the double-layer thickness SPEC bounds, as the extent of a sheet of
      uniform thickness across its thinnest principal axis (``SLAB_FACTOR``);
    * ``thickness[junctional_zone]``: the **mean** thickness of the junctional-zone shell against SPEC's
      1–12 mm. Diffuse thickening is penalised; focal thickening (the adenomyosis criterion is the
      *maximal* JZ > 12 mm) barely moves a mean, so this is no adenomyosis detector;
    * ``volume[ovary_left]``, ``volume[ovary_right]`` (with ``include_ovaries``);
    * the T2W orderings of SPEC §5.3: junctional zone darker than outer myometrium and, before
      menopause only, than the endometrium (SPEC's table gives the bright T2W endometrium for
      premenopausal women; a thin postmenopausal one is partial-volumed into its neighbours: on a
      phantom study a 1.6 mm endometrium at 5 mm slices reads darker than its junctional zone).

    The lengths, the endometrial thickness and the volumes are whole-organ quantities and refuse 2D
    masks (a slice shows a cross-section: every slice of a normal uterus reads short). On 2D slices use
    ``geometry=False``, which keeps only the contrast orderings. Accuracy on the phantom's ground truth:
    ``docs/losses.md``.

    Args:
        menopausal: selects the pre- or postmenopausal ranges.
        t2w_channel: the T2-weighted channel: an index, or a sequence name looked up in ``sequences``.
        sequences: the image's channel names in order (needed when ``t2w_channel`` is a name).
        contrast_margin: required intensity gap of the orderings (>= 0, in the image's intensity units).
        geometry: add the length, thickness and volume terms (needs 3D masks).
        include_ovaries: add the ovarian-volume terms.
        postmenopausal_endometrium_max_mm: upper bound of the postmenopausal endometrium; 4 vs 5 mm is
            ``UNCERTAIN`` in SPEC §8 U13 (default 5 mm, the SPEC's MRI default).
        uterus_length_factor: see :data:`UTERUS_LENGTH_FACTOR`.
        min_voxels: see :class:`AnatomicalPriorLoss`.

    Raises:
        ConfigError: an unknown ``menopausal``, a bad channel, margin, bound or factor.
    """
    if menopausal not in ("pre", "post"):
        raise ConfigError(f"menopausal must be 'pre' or 'post', got {menopausal!r}")
    if not _finite_number(postmenopausal_endometrium_max_mm, 0.0, strict=True):
        raise ConfigError("postmenopausal_endometrium_max_mm must be a finite number > 0 (mm), got "
                          f"{postmenopausal_endometrium_max_mm!r}")
    status = "premenopausal" if menopausal == "pre" else "postmenopausal"
    channel = channel_index(t2w_channel, sequences)
    terms: list[PriorTerm] = []
    if geometry:
        endometrium = spec_prior("endometrial_thickness_premenopausal") if menopausal == "pre" else \
            spec_prior("endometrial_thickness_postmenopausal", high=float(postmenopausal_endometrium_max_mm))
        terms += [
            PriorTerm(AxisLength("uterus", factor=uterus_length_factor, whole_organ=True),
                      spec_prior(f"uterine_length_{status}")),
            PriorTerm(AxisLength("cervix", factor=SLAB_FACTOR, whole_organ=True),
                      spec_prior("cervical_length")),
            PriorTerm(AxisLength("endometrium", which="minor", factor=SLAB_FACTOR, whole_organ=True),
                      endometrium),
            PriorTerm(Thickness("junctional_zone"), spec_prior("junctional_zone_thickness")),
        ]
    # SPEC §5.3: junctional zone low on T2W, outer myometrium intermediate, endometrium (premenop.) high
    darker_than = ("outer_myometrium", "endometrium") if menopausal == "pre" else ("outer_myometrium",)
    terms += [contrast_ordering("junctional_zone", brighter, channel=channel, margin=contrast_margin)
              for brighter in darker_than]
    if geometry and include_ovaries:
        for side in ("ovary_left", "ovary_right"):
            terms.append(PriorTerm(Volume(side, whole_organ=True), spec_prior(f"ovarian_volume_{status}")))
    return AnatomicalPriorLoss(terms, min_voxels=min_voxels)
