"""Transformer blocks (timm's ``Block`` with maerad's fused-qkv SDPA attention) and MAE weight init."""

from __future__ import annotations

from functools import partial
from typing import Literal, cast

from timm.models.vision_transformer import Block
from torch import nn

from maerad.errors import ConfigError
from maerad.models.attention import SelfAttention

__all__ = ["Activation", "check_heads", "init_mae_weights", "make_blocks", "make_norm"]

Activation = Literal["gelu", "gelu_tanh"]


def make_norm(dim: int, eps: float) -> nn.LayerNorm:
    """A ``LayerNorm`` of width ``dim`` with the configured ``eps`` (timm/MAE 1e-6, Hugging Face 1e-12)."""
    return nn.LayerNorm(dim, eps=eps)


def check_heads(dim: int, num_heads: int, name: str) -> None:
    """Raise ``ConfigError`` unless ``dim`` is a positive multiple of a positive ``num_heads``."""
    if dim < 1 or num_heads < 1 or dim % num_heads != 0:
        raise ConfigError(
            f"{name}: width {dim} must be a positive multiple of the number of heads {num_heads}"
        )


def make_blocks(
    dim: int,
    depth: int,
    num_heads: int,
    *,
    mlp_ratio: float = 4.0,
    qkv_bias: bool = True,
    norm_eps: float = 1e-6,
    act: Activation = "gelu",
    drop_path_rate: float = 0.0,
) -> nn.ModuleList:
    """``depth`` pre-norm transformer blocks of width ``dim`` (timm ``Block`` with
    :class:`~maerad.models.attention.SelfAttention`: fused q/k/v, SDPA).

    Args:
        dim: token width.
        depth: number of blocks (0 gives an empty list).
        num_heads: attention heads; must divide ``dim``.
        mlp_ratio: MLP hidden width / ``dim``; ``int(dim * mlp_ratio)`` must be positive.
        qkv_bias: bias on the fused q/k/v projection (MAE and ViTMAE use ``True``).
        norm_eps: LayerNorm epsilon.
        act: ``"gelu"`` (exact) or ``"gelu_tanh"`` (tanh approximation).
        drop_path_rate: stochastic depth, linearly increasing over the blocks (fine-tuning).
    """
    if depth < 0:
        raise ConfigError(f"depth must be >= 0, got {depth}")
    check_heads(dim, num_heads, "blocks")
    if int(dim * mlp_ratio) < 1:
        raise ConfigError(f"mlp_ratio must give a positive MLP width, got {mlp_ratio}")
    act_layer: type[nn.Module]
    if act == "gelu":
        act_layer = nn.GELU
    elif act == "gelu_tanh":
        act_layer = cast(type[nn.Module], partial(nn.GELU, approximate="tanh"))
    else:
        raise ConfigError(f"act must be 'gelu' or 'gelu_tanh', got {act!r}")
    if not 0.0 <= drop_path_rate < 1.0:
        raise ConfigError(f"drop_path_rate must be in [0, 1), got {drop_path_rate}")
    rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
    blocks = nn.ModuleList(
        Block(
            dim,
            num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            norm_layer=cast(type[nn.Module], partial(nn.LayerNorm, eps=norm_eps)),
            act_layer=act_layer,
            drop_path=rate,
        )
        for rate in rates
    )
    for block in blocks:  # same parameters and names; a cheaper backward pass (maerad.models.attention)
        block.attn = SelfAttention(dim, num_heads, qkv_bias=qkv_bias)
    return blocks


def init_mae_weights(module: nn.Module) -> None:
    """MAE initialisation for one module: xavier-uniform ``Linear`` weights with zero bias; unit/zero
    ``LayerNorm``. Use with ``model.apply(init_mae_weights)``."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
