"""NIfTI-1/-2 volumes ⇄ :class:`~maerad.data.study.Study` (via nibabel).

Axis convention. A NIfTI array is indexed ``(i, j, k[, t])`` and its affine maps ``(i, j, k, 1)`` to
RAS+ mm. maerad arrays are ``(D, H, W)`` = slices × rows × columns, so on loading the array is
transposed to ``(d, h, w) = (k, j, i)`` and the affine's first three columns are permuted the same
way. The world point of every voxel is unchanged::

    study.voxel_to_world((k, j, i)) == nibabel.affines.apply_affine(img.affine, (i, j, k))

Intensities are read with the header's ``scl_slope`` / ``scl_inter`` applied, as ``float32``. The
affine is nibabel's choice (sform, else qform, else pixdim); a file with neither sform nor qform gets
a note in ``metadata["geometry_notes"]`` (its orientation is unknown; nibabel also replaces zero or
negative pixdim values by their absolute value or 1).

4D files hold one sequence per frame (the 4th axis): frame ``t`` becomes the sequence
``f"{sequence}_{t}"``, or ``f"{sequence}_{frame_names[t]}"`` when ``frame_names`` is given (e.g. a DWI
file with ``sequence="dwi", frame_names=["b0", "b800"]`` gives ``dwi_b0`` and ``dwi_b800``). A 4th axis
of length 1 (and any trailing axes of length 1) is dropped, so such a file loads as a 3D volume.

A ``.nii.gz`` file is read to its end first so that gzip's CRC-32 detects damaged data.

Writing is deterministic: the same array and affine always give the same bytes (``.nii.gz`` files
are compressed by maerad with a zero timestamp and no embedded file name).
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt

from maerad.atomic import atomic_path
from maerad.data.study import FloatArray, Study
from maerad.errors import InputError

__all__ = ["load_nifti", "nifti_suffix", "read_nifti_header", "read_nifti_volume", "save_nifti"]

_GZIP_LEVEL = 1  # as nibabel: level 6 is ~8x slower on MR volumes for ~15% smaller files
# Axis permutation between NIfTI (i, j, k) and maerad (d, h, w) = (k, j, i); it is its own inverse.
_COLUMNS = [2, 1, 0, 3]


def nifti_suffix(path: str | os.PathLike[str]) -> str | None:
    """``".nii"`` or ``".nii.gz"`` when the file name ends with one of them (any case), else ``None``."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    if name.endswith(".nii"):
        return ".nii"
    return None


def read_nifti_volume(path: str | os.PathLike[str]) -> tuple[FloatArray, npt.NDArray[np.float64]]:
    """Read a NIfTI file as a maerad-ordered ``float32`` array and its maerad affine.

    Returns:
        ``(array, affine)``: the array has shape ``(D, H, W)`` for a 3D file or ``(T, D, H, W)`` for a
        4D file (trailing axes of length 1 removed); ``affine`` is the 4×4 ``(d, h, w, 1)`` → RAS+ mm
        matrix. Scaling (``scl_slope``/``scl_inter``) is applied.

    Raises:
        InputError: the file is missing, not NIfTI, truncated or corrupt, has a non-numeric data
            type, or is not 3D/4D; the message names the file.
    """
    data, affine, _ = _read_nifti(Path(path))
    return data, affine


def read_nifti_header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], npt.NDArray[np.float64]]:
    """The maerad-ordered shape (``(D, H, W)`` or ``(T, D, H, W)``, trailing axes of length 1 dropped as
    :func:`read_nifti_volume` does) and maerad affine of a NIfTI file, from its header alone.

    No voxel is read or checked (a truncated file shows when it is loaded).

    Raises:
        InputError: the header cannot be read, or the image is not 3D/4D; the message names the file.
    """
    path = Path(path)
    try:
        img: Any = nib.load(path)
        dims = tuple(int(n) for n in img.shape)
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as exc:  # nibabel raises many types (ImageFileError, zlib, EOFError, ...)
        raise InputError(f"{path}: not a readable NIfTI file ({_reason(exc)})") from None
    while len(dims) > 3 and dims[-1] == 1:
        dims = dims[:-1]
    if len(dims) not in (3, 4):
        raise InputError(f"{path}: expected a 3D or 4D NIfTI volume, got shape {dims}")
    return tuple(reversed(dims)), affine[:, _COLUMNS]


