"""ROI-prior masking: tokens overlapping regions / landmarks of interest always stay visible."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.numpy_route import as_numpy
from maerad.masking.registry import MASKING
from maerad.masking.strategy import MaskingContext, ScoreStrategy

__all__ = ["RoiPriorMasking"]

Overflow = Literal["raise", "sample"]


@MASKING.register("roi_prior")
class RoiPriorMasking(ScoreStrategy):
    """Keep every ROI token visible; hide ``L - K`` of the other tokens uniformly at random.

    The call's ``roi=`` is a ``(B, L)`` bool map, ``True`` for tokens overlapping an ROI or a landmark
    (build it with :func:`maerad.masking.lesion_maps.roi_from_labels` or
    :func:`~maerad.masking.lesion_maps.roi_from_points`, e.g. from the SPEC §4.1 pelvic-floor landmarks
    or organ labels such as the ovaries). Scores are ``u - 1`` for ROI tokens and ``u`` for the others
    (``u`` uniform on ``[0, 1)``): every ROI score is below every other score, which gives the same
    guarantee as a score of ``-inf`` while staying finite (so the scores also work as ViTMAE ``noise``,
    whose sort is not stable) and random among ROI tokens.

    When a sample has more ROI tokens than ``K`` visible slots, ``overflow`` decides:

    * ``"raise"`` (default): :class:`~maerad.errors.InputError` naming the sample and the counts;
    * ``"sample"``: keep a uniformly random ``K`` of its ROI tokens visible (all others hidden).

    Args:
        mask_ratio: fraction of hidden tokens.
        overflow: ``"raise"`` or ``"sample"`` (see above).

    Examples::

        >>> import torch
        >>> roi = torch.zeros(1, 16, dtype=torch.bool); roi[0, :3] = True
        >>> spec = RoiPriorMasking(0.75)(1, (4, 4), roi=roi)
        >>> bool(spec.mask[0, :3].any())  # ROI tokens are never hidden
        False
    """

    uses_roi = True

    def __init__(self, mask_ratio: float = 0.75, overflow: Overflow = "raise") -> None:
        super().__init__(mask_ratio)
        if overflow not in ("raise", "sample"):
            raise ConfigError(f"overflow must be 'raise' or 'sample', got {overflow!r}")
        self.overflow: Overflow = overflow

    def __repr__(self) -> str:
        return f"RoiPriorMasking(mask_ratio={self.mask_ratio}, overflow={self.overflow!r})"

    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        roi = ctx.roi
        if roi is None:
            raise ConfigError("the 'roi_prior' strategy needs roi=(B, L) bool tokens of interest")
        if self.overflow == "raise" and roi.device.type != "meta":
            # NumPy on the CPU: at token-grid sizes torch's per-op dispatch costs more than the count
            roi_np = as_numpy(roi, (torch.bool,))
            counts = roi_np.sum(axis=1) if roi_np is not None else roi.sum(dim=1)
            worst = int(counts.max())
            if worst > ctx.num_keep:
                b = int(counts.argmax())
                raise InputError(
                    f"roi: sample {b} has {worst} ROI tokens but only K={ctx.num_keep} of {ctx.num_tokens} "
                    f"can stay visible at mask_ratio {ctx.mask_ratio}; lower mask_ratio, shrink the ROI, "
                    "or use overflow='sample' to keep a random K of them"
                )
        scores = ctx.uniform(ctx.batch_size, ctx.num_tokens)  # fresh noise: ours to shift in place
        scores_np, roi_np = as_numpy(scores), as_numpy(roi, (torch.bool,))
        if scores_np is not None and roi_np is not None:
            np.subtract(scores_np, roi_np, out=scores_np)
            return scores
        return scores.sub_(roi.to(scores.dtype))
