"""Registered model factories: ``mae_vit_*``, ``maep_*`` and ``maep_hiera_*`` (``tiny, small, base, large``).

Sizes follow ViT: tiny 192 wide × 12 blocks × 3 heads, small 384 × 12 × 6, base 768 × 12 × 12, large
1024 × 24 × 16. Every factory defaults to MAE's decoder (512 wide, 8 blocks, 16 heads), 224² RGB input
with 16² patches and a 0.75 mask ratio; any constructor argument can be overridden by keyword.
``maep_hiera_*`` is MAE-P with Hiera-style mask-unit attention in its stem (``stage_mixer=
"unit_attention"``) and heads of 64 channels in its stages (at least one; ViT-B: 3 and 6 heads).
``token_layout="per_sequence"`` (``mae_vit_*`` only) gives each sequence's patch its own token
(:class:`~maerad.models.sequence_tokens.SequenceTokenMAE`); the default ``"channels"`` stacks the
sequences as channels of one token.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from maerad.errors import ConfigError
from maerad.models.mae import MAE
from maerad.models.maep import MAEP
from maerad.models.registry import MODELS, check_kwargs
from maerad.models.sequence_tokens import SequenceTokenMAE

__all__ = ["VIT_SIZES", "create_mae"]

VIT_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"embed_dim": 192, "depth": 12, "num_heads": 3},
    "small": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "base": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "large": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
}


def _accepted(cls: type[MAE]) -> set[str]:
    names: set[str] = set()
    for klass in (cls, MAE):
        names |= {p for p in inspect.signature(klass.__init__).parameters if p not in ("self", "kwargs")}
    return names


def _factory(cls: type[MAE], name: str, size: str, **defaults: Any) -> Callable[..., MAE]:
    accepted = _accepted(cls)

    def build(**kwargs: Any) -> MAE:
        check_kwargs(name, kwargs, accepted | {"token_layout"})
        layout = kwargs.pop("token_layout", "channels")
        args = {**VIT_SIZES[size], **defaults, **kwargs}
        if layout == "channels":
            return cls(**args)
        if layout != "per_sequence":
            raise ConfigError(f"token_layout must be 'channels' or 'per_sequence', got {layout!r}")
        if cls is not MAE:
            raise ConfigError(f"{name}: the per-sequence token layout is available for mae_vit_* models")
        return SequenceTokenMAE(**args)

    build.__name__ = name
    build.__doc__ = f"{cls.__name__} with a ViT-{size} encoder; keyword arguments override the defaults."
    return build


for _size in VIT_SIZES:
    MODELS.add(f"mae_vit_{_size}", _factory(MAE, f"mae_vit_{_size}", _size), overwrite=True)
    MODELS.add(f"maep_{_size}", _factory(MAEP, f"maep_{_size}", _size), overwrite=True)
    _width = VIT_SIZES[_size]["embed_dim"]
    MODELS.add(
        f"maep_hiera_{_size}",
        _factory(
            MAEP,
            f"maep_hiera_{_size}",
            _size,
            stage_mixer="unit_attention",
            stage_heads=(max(1, _width // 4 // 64), max(1, _width // 2 // 64)),
        ),
        overwrite=True,
    )


def create_mae(name: str, **kwargs: Any) -> MAE:
    """Like :func:`maerad.models.create_model` but typed: the result is an :class:`MAE` (or MAE-P)."""
    model = MODELS.get(name)(**kwargs)
    if not isinstance(model, MAE):
        raise ConfigError(f"model {name!r} is not an MAE (got {type(model).__name__})")
    return model
