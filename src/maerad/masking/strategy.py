"""The `MaskingStrategy` protocol and the score-based base class every built-in strategy shares.

A masking strategy turns a batch size and a token grid into a :class:`~maerad.masking.spec.MaskSpec`.
All built-in strategies work the same way (the "guided masking = scores" contract of the
architecture): they compute a ``(B, L)`` score per token and keep the ``K`` tokens with the **lowest**
score visible. The scores are exactly what Hugging Face's ``ViTMAEForPreTraining`` accepts as its
``noise`` argument, so :meth:`ScoreStrategy.scores` can drive that model too.

Call convention (every strategy)::

    spec = strategy(batch_size, grid, generator=None, device=None, roi=None, weights=None,
                    mask_ratio=None)

* ``grid``: the token grid, e.g. ``(14, 14)`` or ``(4, 16, 16)``; ``L = prod(grid)``.
* ``generator``: an optional :class:`torch.Generator`; random numbers are drawn on the generator's
  device and moved to the output device, so one seed gives the same mask on every device.
* ``device``: output device; default the device of ``roi`` / ``weights``, else the CPU.
* ``roi``: ``(B, L)`` bool, ``weights``: ``(B, L)`` float — per-token maps in raster order, used by the
  strategies that need them (``roi_prior``, ``lesion_aware``, ``scores``); the others reject them
  rather than silently ignoring them.
* ``mask_ratio``: a per-call override of the strategy's ratio.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.spec import MaskSpec, as_int, check_grid, check_ratio, num_visible
from maerad.masking.stable_argsort import stable_argsort

__all__ = [
    "MaskingContext",
    "MaskingStrategy",
    "ScoreStrategy",
    "check_grid",
    "check_ratio",
    "grid_coords",
    "rank_then_noise",
    "ranks",
    "uniform",
]

Device = torch.device | str


@runtime_checkable
class MaskingStrategy(Protocol):
    """Anything callable as ``strategy(batch_size, grid, *, generator, device, roi, weights, mask_ratio)``.

    Returns a :class:`MaskSpec` with the same number ``K`` of visible tokens for every sample.
    """

    def __call__(
        self,
        batch_size: int,
        grid: Sequence[int],
        *,
        generator: torch.Generator | None = None,
        device: Device | None = None,
        roi: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
        mask_ratio: float | None = None,
    ) -> MaskSpec: ...


@dataclass(frozen=True)
class MaskingContext:
    """Validated arguments of one strategy call (what :meth:`ScoreStrategy._scores` receives).

    Attributes:
        batch_size: ``B``.
        grid: token grid; ``num_tokens = prod(grid)``.
        num_tokens: ``L``.
        num_keep: ``K``, visible tokens per sample.
        mask_ratio: the ratio in effect for this call.
        generator: the caller's generator or ``None``.
        device: the output device.
        roi: ``(B, L)`` bool on ``device`` or ``None``.
        weights: ``(B, L)`` float on ``device`` or ``None``.
    """

    batch_size: int
    grid: tuple[int, ...]
    num_tokens: int
    num_keep: int
    mask_ratio: float
    generator: torch.Generator | None
    device: torch.device
    roi: torch.Tensor | None
    weights: torch.Tensor | None

    def uniform(self, *shape: int) -> torch.Tensor:
        """Uniform ``[0, 1)`` float32 noise of ``shape`` on the output device (see :func:`uniform`)."""
        return uniform(shape, self.generator, self.device)


def uniform(shape: Sequence[int], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Uniform ``[0, 1)`` float32 noise of ``shape`` on ``device``.

    With a generator the numbers are drawn on the generator's own device and then moved, so a seed
    means the same numbers whatever the output device (including ``"meta"``).
    """
    if generator is None:
        return torch.rand(tuple(shape), device=device)
    return torch.rand(tuple(shape), generator=generator, device=generator.device).to(device)


def ranks(scores: torch.Tensor) -> torch.Tensor:
    """``(B, n)`` float ranks: the position of each entry in its row's ascending (stable) order.

    To order by rank and then by noise among equal ranks, use :func:`rank_then_noise` (a float32
    ``rank + noise`` can round into the next rank).
    """
    order = stable_argsort(scores)
    positions = torch.arange(scores.shape[1], device=scores.device, dtype=scores.dtype)
    return torch.empty_like(scores).scatter_(1, order, positions.expand_as(scores))


