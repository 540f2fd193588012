"""Random masking (MAE) and user-supplied scores (the Hugging Face ViTMAE ``noise`` contract)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.registry import MASKING
from maerad.masking.strategy import MaskingContext, ScoreStrategy

__all__ = ["RandomMasking", "ScoreFn", "ScoreMasking"]

#: ``score_fn(batch_size, grid, generator, device) -> (B, L)`` float scores.
ScoreFn = Callable[[int, Sequence[int], "torch.Generator | None", torch.device], torch.Tensor]


@MASKING.register("random")
class RandomMasking(ScoreStrategy):
    """Uniformly random masking (He et al., MAE): every set of ``L - K`` hidden tokens is equally likely.

    Args:
        mask_ratio: fraction of hidden tokens (MAE default 0.75).

    Examples::

        >>> import torch
        >>> spec = RandomMasking(0.75)(4, (14, 14), generator=torch.Generator().manual_seed(0))
        >>> spec.num_visible, bool(spec.mask.sum(1).eq(147).all())
        (49, True)
    """

    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        return ctx.uniform(ctx.batch_size, ctx.num_tokens)


@MASKING.register("scores")
class ScoreMasking(ScoreStrategy):
    """Your own per-token scores: the ``K`` lowest stay visible (ties: lower raster index first).

    The scores come from the call's ``weights=`` tensor ``(B, L)`` or, when that is not given, from
    ``score_fn(batch_size, grid, generator, device)``. This is the contract of the ``noise`` argument
    of Hugging Face's ``ViTMAEForPreTraining``: pass the same tensor to both and they mask the same
    tokens. ``-inf`` forces a token visible and ``+inf`` hidden; NaN is rejected.

    Args:
        mask_ratio: fraction of hidden tokens.
        score_fn: optional score generator used when a call passes no ``weights``.

    Examples::

        >>> import torch
        >>> s = torch.tensor([[0.9, 0.1, 0.5, 0.3]])
        >>> ScoreMasking(0.5)(1, (2, 2), weights=s).ids_keep.tolist()
        [[1, 3]]
    """

    uses_weights = True

    def __init__(self, mask_ratio: float = 0.75, score_fn: ScoreFn | None = None) -> None:
        super().__init__(mask_ratio)
        if score_fn is not None and not callable(score_fn):
            raise ConfigError(f"score_fn must be callable, got {type(score_fn).__name__}")
        self.score_fn = score_fn

    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        if ctx.weights is not None:
            scores = ctx.weights
        elif self.score_fn is not None:
            scores = self.score_fn(ctx.batch_size, ctx.grid, ctx.generator, ctx.device)
            shape = (ctx.batch_size, ctx.num_tokens)
            if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != shape:
                got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
                raise InputError(f"score_fn must return a tensor of shape {shape}, got {got}")
            scores = scores.to(ctx.device)
        else:
            raise ConfigError("the 'scores' strategy needs weights=(B, L) scores or a score_fn")
        if scores.device.type != "meta" and bool(torch.isnan(scores).any()):
            raise InputError("scores must not contain NaN (use -inf / +inf to force visible / hidden)")
        return scores
