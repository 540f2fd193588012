"""`MASKING`: the one registry of masking strategies, and `create_masking` to build one by name.

Built-in names: ``random``, ``block``, ``grid``, ``tube``, ``roi_prior``, ``lesion_aware``, ``scores``
and the per-sequence ``joint``, ``independent``, ``drop_sequence``. Third-party packages add their
own through the entry-point group ``maerad.masking`` (see :mod:`maerad.registry`); a plug-in is any
callable returning a :class:`~maerad.masking.strategy.MaskingStrategy`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from maerad.errors import ConfigError
from maerad.masking.strategy import MaskingStrategy
from maerad.registry import Registry

if TYPE_CHECKING:  # the strategy modules import MASKING from here
    from maerad.masking.block import BlockMasking
    from maerad.masking.grid_masking import GridMasking
    from maerad.masking.lesion import LesionAwareMasking
    from maerad.masking.multisequence import DropSequenceMasking, IndependentMasking, JointMasking
    from maerad.masking.random_masking import RandomMasking, ScoreMasking
    from maerad.masking.roi import RoiPriorMasking
    from maerad.masking.tube import TubeMasking

__all__ = ["MASKING", "create_masking"]

MASKING: Registry[Callable[..., MaskingStrategy]] = Registry("masking")


# Built-in names give their class to type checkers (so that ``.scores(...)`` or ``.num_visible(...)``
# type-check); any other registered name gives the protocol.
@overload
def create_masking(name: Literal["random"], **kwargs: Any) -> RandomMasking: ...
@overload
def create_masking(name: Literal["scores"], **kwargs: Any) -> ScoreMasking: ...
@overload
def create_masking(name: Literal["block"], **kwargs: Any) -> BlockMasking: ...
@overload
def create_masking(name: Literal["grid"], **kwargs: Any) -> GridMasking: ...
@overload
def create_masking(name: Literal["tube"], **kwargs: Any) -> TubeMasking: ...
@overload
def create_masking(name: Literal["roi_prior"], **kwargs: Any) -> RoiPriorMasking: ...
@overload
def create_masking(name: Literal["lesion_aware"], **kwargs: Any) -> LesionAwareMasking: ...
@overload
def create_masking(name: Literal["joint"], **kwargs: Any) -> JointMasking: ...
@overload
def create_masking(name: Literal["independent"], **kwargs: Any) -> IndependentMasking: ...
@overload
def create_masking(name: Literal["drop_sequence"], **kwargs: Any) -> DropSequenceMasking: ...
@overload
def create_masking(name: str, **kwargs: Any) -> MaskingStrategy: ...


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
