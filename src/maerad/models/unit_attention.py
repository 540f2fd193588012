"""Mask-unit attention (Hiera-style): a transformer block whose attention stays inside one mask unit.

Hiera (Ryali et al., ICML 2023) keeps its early, high-resolution stages compatible with MAE masking
by letting tokens attend only to the other tokens of their *mask unit*, so a hidden unit can be
dropped without changing any visible unit's features. In MAE-P the mask unit is one patch token and
its sub-tokens are the stem's cells (4 per axis at stage 1, 2 at stage 2): this block runs an
ordinary pre-norm transformer block over the cells of each unit, with the units as the batch.

Examples::

    >>> import torch
    >>> block = UnitAttentionBlock(dim=16, num_heads=2)
    >>> tuple(block(torch.randn(2, 3, 4, 4, 16)).shape)   # (batch, units, 4 x 4 cells, width)
    (2, 3, 4, 4, 16)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from maerad.models.blocks import make_blocks

__all__ = ["UnitAttentionBlock"]


class UnitAttentionBlock(nn.Module):
    """Self-attention + MLP block over the cells of each unit: ``(B, K, *cells, C)`` → same shape.

    Args:
        dim: cell width ``C``; a multiple of ``num_heads``.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / ``dim``.
        norm_eps: LayerNorm epsilon.
    """

    def __init__(self, dim: int, num_heads: int, *, mlp_ratio: float = 4.0, norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.block = make_blocks(dim, 1, num_heads, mlp_ratio=mlp_ratio, norm_eps=norm_eps)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        units = x.reshape(-1, math.prod(x.shape[2:-1]), x.shape[-1])  # (B*K, cells, C)
        return self.block(units).reshape(x.shape)  # type: ignore[no-any-return]
