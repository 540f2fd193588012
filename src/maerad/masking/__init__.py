"""Masking strategies for masked-image modelling (`MaskSpec` and strategies by name).

Every strategy is called as ``strategy(batch_size, grid, *, generator=None, device=None, roi=None,
weights=None, mask_ratio=None)`` and returns a :class:`MaskSpec` (``mask`` True = hidden) with the same
number of visible tokens for every sample. Build one by name with :func:`create_masking`.

Examples::

    >>> import torch
    >>> from maerad.masking import create_masking
    >>> tube = create_masking("tube", mask_ratio=0.9)
    >>> spec = tube(8, (4, 16, 16), generator=torch.Generator().manual_seed(0))
    >>> spec.grid, spec.num_visible
    ((4, 16, 16), 102)
"""

from maerad.masking.block import BlockMasking
from maerad.masking.grid_masking import GridMasking
from maerad.masking.lesion import LesionAwareMasking
from maerad.masking.lesion_weights import lesion_classes, lesion_hide_weights
from maerad.masking.multisequence import (
    DropSequenceMasking,
    IndependentMasking,
    JointMasking,
    hidden_sequences,
)
from maerad.masking.random_masking import RandomMasking, ScoreMasking
from maerad.masking.registry import MASKING, create_masking
from maerad.masking.roi import RoiPriorMasking
from maerad.masking.spec import MaskSpec, num_visible
from maerad.masking.strategy import MaskingContext, MaskingStrategy, ScoreStrategy
from maerad.masking.tube import TubeMasking
from maerad.masking.weighted import weighted_scores

__all__ = [
    "MASKING",
    "BlockMasking",
    "DropSequenceMasking",
    "GridMasking",
    "IndependentMasking",
    "JointMasking",
    "LesionAwareMasking",
    "MaskSpec",
    "MaskingContext",
    "MaskingStrategy",
    "RandomMasking",
    "RoiPriorMasking",
    "ScoreMasking",
    "ScoreStrategy",
    "TubeMasking",
    "create_masking",
    "hidden_sequences",
    "lesion_classes",
    "lesion_hide_weights",
    "num_visible",
    "weighted_scores",
]
