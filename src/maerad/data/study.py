"""`Study`: one MRI examination as named, co-registered 3D sequences with ground truth.

Conventions (used everywhere in maerad):

* Every sequence is a ``float32`` array of shape ``(D, H, W)``: slices × rows × columns, i.e. the
  array axes are (z, y, x) of the acquisition grid. All sequences of a study share that grid.
* ``affine`` is a 4×4 matrix mapping a voxel index ``(d, h, w, 1)`` to patient coordinates in mm in
  the RAS+ frame (nibabel's convention: +x points to the patient's Right, +y Anterior, +z Superior).
  DICOM's LPS coordinates are converted on loading.
* ``spacing`` is the voxel size in mm along (d, h, w), derived from ``affine``.
* ``labels`` is an optional integer label map on the same grid; ``label_names`` maps label values to
  names (e.g. ``{1: "bladder"}``).
* ``landmarks`` are named points in patient coordinates (mm, RAS+), e.g. ``{"pubic_symphysis_inferior":
  (x, y, z)}``.
* ``metadata`` is a JSON-serialisable dict (age, menopausal status, case kind, findings, …).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.errors import InputError

__all__ = ["FloatArray", "Study", "affine_from_spacing", "voxel_sizes"]

FloatArray = npt.NDArray[np.float32]


def affine_from_spacing(spacing: Sequence[float]) -> npt.NDArray[np.float64]:
    """A 4×4 affine for an axis-aligned grid: array axes (d, h, w) → (z, y, x) scaled by ``spacing``.

    With this affine, ``w`` runs along +x, ``h`` along +y and ``d`` along +z (RAS+), origin at voxel 0.
    """
    sz, sy, sx = (float(s) for s in spacing)
    aff = np.zeros((4, 4), dtype=np.float64)
    aff[0, 2] = sx
    aff[1, 1] = sy
    aff[2, 0] = sz
    aff[3, 3] = 1.0
    return aff


@dataclass
class Study:
    """Named sequences on one 3D grid, with optional labels, landmarks and metadata.

    Args:
        sequences: sequence name → ``(D, H, W)`` array (converted to ``float32``).
        spacing: voxel size in mm along (d, h, w); used to build an axis-aligned affine when
            ``affine`` is not given; must agree with ``affine`` when both are given.
        affine: 4×4 voxel-index ``(d, h, w, 1)`` → RAS+ mm matrix.
        labels: integer label map of shape ``(D, H, W)``.
        label_names: label value → structure name.
        landmarks: name → (x, y, z) in mm, RAS+.
        metadata: JSON-serialisable information about the case.

    Raises:
        InputError: on NaN/Inf voxels, non-3D arrays, sequences on different grids, non-positive
            spacing, or labels that do not match the grid. The message names the offending item.

    Examples::

        >>> import numpy as np
        >>> s = Study({"t2w": np.zeros((4, 8, 8))}, spacing=(4.0, 1.0, 1.0))
        >>> s.shape, s.spacing
        ((4, 8, 8), (4.0, 1.0, 1.0))
    """

    sequences: dict[str, FloatArray]
    spacing: tuple[float, float, float] | None = None
    affine: npt.NDArray[np.float64] | None = None
    labels: npt.NDArray[np.int16] | None = None
    label_names: dict[int, str] = field(default_factory=dict)
    landmarks: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sequences = _validated_sequences(self.sequences)
        shape = self.shape
        self.affine, self.spacing = _validated_geometry(self.affine, self.spacing)
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.shape != shape:
                raise InputError(f"label map has shape {labels.shape} but the sequences have {shape}")
            whole = np.issubdtype(labels.dtype, np.integer) or (
                np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)))
            if not whole:
                raise InputError("label map must hold whole numbers (integer labels)")
            info = np.iinfo(np.int16)
            if labels.size and (labels.min() < info.min or labels.max() > info.max):
                raise InputError("label values must fit in int16")
            self.labels = labels.astype(np.int16, copy=False)
        self.label_names = {int(k): str(v) for k, v in self.label_names.items()}
        self.landmarks = {str(k): _point(k, v) for k, v in self.landmarks.items()}
        self.metadata = dict(self.metadata)

    # ----------------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """The common ``(D, H, W)`` grid shape of all sequences."""
        first = next(iter(self.sequences.values()))
        d, h, w = first.shape
        return int(d), int(h), int(w)

    @property
    def sequence_names(self) -> list[str]:
        """Sequence names in their recorded order (this is the channel order models receive)."""
        return list(self.sequences)

    def stack(self, names: Sequence[str] | None = None) -> FloatArray:
        """Sequences as channels: ``(C, D, H, W)`` in the order of ``names`` (default: recorded order).

        Raises:
            InputError: a requested sequence is missing (the message lists the available ones).
        """
        names = list(names) if names is not None else self.sequence_names
        missing = [n for n in names if n not in self.sequences]
        if missing:
            raise InputError(
                f"study has no sequence {', '.join(map(repr, missing))}; "
                f"available: {', '.join(self.sequence_names)}"
            )
        return np.stack([self.sequences[n] for n in names], axis=0)

    def voxel_to_world(self, index: Sequence[float]) -> npt.NDArray[np.float64]:
        """Map a (d, h, w) voxel index to RAS+ mm."""
        assert self.affine is not None
        out: npt.NDArray[np.float64] = (self.affine @ np.array([*map(float, index), 1.0]))[:3]
        return out

    def world_to_voxel(self, point: Sequence[float]) -> npt.NDArray[np.float64]:
        """Map a RAS+ mm point to a (fractional) (d, h, w) voxel index."""
        assert self.affine is not None
        out: npt.NDArray[np.float64] = (np.linalg.inv(self.affine) @ np.array([*map(float, point), 1.0]))[:3]
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable description: sequences, shape, spacing, labels, landmarks."""
        assert self.spacing is not None
        return {
            "sequences": {
                name: {
                    "shape": list(arr.shape),
                    "min": float(arr.min()),
                    "max": float(arr.max()),
                    "mean": float(arr.mean()),
                }
                for name, arr in self.sequences.items()
            },
            "shape": list(self.shape),
            "spacing_mm": [round(s, 6) for s in self.spacing],
            "field_of_view_mm": [round(n * s, 3) for n, s in zip(self.shape, self.spacing, strict=True)],
            "labels": None
            if self.labels is None
            else {self.label_names.get(int(v), str(int(v))): int(n)
                  for v, n in zip(*np.unique(self.labels, return_counts=True), strict=True) if v != 0},
            "landmarks": sorted(self.landmarks),
            "metadata_keys": sorted(self.metadata),
        }


