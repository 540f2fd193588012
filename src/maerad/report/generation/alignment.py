"""Cross-modal alignment head: image features and term embeddings projected into one space.

``embed_images`` maps pooled study features ``(B, D_img)`` and ``embed_terms`` maps concept
embeddings ``(N, D_term)`` to unit vectors of width ``dim``; their dot products scaled by the learnable
inverse temperature ``exp(logit_scale)`` (CLIP's parametrisation, clamped to at most 100) are the
logits of the alignment loss (:mod:`.alignment_loss`) and of the direct stage head
(:meth:`AlignmentHead.candidate_logits`: the study against the concepts of a value set).

Examples::

    >>> import torch
    >>> head = AlignmentHead(image_dim=32, term_dim=16, dim=8)
    >>> img, terms = head.embed_images(torch.randn(3, 32)), head.embed_terms(torch.randn(5, 16))
    >>> tuple(head.candidate_logits(img, terms).shape), round(float(img.detach().norm(dim=-1)[0]), 4)
    ((3, 5), 1.0)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from maerad.errors import ConfigError

__all__ = ["MAX_LOGIT_SCALE", "AlignmentHead"]

MAX_LOGIT_SCALE = 100.0


class AlignmentHead(nn.Module):
    """Linear projections of both modalities plus a learnable temperature.

    Args:
        image_dim: width of the pooled image features.
        term_dim: width of the term embeddings.
        dim: width of the shared space.
        temperature: initial temperature τ (logits = cos / τ).
        learn_temperature: train ``logit_scale`` (else it stays at ``log(1/τ)``).

    Raises:
        ConfigError: non-positive sizes or temperature.
    """

    def __init__(self, image_dim: int, term_dim: int, dim: int = 64, *, temperature: float = 0.07,
                 learn_temperature: bool = True) -> None:
        super().__init__()
        if min(image_dim, term_dim, dim) < 1 or not temperature > 0:
            raise ConfigError(f"bad alignment sizes image_dim={image_dim}, term_dim={term_dim}, dim={dim}, "
                              f"temperature={temperature}")
        self.image_proj = nn.Sequential(nn.LayerNorm(image_dim), nn.Linear(image_dim, dim))
        self.term_proj = nn.Sequential(nn.LayerNorm(term_dim), nn.Linear(term_dim, dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)),
                                        requires_grad=learn_temperature)

    def scale(self) -> torch.Tensor:
        """The inverse temperature ``exp(logit_scale)``, at most :data:`MAX_LOGIT_SCALE` (scalar)."""
        return self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def embed_images(self, pooled: torch.Tensor) -> torch.Tensor:
        """``(B, image_dim)`` → unit vectors ``(B, dim)``."""
        return F.normalize(self.image_proj(pooled), dim=-1)

    def embed_terms(self, terms: torch.Tensor) -> torch.Tensor:
        """``(N, term_dim)`` → unit vectors ``(N, dim)``."""
        return F.normalize(self.term_proj(terms), dim=-1)

    def candidate_logits(self, images: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Scaled similarities of embedded studies ``(B, dim)`` and candidates ``(N, dim)`` → ``(B, N)``."""
        return self.scale() * images @ candidates.T