def _read_nifti(path: Path) -> tuple[FloatArray, npt.NDArray[np.float64], list[str]]:
    """:func:`read_nifti_volume` plus notes on geometry that had to be assumed."""
    if not path.is_file():
        raise InputError(f"{path}: no such NIfTI file")
    suffix = nifti_suffix(path)
    if suffix is None:
        raise InputError(f"{path}: a NIfTI file name must end in .nii or .nii.gz")
    try:
        # bytes of NIfTI content: the file size, or for .nii.gz the size after decompression
        size = _verify_gzip(path) if suffix == ".nii.gz" else path.stat().st_size
        img: Any = nib.load(path, mmap=False)
        if not isinstance(img, nib.Nifti1Pair):
            raise InputError(f"{path}: not a NIfTI image (nibabel read it as {type(img).__name__})")
        full_shape = tuple(int(n) for n in img.shape)
        header: Any = img.header
        dtype = np.dtype(header.get_data_dtype())
        offset = int(header.get_data_offset())
    except InputError:
        raise
    except Exception as exc:  # nibabel raises many types (ImageFileError, zlib, EOFError, ...)
        raise InputError(f"{path}: not a readable NIfTI file ({_reason(exc)})") from None
    shape = full_shape
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) not in (3, 4):
        raise InputError(f"{path}: expected a 3D or 4D NIfTI volume, got shape {full_shape}")
    real = dtype.fields is None and np.issubdtype(dtype, np.number)
    if not real or np.issubdtype(dtype, np.complexfloating):
        raise InputError(f"{path}: NIfTI data type {dtype} is not a real number type")
    needed = offset + math.prod(shape) * dtype.itemsize
    if needed > size:  # checked before reading, so a corrupt header cannot ask for huge arrays
        raise InputError(f"{path}: truncated or corrupt NIfTI: the header needs {needed} bytes, has {size}")
    try:
        data = np.asarray(img.get_fdata(dtype=np.float32, caching="unchanged"), dtype=np.float32)
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as exc:
        raise InputError(f"{path}: cannot read the NIfTI voxel data ({_reason(exc)})") from None
    data = data.reshape(shape)
    if not np.all(np.isfinite(affine)):
        raise InputError(f"{path}: the NIfTI header's affine has NaN/Inf entries")
    notes = []
    if int(header["sform_code"]) == 0 and int(header["qform_code"]) == 0:
        notes.append("NIfTI header has no sform/qform: orientation unknown, axis-aligned affine from pixdim")
    axes = (2, 1, 0) if data.ndim == 3 else (3, 2, 1, 0)
    return np.ascontiguousarray(data.transpose(axes)), affine[:, _COLUMNS], notes


