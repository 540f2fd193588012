"""Turn the ``noise`` / ``mask`` arguments of an MAE forward pass into a :class:`MaskSpec`."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.spec import MaskSpec, num_visible

__all__ = ["hidden_indices", "resolve_mask"]


def resolve_mask(
    *,
    batch_size: int,
    grid: Sequence[int],
    device: torch.device,
    mask_ratio: float,
    noise: torch.Tensor | None = None,
    mask: MaskSpec | torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> MaskSpec:
    """The token mask of one forward pass.

    Exactly one source is used: an explicit ``mask`` (a :class:`MaskSpec` from a masking strategy,
    or a ``(B, L)`` bool tensor, ``True`` = hidden, with the same number of hidden tokens per row),
    else ``noise`` (``(B, L)`` scores, the ``K = int(L * (1 - mask_ratio))`` lowest stay visible,
    Hugging Face ViTMAE's contract), else uniform noise drawn from ``generator``.

    Raises:
        InputError: shapes or counts that do not fit the model's token grid.
        ConfigError: both ``noise`` and ``mask`` given, a ``generator`` with either, or a ratio that
            leaves no visible token.
    """
    grid = tuple(int(g) for g in grid)
    length = 1
    for g in grid:
        length *= g
    if noise is not None and mask is not None:
        raise ConfigError("give either noise or mask to the MAE forward pass, not both")
    if generator is not None and (noise is not None or mask is not None):
        raise ConfigError("generator draws random masks; it cannot apply to a given noise or mask")
    if isinstance(mask, MaskSpec):
        if tuple(mask.grid) != grid:
            raise InputError(f"mask grid {mask.grid} does not match the model's token grid {grid}")
        if mask.batch_size != batch_size or mask.num_tokens != length:
            raise InputError(
                f"mask is for batch {mask.batch_size} × {mask.num_tokens} tokens, "
                f"input is {batch_size} × {length}"
            )
        if mask.num_visible >= length:
            raise InputError("mask hides no token; an MAE needs at least one hidden token")
        mask = mask.to(device)
        if not mask.consistent:  # a custom spec whose fields disagree would leak visible tokens into the loss
            mask.check()
        return mask
    if mask is not None:
        if not isinstance(mask, torch.Tensor):
            raise InputError(
                f"mask must be a MaskSpec or a bool torch.Tensor of shape ({batch_size}, {length}) "
                f"(True = hidden), got {type(mask).__name__}"
            )
        return _spec_from_bool(mask.to(device), batch_size, grid, length)
    keep = num_visible(length, mask_ratio)  # ConfigError for a ratio outside [0, 1)
    if keep >= length:
        raise ConfigError(f"mask_ratio {mask_ratio} hides no token out of {length}")
    if noise is None:
        gen_device = generator.device if generator is not None else device
        noise = torch.rand(batch_size, length, generator=generator, device=gen_device).to(device)
    elif not isinstance(noise, torch.Tensor):
        raise InputError(
            f"noise must be a float torch.Tensor of shape ({batch_size}, {length}), "
            f"got {type(noise).__name__}"
        )
    elif noise.shape != (batch_size, length) or not noise.is_floating_point():
        raise InputError(f"noise must be a float tensor of shape ({batch_size}, {length}), got {noise.dtype} "
                         f"{tuple(noise.shape)}")
    elif noise.device.type != "meta" and bool(torch.isnan(noise).any()):
        raise InputError("noise holds NaN: NaN scores have no order (use +inf / -inf to force a token "
                         "hidden / visible)")
    return MaskSpec.from_scores(noise.to(device), keep, grid)


def _spec_from_bool(mask: torch.Tensor, batch_size: int, grid: tuple[int, ...], length: int) -> MaskSpec:
    if mask.dtype != torch.bool or mask.shape != (batch_size, length):
        raise InputError(
            f"mask must be a bool tensor of shape ({batch_size}, {length}) (True = hidden), "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )
    hidden = mask.sum(dim=1)
    if bool((hidden != hidden[0]).any()):
        raise InputError("mask must hide the same number of tokens in every sample of the batch")
    num_hidden = int(hidden[0])
    if not 0 < num_hidden < length:
        raise InputError(f"mask must hide between 1 and {length - 1} tokens, hides {num_hidden}")
    # visible tokens score 0, hidden 1; the stable sort keeps both groups in grid order
    return MaskSpec.from_scores(mask.float(), length - num_hidden, grid)


def hidden_indices(spec: MaskSpec) -> torch.Tensor:
    """``(B, L - K)`` grid indices of the hidden tokens of ``spec``, in grid (raster) order."""
    num_hidden = spec.num_tokens - spec.num_visible
    order = torch.argsort(spec.mask.to(torch.int8), dim=1, descending=True, stable=True)
    return order[:, :num_hidden]
