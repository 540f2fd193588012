"""Small, independent image-analysis helpers for the phantom tests (no phantom code used)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from maerad.data.phantom import PhantomConfig

BoolArray = npt.NDArray[np.bool_]

# small grid for loops (round trip, determinism); the default grid is used for image-content tests
SMALL = PhantomConfig(size=(12, 64, 64), spacing=(10.0, 3.0, 3.0))


def dilate_inplane(mask: BoolArray) -> BoolArray:
    """4-neighbour dilation within each slice of a (D, H, W) mask."""
    out = mask.copy()
    out[:, 1:, :] |= mask[:, :-1, :]
    out[:, :-1, :] |= mask[:, 1:, :]
    out[:, :, 1:] |= mask[:, :, :-1]
    out[:, :, :-1] |= mask[:, :, 1:]
    return np.asarray(out, dtype=bool)


def dilate3d(mask: BoolArray) -> BoolArray:
    """6-neighbour dilation of a (D, H, W) mask."""
    out = dilate_inplane(mask)
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    return np.asarray(out, dtype=bool)


def erode_inplane(mask: BoolArray) -> BoolArray:
    """4-neighbour erosion within each slice (voxels whose in-plane neighbours are all in the mask)."""
    return np.asarray(~dilate_inplane(~mask), dtype=bool)


def world_points(mask: BoolArray, affine: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(N, 3) RAS+ mm centres of the mask's voxels."""
    idx = np.argwhere(mask).astype(np.float64)
    return np.asarray(idx @ affine[:3, :3].T + affine[:3, 3], dtype=np.float64)


def extent_along(
    points: npt.NDArray[np.float64], direction: npt.NDArray[np.float64], voxel_xyz: tuple[float, float, float]
) -> float:
    """Extent (mm) of voxelised points along a unit direction, counting the voxels' own size."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    proj = points @ d
    return float(proj.max() - proj.min() + np.abs(d) @ np.asarray(voxel_xyz))


def greatest_dimension(points: npt.NDArray[np.float64], voxel_xyz: tuple[float, float, float]) -> float:
    """Greatest dimension: the largest extent over 2000 random directions (brute force)."""
    rng = np.random.default_rng(123)
    dirs = rng.normal(size=(2000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    proj = points @ dirs.T
    widths = proj.max(axis=0) - proj.min(axis=0) + np.abs(dirs) @ np.asarray(voxel_xyz)
    return float(widths.max())


def smallest_width(points: npt.NDArray[np.float64], voxel_xyz: tuple[float, float, float]) -> float:
    """Smallest extent over 2000 random directions."""
    rng = np.random.default_rng(321)
    dirs = rng.normal(size=(2000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    proj = points @ dirs.T
    widths = proj.max(axis=0) - proj.min(axis=0) + np.abs(dirs) @ np.asarray(voxel_xyz)
    return float(widths.min())


def components(mask: BoolArray) -> int:
    """Number of 6-connected components (simple flood fill; for small masks)."""
    seen = np.zeros_like(mask)
    count = 0
    for start in map(tuple, np.argwhere(mask)):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        seen[start] = True
        while stack:
            z, y, x = stack.pop()
            for dz, dy, dx in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)):
                n = (z + dz, y + dy, x + dx)
                if all(0 <= n[i] < mask.shape[i] for i in range(3)) and mask[n] and not seen[n]:
                    seen[n] = True
                    stack.append(n)
    return count