def load_nifti(
    path: str | os.PathLike[str], *, sequence: str = "image", frame_names: list[str] | None = None
) -> Study:
    """Load a 3D or 4D NIfTI file as a :class:`Study` (see the module docstring for the conventions).

    Args:
        path: a ``.nii`` or ``.nii.gz`` file.
        sequence: the sequence name (3D) or the prefix of the frame names (4D).
        frame_names: for 4D files, one name per frame; sequence ``t`` is
            ``f"{sequence}_{frame_names[t]}"`` (default ``f"{sequence}_{t}"``).

    Raises:
        InputError: unreadable/corrupt file, 2D or 5D+ data, NaN/Inf voxels, a singular affine,
            or ``frame_names`` that do not match the number of frames.

    Examples::

        >>> study = load_nifti("case001_t2w.nii.gz", sequence="t2w")        # doctest: +SKIP
        >>> dwi = load_nifti("dwi.nii.gz", sequence="dwi", frame_names=["b0", "b800"])  # doctest: +SKIP
        >>> dwi.sequence_names                                               # doctest: +SKIP
        ['dwi_b0', 'dwi_b800']
    """
    data, affine, notes = _read_nifti(Path(path))
    if data.ndim == 3:
        if frame_names is not None:
            raise InputError(f"{path}: frame_names were given but the NIfTI file is 3D (one frame)")
        sequences = {sequence: data}
    else:
        names = _frame_names(path, sequence, data.shape[0], frame_names)
        sequences = {name: data[t] for t, name in enumerate(names)}
    try:
        metadata: dict[str, Any] = {"source": "nifti"}
        if notes:
            metadata["geometry_notes"] = notes
        return Study(sequences, affine=affine, metadata=metadata)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def save_nifti(array: npt.ArrayLike, affine: npt.ArrayLike, path: str | os.PathLike[str]) -> Path:
    """Write a ``(D, H, W)`` array with its maerad affine as a NIfTI file, atomically.

    Integer arrays (label maps) are stored as ``int16``, everything else as ``float32``; no
    intensity scaling is stored, so ``read_nifti_volume(save_nifti(x, a, p))[0]`` equals ``x`` (as
    ``float32``) bit for bit. The affine is stored in the header (sform, and qform when it is a pure
    rotation and scaling) in ``float32`` precision. ``.nii.gz`` output is gzip-compressed with a zero
    timestamp, so equal inputs give byte-identical files.

    Raises:
        InputError: the array is not 3D, has NaN/Inf or out-of-range label values, the affine is not
            a finite 4×4 matrix, or the file name does not end in ``.nii`` / ``.nii.gz``.

    Examples::

        >>> save_nifti(study.sequences["t2w"], study.affine, "out/t2w.nii.gz")  # doctest: +SKIP
    """
    path = Path(path)
    suffix = nifti_suffix(path)
    if suffix is None:
        raise InputError(f"{path}: a NIfTI file name must end in .nii or .nii.gz")
    arr = np.asarray(array)
    if arr.ndim != 3 or 0 in arr.shape:
        raise InputError(f"{path}: save_nifti needs a non-empty 3D (D, H, W) array, got shape {arr.shape}")
    out_dtype = _storage_dtype(path, arr)
    aff = np.asarray(affine, dtype=np.float64)
    if aff.shape != (4, 4) or not np.all(np.isfinite(aff)):
        raise InputError(f"{path}: the affine must be a finite 4x4 matrix, got shape {aff.shape}")
    nifti_affine = aff[:, _COLUMNS]
    data = arr.astype(out_dtype, copy=False).transpose(2, 1, 0)
    img = nib.Nifti1Image(data, nifti_affine)  # type: ignore[no-untyped-call]
    header: Any = img.header
    header.set_data_dtype(out_dtype)
    header.set_xyzt_units("mm", "sec")
    header.set_sform(nifti_affine, code="scanner")
    header.set_qform(nifti_affine, code="scanner")
    if not np.allclose(header.get_qform(), nifti_affine, rtol=1e-5, atol=1e-4):
        header.set_qform(None, code="unknown")  # sheared affine: a qform would only approximate it
    raw = img.to_bytes()
    payload = gzip.compress(raw, compresslevel=_GZIP_LEVEL, mtime=0) if suffix == ".nii.gz" else raw
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return path


def _frame_names(path: object, sequence: str, n_frames: int, frame_names: list[str] | None) -> list[str]:
    if frame_names is None:
        return [f"{sequence}_{t}" for t in range(n_frames)]
    names = [str(n) for n in frame_names]
    if len(names) != n_frames:
        raise InputError(f"{path}: {len(names)} frame_names given but the file has {n_frames} frames")
    if len(set(names)) != len(names) or not all(names):
        raise InputError(f"{path}: frame_names must be distinct non-empty strings, got {names}")
    return [f"{sequence}_{n}" for n in names]


def _storage_dtype(path: Path, arr: npt.NDArray[np.generic]) -> type[np.generic]:
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        info = np.iinfo(np.int16)
        if arr.size and (int(arr.min()) < info.min or int(arr.max()) > info.max):
            raise InputError(f"{path}: integer (label) values must fit in int16")
        return np.int16
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"{path}: cannot store an array of dtype {arr.dtype} as NIfTI")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{path}: the array has NaN/Inf voxels")
    return np.float32


def _verify_gzip(path: Path) -> int:
    """Read a gzip stream to its end, so that its CRC-32 and length are checked; its size in bytes.

    nibabel stops reading once it has the voxel data, so damage further on, or a corrupt deflate
    stream that still inflates, would go unnoticed; this makes every damaged .nii.gz an error.
    """
    size = 0
    with gzip.open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
    return size


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no details"
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(exc).__name__}: {text}"
