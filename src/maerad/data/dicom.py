"""DICOM series → :class:`~maerad.data.study.Study` (via pydicom).

* Folders are walked recursively. ``DICOMDIR`` files, non-image objects (reports, plans) and files
  without the Part-10 ``DICM`` marker are skipped quietly; a DICOM file that cannot be parsed or
  decoded, or an "... Image Storage" object without image attributes (cut short), is an InputError.
* Files are grouped by ``SeriesInstanceUID``; a folder with several series needs ``series_uid=``.
* Slices are sorted along the normal ``row × column`` of ``ImageOrientationPatient`` (the ``d``
  axis); ``h`` runs down the rows (``PixelSpacing[0]`` apart), ``w`` along a row (``PixelSpacing[1]``).
* Positions must be evenly spaced (deviation ≤ ``spacing_tolerance`` × step, recorded in
  ``metadata["slice_position_max_deviation_mm"]``); two slices at one position are an error.
* Values are ``stored × RescaleSlope + RescaleIntercept`` as ``float32``. DICOM's LPS patient
  coordinates become RAS+ (x and y change sign).
* One slice loads as ``D = 1`` with ``SpacingBetweenSlices``, else ``SliceThickness``, else 1 mm
  (noted in ``metadata["geometry_notes"]``) as its ``d`` spacing.
* Multi-frame (enhanced) files and colour images are refused. Compressed pixel data needs the
  ``dicom-codecs`` extra; without a plugin, :class:`~maerad.errors.MissingDependencyError` says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID

from maerad.data.study import Study
from maerad.errors import ConfigError, InputError, MissingDependencyError

__all__ = [
    "CODECS_HINT",
    "SeriesGeometry",
    "SeriesInfo",
    "list_dicom_series",
    "load_dicom_series",
    "read_dicom_series_geometry",
]

CODECS_HINT = "pip install 'maerad[dicom-codecs]'"
# Header fields copied into Study.metadata when present, converted to plain JSON types.
_METADATA_FIELDS = {
    "SeriesInstanceUID": str,
    "SeriesDescription": str,
    "Modality": str,
    "MagneticFieldStrength": float,
    "EchoTime": float,
    "RepetitionTime": float,
}

_GROUPING_FIELDS = ("SeriesInstanceUID", "SeriesDescription", "Modality")

PathInput = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class SeriesInfo:
    """One DICOM series found on disk: its UID, description, modality and number of image files."""

    uid: str
    description: str
    modality: str
    n_files: int

    def __str__(self) -> str:
        return f"{self.uid} {self.description!r} ({self.modality}, {self.n_files} files)"


@dataclass(frozen=True)
class _Header:
    path: Path
    series_uid: str
    description: str
    modality: str
    dataset: pydicom.Dataset  # read without its pixel data


def list_dicom_series(dir_or_files: PathInput) -> list[SeriesInfo]:
    """The DICOM image series in a folder (searched recursively), a file, or a list of files.

    Returns:
        One :class:`SeriesInfo` per ``SeriesInstanceUID``, in the order their first file is found
        (files are visited in sorted path order).

    Raises:
        InputError: no DICOM image at all, a path that does not exist, or a corrupt DICOM file.

    Examples::

        >>> for s in list_dicom_series("exam/"):                       # doctest: +SKIP
        ...     print(s.uid, s.description, s.n_files)
    """
    groups = _series_headers(dir_or_files)
    return [
        SeriesInfo(uid, members[0].description, members[0].modality, len(members))
        for uid, members in groups.items()
    ]


def load_dicom_series(
    dir_or_files: PathInput,
    *,
    series_uid: str | None = None,
    sequence: str = "image",
    spacing_tolerance: float = 0.05,
) -> Study:
    """Load one DICOM series as a one-sequence :class:`Study` (see the module docstring).

    Args:
        dir_or_files: a folder (searched recursively), one file, or a list of files.
        series_uid: the ``SeriesInstanceUID`` to load; required when several series are present.
        sequence: the name of the resulting sequence (e.g. ``"t2w"``).
        spacing_tolerance: largest allowed deviation of a slice from the regular slice grid, as a
            fraction of the slice step.

    Raises:
        InputError: no DICOM images, several series without ``series_uid`` (the message lists them),
            an unknown ``series_uid``, inconsistent or missing geometry, uneven or duplicated slice
            positions, corrupt or truncated files (named in the message).
        MissingDependencyError: the pixel data is compressed and no installed plugin can decode it.

    Examples::

        >>> study = load_dicom_series("exam/T2_SAG/", sequence="t2w")   # doctest: +SKIP
        >>> study.shape, study.spacing                                   # doctest: +SKIP
        ((24, 320, 320), (4.0, 0.5625, 0.5625))
    """
    _check_tolerance(spacing_tolerance)
    series_uid, headers = _select_series(dir_or_files, series_uid)
    slices = [_read_slice(h.path) for h in headers]
    affine, order, notes, deviation = _series_affine([s.geometry for s in slices], spacing_tolerance)
    volume = np.stack([slices[i].pixels for i in order], axis=0)
    metadata: dict[str, Any] = {"source": "dicom", "n_files": len(slices)}
    metadata.update(slices[order[0]].metadata)
    metadata["slice_position_max_deviation_mm"] = round(deviation, 6)
    if notes:
        metadata["geometry_notes"] = notes
    try:
        return Study({sequence: volume}, affine=affine, metadata=metadata)
    except InputError as exc:
        raise InputError(f"DICOM series {series_uid} in {_describe(dir_or_files)}: {exc}") from None


@dataclass(frozen=True, eq=False)
class SeriesGeometry:
    """The voxel grid of a DICOM series: ``shape`` ``(D, H, W)`` and the ``(d, h, w, 1)`` → RAS+ affine
    (read-only; compare geometries with ``np.allclose`` on ``affine``)."""

    shape: tuple[int, int, int]
    affine: npt.NDArray[np.float64]


def read_dicom_series_geometry(
    dir_or_files: PathInput, *, series_uid: str | None = None, spacing_tolerance: float = 0.05
) -> SeriesGeometry:
    """The grid :func:`load_dicom_series` would give, from the files' headers alone (no pixel data read).

    The same checks on geometry run (orientation, spacing, evenly spaced and distinct slice positions,
    one image size, no multi-frame or colour files); the pixel data itself is decoded and checked only
    when the series is loaded. Arguments as for :func:`load_dicom_series`.

    Raises:
        InputError: as :func:`load_dicom_series`, except for faults in the pixel data.

    Examples::

        >>> read_dicom_series_geometry("exam/T2_SAG/").shape           # doctest: +SKIP
        (24, 320, 320)
    """
    _check_tolerance(spacing_tolerance)
    _, headers = _select_series(dir_or_files, series_uid)
    geometries = [_check_header(h.path, h.dataset)[0] for h in headers]
    affine, _, _, _ = _series_affine(geometries, spacing_tolerance)
    rows, cols = geometries[0].shape
    affine.setflags(write=False)
    return SeriesGeometry((len(geometries), rows, cols), affine)


def _check_tolerance(spacing_tolerance: float) -> None:
    if not (0 < spacing_tolerance < 1):
        raise ConfigError(f"spacing_tolerance must be between 0 and 1 (a fraction), got {spacing_tolerance}")


def _select_series(dir_or_files: PathInput, series_uid: str | None) -> tuple[str, list[_Header]]:
    """The headers of the series ``series_uid``, or of the only series when it is ``None``."""
    groups = _series_headers(dir_or_files)
    if series_uid is None:
        if len(groups) > 1:
            listing = "; ".join(
                str(SeriesInfo(uid, m[0].description, m[0].modality, len(m))) for uid, m in groups.items()
            )
            raise InputError(
                f"{_describe(dir_or_files)} holds {len(groups)} DICOM series; choose one with "
                f"series_uid= (maerad: --series-uid): {listing}"
            )
        series_uid = next(iter(groups))
    if series_uid not in groups:
        raise InputError(
            f"{_describe(dir_or_files)} has no DICOM series {series_uid!r}; found: {', '.join(groups)}"
        )
    return series_uid, groups[series_uid]


# --------------------------------------------------------------------------------------------------
# File discovery and headers
# --------------------------------------------------------------------------------------------------
def _candidate_files(dir_or_files: PathInput) -> tuple[list[Path], bool]:
    """The files to consider and whether they were named explicitly (then non-DICOM is an error)."""
    if isinstance(dir_or_files, (str, os.PathLike)):
        root = Path(dir_or_files)
        if root.is_dir():
            found = sorted(Path(d) / f for d, _, files in os.walk(root) for f in files)
            return found, False
        items: list[Path] = [root]
    else:
        items = [Path(p) for p in dir_or_files]
        if not items:
            raise InputError("no DICOM files given (an empty file list)")
    for p in items:
        if not p.is_file():
            raise InputError(f"{p}: no such DICOM file")
    return items, True


def _series_headers(dir_or_files: PathInput) -> dict[str, list[_Header]]:
    """Image headers grouped by SeriesInstanceUID, in the order the series are first found."""
    files, explicit = _candidate_files(dir_or_files)
    headers: dict[str, list[_Header]] = {}
    for path in files:
        if path.name.upper() == "DICOMDIR":
            if explicit:
                raise InputError(f"{path}: a DICOMDIR index holds no image; pass its folder instead")
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except InvalidDicomError:
            if explicit:
                raise InputError(f"{path}: not a DICOM file (no 'DICM' marker after the preamble)") from None
            continue
        except Exception as exc:  # pydicom raises many types on corrupt input
            raise InputError(f"{path}: corrupt DICOM file ({_reason(exc)})") from None
        try:
            sop_class = UID(str(ds.file_meta.get("MediaStorageSOPClassUID", "") or ds.get("SOPClassUID", "")))
            if "Rows" not in ds:
                if "Image Storage" in sop_class.name:  # an image object without image attributes
                    raise InputError(f"{path}: {sop_class.name} object without image attributes (truncated?)")
                if explicit:
                    kind = sop_class.name or "no SOP class"
                    raise InputError(f"{path}: DICOM object without an image ({kind})")
                continue  # a directory or a non-image object (report, plan, ...)
            uid, description, modality = (str(ds.get(k, "") or "") for k in _GROUPING_FIELDS)
            headers.setdefault(uid, []).append(_Header(path, uid, description, modality, ds))
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{path}: corrupt DICOM header ({_reason(exc)})") from None
    if not headers:
        raise InputError(f"{_describe(dir_or_files)}: no readable DICOM image files found")
    return headers



# --------------------------------------------------------------------------------------------------
# One slice: pixels, geometry, metadata
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Slice:
    pixels: npt.NDArray[np.float32]
    geometry: _Geometry
    metadata: dict[str, Any]


def _read_slice(path: Path) -> _Slice:
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:  # pydicom raises many types on corrupt input
        raise InputError(f"{path}: corrupt DICOM file ({_reason(exc)})") from None
    geometry, metadata, (slope, intercept) = _check_header(path, ds)
    raw = _decode_pixels(path, ds)
    if raw.shape != geometry.shape:
        raise InputError(f"{path}: pixel data has shape {raw.shape}, the header says {geometry.shape}")
    pixels = (raw.astype(np.float64) * slope + intercept).astype(np.float32)
    return _Slice(pixels, geometry, metadata)


def _check_header(path: Path, ds: pydicom.Dataset) -> tuple[_Geometry, dict[str, Any], tuple[float, float]]:
    """A slice's geometry, metadata and rescale ``(slope, intercept)`` from its header, checked."""
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        rows, cols = int(ds.Rows), int(ds.Columns)
        slope, intercept = _number(ds, "RescaleSlope", 1.0), _number(ds, "RescaleIntercept", 0.0)
        geometry, metadata = _geometry(path, ds, rows, cols), _metadata(ds)
    except InputError:
        raise
    except Exception as exc:  # pydicom raises many types on corrupt input
        raise InputError(f"{path}: corrupt DICOM file ({_reason(exc)})") from None
    if frames != 1:
        raise InputError(f"{path}: multi-frame DICOM ({frames} frames) is not supported; convert it to "
                         "NIfTI (e.g. with dcm2niix) and load that")
    if samples != 1:
        raise InputError(f"{path}: colour DICOM images ({samples} samples per pixel) are not MRI volumes")
    if not (np.isfinite(slope) and np.isfinite(intercept)) or slope == 0:
        raise InputError(f"{path}: invalid RescaleSlope/RescaleIntercept ({slope}, {intercept})")
    return geometry, metadata, (slope, intercept)


