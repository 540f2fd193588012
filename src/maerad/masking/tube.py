"""Tube masking (VideoMAE): one in-plane mask repeated along the slice axis of a 3D token grid."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from maerad.errors import ConfigError
from maerad.masking.registry import MASKING
from maerad.masking.strategy import MaskingContext, ScoreStrategy, rank_then_noise, ranks

__all__ = ["TubeMasking", "inner_strategy"]


def inner_strategy(
    inner: str | ScoreStrategy, options: Mapping[str, Any] | None, owner: str
) -> ScoreStrategy:
    """Resolve an inner (per-plane / per-sequence) strategy given by registry name or instance.

    Raises:
        ConfigError: unknown name, or a strategy that needs ``roi`` / ``weights`` or is not score-based.
    """
    from maerad.masking.registry import create_masking

    if options is not None and not isinstance(options, Mapping):
        raise ConfigError(f"{owner}: inner_options must be a mapping of option names to values, "
                          f"got {options!r}")
    if options and not isinstance(inner, str):
        raise ConfigError(f"{owner}: inner_options apply to an inner strategy given by name, not to "
                          f"the instance {inner!r}")
    strategy = create_masking(inner, **dict(options or {})) if isinstance(inner, str) else inner
    if not isinstance(strategy, ScoreStrategy):
        raise ConfigError(f"{owner}: inner strategy must be a maerad score-based strategy, got {strategy!r}")
    if strategy.uses_roi or strategy.uses_weights:
        raise ConfigError(f"{owner}: inner strategy {type(strategy).__name__} needs roi/weights, which "
                          f"{owner} cannot pass per plane; use random, block or grid")
    return strategy


@MASKING.register("tube")
class TubeMasking(ScoreStrategy):
    """Mask whole tubes: the same in-plane positions are hidden in every slice (VideoMAE-style).

    For a grid ``(D, H, W)`` (slice axis first, the maerad layout of 3D tokens) an inner strategy
    (default random) ranks the ``H·W`` in-plane positions once per sample; tokens are ordered by the
    rank of their position, so visible tokens come in whole tubes of ``D`` slices. ``K`` stays
    ``int(L * (1 - mask_ratio))``: when ``D`` does not divide ``K`` the last visible tube is partial
    (a random subset of its slices). Any grid with at least 2 axes works; axis 0 is the repeated axis.

    Args:
        mask_ratio: fraction of hidden tokens.
        inner: in-plane strategy, a registry name (``"random"``, ``"block"``, ``"grid"``) or instance.
        inner_options: keyword options for a named inner strategy.

    Examples::

        >>> import torch
        >>> spec = TubeMasking(0.75)(2, (4, 8, 8), generator=torch.Generator().manual_seed(0))
        >>> m = spec.mask.view(2, 4, 64)
        >>> bool((m == m[:, :1]).all())  # every slice hides the same positions
        True
    """

    def __init__(self, mask_ratio: float = 0.75, inner: str | ScoreStrategy = "random",
                 inner_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(mask_ratio)
        self.inner = inner_strategy(inner, inner_options, type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mask_ratio={self.mask_ratio}, inner={self.inner!r})"

    def check_grid_shape(self, grid: tuple[int, ...]) -> None:
        if len(grid) < 2:
            raise ConfigError(f"{type(self).__name__} needs a grid with a repeated axis first, "
                              f"e.g. (D, H, W); got {grid}")

    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        depth, plane = ctx.grid[0], ctx.grid[1:]
        # The inner strategy chooses the ceil(K / D) positions whose tubes are (fully or partly)
        # visible; the +0.5 keeps int(P * (1 - ratio)) exact despite floating-point rounding.
        positions = math.prod(plane)
        plane_ratio = max(0.0, 1.0 - (math.ceil(ctx.num_keep / depth) + 0.5) / positions)
        inner_scores = self.inner.scores(ctx.batch_size, plane, generator=ctx.generator, device=ctx.device,
                                         mask_ratio=plane_ratio)
        plane_rank = ranks(inner_scores.float())  # (B, P): 0 = most visible position
        noise = ctx.uniform(ctx.batch_size, depth, positions)
        scores = rank_then_noise(plane_rank[:, None, :], noise, positions)
        return scores.reshape(ctx.batch_size, ctx.num_tokens)
