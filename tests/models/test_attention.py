"""maerad's self-attention equals timm's Attention with the same weights, forward and backward."""

from __future__ import annotations

import pytest
import torch
from timm.models.vision_transformer import Attention

from maerad.models.attention import SelfAttention
from maerad.models.blocks import make_blocks


@pytest.mark.parametrize(("dim", "heads", "tokens"), [(32, 4, 7), (48, 3, 1), (24, 2, 13)])
def test_matches_timm_attention(dim: int, heads: int, tokens: int) -> None:
    torch.manual_seed(0)
    ours, timm_attn = SelfAttention(dim, heads), Attention(dim, heads, qkv_bias=True)
    ours.load_state_dict(timm_attn.state_dict())  # the same parameter names
    x = torch.randn(3, tokens, dim, requires_grad=True)
    y_ours, y_timm = ours(x), timm_attn(x)
    assert torch.allclose(y_ours, y_timm, atol=1e-6)
    g = torch.randn_like(y_ours)
    grads_ours = torch.autograd.grad(y_ours, [x, ours.qkv.weight, ours.qkv.bias], g)
    grads_timm = torch.autograd.grad(y_timm, [x, timm_attn.qkv.weight, timm_attn.qkv.bias], g)
    for a, b in zip(grads_ours, grads_timm, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_blocks_use_it_and_keep_timm_names() -> None:
    blocks = make_blocks(32, 2, 4)
    assert all(isinstance(b.attn, SelfAttention) for b in blocks)
    names = set(blocks.state_dict())
    assert {"0.attn.qkv.weight", "0.attn.qkv.bias", "0.attn.proj.weight", "1.attn.proj.bias"} <= names


def test_attention_mask_is_applied() -> None:
    torch.manual_seed(1)
    attn = SelfAttention(16, 2)
    x = torch.randn(2, 5, 16)
    out = attn(x, attn_mask=torch.eye(5, dtype=torch.bool))  # every token sees only itself
    v = attn.qkv(x)[..., 32:]
    assert torch.allclose(out, attn.proj(v), atol=1e-6)
