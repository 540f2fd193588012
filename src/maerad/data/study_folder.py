"""The study folder: maerad's on-disk form of a :class:`~maerad.data.study.Study`, and ``load_any``.

Layout of one case::

    case001/
        case.json          format, version, sequence order, shape, affine, label names, landmarks, metadata
        t2w.nii.gz         one NIfTI file per sequence, named after it (float32)
        dwi_b800.nii.gz
        labels.nii.gz      optional label map (int16)

``case.json`` keeps the affine in full float64 precision (the NIfTI headers hold it in float32), so
``load_study(save_study(s))`` reproduces every array bit for bit, the affine, labels, landmarks and
metadata (which round-trips through JSON: tuples come back as lists). Sequence names must be usable as
file names: letters, digits, ``_``, ``-``, ``.``, ``+``, not starting with ``.`` and not ``labels``.

Writing is atomic (the folder appears complete or not at all) and deterministic (the same study
gives byte-identical files).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.atomic import atomic_directory
from maerad.data.dicom import load_dicom_series
from maerad.data.nifti import load_nifti, nifti_suffix, read_nifti_volume, save_nifti
from maerad.data.study import FloatArray, Study, describe_non_finite
from maerad.errors import ConfigError, InputError

__all__ = [
    "CASE_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "load_any",
    "load_study",
    "read_case_json",
    "save_study",
]

CASE_FILE = "case.json"
LABELS_FILE = "labels.nii.gz"
FORMAT_NAME = "maerad-study"
FORMAT_VERSION = 1
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def save_study(study: Study, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``study`` as a study folder, atomically; returns the folder path.

    Args:
        study: the study to write.
        folder: the case folder to create (e.g. ``"cases/case001"``).
        overwrite: replace an existing study folder (one holding ``case.json``) or an empty folder.
            Any other existing folder is never replaced.

    Raises:
        InputError: the folder exists (without ``overwrite``, or it is not a study folder), a sequence
            name is not usable as a file name, or the metadata is not JSON-serialisable.

    Examples::

        >>> save_study(study, "cases/case001")                           # doctest: +SKIP
        >>> load_study("cases/case001").sequence_names                   # doctest: +SKIP
        ['t2w', 'adc']
    """
    folder = Path(folder)
    if folder.exists():
        if not overwrite:
            raise InputError(f"{folder}: already exists (pass overwrite=True to replace a study folder)")
        if not folder.is_dir() or not ((folder / CASE_FILE).is_file() or not any(folder.iterdir())):
            raise InputError(f"{folder}: exists and is not a study folder (no {CASE_FILE}); not replacing it")
    for name in study.sequence_names:
        if not _SAFE_NAME.fullmatch(name) or name == "labels":
            raise InputError(
                f"sequence name {name!r} cannot be a file name in a study folder "
                "(use letters, digits, '_', '-', '.', '+'; not 'labels')"
            )
    if len({n.lower() for n in study.sequence_names}) != len(study.sequence_names):
        raise InputError(f"sequence names {study.sequence_names} differ only in case (file names clash)")
    case_text = _case_json(study)
    assert study.affine is not None
    with atomic_directory(folder, overwrite=overwrite) as tmp:
        for name, arr in study.sequences.items():
            save_nifti(arr, study.affine, tmp / f"{name}.nii.gz")
        if study.labels is not None:
            save_nifti(study.labels, study.affine, tmp / LABELS_FILE)
        (tmp / CASE_FILE).write_text(case_text, encoding="utf-8")
    return folder


