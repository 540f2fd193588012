"""Alignment losses (registry ``maerad.alignment_loss``): symmetric InfoNCE with soft labels.

A loss takes the embedded studies ``images (B, d)`` and their embedded report texts ``texts (B, d)``
(unit vectors), the inverse temperature ``scale`` and optional ``keys`` (one hashable per study,
e.g. its stage). It returns a scalar. Plug-ins register a callable of the same signature::

    from maerad.report.generation.alignment_loss import ALIGNMENT_LOSSES
    ALIGNMENT_LOSSES.add("my_loss", my_loss)

Examples::

    >>> import torch, torch.nn.functional as F
    >>> x = F.normalize(torch.randn(4, 8), dim=-1)
    >>> scale = torch.tensor(10.0)
    >>> bool(symmetric_info_nce(x, x, scale) < symmetric_info_nce(x, x.roll(1, 0), scale))
    True
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol

import torch

from maerad.registry import Registry

__all__ = ["ALIGNMENT_LOSSES", "AlignmentLoss", "soft_targets", "symmetric_info_nce"]


class AlignmentLoss(Protocol):
    """``loss(images (B, d), texts (B, d), scale (), keys=None) -> scalar``."""

    def __call__(self, images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor,
                 keys: Sequence[Hashable] | None = None) -> torch.Tensor: ...


ALIGNMENT_LOSSES: Registry[AlignmentLoss] = Registry("alignment_loss")


def soft_targets(keys: Sequence[Hashable], device: torch.device | None = None) -> torch.Tensor:
    """Row-stochastic ``(B, B)`` targets: study ``i`` matches every ``j`` with the same key, uniformly.

    Studies sharing a key (a stage, a finding) are therefore not treated as negatives of each other.
    """
    n = len(keys)
    same = torch.tensor([[keys[i] == keys[j] for j in range(n)] for i in range(n)], dtype=torch.float32,
                        device=device)
    return same / same.sum(dim=1, keepdim=True)


@ALIGNMENT_LOSSES.register("info_nce")
def symmetric_info_nce(images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor,
                       keys: Sequence[Hashable] | None = None) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP): mean of the image→text and text→image cross-entropies.

    Logits are ``scale · images @ textsᵀ``. Without ``keys`` the targets are the identity (pair ``i``
    matches only ``i``); with ``keys`` they are :func:`soft_targets` (soft-label option), and the loss
    is the cross-entropy against those distributions.
    """
    logits = scale * images @ texts.T
    if keys is None:
        target = torch.eye(logits.shape[0], device=logits.device, dtype=logits.dtype)
    else:
        target = soft_targets(keys, device=logits.device).to(logits.dtype)
    loss_i = -(target * logits.log_softmax(dim=1)).sum(dim=1).mean()
    loss_t = -(target.T * logits.T.log_softmax(dim=1)).sum(dim=1).mean()
    return (loss_i + loss_t) / 2