def _decode_pixels(path: Path, ds: pydicom.Dataset) -> npt.NDArray[Any]:
    if "PixelData" not in ds:
        raise InputError(f"{path}: DICOM file has no pixel data")
    try:
        syntax = ds.file_meta.TransferSyntaxUID
    except AttributeError:
        raise InputError(f"{path}: DICOM file has no transfer syntax in its file meta header") from None
    if not _decoder_available(syntax):
        raise MissingDependencyError(
            f"{path}: pixel data is compressed as {syntax.name} and no installed plugin can decode it; "
            f"install the codecs with: {CODECS_HINT}"
        )
    try:
        arr: npt.NDArray[Any] = np.asarray(ds.pixel_array)
    except BaseException as exc:
        # Rust-based plugins (pylibjpeg-rle) report corrupt input as pyo3's PanicException, which
        # derives from BaseException; anything else that is not an Exception is re-raised.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        text = str(exc)
        if "missing dependencies" in text or "missing required dependencies" in text:
            raise MissingDependencyError(f"{path}: cannot decode {syntax.name}; {CODECS_HINT}") from None
        raise InputError(f"{path}: cannot decode the DICOM pixel data ({_reason(exc)})") from None
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"{path}: unsupported DICOM pixel type {arr.dtype}")
    return arr