def rank_then_noise(rank: torch.Tensor, noise: torch.Tensor, num_ranks: int) -> torch.Tensor:
    """Scores that order tokens by ``rank`` first and by ``noise`` among equal ranks, exactly.

    ``rank`` holds whole numbers in ``[0, num_ranks)`` (e.g. from :func:`ranks`) and broadcasts to
    ``noise``, uniform on ``[0, 1)`` and of the scores' shape.

    A plain float32 ``rank + noise`` is not exact: with ``noise`` within half a float32 ulp of 1 it
    rounds up to ``rank + 1`` and ties with the next rank's tokens, so a token can cross a rank
    boundary (and, e.g., a sequence keep one token too many). Here the noise keeps only the
    ``b = 24 - bit_length(num_ranks - 1)`` leading bits that fit beside the rank, and the scores are the
    whole numbers ``rank * 2**b + floor(noise * 2**b)``, exact in float32. Ties between equal truncated
    noise values (probability ``2**-b`` per pair, 2**-12 for 4096 ranks) go to the lower raster index.
    Past ``2**23`` ranks the scores are ``rank + noise`` in float64, exact too.
    """
    noise_bits = 24 - max(num_ranks - 1, 1).bit_length()
    if noise_bits < 1:
        return rank.double() + noise.double()
    scale = float(2**noise_bits)
    # whole numbers rank * 2^b + floor(u * 2^b) < 2^24, exact in float32 (the scale does not change
    # the order, and scores only order tokens)
    return torch.floor(noise * scale).add_(rank, alpha=scale)


def grid_coords(grid: Sequence[int], device: torch.device) -> torch.Tensor:
    """``(N, L)`` int64 coordinates of every token of an N-D ``grid`` in raster (C) order."""
    axes = [torch.arange(g, device=device) for g in grid]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh])


