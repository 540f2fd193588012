"""`MASKING`: the one registry of masking strategies, and `create_masking` to build one by name.

Built-in names: ``random``, ``block``, ``grid``, ``tube``, ``roi_prior``, ``lesion_aware``, ``scores``
and the per-sequence ``joint``, ``independent``, ``drop_sequence``. Third-party packages add their
own through the entry-point group ``maerad.masking`` (see :mod:`maerad.registry`); a plug-in is any
callable returning a :class:`~maerad.masking.strategy.MaskingStrategy`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from maerad.errors import ConfigError
from maerad.masking.strategy import MaskingStrategy
from maerad.registry import Registry

__all__ = ["MASKING", "create_masking"]

MASKING: Registry[Callable[..., MaskingStrategy]] = Registry("masking")


def create_masking(name: str, **kwargs: Any) -> MaskingStrategy:
    """Build the masking strategy registered as ``name`` with keyword options ``kwargs``.

    Raises:
        ConfigError: unknown name (with a close match), or an option the strategy does not take.

    Examples::

        >>> import torch
        >>> from maerad.masking import create_masking
        >>> spec = create_masking("random", mask_ratio=0.75)(2, (14, 14),
        ...                                                  generator=torch.Generator().manual_seed(0))
        >>> spec.ids_keep.shape, spec.mask.sum(dim=1).tolist()
        (torch.Size([2, 49]), [147, 147])
    """
    factory = MASKING.get(name)
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"masking {name!r}: {exc}") from None
    except ValueError:  # no introspectable signature (some C callables): let the call decide
        pass
    return factory(**kwargs)
