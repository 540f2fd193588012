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
from typing import cast

import torch
from timm.layers.drop import DropPath
from timm.models.vision_transformer import Block
from torch import nn

from maerad.models.blocks import check_drop_rate, make_blocks

__all__ = ["UnitAttentionBlock"]


class UnitAttentionBlock(nn.Module):
    """Self-attention + MLP block over the cells of each unit: ``(B, K, *cells, C)`` → same shape.

    Args:
        dim: cell width ``C``; a multiple of ``num_heads``.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / ``dim``.
        norm_eps: LayerNorm epsilon.
        drop_path: stochastic-depth rate; a dropped branch is dropped for a whole image (the first
            axis), as in Hiera, not for one unit.
    """

    def __init__(self, dim: int, num_heads: int, *, mlp_ratio: float = 4.0, norm_eps: float = 1e-6,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        # the block's own drop path would see units as samples; ours sees images
        self.block = cast(Block, make_blocks(dim, 1, num_heads, mlp_ratio=mlp_ratio, norm_eps=norm_eps)[0])
        rate = check_drop_rate(drop_path, "drop_path")
        self.drop_path = DropPath(rate) if rate > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        block = self.block
        units = x.reshape(-1, math.prod(x.shape[2:-1]), x.shape[-1])  # (B*K, cells, C)
        attended = block.ls1(block.attn(block.norm1(units))).reshape(x.shape)
        x = x + self.drop_path(attended)
        # the MLP acts on each cell alone: no need to regroup by unit
        return x + self.drop_path(block.ls2(block.mlp(block.norm2(x))))  # type: ignore[no-any-return]
