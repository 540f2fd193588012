"""Anatomical-prior loss: differentiable measurements (volumes, axis lengths, thickness, contrast)
of soft region masks on a reconstruction, scored against the priors of SPEC §5.4."""

from maerad.losses.anatomy.loss import (
    UTERUS_LENGTH_FACTOR,
    AnatomicalPriorLoss,
    AnatomicalPriorOutput,
    AxisLength,
    ContrastDifference,
    Measurement,
    PriorTerm,
    Thickness,
    Volume,
    channel_index,
    contrast_ordering,
    uterine_prior_loss,
)
from maerad.losses.anatomy.measurements import (
    ELLIPSE_FACTOR,
    ELLIPSOID_FACTOR,
    SLAB_FACTOR,
    contrast_difference,
    mean_thickness,
    principal_axis_lengths,
    region_mean,
    region_moments,
    region_volume,
)
from maerad.losses.anatomy.phantom_regions import PHANTOM_REGIONS, phantom_region_masks
from maerad.losses.anatomy.priors import SPEC_PRIORS, GaussianPrior, Prior, PriorEntry, RangePrior, spec_prior
from maerad.losses.anatomy.regions import GatedRegion, intensity_gated_mask, label_masks, segmenter_masks

__all__ = [
    "ELLIPSE_FACTOR",
    "ELLIPSOID_FACTOR",
    "PHANTOM_REGIONS",
    "SLAB_FACTOR",
    "SPEC_PRIORS",
    "UTERUS_LENGTH_FACTOR",
    "AnatomicalPriorLoss",
    "AnatomicalPriorOutput",
    "AxisLength",
    "ContrastDifference",
    "GatedRegion",
    "GaussianPrior",
    "Measurement",
    "Prior",
    "PriorEntry",
    "PriorTerm",
    "RangePrior",
    "Thickness",
    "Volume",
    "channel_index",
    "contrast_difference",
    "contrast_ordering",
    "intensity_gated_mask",
    "label_masks",
    "mean_thickness",
    "phantom_region_masks",
    "principal_axis_lengths",
    "region_mean",
    "region_moments",
    "region_volume",
    "segmenter_masks",
    "spec_prior",
    "uterine_prior_loss",
]
