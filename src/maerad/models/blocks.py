"""Transformer blocks (timm's ``Block`` with maerad's fused-qkv SDPA attention) and MAE weight init."""

from __future__ import annotations

import math
import numbers
from functools import partial
from typing import Literal, cast

from timm.models.vision_transformer import Block
from torch import nn

from maerad.errors import ConfigError
from maerad.masking.spec import as_int
from maerad.models.attention import SelfAttention

__all__ = [
    "Activation",
    "check_count",
    "check_drop_rate",
    "check_flag",
    "check_heads",
    "check_real",
    "drop_path_rates",
    "init_mae_weights",
    "make_blocks",
    "make_norm",
]

Activation = Literal["gelu", "gelu_tanh"]


def make_norm(dim: int, eps: float) -> nn.LayerNorm:
    """A ``LayerNorm`` of width ``dim`` with the configured ``eps`` (timm/MAE 1e-6, Hugging Face 1e-12)."""
    return nn.LayerNorm(dim, eps=eps)


def check_count(value: object, name: str, *, minimum: int = 0) -> int:
    """``value`` as an int ``>= minimum`` (Python, NumPy or 0-dim tensor int; not a bool, float or string).

    Raises:
        ConfigError: anything else; the message names ``name``.
    """
    count = as_int(value)
    if count is None or count < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, got {value!r}")
    return count


def check_real(value: object, name: str, *, positive: bool) -> float:
    """``value`` as a finite float, ``> 0`` when ``positive`` else ``>= 0`` (not a bool or string).

    Raises:
        ConfigError: anything else; the message names ``name``.
    """
    bound = "> 0" if positive else ">= 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a finite number {bound}, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ConfigError(f"{name} must be a finite number {bound}, got {value!r}")
    return number


def check_flag(value: object, name: str) -> bool:
    """``value`` if it is a bool. A string such as ``"false"`` is refused: it would count as true.

    Raises:
        ConfigError: anything but ``True`` or ``False``; the message names ``name``.
    """
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    return value


def check_heads(dim: object, num_heads: object, name: str) -> None:
    """Raise ``ConfigError`` unless ``dim`` is a positive multiple of a positive ``num_heads`` (both ints)."""
    width, heads = as_int(dim), as_int(num_heads)
    if width is None or heads is None or width < 1 or heads < 1 or width % heads != 0:
        raise ConfigError(
            f"{name}: width {dim!r} must be a positive multiple of the number of heads {num_heads!r} "
            "(both ints)"
        )


def check_drop_rate(rate: object, name: str = "drop_path_rate") -> float:
    """``rate`` as a stochastic-depth probability in ``[0, 1)``; else :class:`ConfigError` naming ``name``."""
    checked = check_real(rate, name, positive=False)
    if checked >= 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {rate!r}")
    return checked


def drop_path_rates(drop_path_rate: float, count: int) -> list[float]:
    """Stochastic-depth rate of each of ``count`` residual blocks: rising linearly from 0 at the first
    to ``drop_path_rate`` at the last (DeiT / MAE fine-tuning; HiViT runs one such schedule over its
    stem blocks and its transformer blocks together, see :class:`~maerad.models.MAEP`).

    Raises:
        ConfigError: ``drop_path_rate`` not in ``[0, 1)``.

    Examples::

        >>> drop_path_rates(0.1, 3)
        [0.0, 0.05, 0.1]
    """
    rate = check_drop_rate(drop_path_rate)
    return [rate * i / max(count - 1, 1) for i in range(count)]


def make_blocks(
    dim: int,
    depth: int,
    num_heads: int,
    *,
    mlp_ratio: float = 4.0,
    qkv_bias: bool = True,
    norm_eps: float = 1e-6,
    act: Activation = "gelu",
    drop_path_rate: float | list[float] | tuple[float, ...] = 0.0,
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
        drop_path_rate: stochastic depth (fine-tuning): one rate, reached by the last block on a linear
            schedule from 0 (:func:`drop_path_rates`), or each block's own rate (``depth`` of them).
    """
    depth = check_count(depth, "depth")
    check_heads(dim, num_heads, "blocks")
    dim, num_heads = int(dim), int(num_heads)
    mlp_ratio = check_real(mlp_ratio, "mlp_ratio", positive=True)
    if int(dim * mlp_ratio) < 1:
        raise ConfigError(f"mlp_ratio must give a positive MLP width, got {mlp_ratio}")
    qkv_bias = check_flag(qkv_bias, "qkv_bias")
    norm_eps = check_real(norm_eps, "norm_eps", positive=False)
    act_layer: type[nn.Module]
    if act == "gelu":
        act_layer = nn.GELU
    elif act == "gelu_tanh":
        act_layer = cast(type[nn.Module], partial(nn.GELU, approximate="tanh"))
    else:
        raise ConfigError(f"act must be 'gelu' or 'gelu_tanh', got {act!r}")
    if isinstance(drop_path_rate, (list, tuple)):
        rates = [check_drop_rate(rate) for rate in drop_path_rate]
        if len(rates) != depth:
            raise ConfigError(f"drop_path_rate lists {len(rates)} rates for {depth} blocks")
    else:
        rates = drop_path_rates(drop_path_rate, depth)
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
