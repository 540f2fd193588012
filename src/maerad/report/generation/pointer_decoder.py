"""The pointer-network decoder (registry ``maerad.report_decoder``, name ``pointer``).

At each :class:`~maerad.report.generation.field_steps.FieldStep` the decoder

1. forms the step input ``x = field embedding + step-kind embedding``;
2. attends over the image tokens with a query from ``[h; x]`` (multi-head scaled dot-product
   attention) to get a context ``c``;
3. mixes ``u = MLP([h; x; c])`` and **points** into the step's options: ``logit_o = ⟨W o, u⟩ / √d``
   for each option embedding ``o`` (concept options are term embeddings of the allowed concepts);
   options the terminology / template exclude are set to ``−inf`` **before** the softmax, so they
   get probability exactly 0;
4. predicts a standardised number from ``u`` (used by ``number`` steps);
5. updates its state with a GRU cell whose input is the chosen option's embedding (plus a projection
   of the chosen number) and ``x``: earlier choices shape later ones, while the walker re-computes
   the allowed sets after every choice (exclusions and implications apply dynamically).

Other decoders implement :class:`ReportDecoder` and register in :data:`DECODERS`.

Examples::

    >>> import torch
    >>> dec = PointerDecoder(d_model=16, image_dim=24, num_heads=2)
    >>> mem = dec.memory(torch.randn(1, 10, 24))
    >>> h = dec.initial_state(torch.randn(1, 24))
    >>> mask = torch.tensor([[True, False, True]])
    >>> out = dec.step(h, mem, torch.randn(1, 16), torch.tensor([0]), torch.randn(1, 3, 16), mask)
    >>> float(out.log_probs.detach()[0, 1].exp())
    0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from maerad.errors import ConfigError
from maerad.registry import Registry
from maerad.report.generation.numeric_heads import NumericHead

__all__ = ["DECODERS", "KINDS", "DecoderMemory", "PointerDecoder", "ReportDecoder", "StepOutput"]

KINDS: tuple[str, ...] = ("concept", "multi", "boolean", "number")
"""Step kinds, in the order of the kind embedding."""


@dataclass(frozen=True)
class DecoderMemory:
    """Projected image tokens: ``keys`` and ``values`` ``(B, heads, L, d / heads)``."""

    keys: torch.Tensor
    values: torch.Tensor


@dataclass(frozen=True)
class StepOutput:
    """What one decoder step returns.

    Attributes:
        log_probs: ``(B, O)`` log-probabilities over the options (``−inf`` where masked).
        number: ``(B,)`` standardised number prediction.
    """

    log_probs: torch.Tensor
    number: torch.Tensor


class ReportDecoder(Protocol):
    """The interface a report decoder implements (see :class:`PointerDecoder` for shapes)."""

    def memory(self, tokens: torch.Tensor) -> DecoderMemory: ...

    def initial_state(self, pooled: torch.Tensor) -> torch.Tensor: ...

    def step(self, state: torch.Tensor, memory: DecoderMemory, field: torch.Tensor, kind: torch.Tensor,
             options: torch.Tensor, mask: torch.Tensor) -> StepOutput: ...

    def advance(self, state: torch.Tensor, field: torch.Tensor, kind: torch.Tensor, chosen: torch.Tensor,
                number: torch.Tensor, has_number: torch.Tensor) -> torch.Tensor: ...


DECODERS: Registry[type[nn.Module]] = Registry("report_decoder")


@DECODERS.register("pointer")
class PointerDecoder(nn.Module):
    """GRU-state pointer network over option embeddings with cross-attention to image tokens.

    Args:
        d_model: width of the state, field and option embeddings.
        image_dim: width of the image tokens and pooled features.
        num_heads: attention heads (must divide ``d_model``).

    Raises:
        ConfigError: ``d_model`` not divisible by ``num_heads`` or non-positive sizes.
    """

    def __init__(self, d_model: int = 128, image_dim: int = 192, num_heads: int = 4) -> None:
        super().__init__()
        if d_model < 1 or image_dim < 1 or num_heads < 1 or d_model % num_heads:
            raise ConfigError(f"pointer decoder: d_model ({d_model}) must be a positive multiple of "
                              f"num_heads ({num_heads}), image_dim ({image_dim}) positive")
        self.d_model, self.num_heads = d_model, num_heads
        self.init = nn.Sequential(nn.LayerNorm(image_dim), nn.Linear(image_dim, d_model), nn.Tanh())
        self.memory_norm = nn.LayerNorm(image_dim)
        self.key = nn.Linear(image_dim, d_model)
        self.value = nn.Linear(image_dim, d_model)
        self.kind_embedding = nn.Embedding(len(KINDS), d_model)
        self.query = nn.Linear(2 * d_model, d_model)
        self.mix = nn.Sequential(nn.Linear(3 * d_model, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.option_key = nn.Linear(d_model, d_model)
        self.number_head = NumericHead(d_model)
        self.number_in = nn.Linear(1, d_model)
        self.cell = nn.GRUCell(2 * d_model, d_model)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.d_model // self.num_heads).transpose(1, 2)

    def memory(self, tokens: torch.Tensor) -> DecoderMemory:
        """Project image tokens ``(B, L, image_dim)`` once per study."""
        normed = self.memory_norm(tokens)
        return DecoderMemory(self._heads(self.key(normed)), self._heads(self.value(normed)))

    def initial_state(self, pooled: torch.Tensor) -> torch.Tensor:
        """``(B, image_dim)`` pooled features → initial state ``(B, d_model)``."""
        return self.init(pooled)  # type: ignore[no-any-return]

    def _input(self, field: torch.Tensor, kind: torch.Tensor) -> torch.Tensor:
        kind_vector: torch.Tensor = self.kind_embedding(kind)
        return field + kind_vector

    def step(self, state: torch.Tensor, memory: DecoderMemory, field: torch.Tensor, kind: torch.Tensor,
             options: torch.Tensor, mask: torch.Tensor) -> StepOutput:
        """Score the options of one step.

        Args:
            state: ``(B, d)``; memory: from :meth:`memory`; field: ``(B, d)``; kind: ``(B,)`` indices
            into :data:`KINDS`; options: ``(B, O, d)``; mask: ``(B, O)`` bool, True = allowed (at
            least one per row).
        """
        x = self._input(field, kind)
        q = self.query(torch.cat([state, x], dim=-1)).unsqueeze(1)
        ctx = F.scaled_dot_product_attention(self._heads(q), memory.keys, memory.values)
        ctx = ctx.transpose(1, 2).reshape(state.shape[0], self.d_model)
        u = self.mix(torch.cat([state, x, ctx], dim=-1))
        logits = torch.einsum("bod,bd->bo", self.option_key(options), u) / math.sqrt(self.d_model)
        logits = logits.float().masked_fill(~mask, float("-inf"))  # the mask comes before the softmax
        return StepOutput(logits.log_softmax(dim=-1), self.number_head(u).float())

    def advance(self, state: torch.Tensor, field: torch.Tensor, kind: torch.Tensor, chosen: torch.Tensor,
                number: torch.Tensor, has_number: torch.Tensor) -> torch.Tensor:
        """The next state after choosing ``chosen`` ``(B, d)`` (and standardised ``number`` ``(B,)``
        where ``has_number`` ``(B,)`` is True)."""
        gate = has_number.unsqueeze(-1).to(chosen.dtype)
        value = self.number_in(number.unsqueeze(-1).to(chosen.dtype)) * gate
        inp = torch.cat([chosen + value, self._input(field, kind)], dim=-1)
        return self.cell(inp, state)  # type: ignore[no-any-return]
