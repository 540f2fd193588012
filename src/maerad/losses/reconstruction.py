"""Masked reconstruction loss (L2 / L1 over hidden tokens) with per-channel norm-pix targets.

Patch vectors are channel-last (see :func:`maerad.models.patch.patchify`): ``P = V * C`` values with
``V = prod(patch_size)`` voxels and ``C`` channels (MRI sequences), flat index ``v * C + c``.

Norm-pix targets (MAE's ``norm_pix_loss``) standardise each target patch by its own mean and
standard deviation. maerad does this **per patch and per channel** by default (``mode="per_channel"``):
each sequence's ``V`` values in a patch are normalised with that sequence's statistics, so a bright
sequence (e.g. DWI b0) never shifts or rescales the target of another (e.g. ADC). The original MAE and
Hugging Face's ViTMAE normalise the whole ``V * C`` vector jointly (``mode="joint"``), which mixes
channels; both modes agree when ``C == 1``. Like MAE, the variance is the unbiased estimate and
``eps = 1e-6`` is added to it before the square root.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = [
    "LossKind",
    "NormPixMode",
    "denormalize_patches",
    "masked_reconstruction_loss",
    "normalize_patches",
    "patch_statistics",
]

NormPixMode = Literal["per_channel", "joint"]
LossKind = Literal["l2", "l1"]


def _split_channels(patches: torch.Tensor, num_channels: int) -> torch.Tensor:
    """``(..., V * C)`` → ``(..., V, C)`` view."""
    if num_channels < 1 or patches.shape[-1] % num_channels != 0:
        raise ValueError(f"patch length {patches.shape[-1]} is not a multiple of num_channels={num_channels}")
    return patches.reshape(*patches.shape[:-1], patches.shape[-1] // num_channels, num_channels)


def patch_statistics(
    patches: torch.Tensor, num_channels: int, mode: NormPixMode = "per_channel", eps: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation used by norm-pix, broadcastable against ``patches``.

    Args:
        patches: ``(..., P)`` channel-last patch vectors, ``P = V * C``.
        num_channels: ``C``.
        mode: ``"per_channel"`` (statistics over the ``V`` voxels of each channel) or ``"joint"``
            (over all ``P`` values, as the original MAE).
        eps: added to the unbiased variance before the square root.

    Returns:
        ``(mean, std)``: ``(..., 1)`` each in joint mode, ``(..., P)`` each in per-channel mode.
    """
    if mode == "joint":
        if patches.shape[-1] < 2:
            raise ValueError("norm-pix needs at least 2 values per patch")
        return patches.mean(dim=-1, keepdim=True), (patches.var(dim=-1, keepdim=True) + eps).sqrt()
    if mode != "per_channel":
        raise ValueError(f"norm-pix mode must be 'per_channel' or 'joint', got {mode!r}")
    split = _split_channels(patches, num_channels)  # (..., V, C)
    if split.shape[-2] < 2:
        raise ValueError("per-channel norm-pix needs at least 2 voxels per patch")
    mean = split.mean(dim=-2, keepdim=True).expand_as(split).reshape(patches.shape)
    std = (split.var(dim=-2, keepdim=True) + eps).sqrt().expand_as(split).reshape(patches.shape)
    return mean, std


def normalize_patches(
    patches: torch.Tensor, num_channels: int, mode: NormPixMode = "per_channel", eps: float = 1e-6
) -> torch.Tensor:
    """Norm-pix targets: ``(patches - mean) / std`` with :func:`patch_statistics`.

    Args:
        patches: ``(..., P)`` channel-last patch vectors.
        num_channels: ``C``.
        mode: ``"per_channel"`` (default, never mixes sequences) or ``"joint"`` (original MAE / HF).
        eps: variance epsilon.

    Returns:
        ``(..., P)``.

    Examples::

        >>> import torch
        >>> p = torch.tensor([[0.0, 10.0, 2.0, 30.0]])           # V = 2 voxels, C = 2 channels
        >>> normalize_patches(p, 2).round(decimals=3)              # each channel → (-0.707, 0.707)
        tensor([[-0.7070, -0.7070,  0.7070,  0.7070]])
    """
    mean, std = patch_statistics(patches, num_channels, mode, eps)
    return (patches - mean) / std


def denormalize_patches(
    pred: torch.Tensor,
    reference: torch.Tensor,
    num_channels: int,
    mode: NormPixMode = "per_channel",
    eps: float = 1e-6,
) -> torch.Tensor:
    """Map norm-pix predictions back to intensities with the statistics of the true patches.

    Args:
        pred: ``(..., P)`` predictions in normalised units.
        reference: ``(..., P)`` the original (un-normalised) patches at the same tokens.
        num_channels: ``C``.
        mode: the norm-pix mode the model was trained with.
        eps: variance epsilon.

    Returns:
        ``(..., P)`` ``pred * std + mean``.
    """
    mean, std = patch_statistics(reference, num_channels, mode, eps)
    return pred * std + mean


def masked_reconstruction_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    kind: LossKind = "l2",
    token_weights: torch.Tensor | None = None,
    element_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared (``"l2"``) or absolute (``"l1"``) error over the counted tokens.

    ``loss = Σ_{t,p} m_t w_t v_tp e_tp / Σ_{t,p} m_t w_t v_tp`` with ``e`` the per-value error,
    ``m`` the token mask, ``w`` token weights and ``v`` per-value (voxel) weights, all ``1`` when not
    given. With no weights this is the mean over counted tokens of the per-token mean error, the loss
    of MAE and Hugging Face's ViTMAE.

    Args:
        pred: ``(B, N, P)``.
        target: ``(B, N, P)``.
        mask: ``(B, N)`` bool/float, ``True`` (1) = the token counts (hidden tokens); all if ``None``.
        kind: ``"l2"`` or ``"l1"``.
        token_weights: ``(B, N)`` non-negative per-token weights (e.g. foreground fraction).
        element_weights: ``(B, N, P)`` non-negative per-value weights (e.g. a foreground voxel mask,
            patchified).

    Returns:
        A scalar tensor.
    """
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(
            f"pred and target must both be (B, N, P), got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    diff = pred - target
    if kind == "l2":
        err = diff * diff
    elif kind == "l1":
        err = diff.abs()
    else:
        raise ValueError(f"loss kind must be 'l2' or 'l1', got {kind!r}")
    tok: torch.Tensor | None = None
    if mask is not None:
        if mask.shape != pred.shape[:2]:
            raise ValueError(f"mask must be (B, N) = {tuple(pred.shape[:2])}, got {tuple(mask.shape)}")
        tok = mask.to(err.dtype)
    if token_weights is not None:
        if token_weights.shape != pred.shape[:2]:
            raise ValueError(
                f"token_weights must be {tuple(pred.shape[:2])}, got {tuple(token_weights.shape)}"
            )
        tok = token_weights.to(err.dtype) if tok is None else tok * token_weights.to(err.dtype)
    if element_weights is None:
        per_token = err.mean(dim=-1)  # (B, N)
        if tok is None:
            return per_token.mean()
        return (per_token * tok).sum() / tok.sum().clamp_min(torch.finfo(err.dtype).tiny)
    if element_weights.shape != pred.shape:
        raise ValueError(f"element_weights must be {tuple(pred.shape)}, got {tuple(element_weights.shape)}")
    weights = element_weights.to(err.dtype)
    if tok is not None:
        weights = weights * tok.unsqueeze(-1)
    return (err * weights).sum() / weights.sum().clamp_min(torch.finfo(err.dtype).tiny)
