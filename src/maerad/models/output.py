"""Typed output of the MAE forward pass."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

__all__ = ["MAEOutput"]


@dataclass
class MAEOutput:
    """What :class:`maerad.models.MAE` returns.

    Shapes: ``B`` batch, ``L`` tokens, ``K`` visible tokens, ``M = L - K`` hidden tokens, ``D``
    encoder width, ``P = prod(patch_size) * C`` values per patch (channel-last, see ``patchify``).

    Attributes:
        loss: scalar reconstruction loss over the hidden tokens.
        pred_hidden: ``(B, M, P)`` predictions of the hidden tokens, in the order of ``ids_hidden``.
            With ``norm_pix_loss`` these are in normalised units (see ``MAE.reconstruct``).
        ids_hidden: ``(B, M)`` grid indices of the hidden tokens (grid order).
        mask: ``(B, L)`` bool, ``True`` = hidden, grid order.
        ids_keep: ``(B, K)`` grid indices of the visible tokens, in encoder order.
        ids_restore: ``(B, L)`` inverse shuffle of the mask (Hugging Face / MAE convention).
        latent: ``(B, 1 + K, D)`` encoder output (class token first, final norm applied).
        pred_full: ``(B, L, P)`` the head applied to every token (only with ``return_full_pred=True``;
            equals Hugging Face ViTMAE's ``logits``), else ``None``.
    """

    loss: torch.Tensor
    pred_hidden: torch.Tensor
    ids_hidden: torch.Tensor
    mask: torch.Tensor
    ids_keep: torch.Tensor
    ids_restore: torch.Tensor
    latent: torch.Tensor
    pred_full: torch.Tensor | None = None

    @cached_property
    def pred(self) -> torch.Tensor:
        """``(B, L, P)`` in grid order: predictions at hidden tokens; at visible tokens zeros, or the
        head's output there when ``pred_full`` was computed."""
        if self.pred_full is not None:
            return self.pred_full
        batch, length = self.mask.shape
        width = self.pred_hidden.shape[-1]
        index = self.ids_hidden.unsqueeze(-1).expand(-1, -1, width)
        return self.pred_hidden.new_zeros(batch, length, width).scatter(1, index, self.pred_hidden)
