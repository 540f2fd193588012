"""Lesion-aware masking: hide tumour core and background preferentially, keep the lesion boundary.

The hidden set is an **exact** weighted sample without replacement of ``L - K`` tokens, each draw
picking a remaining token with probability proportional to its *hiding weight* (Efraimidis–Spirakis
keys, see :mod:`maerad.masking.weighted`). Hiding weights come from a token-resolution lesion
probability map through :func:`maerad.masking.lesion_weights.lesion_hide_weights` (core / boundary /
background), or are given directly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.lesion_weights import lesion_hide_weights
from maerad.masking.numpy_route import as_numpy
from maerad.masking.registry import MASKING
from maerad.masking.strategy import MaskingContext, ScoreStrategy
from maerad.masking.weighted import check_positive_weights, weighted_scores, weights_for_keys

__all__ = ["LesionAwareMasking"]

WeightsKind = Literal["probability", "hide_weight"]


@MASKING.register("lesion_aware")
class LesionAwareMasking(ScoreStrategy):
    """Weighted masking from a lesion map; the call's ``weights=`` is ``(B, L)`` per token.

    With ``weights_kind="probability"`` (default) ``weights`` is a lesion probability (or lesion
    fraction, see :mod:`maerad.masking.lesion_maps`) per token; it is split into core / boundary /
    background tokens and mapped to ``core_weight`` / ``boundary_weight`` / ``background_weight``.
    With ``weights_kind="hide_weight"`` ``weights`` already holds positive hiding weights.

    Which set is sampled: the **hidden** set, ``L - K`` tokens drawn without replacement with
    probability proportional to the hiding weight (the visible set is its complement).

    Args:
        mask_ratio: fraction of hidden tokens.
        core_weight, boundary_weight, background_weight: hiding weights (``> 0``; defaults 2 / 0.2 / 1
            are a maerad ``ASSUMPTION``).
        threshold: lesion probability at which a token counts as lesion.
        boundary_width: half-width of the boundary band in tokens.
        weights_kind: ``"probability"`` or ``"hide_weight"`` (see above).

    Examples::

        >>> import torch
        >>> p = torch.zeros(8, 14, 14); p[:, 4:10, 4:10] = 0.9       # one 6×6-token lesion
        >>> spec = LesionAwareMasking(0.75)(8, (14, 14), weights=p.flatten(1),
        ...                                 generator=torch.Generator().manual_seed(0))
        >>> spec.mask.shape, spec.num_visible
        (torch.Size([8, 196]), 49)
    """

    uses_weights = True

    def __init__(
        self,
        mask_ratio: float = 0.75,
        *,
        core_weight: float = 2.0,
        boundary_weight: float = 0.2,
        background_weight: float = 1.0,
        threshold: float = 0.5,
        boundary_width: int = 1,
        weights_kind: WeightsKind = "probability",
    ) -> None:
        super().__init__(mask_ratio)
        if weights_kind not in ("probability", "hide_weight"):
            raise ConfigError(f"weights_kind must be 'probability' or 'hide_weight', got {weights_kind!r}")
        self.core_weight = core_weight
        self.boundary_weight = boundary_weight
        self.background_weight = background_weight
        # above 1 no token could ever be lesion, at 0 or below every token would be
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise ConfigError(f"threshold must be a lesion probability in (0, 1], got {threshold!r}")
        self.threshold = float(threshold)
        self.boundary_width = boundary_width
        self.weights_kind: WeightsKind = weights_kind
        # validate the weights now rather than at the first call
        lesion_hide_weights(torch.zeros(1, 1), (1,), core_weight=core_weight, boundary_weight=boundary_weight,
                            background_weight=background_weight, threshold=threshold,
                            boundary_width=boundary_width)

    def __repr__(self) -> str:
        return (f"LesionAwareMasking(mask_ratio={self.mask_ratio}, core_weight={self.core_weight}, "
                f"boundary_weight={self.boundary_weight}, background_weight={self.background_weight}, "
                f"threshold={self.threshold}, boundary_width={self.boundary_width}, "
                f"weights_kind={self.weights_kind!r})")

    def hide_weights(self, weights: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
        """``(B, L)`` hiding weights for a call's ``weights`` tensor (see ``weights_kind``); in float64
        and divided by the largest when some weight is below ``SMALLEST_SAFE_WEIGHT``, where float32 keys
        could overflow (see :func:`~maerad.masking.weighted.weights_for_keys`)."""
        if self.weights_kind == "hide_weight":
            smallest, largest = check_positive_weights(weights, "weights (hide weights)")
            return weights_for_keys(weights, smallest, largest)
        if weights.device.type != "meta" and not _all_finite(weights):
            raise InputError("weights (lesion probability per token) must be finite")
        w = lesion_hide_weights(weights, grid, core_weight=self.core_weight,
                                boundary_weight=self.boundary_weight,
                                background_weight=self.background_weight, threshold=self.threshold,
                                boundary_width=self.boundary_width)
        by_class = (self.core_weight, self.boundary_weight, self.background_weight)
        return weights_for_keys(w, min(by_class), max(by_class))

    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        if ctx.weights is None:
            raise ConfigError("the 'lesion_aware' strategy needs weights=(B, L): a lesion probability per "
                              "token (or hiding weights with weights_kind='hide_weight')")
        w = self.hide_weights(ctx.weights, ctx.grid)
        # the noise is ours: the keys can overwrite it
        return weighted_scores(w, ctx.uniform(ctx.batch_size, ctx.num_tokens), sampled="hidden",
                               overwrite_noise=True)


def _all_finite(t: torch.Tensor) -> bool:
    # in NumPy on the CPU, where torch's dispatch would cost more than the test itself
    values = as_numpy(t.detach())
    if values is not None:
        return bool(np.isfinite(values).all())
    return bool(torch.isfinite(t).all())
