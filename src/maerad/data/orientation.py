"""Which anatomical direction each array axis runs in, and flipping a study's arrays to match another's.

A :class:`~maerad.data.study.Study`'s affine maps a voxel index ``(d, h, w)`` to RAS+ millimetres, so
the direction an array axis increases in is readable from it (nibabel's axis codes: ``R``/``L``,
``A``/``P``, ``S``/``I``). Readers keep the file's storage order: the same anatomy written as NIfTI and
as a DICOM series typically loads with both in-plane axes reversed. Datasets that batch studies together
must present them in one orientation, or a model sees mirrored anatomy; flipping axes (no resampling)
does that when the studies share their axis order.
"""

from __future__ import annotations

from collections.abc import Sequence

import nibabel as nib
import numpy as np
import numpy.typing as npt

__all__ = ["axis_codes", "flip_axes_to_match", "flipped_affine"]

_OPPOSITE = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}


def axis_codes(affine: npt.ArrayLike) -> tuple[str, ...]:
    """The anatomical direction each array axis increases in, e.g. ``("S", "A", "R")`` for ``(d, h, w)``
    of an axial RAS+ grid (nibabel's :func:`~nibabel.orientations.aff2axcodes`)."""
    codes = nib.aff2axcodes(np.asarray(affine, dtype=np.float64))  # type: ignore[no-untyped-call]
    return tuple(str(c) for c in codes)


def flip_axes_to_match(codes: Sequence[str], reference: Sequence[str]) -> tuple[int, ...] | None:
    """The array axes to reverse so that axes running along ``codes`` run along ``reference``; ``None``
    when the two differ in more than direction (another axis order: a sagittal and an axial
    acquisition, which need resampling, not flipping)."""
    flips = []
    for axis, (code, want) in enumerate(zip(codes, reference, strict=True)):
        if code == want:
            continue
        if _OPPOSITE.get(code) != want:
            return None
        flips.append(axis)
    return tuple(flips)


def flipped_affine(
    affine: npt.ArrayLike, shape: Sequence[int], axes: Sequence[int]
) -> npt.NDArray[np.float64]:
    """The affine of an array of ``shape`` after reversing ``axes``: index ``i`` on a reversed axis of
    length ``n`` is the voxel that was at ``n - 1 - i``."""
    out = np.array(affine, dtype=np.float64)
    for axis in axes:
        out[:3, 3] += out[:3, axis] * (int(shape[axis]) - 1)
        out[:3, axis] = -out[:3, axis]
    return out