def describe_non_finite(array: npt.NDArray[Any]) -> str | None:
    """``"N NaN/Inf voxel(s), first at (d, h, w) = (...)"`` for a ``(D, H, W)`` array holding any, else
    ``None`` (readers that know the file put its name in front)."""
    bad = ~np.isfinite(array)
    if not bad.any():
        return None
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{int(bad.sum())} NaN/Inf voxel(s), first at (d, h, w) = {where}"


def _validated_sequences(sequences: Mapping[str, Any]) -> dict[str, FloatArray]:
    if not isinstance(sequences, Mapping) or not sequences:
        raise InputError("a study needs at least one sequence (e.g. {'t2w': array})")
    out: dict[str, FloatArray] = {}
    ref_name: str | None = None
    for name, arr in sequences.items():
        if not isinstance(name, str) or not name:
            raise InputError(f"sequence names must be non-empty strings, got {name!r}")
        a = np.asarray(arr)
        if a.ndim != 3:
            raise InputError(f"sequence {name!r} must be 3D (D, H, W), got shape {a.shape}")
        if 0 in a.shape:
            raise InputError(f"sequence {name!r} is empty (shape {a.shape})")
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or np.iscomplexobj(a):
            raise InputError(f"sequence {name!r} must be real-valued, got dtype {a.dtype}")
        a = a.astype(np.float32, copy=False)
        if (bad := describe_non_finite(a)) is not None:
            raise InputError(f"sequence {name!r} has {bad}")
        if ref_name is not None and a.shape != out[ref_name].shape:
            raise InputError(
                f"sequence {name!r} has shape {a.shape} but {ref_name!r} has {out[ref_name].shape}: "
                "all sequences of a study must share one grid (resample first)"
            )
        ref_name = ref_name or name
        out[name] = a
    return out


def _validated_geometry(
    affine: npt.ArrayLike | None, spacing: Sequence[float] | None
) -> tuple[npt.NDArray[np.float64], tuple[float, float, float]]:
    if spacing is not None:
        sp = tuple(float(s) for s in spacing)
        if len(sp) != 3:
            raise InputError(f"spacing must have 3 values (d, h, w) in mm, got {len(sp)}")
        if not all(math.isfinite(s) and s > 0 for s in sp):
            raise InputError(f"spacing must be positive and finite, got {sp}")
    if affine is None:
        if spacing is None:
            raise InputError("a study needs its voxel spacing (spacing=) or an affine (affine=)")
        aff = affine_from_spacing(sp)
    else:
        aff = np.asarray(affine, dtype=np.float64)
        if aff.shape != (4, 4) or not np.all(np.isfinite(aff)):
            raise InputError(f"affine must be a finite 4x4 matrix, got shape {aff.shape}")
        if abs(np.linalg.det(aff[:3, :3])) < 1e-12:
            raise InputError("affine is singular (zero voxel size or collinear axes)")
    derived = voxel_sizes(aff)
    if spacing is not None and not np.allclose(derived, sp, rtol=1e-4, atol=1e-6):
        raise InputError(f"spacing {sp} disagrees with the affine's voxel size {derived}")
    return aff, (derived[0], derived[1], derived[2])



def voxel_sizes(affine: npt.ArrayLike) -> tuple[float, float, float]:
    """The voxel size in mm along (d, h, w) of a 4×4 voxel → mm affine: the lengths of its columns."""
    d, h, w = (float(x) for x in np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0))
    return d, h, w


def _point(name: object, value: Any) -> tuple[float, float, float]:
    try:
        p = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"landmark {name!r} must be 3 numbers (x, y, z) in mm, got {value!r}") from None
    if len(p) != 3 or not all(math.isfinite(v) for v in p):
        raise InputError(f"landmark {name!r} must be 3 finite numbers (x, y, z) in mm, got {value!r}")
    return p[0], p[1], p[2]
