"""`MaskSpec`: which tokens an MAE sees and which it must reconstruct.

One polarity everywhere: ``mask`` is ``True`` for a **hidden** token. Every strategy keeps the same
number ``K`` of visible tokens for every sample of a batch, so visible tokens can be gathered into a
dense ``(B, K, D)`` tensor.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.stable_argsort import stable_argsort

__all__ = ["MaskSpec", "check_grid", "check_ratio", "num_visible"]


def num_visible(num_tokens: int, mask_ratio: float) -> int:
    """Number of visible tokens ``K = int(L * (1 - mask_ratio))``, the rounding of the original MAE.

    Raises:
        ConfigError: ``mask_ratio`` not a number in ``[0, 1)``, ``num_tokens`` not a positive int, or a
            ratio that would leave no visible token.
    """
    length = as_int(num_tokens)
    if length is None or length < 1:
        raise ConfigError(f"num_tokens must be a positive int, got {num_tokens!r}")
    ratio = check_ratio(mask_ratio)
    keep = int(length * (1.0 - ratio))
    if keep < 1:
        raise ConfigError(f"mask_ratio {mask_ratio} leaves no visible token out of {length}")
    return keep


def check_grid(grid: object, *, field: str = "grid") -> tuple[int, ...]:
    """Return ``grid`` as a tuple of positive ints.

    Raises:
        ConfigError: empty, not a sequence of ints, or a non-positive size.
    """
    if isinstance(grid, int) and not isinstance(grid, bool):
        grid = (grid,)
    if not isinstance(grid, Sequence) or isinstance(grid, str) or len(grid) == 0:
        raise ConfigError(f"{field} must be a non-empty sequence of positive ints, got {grid!r}")
    out: list[int] = []
    for g in grid:
        size = as_int(g)
        if size is None or size < 1:
            raise ConfigError(f"{field} must be a non-empty sequence of positive ints, got {grid!r}")
        out.append(size)
    return tuple(out)


def as_int(value: object) -> int | None:
    """``value`` as an int if it is an integer (Python, NumPy or 0-dim tensor; not bool), else ``None``."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def as_int_tuple(value: object) -> tuple[int, ...] | None:
    """An int or a non-empty sequence of ints (see :func:`as_int`) as a tuple, else ``None``."""
    single = as_int(value)
    if single is not None:
        return (single,)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        return None
    items = tuple(as_int(v) for v in value)
    return None if any(i is None for i in items) else tuple(i for i in items if i is not None)


def check_ratio(mask_ratio: object, field: str = "mask_ratio") -> float:
    """Return ``mask_ratio`` as a float in ``[0, 1)``.

    Raises:
        ConfigError: not a real number (bools, strings, NaN) or outside ``[0, 1)``; names ``field``.
    """
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, numbers.Real):
        raise ConfigError(f"{field} must be a number in [0, 1), got {mask_ratio!r}")
    ratio = float(mask_ratio)
    if not 0.0 <= ratio < 1.0:  # False for NaN too
        raise ConfigError(f"{field} must be a number in [0, 1), got {mask_ratio!r}")
    return ratio


