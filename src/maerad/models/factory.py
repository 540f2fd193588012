"""Registered model factories: ``mae_vit_*``, ``maep_*`` and ``maep_hiera_*`` (``tiny, small, base, large``).

Sizes follow ViT: tiny 192 wide × 12 blocks × 3 heads, small 384 × 12 × 6, base 768 × 12 × 12, large
1024 × 24 × 16. Every factory defaults to MAE's decoder (512 wide, 8 blocks, 16 heads), 224² RGB input
with 16² patches and a 0.75 mask ratio; any constructor argument can be overridden by keyword.
``maep_hiera_*`` is MAE-P with Hiera-style mask-unit attention in its stem (``stage_mixer=
"unit_attention"``). Unless ``stage_heads`` is given, each stage gets one head per full 64 channels of
its width (at least one), lowered to the nearest number that divides the width
(:func:`~maerad.models.maep.default_stage_heads`, the rule of every way of building the stem); the
widths are the ``stage_dims`` actually used (default ``embed_dim // 4`` and ``embed_dim // 2``). ViT-T:
1 and 1 heads (48 and 96 wide), ViT-S: 1 and 3, ViT-B: 3 and 6, ViT-L: 4 and 8.
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


def _factory(
    cls: type[MAE], name: str, size: str, **defaults: Any
) -> Callable[..., MAE]:
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
    MODELS.add(
        f"maep_hiera_{_size}",
        _factory(MAEP, f"maep_hiera_{_size}", _size, stage_mixer="unit_attention"),
        overwrite=True,
    )


def create_mae(name: str, **kwargs: Any) -> MAE:
    """Like :func:`maerad.models.create_model` but typed: the result is an :class:`MAE` (or MAE-P)."""
    model = MODELS.get(name)(**kwargs)
    if not isinstance(model, MAE):
        raise ConfigError(f"model {name!r} is not an MAE (got {type(model).__name__})")
    return model
