"""Binary morphology on token grids: box counts, dilation and erosion of ``(B, *grid)`` maps.

A ``(2r+1)^N`` box (Chebyshev neighbourhood of radius ``r``) is separable, so a box count is one
zero padding and ``2r`` shifted additions per grid axis — a few vectorised ops, no pooling and no
Python loop over samples. One box count gives both morphological operations:

* dilation: ``count > 0``;
* erosion (outside the grid counts as foreground): ``count == in-grid box size``.

There is a torch implementation (any device) and a NumPy one for CPU arrays: at token-grid sizes the
cost is per-operation overhead, which NumPy keeps several times lower than torch's eager dispatch.
Both give identical integer counts.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

__all__ = ["box_count", "box_count_numpy", "dilate_tokens", "erode_tokens", "in_grid_count",
           "padded_box_count_numpy", "padded_in_grid_count_numpy"]


def _count_dtype_fits_uint8(ndim: int, radius: int) -> bool:
    return int((2 * radius + 1) ** ndim) <= 255


def box_count(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """How many tokens of each ``(2r+1)^N`` box are set: ``(B, *grid)`` bool → ``(B, *grid)`` integers.

    Outside the grid counts as unset. Counts are ``uint8`` when they fit (a quarter of the memory
    traffic of float32), else ``int32``.
    """
    x = mask.to(torch.uint8 if _count_dtype_fits_uint8(mask.ndim - 1, radius) else torch.int32)
    if radius < 1:
        return x
    p = F.pad(x, (radius, radius) * (x.ndim - 1))
    for dim in range(1, x.ndim):
        n = p.shape[dim] - 2 * radius
        acc = p.narrow(dim, 0, n) + p.narrow(dim, 1, n)
        for k in range(2, 2 * radius + 1):
            acc += p.narrow(dim, k, n)
        p = acc
    return p


def box_count_numpy(mask: npt.NDArray[np.bool_], radius: int = 1) -> npt.NDArray[np.integer]:
    """:func:`box_count` for a NumPy ``(B, *grid)`` bool array (same values, ``uint8`` / ``int32``).

    A view into the zero-padded array of :func:`padded_box_count_numpy`.
    """
    counts, inner = padded_box_count_numpy(mask, radius)
    return counts[inner]


def padded_box_count_numpy(mask: npt.NDArray[np.bool_], radius: int = 1
                           ) -> tuple[npt.NDArray[np.integer], tuple[slice, ...]]:
    """Box counts on the zero-padded grid: ``(counts, inner)`` with ``counts[inner]`` the box counts.

    ``counts`` is ``(B, *(g + 2 * radius))`` and contiguous, so comparisons on it run over one flat
    block (faster than on the strided ``counts[inner]``); its padding cells hold partial sums with no
    meaning. A radius below 1 gives the mask itself (as :func:`box_count` does).

    Every axis is summed as shifted additions over the **flattened** padded array, whose shift along an
    axis is that axis' stride: long contiguous loops instead of short rows. The wrap-around between
    rows and samples never reaches ``inner``: the pass along an axis reads, for a cell inside the grid,
    only cells that differ from it along that axis, all within its sample's padded block; those hold
    the earlier passes' sums over cells inside the grid along the earlier axes (exact, by the same
    argument) or, where the coordinate along this axis is padding, sums of zero padding.
    """
    radius = max(int(radius), 0)
    dtype = np.uint8 if _count_dtype_fits_uint8(mask.ndim - 1, radius) else np.int32
    padded_shape = (mask.shape[0], *(g + 2 * radius for g in mask.shape[1:]))
    inner = (slice(None), *(slice(radius, radius + g) for g in mask.shape[1:]))
    padded = np.zeros(padded_shape, dtype=dtype)
    padded[inner] = mask
    flat = padded.reshape(-1)
    size = flat.size
    for axis in range(1, mask.ndim if radius >= 1 else 1):
        stride = math.prod(padded_shape[axis + 1:])
        span = size - 2 * radius * stride  # cells whose whole box along this axis is in the array
        # cells outside the centre are padding of the first and last samples, never read: zero
        summed = np.zeros(size, dtype=dtype)
        centre = summed[radius * stride: radius * stride + span]
        np.add(flat[:span], flat[stride: stride + span], out=centre)
        for k in range(2, 2 * radius + 1):
            centre += flat[k * stride: k * stride + span]
        flat = summed
    return flat.reshape(padded_shape), inner


def in_grid_count(grid: tuple[int, ...], radius: int, device: torch.device) -> torch.Tensor:
    """``(1, *grid)``: how many tokens of each box lie inside the grid (a fresh copy of a cached map)."""
    return _in_grid_count(tuple(grid), radius, torch.device(device)).clone()


@functools.lru_cache(maxsize=64)
def _in_grid_count(grid: tuple[int, ...], radius: int, device: torch.device) -> torch.Tensor:
    # shared by every caller in this module, who only read it
    return box_count(torch.ones((1, *grid), dtype=torch.bool, device=device), radius)


@functools.lru_cache(maxsize=64)
def padded_in_grid_count_numpy(grid: tuple[int, ...], radius: int) -> npt.NDArray[np.integer]:
    """:func:`in_grid_count` as a NumPy array on the padded layout of :func:`padded_box_count_numpy`
    (cached, read-only; padding cells 0)."""
    counts, inner = padded_box_count_numpy(np.ones((1, *grid), dtype=np.bool_), radius)
    ref = np.zeros_like(counts)
    ref[inner] = counts[inner]
    ref.setflags(write=False)
    return ref


def dilate_tokens(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Binary dilation of ``(B, *grid)`` bool maps with a ``(2r+1)^N`` box; outside the grid is empty."""
    return box_count(mask, radius) > 0


def erode_tokens(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Binary erosion of ``(B, *grid)`` bool maps with a ``(2r+1)^N`` box; outside the grid counts as
    foreground (the image edge is not a lesion edge)."""
    return box_count(mask, radius) == _in_grid_count(tuple(mask.shape[1:]), radius, mask.device)
