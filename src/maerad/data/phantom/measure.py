"""Measurements of rendered structures: greatest dimension, short axis, volume.

A voxelised object is measured in image space (RAS+ mm) from its voxel centres: the width along a
direction is the spread of the centres' projections plus the voxel's own extent along that
direction, so a sphere of diameter 30 mm measures ≈ 30 mm whatever the voxel size. The greatest
dimension (SPEC §1.2 ``max_diameter_mm``: "greatest dimension in any plane") is the largest width
over 400 directions spread over the sphere; the short axis of a node is the smallest width.

Examples::

    >>> import numpy as np
    >>> g = np.stack(np.meshgrid(*[np.arange(-20, 21)] * 3, indexing="ij"), -1).reshape(-1, 3) * 1.0
    >>> ball = g[(g ** 2).sum(1) <= 15.0 ** 2]
    >>> round(max_diameter_mm(ball, (1.0, 1.0, 1.0)))  # 30 mm ball, up to a voxel diagonal larger
    32
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["max_diameter_mm", "min_width_mm", "object_points", "sphere_directions"]

F64 = npt.NDArray[np.float64]


def sphere_directions(n: int = 400) -> F64:
    """``n`` unit vectors spread evenly over a half-sphere (Fibonacci lattice): ``(n, 3)``."""
    i = np.arange(n) + 0.5
    z = i / n  # half sphere: widths are symmetric in ±d
    r = np.sqrt(1.0 - z * z)
    phi = np.pi * (1.0 + 5.0**0.5) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


_DIRS = sphere_directions()


def _widths(points: F64, voxel_xyz: tuple[float, float, float]) -> F64:
    if len(points) == 0:
        return np.zeros(len(_DIRS))
    proj = points @ _DIRS.T
    extent = np.abs(_DIRS) @ np.asarray(voxel_xyz, dtype=np.float64)
    return np.asarray(proj.max(axis=0) - proj.min(axis=0) + extent, dtype=np.float64)


def max_diameter_mm(points: F64, voxel_xyz: tuple[float, float, float]) -> float:
    """Greatest dimension (mm) of a voxelised object.

    Args:
        points: ``(N, 3)`` voxel centres (x, y, z) in mm.
        voxel_xyz: voxel size along (x, y, z) in mm.
    """
    return float(_widths(points, voxel_xyz).max()) if len(points) else 0.0


def min_width_mm(points: F64, voxel_xyz: tuple[float, float, float]) -> float:
    """Smallest width (mm) of a voxelised object (the short axis of an ovoid node)."""
    return float(_widths(points, voxel_xyz).min()) if len(points) else 0.0


def object_points(mask: npt.NDArray[np.bool_], affine: F64) -> F64:
    """Voxel centres (x, y, z) in mm of the true voxels of a ``(D, H, W)`` mask: ``(N, 3)``."""
    idx = np.argwhere(mask).astype(np.float64)
    if len(idx) == 0:
        return np.zeros((0, 3))
    return np.asarray(idx @ affine[:3, :3].T + affine[:3, 3], dtype=np.float64)
