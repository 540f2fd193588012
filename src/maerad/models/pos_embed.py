"""Fixed sin-cos position tables for any token grid, and interpolation of tables to new grids.

Layout (identical to the public MAE checkpoints in 2D): the embedding dimension ``D`` is split into
one block per grid axis, **last axis first** (2D: ``[w-block | h-block]``, 3D:
``[w-block | h-block | d-block]``). A block of width ``d_a`` holds ``[sin(pos·ω) | cos(pos·ω)]`` with
``ω_k = 10000^(-k / (d_a/2))`` for ``k = 0 … d_a/2 - 1`` and ``pos`` the integer index along that axis.
``d_a = 2 * (D // (2 * n_axes))``; when ``D`` is not a multiple of ``2 * n_axes`` (e.g. ``D = 1024`` in
3D) the few remaining channels are zero. In 2D with ``D % 4 == 0`` this is exactly MAE's
``get_2d_sincos_pos_embed`` (which, through its ``meshgrid(w, h)`` call, encodes the column index in
the first half) and the table Hugging Face's ViTMAE builds. The 3D table is maerad's extension.
A class-token row of zeros comes first when ``cls_token=True``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from maerad.errors import ConfigError
from maerad.masking.spec import as_int, check_grid

__all__ = ["interpolate_pos_embed", "is_sincos_table", "repeat_per_sequence", "sincos_pos_embed"]


def _sincos_1d(positions: torch.Tensor, width: int) -> torch.Tensor:
    """``(N,)`` float64 positions → ``(N, width)`` as ``[sin | cos]``; ``width`` is even."""
    half = width // 2
    omega = 1.0 / 10000.0 ** (torch.arange(half, dtype=torch.float64) / half)
    angles = positions[:, None] * omega[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_pos_embed(grid: Sequence[int], embed_dim: int, *, cls_token: bool = True) -> torch.Tensor:
    """The fixed sin-cos table for a token grid (layout in the module docstring).

    Args:
        grid: token grid shape, 2 or 3 axes (any, not necessarily square).
        embed_dim: ``D``; must leave at least 2 channels per axis.
        cls_token: prepend a row of zeros for the class token.

    Returns:
        ``(prod(grid) [+ 1], D)`` float32, tokens in raster order of ``grid``.

    Examples::

        >>> sincos_pos_embed((14, 14), 768).shape
        torch.Size([197, 768])
    """
    grid = tuple(int(g) for g in grid)
    n_axes = len(grid)
    if n_axes < 1 or any(g < 1 for g in grid):
        raise ConfigError(f"grid must have positive sizes, got {grid}")
    width = 2 * (embed_dim // (2 * n_axes))
    if width < 2:
        raise ConfigError(f"embed_dim {embed_dim} is too small for a {n_axes}-axis sin-cos table")
    coords = torch.meshgrid(*(torch.arange(g, dtype=torch.float64) for g in grid), indexing="ij")
    blocks = [_sincos_1d(coords[axis].reshape(-1), width) for axis in reversed(range(n_axes))]
    table = torch.cat(blocks, dim=1)
    pad = embed_dim - table.shape[1]
    if pad:
        table = torch.cat([table, table.new_zeros(table.shape[0], pad)], dim=1)
    if cls_token:
        table = torch.cat([table.new_zeros(1, embed_dim), table], dim=0)
    return table.float()


def interpolate_pos_embed(
    table: torch.Tensor,
    old_grid: Sequence[int],
    new_grid: Sequence[int],
    *,
    num_prefix_tokens: int = 1,
    antialias: bool = False,
) -> torch.Tensor:
    """Resample a (learned or fixed) position table to a new token grid.

    Each grid axis is resampled independently (no square grids assumed): bicubic for 2D grids,
    trilinear for 3D, ``align_corners=False``. Prefix rows (class token) are kept as they are.
    The default is the MAE reference's ``interpolate_pos_embed``; ``antialias=True`` (2D only) is
    timm's ``resample_abs_pos_embed``, which anti-aliases its bicubic kernel even when upsampling.
    For a fixed sin-cos table prefer recomputing it with :func:`sincos_pos_embed`.

    Args:
        table: ``(1, num_prefix_tokens + prod(old_grid), D)`` or the same without the leading 1.
        old_grid: the grid ``table`` was made for.
        new_grid: the target grid, same number of axes.
        num_prefix_tokens: leading rows that are not grid positions.
        antialias: resample as timm does (2D grids only: PyTorch has no anti-aliased trilinear mode).

    Returns:
        A table of the same rank with ``num_prefix_tokens + prod(new_grid)`` rows.

    Raises:
        ConfigError: a grid that is not 2 or 3 positive ints, grids of different lengths, a table
            whose shape does not fit ``old_grid``, or ``antialias`` with 3D grids.
    """
    old_grid = check_grid(old_grid, field="old_grid")
    new_grid = check_grid(new_grid, field="new_grid")
    prefix_rows = as_int(num_prefix_tokens)
    if prefix_rows is None or prefix_rows < 0:
        raise ConfigError(f"num_prefix_tokens must be an int >= 0, got {num_prefix_tokens!r}")
    num_prefix_tokens = prefix_rows
    if not isinstance(table, torch.Tensor):
        raise ConfigError(f"position table must be a torch.Tensor, got {type(table).__name__}")
    squeeze = table.ndim == 2
    tab = table.unsqueeze(0) if squeeze else table
    if tab.ndim != 3 or tab.shape[0] != 1:
        raise ConfigError(f"position table must be (1, N, D) or (N, D), got {tuple(table.shape)}")
    if len(old_grid) != len(new_grid) or len(old_grid) not in (2, 3):
        raise ConfigError(f"cannot interpolate a position table from grid {old_grid} to {new_grid}")
    if tab.shape[1] != num_prefix_tokens + math.prod(old_grid):
        raise ConfigError(
            f"position table has {tab.shape[1]} rows, expected {num_prefix_tokens} + {math.prod(old_grid)} "
            f"for grid {old_grid}"
        )
    if not isinstance(antialias, bool):
        raise ConfigError(f"antialias must be True or False, got {antialias!r}")
    if antialias and len(old_grid) != 2:
        raise ConfigError(f"antialias=True resamples 2D grids only, got {old_grid} → {new_grid}")
    if old_grid == new_grid:
        return table
    prefix, body = tab[:, :num_prefix_tokens], tab[:, num_prefix_tokens:]
    dim = tab.shape[-1]
    spatial = body.reshape(1, *old_grid, dim).movedim(-1, 1).float()
    mode = "bicubic" if len(old_grid) == 2 else "trilinear"
    resized = F.interpolate(spatial, size=new_grid, mode=mode, align_corners=False, antialias=antialias)
    body = resized.movedim(1, -1).reshape(1, math.prod(new_grid), dim).to(tab.dtype)
    out = torch.cat([prefix, body], dim=1)
    return out[0] if squeeze else out


def repeat_per_sequence(table: torch.Tensor, sequences: int) -> torch.Tensor:
    """A ``(1 + P, D)`` table (class row first) for the per-sequence token layout: the class row, then
    the ``P`` position rows once per sequence (sequence-major, ``1 + S·P`` rows)."""
    return torch.cat([table[:1], table[1:].repeat(sequences, 1)])


def is_sincos_table(pos: torch.Tensor, grid: Sequence[int]) -> bool:
    """Whether ``pos`` is the fixed sin-cos table of ``grid`` (class-token row first), up to its dtype's
    rounding."""
    if pos.device.type == "meta" or pos.ndim != 3:
        return False
    fixed = sincos_pos_embed(grid, pos.shape[-1], cls_token=True).unsqueeze(0)
    if pos.shape != fixed.shape:
        return False
    tolerance = max(1e-5, 4 * torch.finfo(pos.dtype).eps) if pos.is_floating_point() else 0.0
    return bool(torch.allclose(pos.detach().float().cpu(), fixed, atol=tolerance, rtol=0.0))