def _decoder_available(syntax: pydicom.uid.UID) -> bool:
    """``False`` when pydicom has decoders for ``syntax`` but none of their plugins is installed."""
    try:
        from pydicom.pixels.decoders.base import get_decoder
    except ImportError:  # pydicom < 3: the error raised while decoding is checked instead
        return True
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        return True  # no decoder exists at all: decoding fails with an InputError naming the syntax
    return bool(decoder.is_available)


# --------------------------------------------------------------------------------------------------
# Geometry: slice order and the RAS+ affine
# --------------------------------------------------------------------------------------------------
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_DUPLICATE_MM = 1e-3


@dataclass(frozen=True)
class _Geometry:
    """Geometry of one slice in DICOM's LPS frame; ``None`` where the header lacks the attribute."""

    path: Path
    shape: tuple[int, int]
    position: tuple[float, float, float] | None
    row_cos: tuple[float, float, float] | None  # direction along a row (increasing column index, w)
    col_cos: tuple[float, float, float] | None  # direction down a column (increasing row index, h)
    pixel_spacing: tuple[float, float] | None  # (between rows, between columns) in mm
    slice_gap: tuple[str, float] | None  # (attribute name, value) for single-slice series


def _floats(path: Path, ds: pydicom.Dataset, keyword: str, n: int) -> tuple[float, ...] | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    items = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    numbers = tuple(float(v) for v in items)
    if len(numbers) != n or not all(np.isfinite(numbers)):
        raise InputError(f"{path}: {keyword} must be {n} finite numbers, got {value!r}")
    return numbers


