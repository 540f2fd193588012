"""Token-resolution lesion maps → core / boundary / background classes → hiding weights.

A lesion probability map at token resolution (``(B, L)`` in raster order of ``grid``, or
``(B, *grid)``) is thresholded into lesion tokens. On the token grid, with a box (Chebyshev)
neighbourhood of radius ``boundary_width``:

* **core** = the lesion eroded by ``boundary_width`` tokens (lesion tokens whose whole neighbourhood is
  lesion; the edge of the image does not count as a lesion edge),
* **boundary** = the lesion dilated by ``boundary_width`` minus the core: a band straddling the lesion
  edge, ``boundary_width`` tokens inside and ``boundary_width`` tokens outside,
* **background** = everything else.

The default weights (core 2, boundary 0.2, background 1) are an ``ASSUMPTION`` of maerad (no source in
the SPEC): they hide the tumour core and the background preferentially and keep the lesion boundary
visible, so the model must infer the inside of a lesion from its margin. All of them, the threshold
and the band width are parameters.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.numpy_route import as_numpy
from maerad.masking.token_morphology import box_count, in_grid_count, padded_box_sums_numpy, padded_grid_numpy

__all__ = ["BACKGROUND", "BOUNDARY", "CORE", "lesion_classes", "lesion_hide_weights"]

#: Class codes returned by :func:`lesion_classes`.
BACKGROUND, BOUNDARY, CORE = 0, 1, 2


def _check_width(boundary_width: object) -> int:
    if isinstance(boundary_width, bool) or not isinstance(boundary_width, int) or boundary_width < 1:
        raise ConfigError(f"boundary_width must be an int >= 1 (tokens), got {boundary_width!r}")
    return boundary_width


#: Largest box (tokens) the NumPy route handles: its lookup tables have (box + 1)² entries, and every
#: coded sum is at most box², which fits the uint16 sums for box <= 255 (raise both together).
_MAX_TABLE_BOX = 255


def _class_codes_torch(prob: torch.Tensor, shape: tuple[int, ...], threshold: float, width: int
                       ) -> torch.Tensor:
    """``(B, *grid)`` int64 class codes (:data:`BACKGROUND` / :data:`BOUNDARY` / :data:`CORE`), on any
    device (the route for maps :func:`_coded_box_sums` does not take)."""
    # one box count gives dilation (count > 0: within `width` of the lesion) and erosion (the whole
    # in-grid box is lesion: core); core lies inside the dilation, so their sum is the class code
    lesion = prob.reshape(shape) >= threshold
    count = box_count(lesion, width)
    in_grid_t = in_grid_count(shape[1:], width, lesion.device)
    return (count > 0).long() + (count == in_grid_t).long()


def _coded_box_sums(prob: torch.Tensor, shape: tuple[int, ...], threshold: float, width: int
                    ) -> np.ndarray | None:
    """``(B, *grid)`` indices into :func:`_class_table` for a CPU float map; ``None`` where the map or
    the box does not suit NumPy (then :func:`_class_codes_torch`).

    The class of a token depends on two numbers: how many tokens of its box are lesion (``count``) and
    how many of the box's cells lie outside the grid (``outside``; the erosion needs ``count`` to equal
    the box's in-grid size). Filling the padding with ``box + 1`` instead of 0 makes one box sum
    carry both, ``count + (box + 1) * outside``, so a single table lookup gives the class: the fewest
    array operations we found (at token-grid sizes each operation's overhead, not its arithmetic,
    is the cost).
    """
    box = (2 * width + 1) ** (len(shape) - 1)
    prob_np = as_numpy(prob.detach()) if box <= _MAX_TABLE_BOX else None
    if prob_np is None:
        return None
    dtype = np.uint8 if (box + 1) ** 2 <= 256 else np.uint16  # every index is below (box + 1)²
    padded, inner = padded_grid_numpy(shape, width, fill=box + 1, dtype=dtype)
    np.greater_equal(prob_np.reshape(shape), threshold, out=padded[inner])  # lesion tokens 1, others 0
    return padded_box_sums_numpy(padded, width)[inner]


@functools.lru_cache(maxsize=32)
def _class_table(ndim: int, width: int) -> npt.NDArray[np.uint8]:
    """Class code of each index ``count + (box + 1) * outside`` of :func:`_coded_box_sums` (read-only)."""
    box = (2 * width + 1) ** ndim
    index = np.arange((box + 1) ** 2)
    count, outside = index % (box + 1), index // (box + 1)
    # dilated: some lesion in the box; core: all of the box's in-grid cells are lesion
    codes: npt.NDArray[np.uint8] = (count > 0).astype(np.uint8) + (count == box - outside).astype(np.uint8)
    codes.setflags(write=False)
    return codes


@functools.lru_cache(maxsize=32)
def _weight_table(ndim: int, width: int, weights_by_code: tuple[float, float, float]
                  ) -> npt.NDArray[np.float32]:
    """:func:`_class_table` mapped to hiding weights (read-only)."""
    table = np.array(weights_by_code, dtype=np.float32).take(_class_table(ndim, width))
    table.setflags(write=False)
    return table


def _grid_shape(prob: torch.Tensor, grid: Sequence[int]) -> tuple[int, ...]:
    """``(B, *grid)`` for a ``(B, L)`` or ``(B, *grid)`` map; :class:`InputError` for anything else."""
    grid_t = tuple(int(g) for g in grid)
    length = math.prod(grid_t)
    if (prob.ndim == 2 and prob.shape[1] == length) or tuple(prob.shape[1:]) == grid_t:
        return (int(prob.shape[0]), *grid_t)
    raise InputError(f"lesion map must have shape (B, {length}) or (B, *{grid_t}), got {tuple(prob.shape)}")


def lesion_classes(
    prob: torch.Tensor, grid: Sequence[int], *, threshold: float = 0.5, boundary_width: int = 1
) -> torch.Tensor:
    """Classify tokens as background (0), boundary (1) or core (2).

    Args:
        prob: ``(B, L)`` or ``(B, *grid)`` lesion probability (or lesion fraction) per token.
        grid: the token grid.
        threshold: a token is lesion when ``prob >= threshold``.
        boundary_width: half-width of the boundary band, in tokens (``>= 1``).

    Returns:
        ``(B, L)`` int64 class codes (:data:`BACKGROUND`, :data:`BOUNDARY`, :data:`CORE`).
    """
    width = _check_width(boundary_width)
    shape = _grid_shape(prob, grid)
    coded = _coded_box_sums(prob, shape, threshold, width)
    if coded is not None:
        # "clip" clamps instead of checking bounds (twice as fast); the indices are in range by construction
        codes = _class_table(len(shape) - 1, width).take(coded, mode="clip")
        return torch.from_numpy(codes.astype(np.int64).reshape(shape[0], math.prod(shape[1:])))
    return _class_codes_torch(prob, shape, threshold, width).reshape(shape[0], math.prod(shape[1:]))


def lesion_hide_weights(
    prob: torch.Tensor,
    grid: Sequence[int],
    *,
    core_weight: float = 2.0,
    boundary_weight: float = 0.2,
    background_weight: float = 1.0,
    threshold: float = 0.5,
    boundary_width: int = 1,
) -> torch.Tensor:
    """Per-token **hiding** weights from a token-resolution lesion probability map.

    Args:
        prob: ``(B, L)`` or ``(B, *grid)`` lesion probability per token.
        grid: the token grid.
        core_weight, boundary_weight, background_weight: hiding weight of each class (``> 0``);
            defaults are a maerad ``ASSUMPTION`` (see the module docstring).
        threshold, boundary_width: see :func:`lesion_classes`.

    Returns:
        ``(B, L)`` float32 weights on ``prob``'s device.

    Examples::

        >>> import torch
        >>> p = torch.zeros(1, 5, 5); p[0, 1:4, 1:4] = 1.0
        >>> w = lesion_hide_weights(p, (5, 5))
        >>> w.view(5, 5)[2, 2].item(), w.view(5, 5)[1, 1].item()  # core, boundary
        (2.0, 0.20000000298023224)
    """
    bg = _positive(background_weight, "background_weight")
    bd = _positive(boundary_weight, "boundary_weight")
    cw = _positive(core_weight, "core_weight")
    width = _check_width(boundary_width)
    shape = _grid_shape(prob, grid)
    coded = _coded_box_sums(prob, shape, threshold, width)
    if coded is not None:  # indexed by BACKGROUND, BOUNDARY, CORE:
        table = _weight_table(len(shape) - 1, width, (bg, bd, cw))
        # "clip" clamps instead of checking bounds (twice as fast); the indices are in range by construction
        return torch.from_numpy(table.take(coded, mode="clip").reshape(shape[0], math.prod(shape[1:])))
    codes = _class_codes_torch(prob, shape, threshold, width)
    by_code_t = torch.tensor([bg, bd, cw], dtype=torch.float32, device=codes.device)
    return by_code_t[codes].reshape(shape[0], math.prod(shape[1:]))


def _positive(value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{field} must be a finite number > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{field} must be a finite number > 0, got {value!r}")
    return float(value)