class ScoreStrategy(abc.ABC):
    """Base class: subclasses compute ``(B, L)`` scores; the ``K`` lowest stay visible.

    Subclasses implement :meth:`_scores` and set ``uses_roi`` / ``uses_weights`` when they consume
    those maps. ``K`` is ``int(L * (1 - mask_ratio))`` (the original MAE's rounding) unless a subclass
    overrides :meth:`num_visible`.

    Args:
        mask_ratio: fraction of hidden tokens, in ``[0, 1)``.
    """

    uses_roi: bool = False
    uses_weights: bool = False

    def __init__(self, mask_ratio: float = 0.75) -> None:
        self.mask_ratio = check_ratio(mask_ratio)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mask_ratio={self.mask_ratio})"

    # -- public API ------------------------------------------------------------------------------
    def __call__(
        self,
        batch_size: int,
        grid: Sequence[int],
        *,
        generator: torch.Generator | None = None,
        device: Device | None = None,
        roi: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
        mask_ratio: float | None = None,
    ) -> MaskSpec:
        """A :class:`MaskSpec` for ``batch_size`` samples on ``grid`` (see the module docstring)."""
        ctx = self.context(batch_size, grid, generator=generator, device=device, roi=roi, weights=weights,
                           mask_ratio=mask_ratio)
        return MaskSpec.from_scores(self._scores(ctx), ctx.num_keep, ctx.grid)

    def scores(
        self,
        batch_size: int,
        grid: Sequence[int],
        *,
        generator: torch.Generator | None = None,
        device: Device | None = None,
        roi: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
        mask_ratio: float | None = None,
    ) -> torch.Tensor:
        """The ``(B, L)`` scores behind :meth:`__call__`: the ``num_visible`` lowest stay visible.

        Usable as the ``noise`` argument of Hugging Face's ViTMAE (whose ``K`` is
        ``int(L * (1 - mask_ratio))``) for the single-layout strategies only: the per-sequence ones
        (``joint``, ``independent``, ``drop_sequence``) keep another ``K``, so a model given their scores
        as ``noise`` keeps another number of tokens (and may show tokens of a dropped sequence); pass
        their :class:`MaskSpec` as ``mask=``.
        """
        ctx = self.context(batch_size, grid, generator=generator, device=device, roi=roi, weights=weights,
                           mask_ratio=mask_ratio)
        return self._scores(ctx)

    def num_visible(self, grid: Sequence[int], mask_ratio: float | None = None) -> int:
        """``K`` for ``grid`` at ``mask_ratio`` (default: the strategy's ratio)."""
        grid_t = check_grid(grid)
        ratio = self.mask_ratio if mask_ratio is None else check_ratio(mask_ratio)
        return num_visible(math.prod(grid_t), ratio)

    def check_grid_shape(self, grid: tuple[int, ...]) -> None:  # noqa: B027 - optional hook
        """Hook for subclasses that need a particular grid rank; raises :class:`ConfigError`."""

    # -- subclass hook ---------------------------------------------------------------------------
    @abc.abstractmethod
    def _scores(self, ctx: MaskingContext) -> torch.Tensor:
        """``(B, L)`` float scores on ``ctx.device``; the ``ctx.num_keep`` lowest stay visible."""

    # -- validation ------------------------------------------------------------------------------
    def context(
        self,
        batch_size: int,
        grid: Sequence[int],
        *,
        generator: torch.Generator | None = None,
        device: Device | None = None,
        roi: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
        mask_ratio: float | None = None,
    ) -> MaskingContext:
        """Validate a call's arguments and resolve the device and ``K``.

        Raises:
            ConfigError: bad batch size, grid or ratio, or a map this strategy does not use.
            InputError: ``roi`` / ``weights`` of the wrong shape or dtype.
        """
        name = type(self).__name__
        batch = as_int(batch_size)
        if batch is None or batch < 1:
            raise ConfigError(f"{name}: batch_size must be a positive int, got {batch_size!r}")
        batch_size = batch
        grid_t = check_grid(grid)
        self.check_grid_shape(grid_t)
        length = math.prod(grid_t)
        ratio = self.mask_ratio if mask_ratio is None else check_ratio(mask_ratio)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ConfigError(f"{name}: generator must be a torch.Generator (e.g. "
                              f"torch.Generator().manual_seed(0)), got {type(generator).__name__}")
        if roi is not None and not self.uses_roi:
            raise ConfigError(f"{name} does not use roi=; use the 'roi_prior' strategy for ROI-guided "
                              "masking")
        if weights is not None and not self.uses_weights:
            raise ConfigError(f"{name} does not use weights=; use 'lesion_aware' or 'scores' for guided "
                              "masking")
        for field, value in (("roi", roi), ("weights", weights)):
            if value is not None and not isinstance(value, torch.Tensor):
                raise InputError(f"{field} must be a torch.Tensor of shape ({batch_size}, {length}), "
                                 f"got {type(value).__name__}")
        if device is not None:
            dev = _as_device(device, name)
        elif roi is not None:
            dev = roi.device
        elif weights is not None:
            dev = weights.device
        else:
            dev = torch.device("cpu")
        if roi is not None:
            roi = _check_map(roi, "roi", batch_size, length, dev, want_bool=True)
        if weights is not None:
            weights = _check_map(weights, "weights", batch_size, length, dev, want_bool=False)
        return MaskingContext(batch_size=batch_size, grid=grid_t, num_tokens=length,
                              num_keep=self.num_visible(grid_t, ratio), mask_ratio=ratio,
                              generator=generator, device=dev, roi=roi, weights=weights)


def _as_device(device: object, owner: str) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, (str, int)) or isinstance(device, bool):
        raise ConfigError(f"{owner}: device must be a torch.device or a string such as 'cpu' or 'cuda:0', "
                          f"got {device!r}")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"{owner}: device {device!r} is not a torch device (e.g. 'cpu', 'cuda:0', 'mps')"
                          ) from exc


def _check_map(t: object, field: str, batch: int, length: int, device: torch.device,
               *, want_bool: bool) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{field} must be a torch.Tensor of shape ({batch}, {length}), "
                         f"got {type(t).__name__}")
    if tuple(t.shape) != (batch, length):
        raise InputError(f"{field} must have shape (B, L) = ({batch}, {length}), got {tuple(t.shape)}")
    if want_bool and t.dtype != torch.bool:
        raise InputError(f"{field} must be a bool tensor (True = region of interest), got {t.dtype}")
    if not want_bool and not t.is_floating_point():
        raise InputError(f"{field} must be a floating-point tensor, got {t.dtype}")
    if t.device.type == "meta" and device.type != "meta":
        raise InputError(f"{field} is on the meta device (no values) and cannot be moved to {device}")
    return t.to(device)
