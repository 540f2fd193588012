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

import numbers
from typing import Literal

import torch

from maerad.errors import ConfigError, InputError

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


def _check_patches(patches: object, name: str) -> None:
    """Raise :class:`InputError` unless ``patches`` is a floating-point tensor with a last (P) axis."""
    if not isinstance(patches, torch.Tensor):
        raise InputError(
            f"{name} must be a torch.Tensor of patch vectors (..., P), got {type(patches).__name__}"
        )
    if patches.ndim < 1 or not patches.is_floating_point():
        raise InputError(
            f"{name} must be a floating-point tensor of patch vectors (..., P), "
            f"got {patches.dtype} of shape {tuple(patches.shape)}"
        )


def _check_token_map(t: object, name: str, want: tuple[int, ...]) -> torch.Tensor:
    """A mask or weight tensor of exactly shape ``want`` (bool or real; never complex)."""
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape {want}, got {type(t).__name__}")
    if tuple(t.shape) != want:
        raise InputError(f"{name} must have shape {want}, got {tuple(t.shape)}")
    if t.is_complex():
        raise InputError(f"{name} must be a bool or real tensor, got {t.dtype}")
    return t


def _check_weights(t: torch.Tensor, name: str = "token_weights") -> torch.Tensor:
    """Loss weights must be finite and >= 0: a negative weight rewards error (a loss of -inf)."""
    # one reduction, one device sync per call (this runs every training step); NaN fails ">= 0"
    if t.device.type != "meta" and t.numel() and not bool(((t >= 0) & torch.isfinite(t)).all()):
        raise InputError(f"{name} must be finite and >= 0")
    return t


def _is_positive_int(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and int(value) >= 1


def _is_non_negative(value: object) -> bool:
    # `x >= 0` is False for NaN, so a NaN eps is rejected as well
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and float(value) >= 0.0


def _split_channels(patches: torch.Tensor, num_channels: int) -> torch.Tensor:
    """``(..., V * C)`` → ``(..., V, C)`` view."""
    if not _is_positive_int(num_channels):
        raise ConfigError(f"num_channels must be a positive int, got {num_channels!r}")
    if patches.shape[-1] % num_channels != 0:
        raise InputError(f"patch length {patches.shape[-1]} is not a multiple of num_channels={num_channels}")
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

    Raises:
        ConfigError: an unknown ``mode``, a non-positive ``num_channels`` or a negative ``eps``.
        InputError: ``patches`` is not a floating-point tensor with at least one dimension, its
            length is not a multiple of ``num_channels``, or a patch has fewer than 2 values to
            take a variance over.
    """
    if mode not in ("per_channel", "joint"):
        raise ConfigError(f"norm-pix mode must be 'per_channel' or 'joint', got {mode!r}")
    if not _is_non_negative(eps):
        raise ConfigError(f"norm-pix eps must be a non-negative number, got {eps!r}")
    _check_patches(patches, "patches")
    if mode == "joint":
        if patches.shape[-1] < 2:
            raise InputError(
                f"norm-pix needs at least 2 values per patch, got patches of shape {tuple(patches.shape)}"
            )
        return patches.mean(dim=-1, keepdim=True), (patches.var(dim=-1, keepdim=True) + eps).sqrt()
    split = _split_channels(patches, num_channels)  # (..., V, C)
    if split.shape[-2] < 2:
        raise InputError(
            f"per-channel norm-pix needs at least 2 voxels per patch, got "
            f"{split.shape[-2]} (patch length {patches.shape[-1]}, num_channels={num_channels})"
        )
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

    Raises:
        ConfigError, InputError: as :func:`patch_statistics`, or ``pred`` and ``reference`` differ in
            shape.
    """
    _check_patches(pred, "pred")
    if pred.shape != getattr(reference, "shape", None):
        raise InputError(
            f"pred and reference must have the same shape, got {tuple(pred.shape)} and "
            f"{tuple(getattr(reference, 'shape', ()))}"
        )
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

    Raises:
        ConfigError: ``kind`` is not ``"l2"`` or ``"l1"``.
        InputError: ``pred`` / ``target`` are not floating-point ``(B, N, P)`` tensors of one shape,
            ``mask`` / ``token_weights`` / ``element_weights`` are not tensors of the shape above, or a
            non-bool ``mask`` or a weight is negative or not finite.
    """
    if kind not in ("l2", "l1"):
        raise ConfigError(f"loss kind must be 'l2' or 'l1', got {kind!r}")
    _check_patches(pred, "pred")
    _check_patches(target, "target")
    if pred.shape != target.shape or pred.ndim != 3:
        raise InputError(
            f"pred and target must both be (B, N, P), got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    tokens = (int(pred.shape[0]), int(pred.shape[1]))
    diff = pred - target
    err = diff * diff if kind == "l2" else diff.abs()
    tok: torch.Tensor | None = None
    if mask is not None:
        mask_t = _check_token_map(mask, "mask", tokens)
        if mask_t.dtype != torch.bool:  # a float mask weighs tokens: negative would reward error
            _check_weights(mask_t, "mask")
        tok = mask_t.to(err.dtype)
    if token_weights is not None:
        weights_t = _check_weights(_check_token_map(token_weights, "token_weights", tokens)).to(err.dtype)
        tok = weights_t if tok is None else tok * weights_t
    if element_weights is None:
        per_token = err.mean(dim=-1)  # (B, N)
        if tok is None:
            return per_token.mean()
        return (per_token * tok).sum() / tok.sum().clamp_min(torch.finfo(err.dtype).tiny)
    weights = _check_weights(_check_token_map(element_weights, "element_weights", tuple(pred.shape)),
                             "element_weights").to(err.dtype)
    if tok is not None:
        weights = weights * tok.unsqueeze(-1)
    return (err * weights).sum() / weights.sum().clamp_min(torch.finfo(err.dtype).tiny)
