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

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

__all__ = ["box_count", "box_count_numpy", "dilate_tokens", "erode_tokens", "in_grid_count",
           "in_grid_count_numpy"]


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
    """:func:`box_count` for a NumPy ``(B, *grid)`` bool array (same values, ``uint8`` / ``int32``)."""
    dtype = np.uint8 if _count_dtype_fits_uint8(mask.ndim - 1, radius) else np.int32
    if radius < 1:
        return mask.astype(dtype)
    p = np.zeros((mask.shape[0], *(g + 2 * radius for g in mask.shape[1:])), dtype=dtype)
    inner = (slice(None), *(slice(radius, radius + g) for g in mask.shape[1:]))
    p[inner] = mask
    for dim in range(1, mask.ndim):
        n = p.shape[dim] - 2 * radius
        head = (slice(None),) * dim
        shifted = [(*head, slice(k, k + n)) for k in range(2 * radius + 1)]
        acc = p[shifted[0]] + p[shifted[1]]
        for index in shifted[2:]:
            acc += p[index]
        p = acc
    return p


@functools.lru_cache(maxsize=64)
def in_grid_count(grid: tuple[int, ...], radius: int, device: torch.device) -> torch.Tensor:
    """``(1, *grid)``: how many tokens of each box lie inside the grid (cached)."""
    return box_count(torch.ones((1, *grid), dtype=torch.bool, device=device), radius)


@functools.lru_cache(maxsize=64)
def in_grid_count_numpy(grid: tuple[int, ...], radius: int) -> npt.NDArray[np.integer]:
    """:func:`in_grid_count` as a (cached, read-only) NumPy array."""
    ref = box_count_numpy(np.ones((1, *grid), dtype=np.bool_), radius)
    ref.setflags(write=False)
    return ref


def dilate_tokens(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Binary dilation of ``(B, *grid)`` bool maps with a ``(2r+1)^N`` box; outside the grid is empty."""
    return box_count(mask, radius) > 0


def erode_tokens(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Binary erosion of ``(B, *grid)`` bool maps with a ``(2r+1)^N`` box; outside the grid counts as
    foreground (the image edge is not a lesion edge)."""
    return box_count(mask, radius) == in_grid_count(tuple(mask.shape[1:]), radius, mask.device)