@dataclass(frozen=True)
class MaskSpec:
    """A batch of token masks.

    Attributes:
        ids_keep: ``(B, K)`` int64, indices of the visible tokens, in the order the encoder sees them.
        ids_restore: ``(B, L)`` int64, the inverse permutation: ``cat([visible, hidden])`` gathered
            with ``ids_restore`` is back in grid (raster) order.
        mask: ``(B, L)`` bool, ``True`` = hidden, in grid order.
        grid: the token grid shape, e.g. ``(14, 14)`` or ``(8, 8, 8)``; ``prod(grid) == L``.
        consistent: ``True`` when the fields are known to agree (set by :meth:`from_scores` and kept by
            :meth:`to`; not a constructor argument, so a spec built by hand or edited with
            ``dataclasses.replace`` is ``False``); the MAE forward pass runs :meth:`check` on any other
            spec.
    """

    ids_keep: torch.Tensor
    ids_restore: torch.Tensor
    mask: torch.Tensor
    grid: tuple[int, ...]
    # True for specs built by from_scores, consistent by construction: the MAE forward pass checks only
    # the others (the check syncs with the device and breaks torch.compile graphs)
    consistent: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def batch_size(self) -> int:
        return int(self.mask.shape[0])

    @property
    def num_tokens(self) -> int:
        return int(self.mask.shape[1])

    @property
    def num_visible(self) -> int:
        return int(self.ids_keep.shape[1])

    def check(self) -> None:
        """Raise :class:`InputError` unless the fields describe one mask: ``ids_keep`` are ``K``
        distinct in-grid indices, ``mask`` hides exactly the other tokens, and ``ids_restore`` puts the
        visible tokens at shuffled positions ``0 … K-1`` (in ``ids_keep`` order) and the hidden ones
        after them. Specs from :meth:`from_scores` (every built-in strategy) hold this by construction;
        a hand-made or custom strategy's spec is checked by the MAE forward pass. All fields must be on
        one device.
        """
        keep, restore, mask = self.ids_keep, self.ids_restore, self.mask
        if keep.ndim != 2 or restore.ndim != 2 or mask.ndim != 2 or mask.dtype != torch.bool:
            raise InputError("MaskSpec needs ids_keep (B, K), ids_restore (B, L) and a bool mask (B, L)")
        if restore.shape != mask.shape or keep.shape[0] != mask.shape[0]:
            raise InputError(f"MaskSpec shapes disagree: ids_keep {tuple(keep.shape)}, ids_restore "
                             f"{tuple(restore.shape)}, mask {tuple(mask.shape)}")
        if mask.device.type == "meta":
            return
        batch, length = mask.shape
        for name, ids in (("ids_keep", keep), ("ids_restore", restore)):
            if ids.is_floating_point() or ids.dtype == torch.bool or ids.is_complex():
                raise InputError(f"MaskSpec.{name} must be integer indices, got {ids.dtype}")
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= length):
                raise InputError(f"MaskSpec.{name} holds indices outside [0, {length})")
        visible = torch.zeros_like(mask).scatter_(1, keep.long(), True)
        if not torch.equal(visible, ~mask):  # also catches repeated ids_keep (too few visible covered)
            raise InputError("MaskSpec.mask does not hide exactly the tokens outside ids_keep (or ids_keep "
                             "repeats a token)")
        num_keep = keep.shape[1]
        positions = torch.arange(num_keep, device=keep.device).expand(batch, num_keep)
        restored = restore.long().gather(1, keep.long())
        if not (torch.equal(restored, positions) and torch.equal(restore >= num_keep, mask)):
            raise InputError("MaskSpec.ids_restore is not the inverse of the shuffle [ids_keep, hidden "
                             "tokens]")

    @classmethod
    def from_scores(cls, scores: torch.Tensor, num_keep: int, grid: tuple[int, ...]) -> MaskSpec:
        """Keep the ``num_keep`` tokens with the **lowest** score visible (ties broken by index).

        This is the contract of the ``noise`` argument of Hugging Face's ViTMAE: a uniform-noise score
        gives random masking, ``-inf`` forces a token visible, ``+inf`` forces it hidden.

        Args:
            scores: ``(B, L)`` float scores.
            num_keep: ``K``, the number of visible tokens per sample.
            grid: token grid shape with ``prod(grid) == L``.

        Raises:
            InputError: ``scores`` is not a real-valued ``(B, L)`` tensor, or ``grid`` does not hold ``L``
                tokens.
            ConfigError: ``num_keep`` is not an int in ``[1, L]``, or ``grid`` is not a sequence of
                positive ints.
        """
        if not isinstance(scores, torch.Tensor):
            raise InputError(f"scores must be a (B, L) torch.Tensor, got {type(scores).__name__}")
        if scores.ndim != 2:
            raise InputError(f"scores must be (B, L), got shape {tuple(scores.shape)}")
        if scores.is_complex():  # argsort has no order for complex values
            raise InputError(f"scores must be a real-valued tensor, got {scores.dtype}")
        batch, length = scores.shape
        grid_t = check_grid(grid)
        grid_tokens = math.prod(grid_t)
        if grid_tokens != length:
            raise InputError(f"grid {grid_t} has {grid_tokens} tokens but scores have {length}")
        keep = as_int(num_keep)
        if keep is None or not 1 <= keep <= length:
            raise ConfigError(f"num_keep must be an int in [1, {length}], got {num_keep!r}")
        ids_shuffle = stable_argsort(scores)
        # The inverse permutation by one scatter (the same result as a second argsort, at a fraction of
        # its cost): token ids_shuffle[b, j] sits at position j of the shuffled order.
        positions = torch.arange(length, device=scores.device).expand(batch, length)
        ids_restore = torch.empty_like(ids_shuffle).scatter_(1, ids_shuffle, positions)
        ids_keep = ids_shuffle[:, :keep]
        # A token is hidden exactly when its position in the shuffled order is K or later.
        mask = ids_restore >= keep
        return cls(ids_keep=ids_keep, ids_restore=ids_restore, mask=mask, grid=grid_t)._trusted()

    def _trusted(self) -> MaskSpec:
        """This spec marked consistent (for the constructors that guarantee it)."""
        object.__setattr__(self, "consistent", True)
        return self

    def to(self, device: torch.device | str) -> MaskSpec:
        """The same spec on another device."""
        moved = MaskSpec(self.ids_keep.to(device), self.ids_restore.to(device), self.mask.to(device),
                         self.grid)
        return moved._trusted() if self.consistent else moved
