"""Block-wise masking: BEiT-style random boxes or SimMIM-style masked cells, then exactly ``K`` visible."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch

from maerad.errors import ConfigError
from maerad.masking.registry import MASKING
from maerad.masking.spec import as_int_tuple
from maerad.masking.strategy import MaskingContext, ScoreStrategy, grid_coords, rank_then_noise, ranks

__all__ = ["BlockMasking", "unite_boxes"]

Style = Literal["beit", "simmim"]


@MASKING.register("block")
class BlockMasking(ScoreStrategy):
    """Hide contiguous blocks of tokens instead of scattered ones.

    ``style="beit"`` (BEiT, Bao et al. 2022): per sample, ``num_candidates`` axis-aligned boxes are
    drawn, each with an area (in tokens) uniform in ``[min_block, max_block]`` and a log-uniform aspect
    ratio in ``aspect`` (on an N-D grid: one ratio per axis relative to the last axis; in 2D this is
    BEiT's ``h = sqrt(s r)``, ``w = sqrt(s / r)``) at a uniform position. Boxes are united in order
    until they cover at least ``L - K`` tokens. Unlike BEiT's per-sample rejection loop this is
    vectorised over samples (boxes are added to all samples at once), so the union can overshoot; then
    exactly ``K`` visible tokens are obtained by keeping a random
    subset of the covered tokens visible (or, when the boxes cover too little, by hiding random
    uncovered tokens).

    ``style="simmim"`` (SimMIM, Xie et al. 2022): the grid is cut into cells of ``cell`` tokens per
    axis (SimMIM's mask patch, e.g. 32 px / 16 px patches = 2 tokens); cells are ranked at random and
    the lowest-ranked cells stay visible, whole, with one partially visible cell to make ``K`` exact.

    Args:
        mask_ratio: fraction of hidden tokens.
        style: ``"beit"`` or ``"simmim"``.
        min_block: smallest box area in tokens (BEiT default 16; clipped to ``L``).
        max_block: largest box area in tokens (default ``L - K``, BEiT's default).
        aspect: ``(low, high)`` range of aspect ratios (default ``(0.3, 1 / 0.3)``).
        num_candidates: boxes drawn per sample (default ``2 * ceil((L - K) / min_block) + 4``).
        cell: SimMIM cell size in tokens, an int or one per axis.

    Examples::

        >>> import torch
        >>> spec = BlockMasking(0.5)(2, (14, 14), generator=torch.Generator().manual_seed(0))
        >>> spec.mask.sum(1).tolist()
        [98, 98]
    """

    def __init__(
        self,
        mask_ratio: float = 0.75,
        style: Style = "beit",
        *,
        min_block: int = 16,
        max_block: int | None = None,
        aspect: tuple[float, float] = (0.3, 1 / 0.3),
        num_candidates: int | None = None,
        cell: int | Sequence[int] = 2,
    ) -> None:
        super().__init__(mask_ratio)
        if style not in ("beit", "simmim"):
            raise ConfigError(f"style must be 'beit' or 'simmim', got {style!r}")
        if isinstance(min_block, bool) or not isinstance(min_block, int) or min_block < 1:
            raise ConfigError(f"min_block must be an int >= 1 (tokens), got {min_block!r}")
        if max_block is not None and (isinstance(max_block, bool) or not isinstance(max_block, int)
                                      or max_block < min_block):
            raise ConfigError(f"max_block must be an int >= min_block ({min_block}), got {max_block!r}")
        if (isinstance(aspect, (str, bytes)) or not isinstance(aspect, Sequence) or len(aspect) != 2
                or any(isinstance(a, bool) or not isinstance(a, (int, float)) for a in aspect)):
            raise ConfigError(f"aspect must be (low, high) with 0 < low <= high, got {aspect!r}")
        lo, hi = float(aspect[0]), float(aspect[1])
        if not (0 < lo <= hi and math.isfinite(hi)):
            raise ConfigError(f"aspect must be (low, high) with 0 < low <= high, got {aspect!r}")
        if num_candidates is not None and (isinstance(num_candidates, bool)
                                           or not isinstance(num_candidates, int) or num_candidates < 1):
            raise ConfigError(f"num_candidates must be an int >= 1, got {num_candidates!r}")
        cells = as_int_tuple(cell)
        if cells is None or min(cells) < 1:
            raise ConfigError(f"cell must be a positive int or one per axis, got {cell!r}")
        self.style: Style = style
        self.min_block, self.max_block = min_block, max_block
        self.aspect = (lo, hi)
        self.num_candidates = num_candidates
        self.cell = cells

    def __repr__(self) -> str:
        extra = f"min_block={self.min_block}, max_block={self.max_block}, aspect={self.aspect}" \
            if self.style == "beit" else f"cell={self.cell}"
        return f"BlockMasking(mask_ratio={self.mask_ratio}, style={self.style!r}, {extra})"

    def check_grid_shape(self, grid: tuple[int, ...]) -> None:
        if self.style == "simmim" and len(self.cell) not in (1, len(grid)):
            raise ConfigError(f"cell {self.cell} has {len(self.cell)} values but the grid {grid} has "
                              f"{len(grid)} axes")

    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        if self.style == "simmim":
            cell_rank, num_cells = self._simmim_rank(ctx)
            return rank_then_noise(cell_rank, ctx.uniform(ctx.batch_size, ctx.num_tokens), num_cells)
        # two groups (uncovered < 1 <= covered): a covered score rounding up to 2.0 stays in its group
        return self._beit_cover(ctx).float() + ctx.uniform(ctx.batch_size, ctx.num_tokens)

    # -- BEiT ------------------------------------------------------------------------------------
    def _beit_cover(self, ctx: MaskingContext) -> torch.Tensor:
        """``(B, L)`` bool union of random boxes covering at least ``L - K`` tokens (when possible)."""
        b, grid, length = ctx.batch_size, ctx.grid, ctx.num_tokens
        ndim = len(grid)
        target = length - ctx.num_keep
        if target == 0:
            return torch.zeros(b, length, dtype=torch.bool, device=ctx.device)
        min_area = min(self.min_block, length)
        max_area = min(max(self.max_block if self.max_block is not None else target, min_area), length)
        n = self.num_candidates or 2 * math.ceil(target / min_area) + 4
        noise = ctx.uniform(b, n, 2 * ndim)
        area = min_area + noise[..., 0] * (max_area - min_area)  # (B, n)
        log_lo, log_hi = math.log(self.aspect[0]), math.log(self.aspect[1])
        log_ratio = log_lo + noise[..., 1:ndim] * (log_hi - log_lo)  # (B, n, ndim-1): axis i vs last axis
        last = torch.exp((torch.log(area) - log_ratio.sum(-1)) / ndim)  # side along the last axis
        sides_f = torch.cat([last[..., None] * torch.exp(log_ratio), last[..., None]], dim=-1)
        dims = torch.tensor(grid, device=ctx.device)
        sides = sides_f.round().long().clamp(min=1).minimum(dims)  # (B, n, ndim)
        start = (noise[..., ndim:] * (dims - sides + 1)).long().minimum(dims - sides)  # (B, n, ndim)
        return unite_boxes(start, start + sides, grid, target)

    # -- SimMIM ----------------------------------------------------------------------------------
    def _simmim_rank(self, ctx: MaskingContext) -> tuple[torch.Tensor, int]:
        """``(B, L)`` float rank of each token's cell (0 = first to stay visible), and the number of
        cells."""
        grid = ctx.grid
        cells = self.cell * len(grid) if len(self.cell) == 1 else self.cell
        per_axis = [math.ceil(g / c) for g, c in zip(grid, cells, strict=True)]
        coords = grid_coords(grid, ctx.device)  # (ndim, L)
        cell_index = torch.zeros(ctx.num_tokens, dtype=torch.long, device=ctx.device)
        for axis, (c, m) in enumerate(zip(cells, per_axis, strict=True)):
            cell_index = cell_index * m + coords[axis] // c
        num_cells = math.prod(per_axis)
        cell_rank = ranks(ctx.uniform(ctx.batch_size, num_cells))  # (B, n_cells)
        return cell_rank[:, cell_index], num_cells


def unite_boxes(start: torch.Tensor, stop: torch.Tensor, grid: tuple[int, ...], target: int) -> torch.Tensor:
    """``(B, L)`` bool: per sample, the union of its boxes ``0, 1, …`` up to the first at which the union
    covers at least ``target`` tokens (all boxes when it never does).

    Args:
        start, stop: ``(B, n, ndim)`` integer box corners on ``grid`` (``stop`` exclusive).
        grid: the token grid; the union is in raster order.
        target: tokens to cover.
    """
    b, n, ndim = start.shape
    length = math.prod(grid)
    device = start.device
    if target <= 0 or b == 0:  # the empty union already covers the target (or there is no sample)
        return torch.zeros(b, length, dtype=torch.bool, device=device)
    # Per axis, which of its coordinates each box spans: (B, n, g_axis), viewed as
    # (B, n, 1, .., g_axis, .., 1) so that boxes are the broadcast AND of their axis intervals.
    spans = []
    for axis, size in enumerate(grid):
        c = torch.arange(size, device=device)
        inside = (c >= start[..., axis, None]) & (c < stop[..., axis, None])
        spans.append(inside.view(b, n, *(size if a == axis else 1 for a in range(ndim))))
    union = torch.zeros(b, length, dtype=torch.bool, device=device)
    active = torch.ones(b, 1, dtype=torch.bool, device=device)
    # One box at a time (vectorised over samples and tokens); a sample stops adding boxes once it
    # covers the target. Most samples need only a few boxes, so the loop exits early (checked every 8
    # boxes to limit device synchronisation); those 8 boxes are built in one go.
    for first in range(0, n, 8):
        chunk = slice(first, first + 8)
        boxes = spans[0][:, chunk]
        for span in spans[1:]:
            boxes = boxes & span[:, chunk]
        for box in boxes.reshape(b, -1, length).unbind(1):
            union |= box & active
            active &= union.sum(dim=1, keepdim=True) < target
        if device.type != "meta" and not bool(active.any()):
            break
    return union
