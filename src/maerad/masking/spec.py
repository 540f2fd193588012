"""`MaskSpec`: which tokens an MAE sees and which it must reconstruct.

One polarity everywhere: ``mask`` is ``True`` for a **hidden** token. Every strategy keeps the same
number ``K`` of visible tokens for every sample of a batch, so visible tokens can be gathered into a
dense ``(B, K, D)`` tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["MaskSpec", "num_visible"]


def num_visible(num_tokens: int, mask_ratio: float) -> int:
    """Number of visible tokens ``K = int(L * (1 - mask_ratio))``, the rounding of the original MAE.

    Raises:
        ValueError: ``mask_ratio`` outside ``[0, 1)`` or a ratio that would leave no visible token.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    keep = int(num_tokens * (1.0 - mask_ratio))
    if keep < 1:
        raise ValueError(f"mask_ratio {mask_ratio} leaves no visible token out of {num_tokens}")
    return keep


@dataclass(frozen=True)
class MaskSpec:
    """A batch of token masks.

    Attributes:
        ids_keep: ``(B, K)`` int64, indices of the visible tokens, in the order the encoder sees them.
        ids_restore: ``(B, L)`` int64, the inverse permutation: ``cat([visible, hidden])`` gathered
            with ``ids_restore`` is back in grid (raster) order.
        mask: ``(B, L)`` bool, ``True`` = hidden, in grid order.
        grid: the token grid shape, e.g. ``(14, 14)`` or ``(8, 8, 8)``; ``prod(grid) == L``.
    """

    ids_keep: torch.Tensor
    ids_restore: torch.Tensor
    mask: torch.Tensor
    grid: tuple[int, ...]

    @property
    def batch_size(self) -> int:
        return int(self.mask.shape[0])

    @property
    def num_tokens(self) -> int:
        return int(self.mask.shape[1])

    @property
    def num_visible(self) -> int:
        return int(self.ids_keep.shape[1])

    @classmethod
    def from_scores(cls, scores: torch.Tensor, num_keep: int, grid: tuple[int, ...]) -> MaskSpec:
        """Keep the ``num_keep`` tokens with the **lowest** score visible (ties broken by index).

        This is the contract of the ``noise`` argument of Hugging Face's ViTMAE: a uniform-noise score
        gives random masking, ``-inf`` forces a token visible, ``+inf`` forces it hidden.

        Args:
            scores: ``(B, L)`` float scores.
            num_keep: ``K``, the number of visible tokens per sample.
            grid: token grid shape with ``prod(grid) == L``.
        """
        if scores.ndim != 2:
            raise ValueError(f"scores must be (B, L), got shape {tuple(scores.shape)}")
        batch, length = scores.shape
        grid_tokens = math.prod(int(g) for g in grid)
        if grid_tokens != length:
            raise ValueError(f"grid {grid} has {grid_tokens} tokens but scores have {length}")
        if not 1 <= num_keep <= length:
            raise ValueError(f"num_keep must be in [1, {length}], got {num_keep}")
        ids_shuffle = torch.argsort(scores, dim=1, stable=True)
        # The inverse permutation by one scatter (the same result as a second argsort, at a fraction of
        # its cost): token ids_shuffle[b, j] sits at position j of the shuffled order.
        positions = torch.arange(length, device=scores.device).expand(batch, length)
        ids_restore = torch.empty_like(ids_shuffle).scatter_(1, ids_shuffle, positions)
        ids_keep = ids_shuffle[:, :num_keep]
        # A token is hidden exactly when its position in the shuffled order is K or later.
        mask = ids_restore >= num_keep
        return cls(ids_keep=ids_keep, ids_restore=ids_restore, mask=mask, grid=tuple(int(g) for g in grid))

    def to(self, device: torch.device | str) -> MaskSpec:
        """The same spec on another device."""
        return MaskSpec(self.ids_keep.to(device), self.ids_restore.to(device), self.mask.to(device),
                        self.grid)