def load_study(folder: str | os.PathLike[str]) -> Study:
    """Read a study folder written by :func:`save_study`.

    Raises:
        InputError: missing or garbled ``case.json`` (wrong types, unknown format version), a listed
            sequence file missing or unreadable, a file whose shape or affine disagrees with
            ``case.json``; the message names the file.

    Examples::

        >>> study = load_study("cases/case001")                          # doctest: +SKIP
    """
    folder = Path(folder)
    case_path = folder / CASE_FILE
    c = _CaseReader(case_path, read_case_json(folder))
    if c.get("format", str) != FORMAT_NAME:
        raise InputError(f"{case_path}: 'format' must be {FORMAT_NAME!r}")
    version = c.get("format_version", int)
    if version != FORMAT_VERSION:
        raise InputError(f"{case_path}: unsupported format_version {version} (expected {FORMAT_VERSION})")
    names = c.get("sequences", list)
    if not names or not all(isinstance(n, str) and _SAFE_NAME.fullmatch(n) and n != "labels" for n in names):
        raise InputError(f"{case_path}: 'sequences' must be a non-empty list of file-safe sequence names")
    if len(set(names)) != len(names):
        raise InputError(f"{case_path}: 'sequences' lists a name twice")
    shape = c.get("shape", list)
    affine = np.array(c.get("affine", list), dtype=object)
    if affine.shape != (4, 4) or not all(_is_number(v) for v in affine.flat):
        raise InputError(f"{case_path}: 'affine' must be a 4x4 list of numbers")
    affine = affine.astype(np.float64)
    labels_name = c.get("labels", (str, type(None)))
    if labels_name not in (None, LABELS_FILE):
        raise InputError(f"{case_path}: 'labels' must be {LABELS_FILE!r} or null")
    label_names = c.get("label_names", dict)
    landmarks = c.get("landmarks", dict)
    metadata = c.get("metadata", dict)
    if not all(isinstance(v, str) and re.fullmatch(r"-?\d+", k) for k, v in label_names.items()):
        raise InputError(f"{case_path}: 'label_names' must map integer strings to names")

    sequences = {name: _read_sequence(folder / f"{name}.nii.gz", name, shape, affine) for name in names}
    labels = None
    if labels_name is not None:
        values = _read(folder / LABELS_FILE, shape, affine)
        if not np.array_equal(values, np.round(values)):
            raise InputError(f"{folder / LABELS_FILE}: label values must be whole numbers")
        labels = values.astype(np.int16)
    try:
        return Study(sequences, affine=affine, labels=labels, landmarks=landmarks, metadata=metadata,
                     label_names={int(k): v for k, v in label_names.items()})
    except InputError as exc:
        raise InputError(f"{case_path}: {exc}") from None


