"""Measurement helpers against shapes of known size; the label table's invariants."""

from __future__ import annotations

import numpy as np

from maerad.data.phantom import LABELS, LESION_LABELS, LESION_MIN, label_names
from maerad.data.phantom.measure import max_diameter_mm, min_width_mm, sphere_directions


def _grid(step: tuple[float, float, float], half: float) -> np.ndarray:
    axes = [np.arange(-half, half + 1e-9, s) for s in step]
    g = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return np.asarray(g, dtype=np.float64)


def test_sphere_and_ellipsoid_sizes() -> None:
    step = (1.0, 1.0, 1.0)
    g = _grid(step, 30.0)
    # the voxelised object (a union of 1 mm cubes) is at most one voxel diagonal larger than the shape
    diag = float(np.sqrt(3.0))
    ball = g[(g**2).sum(axis=1) <= 12.0**2]
    assert 24.0 <= max_diameter_mm(ball, step) <= 24.0 + diag
    assert 24.0 <= min_width_mm(ball, step) <= 24.0 + diag
    ell = g[((g / np.array([20.0, 10.0, 6.0])) ** 2).sum(axis=1) <= 1.0]
    assert 40.0 <= max_diameter_mm(ell, step) <= 40.0 + diag
    assert 12.0 <= min_width_mm(ell, step) <= 12.0 + diag


def test_anisotropic_voxels_count_their_extent() -> None:
    step = (1.5, 1.5, 5.0)
    g = _grid(step, 40.0)
    rod = g[(np.abs(g[:, 0]) <= 1.0) & (np.abs(g[:, 1]) <= 1.0) & (np.abs(g[:, 2]) <= 20.0)]
    # 9 slices of 5 mm (centres −20 … 20) → 45 mm of voxels along z
    assert abs(max_diameter_mm(rod, step) - 45.0) < 0.5
    assert max_diameter_mm(np.zeros((0, 3)), step) == 0.0


def test_directions_are_unit_vectors() -> None:
    d = sphere_directions(50)
    assert np.allclose(np.linalg.norm(d, axis=1), 1.0) and (d[:, 2] >= 0).all()


def test_label_table() -> None:
    values = list(LABELS.values())
    assert len(values) == len(set(values)) and LABELS["background"] == 0
    assert all(v >= LESION_MIN for v in LESION_LABELS)
    assert all(v < LESION_MIN for n, v in LABELS.items() if v not in LESION_LABELS)
    assert {"tumour_cervix", "tumour_endometrium", "node_suspicious"} <= {
        label_names()[v] for v in LESION_LABELS
    }
    assert 0 not in label_names()
