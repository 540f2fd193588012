"""Masking for the per-sequence token layout: each sequence's patch is its own token.

Token order is **sequence-major**: with ``S`` sequences on a spatial token grid ``G`` (``P = prod(G)``
positions), token ``s * P + p`` is position ``p`` (raster order of ``G``) of sequence ``s``, and the
strategies here take and return the layout grid ``(S, *G)``, so ``L = S * P``. The sequence order is
the model's channel order (``Study.sequence_names``).

* ``joint``: the same positions are hidden in every sequence (``K = S * K_p``);
* ``independent``: every sequence gets its own mask with ``K_p`` visible tokens (``K = S * K_p``);
* ``drop_sequence``: one whole sequence per sample is hidden and the other ``S - 1`` are masked
  independently (``K = (S - 1) * K_p``), so the model learns cross-sequence synthesis (e.g. T1c from
  T2W + DWI).

``K_p = int(P * (1 - mask_ratio))`` and each per-sequence mask comes from an inner strategy (default
random).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from maerad.errors import ConfigError
from maerad.masking.registry import MASKING
from maerad.masking.spec import MaskSpec, as_int_tuple
from maerad.masking.strategy import (
    MaskingContext,
    ScoreStrategy,
    check_grid,
    check_ratio,
    rank_then_noise,
    ranks,
)
from maerad.masking.tube import TubeMasking, inner_strategy

__all__ = ["DropSequenceMasking", "IndependentMasking", "JointMasking", "hidden_sequences"]


def _check_layout(owner: str, grid: tuple[int, ...], inner: ScoreStrategy, min_sequences: int = 1) -> None:
    if len(grid) < 2:
        raise ConfigError(f"{owner} needs the per-sequence layout grid (S, *spatial), e.g. (3, 14, 14); "
                          f"got {grid}")
    if grid[0] < min_sequences:
        raise ConfigError(f"{owner} needs at least {min_sequences} sequences (grid[0]), got grid {grid}")
    spatial = grid[1:]
    # a tube repeats its mask along the slice axis: a 2D spatial grid has none, and its rows would be
    # taken for slices (whole image columns hidden)
    if isinstance(inner, TubeMasking) and len(spatial) < 3:
        raise ConfigError(f"{owner}: inner strategy tube repeats a mask along the slice axis, and the "
                          f"spatial grid {spatial} (2D) has none; use random, block or grid")
    inner.check_grid_shape(spatial)


def _per_sequence_keep(inner: ScoreStrategy, default_ratio: float, grid: Sequence[int],
                       mask_ratio: float | None, dropped: int = 0) -> int:
    """``(S - dropped) * K_p`` for a layout grid ``(S, *G)``."""
    grid_t = check_grid(grid)
    ratio = default_ratio if mask_ratio is None else check_ratio(mask_ratio)
    return (grid_t[0] - dropped) * inner.num_visible(grid_t[1:], ratio)


@MASKING.register("joint")
class JointMasking(TubeMasking):
    """The same spatial positions hidden in every sequence (``K = S * K_p``; exact, no partial tube).

    Args:
        mask_ratio: fraction of hidden positions.
        inner: per-position strategy (registry name or instance; default random).
        inner_options: options of a named inner strategy.

    Examples::

        >>> import torch
        >>> spec = JointMasking(0.75)(2, (3, 14, 14), generator=torch.Generator().manual_seed(0))
        >>> m = spec.mask.view(2, 3, 196)
        >>> spec.num_visible, bool((m == m[:, :1]).all())
        (147, True)
    """

    def check_grid_shape(self, grid: tuple[int, ...]) -> None:
        _check_layout(type(self).__name__, grid, self.inner)

    def num_visible(self, grid: Sequence[int], mask_ratio: float | None = None) -> int:
        return _per_sequence_keep(self.inner, self.mask_ratio, grid, mask_ratio)


@MASKING.register("independent")
class IndependentMasking(ScoreStrategy):
    """Each sequence masked on its own, ``K_p`` visible tokens per sequence (``K = S * K_p``).

    Args:
        mask_ratio: fraction of hidden tokens in every sequence.
        inner: per-sequence strategy (registry name or instance; default random).
        inner_options: options of a named inner strategy.

    Examples::

        >>> import torch
        >>> spec = IndependentMasking(0.75)(2, (3, 14, 14), generator=torch.Generator().manual_seed(0))
        >>> (~spec.mask).view(2, 3, 196).sum(-1).tolist()
        [[49, 49, 49], [49, 49, 49]]
    """

    def __init__(self, mask_ratio: float = 0.75, inner: str | ScoreStrategy = "random",
                 inner_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(mask_ratio)
        self.inner = inner_strategy(inner, inner_options, type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mask_ratio={self.mask_ratio}, inner={self.inner!r})"

    def check_grid_shape(self, grid: tuple[int, ...]) -> None:
        _check_layout(type(self).__name__, grid, self.inner)

    def num_visible(self, grid: Sequence[int], mask_ratio: float | None = None) -> int:
        return _per_sequence_keep(self.inner, self.mask_ratio, grid, mask_ratio)

    def sequence_ranks(self, ctx: MaskingContext) -> torch.Tensor:
        """``(B, S, P)`` float rank of each token within its own sequence (0 = most visible): the
        ``K_p`` lowest of each sequence are exactly that sequence's visible tokens."""
        n_seq, spatial = ctx.grid[0], ctx.grid[1:]
        per_seq = self.inner.scores(ctx.batch_size * n_seq, spatial, generator=ctx.generator,
                                    device=ctx.device, mask_ratio=ctx.mask_ratio)
        return ranks(per_seq.float()).view(ctx.batch_size, n_seq, math.prod(spatial))

    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        # Every sequence has one token of each rank 0..P-1, so the S*K_p lowest scores are exactly the
        # tokens ranked below K_p in their own sequence (the noise only orders equal ranks).
        positions = math.prod(ctx.grid[1:])
        rank = self.sequence_ranks(ctx)
        scores = rank_then_noise(rank, ctx.uniform(ctx.batch_size, ctx.grid[0], positions), positions)
        return scores.reshape(ctx.batch_size, ctx.num_tokens)