def _geometry(path: Path, ds: pydicom.Dataset, rows: int, cols: int) -> _Geometry:
    position = _floats(path, ds, "ImagePositionPatient", 3)
    iop = _floats(path, ds, "ImageOrientationPatient", 6)
    row_cos = col_cos = None
    if iop is not None:
        r, c = np.array(iop[:3]), np.array(iop[3:])
        if abs(np.linalg.norm(r) - 1) > 1e-2 or abs(np.linalg.norm(c) - 1) > 1e-2 or abs(r @ c) > 1e-2:
            raise InputError(f"{path}: ImageOrientationPatient is not two orthogonal unit vectors: {iop}")
        r, c = r / np.linalg.norm(r), c / np.linalg.norm(c)
        row_cos = (float(r[0]), float(r[1]), float(r[2]))
        col_cos = (float(c[0]), float(c[1]), float(c[2]))
    spacing = _floats(path, ds, "PixelSpacing", 2)
    if spacing is not None and not all(s > 0 for s in spacing):
        raise InputError(f"{path}: PixelSpacing must be positive, got {spacing}")
    gap: tuple[str, float] | None = None
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = _floats(path, ds, keyword, 1)
        if value is not None:
            gap = (keyword, value[0])
            break
    return _Geometry(
        path, (rows, cols), None if position is None else (position[0], position[1], position[2]),
        row_cos, col_cos, None if spacing is None else (spacing[0], spacing[1]), gap,
    )


def _common(geoms: list[_Geometry], name: str, values: list[Any], atol: float) -> Any:
    """The value shared by every slice (``None`` if all lack it); an error names the odd file."""
    missing = [g.path for g, v in zip(geoms, values, strict=True) if v is None]
    if len(missing) == len(values):
        return None
    if missing:
        raise InputError(f"{missing[0]}: {name} is missing but other slices of the series have it")
    ref = np.asarray(values[0], dtype=np.float64)
    for g, v in zip(geoms, values, strict=True):
        if np.asarray(v).shape != ref.shape or not np.allclose(v, ref, rtol=0, atol=atol):
            raise InputError(f"{g.path}: {name} {v} differs from {values[0]} in {geoms[0].path} (one series)")
    return values[0]


