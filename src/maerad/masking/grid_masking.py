"""Grid masking: regular subsampling of the token grid with a random phase per sample."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from maerad.errors import ConfigError
from maerad.masking.registry import MASKING
from maerad.masking.strategy import MaskingContext, ScoreStrategy

__all__ = ["GridMasking"]


@MASKING.register("grid")
class GridMasking(ScoreStrategy):
    """Keep one token per ``stride``-sized cell visible, at a random phase (offset) per sample.

    The lattice of tokens whose coordinate along every axis ``i`` is ``phase_i (mod stride_i)`` is
    visible first; ``K`` is still ``int(L * (1 - mask_ratio))``, so when the lattice has more than ``K``
    tokens a random ``K`` of them stay visible, and when it has fewer, random off-lattice tokens are
    added. With ``stride=2`` on a 2D grid, ``mask_ratio=0.75`` and an even grid (e.g. 14×14) the
    visible set is exactly the lattice.

    Args:
        mask_ratio: fraction of hidden tokens.
        stride: cell size in tokens; an int (every axis) or one int per grid axis, e.g. ``(1, 2, 2)``
            to subsample only in-plane on a ``(D, H, W)`` grid.

    Examples::

        >>> import torch
        >>> spec = GridMasking(0.75, stride=2)(1, (4, 4), generator=torch.Generator().manual_seed(0))
        >>> v = ~spec.mask.view(4, 4)
        >>> int(v.sum()), bool((v[0::2, 0::2].all() | v[1::2, 1::2].all() | v[0::2, 1::2].all()
        ...                     | v[1::2, 0::2].all()))
        (4, True)
    """

    def __init__(self, mask_ratio: float = 0.75, stride: int | Sequence[int] = 2) -> None:
        super().__init__(mask_ratio)
        if isinstance(stride, int) and not isinstance(stride, bool):
            strides: tuple[int, ...] = (stride,)
        elif isinstance(stride, (list, tuple)):
            strides = tuple(stride)
        else:
            raise ConfigError(f"stride must be an int or a sequence of ints, got {stride!r}")
        if not strides or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in strides):
            raise ConfigError(f"stride must be positive ints, got {stride!r}")
        self.stride = strides
        self._per_axis = not isinstance(stride, int)

    def __repr__(self) -> str:
        return f"GridMasking(mask_ratio={self.mask_ratio}, stride={self.stride})"

    def strides_for(self, grid: tuple[int, ...]) -> tuple[int, ...]:
        """The stride per axis of ``grid``."""
        if not self._per_axis:
            return self.stride * len(grid)
        if len(self.stride) != len(grid):
            raise ConfigError(f"stride {self.stride} has {len(self.stride)} values but the grid {grid} "
                              f"has {len(grid)} axes")
        return self.stride

    def check_grid_shape(self, grid: tuple[int, ...]) -> None:
        self.strides_for(grid)

    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        strides = torch.tensor(self.strides_for(ctx.grid), device=ctx.device)
        noise = ctx.uniform(ctx.batch_size, len(ctx.grid) + ctx.num_tokens)
        phase = (noise[:, : len(ctx.grid)] * strides).long().minimum(strides - 1)  # (B, N) in [0, s)
        # on the lattice along each axis: (B, g_axis), viewed as (B, 1, .., g_axis, .., 1); the lattice
        # is their broadcast AND (far cheaper than testing every token's N coordinates)
        ndim = len(ctx.grid)
        on_lattice: torch.Tensor | None = None
        for axis, size in enumerate(ctx.grid):
            c = torch.arange(size, device=ctx.device)
            on_axis = ((c - phase[:, axis, None]) % strides[axis] == 0).view(
                ctx.batch_size, *(size if a == axis else 1 for a in range(ndim)))
            on_lattice = on_axis if on_lattice is None else on_lattice & on_axis
        assert on_lattice is not None  # the grid has at least one axis
        off_lattice = (~on_lattice).reshape(ctx.batch_size, ctx.num_tokens).to(noise.dtype)
        return noise[:, ndim:] + off_lattice