@MASKING.register("drop_sequence")
class DropSequenceMasking(IndependentMasking):
    """Hide one whole sequence per sample; mask the other sequences independently.

    The dropped sequence is drawn uniformly per sample from ``drop`` (default: any sequence). Its
    tokens get scores above every other token's, so all ``P`` of them are hidden; the remaining
    ``S - 1`` sequences keep ``K_p`` visible tokens each (``K = (S - 1) * K_p``). Use
    :func:`hidden_sequences` to find which sequence was dropped.

    Args:
        mask_ratio: fraction of hidden tokens in each non-dropped sequence.
        drop: candidate sequence indices to drop (an int or a list); default all.
        inner: per-sequence strategy for the other sequences (default random).
        inner_options: options of a named inner strategy.

    Examples::

        >>> import torch
        >>> s = DropSequenceMasking(0.5, drop=[2])          # always synthesise sequence 2 (e.g. T1c)
        >>> spec = s(4, (3, 8, 8), generator=torch.Generator().manual_seed(0))
        >>> hidden_sequences(spec)[:, 2].all().item(), spec.num_visible
        (True, 64)
    """

    def __init__(
        self,
        mask_ratio: float = 0.5,
        drop: int | Sequence[int] | None = None,
        inner: str | ScoreStrategy = "random",
        inner_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(mask_ratio, inner, inner_options)
        if drop is None:
            self.drop: tuple[int, ...] | None = None
        else:
            items = as_int_tuple(drop)
            if items is None or min(items) < 0:
                raise ConfigError(f"drop must be a non-negative sequence index or a non-empty list of them, "
                                  f"got {drop!r}")
            self.drop = tuple(sorted(set(items)))

    def __repr__(self) -> str:
        return f"DropSequenceMasking(mask_ratio={self.mask_ratio}, drop={self.drop}, inner={self.inner!r})"

    def check_grid_shape(self, grid: tuple[int, ...]) -> None:
        _check_layout(type(self).__name__, grid, self.inner, min_sequences=2)
        if self.drop is not None and max(self.drop) >= grid[0]:
            raise ConfigError(f"drop {self.drop} names a sequence index >= the {grid[0]} sequences "
                              f"of grid {grid}")

    def num_visible(self, grid: Sequence[int], mask_ratio: float | None = None) -> int:
        return _per_sequence_keep(self.inner, self.mask_ratio, grid, mask_ratio, dropped=1)

    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        n_seq, positions = ctx.grid[0], math.prod(ctx.grid[1:])
        rank = self.sequence_ranks(ctx)  # (B, S, P), values in [0, P)
        noise = ctx.uniform(ctx.batch_size, n_seq, positions)
        candidates = torch.tensor(self.drop if self.drop is not None else range(n_seq), device=ctx.device)
        pick = (ctx.uniform(ctx.batch_size) * len(candidates)).long().clamp_(max=len(candidates) - 1)
        dropped = candidates[pick]  # (B,)
        is_dropped = torch.arange(n_seq, device=ctx.device)[None, :] == dropped[:, None]  # (B, S)
        # the dropped sequence's ranks move to [P, 2P): above every token of the others
        rank = rank + is_dropped[:, :, None].to(rank.dtype) * positions
        return rank_then_noise(rank, noise, 2 * positions).reshape(ctx.batch_size, ctx.num_tokens)


def hidden_sequences(spec: MaskSpec) -> torch.Tensor:
    """``(B, S)`` bool: which sequences are entirely hidden, for a spec on a layout grid ``(S, *G)``.

    Raises:
        ConfigError: ``spec`` is on a grid of fewer than 2 axes (no sequence axis).
    """
    if len(spec.grid) < 2:
        raise ConfigError(f"hidden_sequences needs a spec on the per-sequence layout grid (S, *spatial), got "
                          f"grid {spec.grid}")
    n_seq = spec.grid[0]
    return spec.mask.view(spec.batch_size, n_seq, -1).all(dim=-1)