def _series_affine(
    geoms: list[_Geometry], tolerance: float
) -> tuple[npt.NDArray[np.float64], list[int], list[str], float]:
    """``(RAS+ affine, slice order, notes, largest deviation from the slice grid in mm)``."""
    notes: list[str] = []
    _common(geoms, "image size (Rows, Columns)", [g.shape for g in geoms], 0)
    row_cos = _common(geoms, "ImageOrientationPatient (row)", [g.row_cos for g in geoms], 1e-4)
    col_cos = _common(geoms, "ImageOrientationPatient (column)", [g.col_cos for g in geoms], 1e-4)
    spacing = _common(geoms, "PixelSpacing", [g.pixel_spacing for g in geoms], 1e-6)
    if row_cos is None:
        if len(geoms) > 1:
            raise InputError(f"{geoms[0].path}: no ImageOrientationPatient; cannot order the slices")
        row_cos, col_cos = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
        notes.append("no ImageOrientationPatient: axial orientation assumed")
    if spacing is None:
        spacing = (1.0, 1.0)
        notes.append("no PixelSpacing: 1 mm assumed")
    r, c = np.array(row_cos), np.array(col_cos)
    normal = np.cross(r, c)
    positions = [g.position for g in geoms]
    if any(p is None for p in positions):
        if len(geoms) > 1:
            bad = next(g.path for g in geoms if g.position is None)
            raise InputError(f"{bad}: no ImagePositionPatient; cannot order the slices")
        positions = [(0.0, 0.0, 0.0)]
        notes.append("no ImagePositionPatient: origin (0, 0, 0) assumed")
    p = np.array(positions, dtype=np.float64)
    if len(geoms) == 1:
        order, deviation = [0], 0.0
        gap = geoms[0].slice_gap
        if gap is None:
            gap = ("default", 1.0)
            notes.append("single slice without SliceThickness/SpacingBetweenSlices: 1 mm assumed")
        if not (np.isfinite(gap[1]) and gap[1] > 0):
            raise InputError(f"{geoms[0].path}: {gap[0]} must be positive, got {gap[1]}")
        step = normal * gap[1]
    else:
        along = p @ normal
        order = [int(i) for i in np.argsort(along, kind="stable")]
        p, along = p[order], along[order]
        for k in range(len(order) - 1):
            if along[k + 1] - along[k] < _DUPLICATE_MM:
                raise InputError(
                    f"{geoms[order[k]].path} and {geoms[order[k + 1]].path}: two slices at the same position "
                    f"({along[k]:.3f} mm along the slice normal); the series mixes repeated acquisitions"
                )
        step = (p[-1] - p[0]) / (len(order) - 1)
        expected = p[0] + np.arange(len(order))[:, None] * step
        deviation = float(np.linalg.norm(p - expected, axis=1).max())
        if deviation > tolerance * float(np.linalg.norm(step)):
            gaps = ", ".join(f"{g:.3f}" for g in np.diff(along)[:8])
            raise InputError(
                f"{geoms[0].path}: slice positions are not evenly spaced (gaps along the normal: {gaps} mm; "
                f"largest deviation {deviation:.3f} mm exceeds {tolerance:.0%} of the step); "
                "load an evenly spaced subset of files or resample"
            )
    lps = np.eye(4)
    lps[:3, 0] = step
    lps[:3, 1] = c * spacing[0]
    lps[:3, 2] = r * spacing[1]
    lps[:3, 3] = p[0]
    return _LPS_TO_RAS @ lps, order, notes, deviation


def _number(ds: pydicom.Dataset, keyword: str, default: float) -> float:
    value = ds.get(keyword)
    return default if value is None or value == "" else float(value)


def _metadata(ds: pydicom.Dataset) -> dict[str, Any]:
    present = {k: kind(ds.get(k)) for k, kind in _METADATA_FIELDS.items() if ds.get(k) not in (None, "")}
    return {k: v for k, v in present.items() if not (isinstance(v, float) and not np.isfinite(v))}


def _describe(dir_or_files: PathInput) -> str:
    if isinstance(dir_or_files, (str, os.PathLike)):
        return str(dir_or_files)
    items = list(dir_or_files)
    return f"{len(items)} DICOM file(s) starting with {items[0]}" if items else "an empty file list"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no details"
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(exc).__name__}: {text}"
