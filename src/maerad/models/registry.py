"""The model registry (`maerad.registry.Registry("models")`) and `create_model` by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from maerad.errors import ConfigError
from maerad.registry import Registry

__all__ = ["MODELS", "UnknownModelKwargsError", "check_kwargs", "create_model"]

MODELS: Registry[Callable[..., nn.Module]] = Registry("models")


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model by name, e.g. ``mae_vit_base`` or ``maep_small``.

    Args:
        name: a name from ``MODELS.names()``.
        **kwargs: constructor overrides (``spatial_dims``, ``in_chans``, ``img_size``, ``patch_size``,
            ``mask_ratio``, ``norm_pix_loss``, ``decoder_embed_dim``, ``decoder_depth``,
            ``decoder_num_heads``, …).

    Raises:
        ConfigError: unknown name (with a close match) or an unknown keyword argument.

    Examples::

        >>> from maerad.models import create_model
        >>> model = create_model("mae_vit_tiny", spatial_dims=3, in_chans=2, img_size=(16, 64, 64),
        ...                      patch_size=(4, 16, 16), depth=2, decoder_depth=1)
        >>> model.grid
        (4, 4, 4)
    """
    factory = MODELS.get(name)
    return factory(**kwargs)


class UnknownModelKwargsError(ConfigError):
    """A model factory was given keywords it does not take; ``unknown`` and ``accepted`` name them, so
    that callers which set some keywords themselves can list only the rest."""

    def __init__(self, name: str, unknown: list[str], accepted: list[str]) -> None:
        super().__init__(
            f"model {name!r} does not accept {', '.join(unknown)}; accepted: {', '.join(accepted)}"
        )
        self.model, self.unknown, self.accepted = name, unknown, accepted


def check_kwargs(name: str, kwargs: dict[str, Any], allowed: set[str]) -> None:
    """Raise :class:`UnknownModelKwargsError` naming any keyword of ``kwargs`` that ``name`` does not
    accept."""
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise UnknownModelKwargsError(name, unknown, sorted(allowed))
