"""Binary morphology on token grids: box counts, dilation and erosion of ``(B, *grid)`` maps.

A ``(2r+1)^N`` box (Chebyshev neighbourhood of radius ``r``) is separable, so a box count is one
zero padding and ``2r`` shifted additions per grid axis — a few vectorised ops, no pooling and no
Python loop over samples. One box count gives both morphological operations:

* dilation: ``count > 0``;
* erosion (outside the grid counts as foreground): ``count == in-grid box size``.

There is a torch implementation (any device) and a NumPy one for CPU arrays
(:func:`padded_grid_numpy` + :func:`padded_box_sums_numpy`, whose padding value is free): at
token-grid sizes the cost is per-operation overhead, which NumPy keeps several times lower than
torch's eager dispatch. Both give identical integer counts.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

__all__ = ["box_count", "dilate_tokens", "erode_tokens", "in_grid_count", "padded_box_sums_numpy",
           "padded_grid_numpy"]


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


def padded_grid_numpy(shape: tuple[int, ...], radius: int, *, fill: int, dtype: npt.DTypeLike
                      ) -> tuple[npt.NDArray[np.integer], tuple[slice, ...]]:
    """A ``(B, *(g + 2 * radius))`` array filled with ``fill`` and the ``inner`` slices of its
    ``(B, *grid)`` part: write a map into ``padded[inner]``, then call :func:`padded_box_sums_numpy`.

    ``fill`` is the value every cell outside the grid contributes to a box sum: 0 for plain counts; a
    value above the box size makes a sum also encode how many of the box's cells lie outside the grid.
    """
    radius = max(int(radius), 0)
    padded_shape = (shape[0], *(g + 2 * radius for g in shape[1:]))
    inner = (slice(None), *(slice(radius, radius + g) for g in shape[1:]))
    return np.full(padded_shape, fill, dtype=dtype), inner


def padded_box_sums_numpy(padded: npt.NDArray[np.integer], radius: int) -> npt.NDArray[np.integer]:
    """Sums over each ``(2r+1)^N`` box of a padded array (see :func:`padded_grid_numpy`), in its dtype.

    The result has ``padded``'s shape and is exact at the ``inner`` cells, provided the dtype holds the
    largest of them (``fill`` counted once per outside cell); its other cells hold partial sums with no
    meaning (they may have wrapped around). A C-contiguous ``padded`` is overwritten (it serves as the
    second work buffer). A radius below 1 returns ``padded`` itself.

    Every axis is summed as shifted additions over the **flattened** padded array, whose shift along an
    axis is that axis' stride: long contiguous loops instead of short rows. The wrap-around between
    rows and samples never reaches an inner cell: the pass along an axis reads, for an inner cell, only
    cells that differ from it along that axis, all within its sample's padded block; those hold the
    earlier passes' exact sums along the earlier axes (their coordinates on those axes are inner, so
    the boxes there stay inside the padded block, whatever their later coordinates).
    """
    shape = padded.shape
    flat = padded.reshape(-1)
    size = flat.size
    work = np.empty_like(flat) if radius >= 1 and padded.ndim > 1 else flat
    for axis in range(1, padded.ndim if radius >= 1 else 1):
        stride = math.prod(shape[axis + 1:])
        span = size - 2 * radius * stride  # cells whose whole box along this axis is in the array
        # the cells outside `centre` belong to the first and last samples' padding: never read
        centre = work[radius * stride: radius * stride + span]
        np.add(flat[:span], flat[stride: stride + span], out=centre)
        for k in range(2, 2 * radius + 1):
            centre += flat[k * stride: k * stride + span]
        flat, work = work, flat  # ping-pong: the next pass reads this one's sums
    return flat.reshape(shape)


def in_grid_count(grid: tuple[int, ...], radius: int, device: torch.device) -> torch.Tensor:
    """``(1, *grid)``: how many tokens of each box lie inside the grid (a fresh copy of a cached map)."""
    return _in_grid_count(tuple(grid), radius, torch.device(device)).clone()


@functools.lru_cache(maxsize=64)
def _in_grid_count(grid: tuple[int, ...], radius: int, device: torch.device) -> torch.Tensor:
    # shared by every caller in this module, who only read it
    return box_count(torch.ones((1, *grid), dtype=torch.bool, device=device), radius)


def dilate_tokens(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Binary dilation of ``(B, *grid)`` bool maps with a ``(2r+1)^N`` box; outside the grid is empty."""
    return box_count(mask, radius) > 0


def erode_tokens(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Binary erosion of ``(B, *grid)`` bool maps with a ``(2r+1)^N`` box; outside the grid counts as
    foreground (the image edge is not a lesion edge)."""
    return box_count(mask, radius) == _in_grid_count(tuple(mask.shape[1:]), radius, mask.device)