def load_any(
    path: str | os.PathLike[str],
    *,
    sequence: str = "image",
    series_uid: str | None = None,
    frame_names: list[str] | None = None,
) -> Study:
    """Load a study folder, a NIfTI file, a DICOM file or a folder of DICOM files.

    A folder holding ``case.json`` (or the ``case.json`` file itself) is a study folder; another folder
    is searched for DICOM; a file ending in ``.nii``/``.nii.gz`` is NIfTI; a file with the DICOM
    ``DICM`` marker is DICOM. ``sequence`` names the loaded sequence (NIfTI, DICOM),
    ``series_uid`` selects a DICOM series and ``frame_names`` names 4D NIfTI frames.

    Raises:
        InputError: the path does not exist or is not a recognised format (e.g. a NIfTI file with
            another extension), or the chosen loader fails.
        ConfigError: ``series_uid`` given for a non-DICOM input, or ``frame_names`` for a non-NIfTI one.

    Examples::

        >>> load_any("cases/case001").shape                              # doctest: +SKIP
        (24, 256, 256)
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    if p.is_file() and p.name == CASE_FILE:
        p = p.parent
    if p.is_dir() and (p / CASE_FILE).is_file():
        kind = "study folder"
    elif p.is_dir():
        kind = "DICOM"
    elif nifti_suffix(p) is not None:
        kind = "NIfTI"
    else:
        kind = _sniff(p)
    if series_uid is not None and kind != "DICOM":
        raise ConfigError(f"{p}: series_uid applies to DICOM input only, but this is a {kind}")
    if frame_names is not None and kind != "NIfTI":
        raise ConfigError(f"{p}: frame_names apply to NIfTI input only, but this is a {kind}")
    if kind == "study folder":
        return load_study(p)
    if kind == "NIfTI":
        return load_nifti(p, sequence=sequence, frame_names=frame_names)
    return load_dicom_series(p, series_uid=series_uid, sequence=sequence)


# --------------------------------------------------------------------------------------------------
def _case_json(study: Study) -> str:
    assert study.affine is not None
    case = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "sequences": study.sequence_names,
        "shape": list(study.shape),
        "affine": [[float(v) for v in row] for row in study.affine],
        "labels": None if study.labels is None else LABELS_FILE,
        "label_names": {str(k): v for k, v in sorted(study.label_names.items())},
        "landmarks": {k: list(v) for k, v in study.landmarks.items()},
        "metadata": study.metadata,
    }
    try:
        return json.dumps(case, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"study metadata must be JSON-serialisable (finite numbers, strings, lists, dicts): {exc}"
        ) from None


def _read(path: Path, shape: list[Any], affine: npt.NDArray[np.float64]) -> FloatArray:
    if not path.is_file():
        raise InputError(f"{path}: missing (listed in {CASE_FILE})")
    data, file_affine = read_nifti_volume(path)
    if list(data.shape) != shape:
        raise InputError(f"{path}: shape {list(data.shape)} disagrees with {CASE_FILE} shape {shape}")
    if not np.allclose(file_affine, affine, rtol=1e-5, atol=1e-3):
        raise InputError(f"{path}: the NIfTI affine disagrees with the affine in {CASE_FILE}")
    return data


def _read_sequence(path: Path, name: str, shape: list[Any], affine: npt.NDArray[np.float64]) -> FloatArray:
    data = _read(path, shape, affine)
    # Study() refuses NaN/Inf voxels as well, but could only name case.json: the file to fix is this one
    if (bad := describe_non_finite(data)) is not None:
        raise InputError(f"{path}: sequence {name!r} has {bad}")
    return data


def read_case_json(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``case.json`` object of a study folder (its fields unchecked; :func:`load_study` checks).

    Raises:
        InputError: missing or unreadable file, invalid JSON (``NaN`` / ``Infinity`` included), or not
            a JSON object.
    """
    folder = Path(folder)
    case_path = folder / CASE_FILE
    if not case_path.is_file():
        raise InputError(f"{case_path}: missing; {folder} is not a maerad study folder")
    try:
        case = json.loads(case_path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except OSError as exc:
        raise InputError(f"{case_path}: cannot read the file ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{case_path}: not valid JSON ({exc})") from None
    if not isinstance(case, dict):
        raise InputError(f"{case_path}: expected a JSON object at the top level")
    return case


class _CaseReader:
    """Typed access to the fields of a parsed case.json, with errors naming the file and field."""

    def __init__(self, path: Path, case: dict[str, Any]) -> None:
        self.path, self.case = path, case

    def get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in self.case:
            raise InputError(f"{self.path}: missing field {key!r}")
        value = self.case[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise InputError(f"{self.path}: field {key!r} must be {expected}, got {type(value).__name__}")
        return value


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _sniff(path: Path) -> str:
    """Classify a file without a NIfTI suffix by content: DICOM, or an error that says what it is."""
    try:
        with path.open("rb") as f:
            head = f.read(352)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "DICOM"
    nifti_magic = head[344:348] in (b"n+1\x00", b"ni1\x00") or head[4:8] in (b"n+2\x00", b"ni2\x00")
    if nifti_magic or head[:2] == b"\x1f\x8b":
        raise InputError(
            f"{path}: looks like a NIfTI or gzip-compressed file; NIfTI names must end in .nii or .nii.gz"
        )
    what = "an empty file" if not head else "not a recognised format"
    raise InputError(
        f"{path}: {what}; expected a .nii/.nii.gz file, a DICOM file (with the 'DICM' marker), "
        "a folder of DICOM files or a maerad study folder"
    )
