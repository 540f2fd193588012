"""Losses: masked reconstruction (per-channel norm-pix, foreground weighting) and anatomical priors."""

from maerad.losses.foreground import foreground_token_weights, intensity_foreground
from maerad.losses.reconstruction import (
    LossKind,
    NormPixMode,
    denormalize_patches,
    masked_reconstruction_loss,
    normalize_patches,
    patch_statistics,
)

__all__ = [
    "LossKind",
    "NormPixMode",
    "denormalize_patches",
    "foreground_token_weights",
    "intensity_foreground",
    "masked_reconstruction_loss",
    "normalize_patches",
    "patch_statistics",
]
