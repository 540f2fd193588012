"""Foreground weighting for reconstruction losses (MRI volumes are mostly air / background).

Two granularities, both plugged into :func:`maerad.losses.masked_reconstruction_loss`:

* per token: ``w_t = min_weight + (1 - min_weight) * f_t`` with ``f_t`` the fraction of foreground
  voxels in token ``t`` (:func:`foreground_token_weights`);
* per voxel: the foreground mask itself, patchified to ``(B, L, P)`` (pass it as ``voxel_weights`` to
  :class:`maerad.models.MAE`, which patchifies it like the target).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from maerad.errors import ConfigError, InputError

__all__ = ["foreground_token_weights", "intensity_foreground"]


def _as_mask_batch(foreground: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    """``(B, *S)`` or ``(B, 1, *S)`` → float ``(B, 1, *S)``."""
    if foreground.ndim == spatial_dims + 1:
        foreground = foreground.unsqueeze(1)
    if foreground.ndim != spatial_dims + 2 or foreground.shape[1] != 1:
        raise InputError(
            f"foreground must be (B, *spatial) or (B, 1, *spatial) with {spatial_dims} spatial axes, "
            f"got {tuple(foreground.shape)}"
        )
    return foreground.float()


def intensity_foreground(image: torch.Tensor, relative_threshold: float = 0.05) -> torch.Tensor:
    """A simple foreground mask: voxels where some channel exceeds a fraction of **that channel's**
    maximum in the sample.

    Each sequence is judged on its own scale: on raw intensities an ADC map (0–4 × 10⁻³ mm²/s) beside a
    T2W image (0–1000) would otherwise never count.

    Args:
        image: ``(B, C, *spatial)``.
        relative_threshold: fraction of each channel's maximum intensity in its sample.

    Returns:
        ``(B, *spatial)`` bool.
    """
    if image.ndim < 3:
        raise InputError(f"image must be (B, C, *spatial), got {tuple(image.shape)}")
    if not 0.0 <= relative_threshold < 1.0:
        raise ConfigError(f"relative_threshold must be in [0, 1), got {relative_threshold}")
    channel_max = image.flatten(2).amax(dim=2).view(*image.shape[:2], *([1] * (image.ndim - 2)))  # (B, C, 1…)
    return (image > relative_threshold * channel_max).any(dim=1)


def foreground_token_weights(
    foreground: torch.Tensor, patch_size: Sequence[int], *, min_weight: float = 0.1
) -> torch.Tensor:
    """Per-token loss weights from the fraction of foreground voxels in each token.

    Args:
        foreground: ``(B, *spatial)`` or ``(B, 1, *spatial)`` bool/float in ``[0, 1]``.
        patch_size: patch size per spatial axis (2 or 3 axes).
        min_weight: weight of an all-background token (``0`` ignores background entirely).

    Returns:
        ``(B, L)`` float weights in ``[min_weight, 1]``, tokens in raster order (as ``patchify``).

    Examples::

        >>> import torch
        >>> fg = torch.zeros(1, 4, 4); fg[0, :2, :2] = 1                # one full token of four
        >>> foreground_token_weights(fg, (2, 2), min_weight=0.0)
        tensor([[1., 0., 0., 0.]])
    """
    if not 0.0 <= min_weight <= 1.0:
        raise ConfigError(f"min_weight must be in [0, 1], got {min_weight}")
    nd = len(patch_size)
    if nd not in (2, 3) or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in patch_size):
        raise ConfigError(f"patch_size must be 2 or 3 positive ints, got {tuple(patch_size)}")
    fg = _as_mask_batch(foreground, nd)
    spatial = tuple(fg.shape[2:])
    if any(s % p for s, p in zip(spatial, patch_size, strict=True)):
        raise InputError(f"foreground size {spatial} is not divisible by patch size {tuple(patch_size)} "
                         "(the model's token grid covers the whole image)")
    if fg.numel() and not bool(((fg >= 0.0) & (fg <= 1.0)).all()):  # one device sync; NaN fails too
        raise InputError("foreground must be a mask or fraction in [0, 1]")
    pool = F.avg_pool2d if nd == 2 else F.avg_pool3d
    frac = pool(fg, kernel_size=tuple(patch_size), stride=tuple(patch_size)).flatten(1)  # (B, L)
    return min_weight + (1.0 - min_weight) * frac
