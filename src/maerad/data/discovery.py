"""Study folders in the layouts maerad reads, and finding them below a data folder.

A *study folder* is one of (tried in this order):

* ``maerad``: a folder holding ``case.json`` — maerad's own format, written by
  :func:`~maerad.data.study_folder.save_study` and ``maerad phantom``, read by
  :func:`~maerad.data.study_folder.load_study`;
* ``nifti``: a folder of ``.nii`` / ``.nii.gz`` files, one per sequence and named after it
  (``t2w.nii.gz``, ``adc.nii.gz``), each read by :func:`~maerad.data.nifti.load_nifti`; a 4D file gives
  one sequence per frame (``dwi.nii.gz`` with 2 frames → ``dwi_0``, ``dwi_1``). ``labels.nii.gz`` (or
  ``labels.nii``) is the optional label map; other files (JSON sidecars, notes) are ignored;
* ``dicom``: a folder with one sub-folder per sequence, named after it (``t2w/``, ``adc/``), each
  holding one DICOM series (searched recursively, read by
  :func:`~maerad.data.dicom.load_dicom_series`), with an optional ``labels.nii.gz`` beside them.

Sequences of a ``nifti`` folder come in sorted file-name order, those of a ``dicom`` folder in sorted
sub-folder order. Their files (and the label map) must share one grid — shape and affine, within the
float32 precision of NIfTI headers — since a :class:`~maerad.data.study.Study` has a single grid.
Names starting with ``.`` (hidden files, macOS ``._`` copies) are ignored everywhere.

Examples::

    >>> find_study_folders("data/")                     # doctest: +SKIP
    [PosixPath('data/case001'), PosixPath('data/case002')]
    >>> load_study_folder("data/case001").sequence_names  # doctest: +SKIP
    ['adc', 't2w']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from maerad.data.dicom import load_dicom_series, read_dicom_series_geometry
from maerad.data.nifti import load_nifti, nifti_suffix, read_nifti_header, read_nifti_volume
from maerad.data.study import FloatArray, Study
from maerad.data.study_folder import CASE_FILE, load_study, read_case_json
from maerad.errors import InputError

__all__ = [
    "ACCEPTED_LAYOUTS",
    "StudyLayout",
    "StudyOutline",
    "find_study_folders",
    "load_study_folder",
    "outline_study_folder",
    "study_layout",
]

StudyLayout = Literal["maerad", "nifti", "dicom"]

ACCEPTED_LAYOUTS = (
    f"a study folder is a maerad study folder ({CASE_FILE}, as written by `maerad phantom`), a folder of "
    "NIfTI files named by sequence (t2w.nii.gz, adc.nii.gz, optional labels.nii.gz) or a folder with one "
    "DICOM series per sequence sub-folder (t2w/, adc/)"
)
_LABELS_STEM = "labels"
# Affine agreement between files of one study: NIfTI headers store the affine in float32.
_AFFINE_RTOL, _AFFINE_ATOL = 1e-5, 1e-3


@dataclass(frozen=True)
class StudyOutline:
    """What a study folder holds, read without loading its voxels; ``synthetic`` when its ``case.json``
    says so (``maerad phantom`` studies)."""

    layout: StudyLayout
    sequences: tuple[str, ...]
    shape: tuple[int, int, int]
    has_labels: bool
    synthetic: bool = False


def study_layout(folder: str | os.PathLike[str]) -> StudyLayout | None:
    """The layout of ``folder`` (see the module docstring), or ``None`` when it is not a study folder.

    Only names are looked at (and, for DICOM, the ``DICM`` marker of files), so this is cheap; whether
    the files are readable is found out by :func:`outline_study_folder` / :func:`load_study_folder`.

    Raises:
        InputError: ``folder`` cannot be listed, or holds both DICOM series and NIfTI sequence files.
    """
    folder = Path(folder)
    if not folder.is_dir() or folder.name.startswith("."):
        return None
    if (folder / CASE_FILE).is_file():
        return "maerad"
    entries = _entries(folder)
    nifti = any(_sequence_stem(p) is not None for p in entries)
    dicom = bool(_dicom_folders(entries))
    if nifti and dicom:  # which files are the sequences would be a guess
        names = ", ".join(p.name for p in entries if _sequence_stem(p) is not None)
        raise InputError(f"{folder}: holds both DICOM series and NIfTI sequence files ({names}); keep one "
                         "layout (a NIfTI label map must be named labels.nii.gz)")
    if nifti:
        return "nifti"
    return "dicom" if dicom else None


def find_study_folders(root: str | os.PathLike[str]) -> list[Path]:
    """``root`` itself if it holds ``case.json``, else its sub-folders that are study folders, sorted.

    Files and sub-folders that are not study folders (stray files, empty or hidden folders) are skipped.

    Raises:
        InputError: ``root`` does not exist or holds no study folder (the message lists the layouts).
    """
    root = Path(root)
    if root.is_file():
        raise InputError(f"{root}: a file; give the folder that holds the study folders")
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    if (root / CASE_FILE).is_file():
        return [root]
    entries = _entries(root)
    folders = [p for p in entries if study_layout(p) is not None]
    if not folders:
        hint = ""
        if any(_sequence_stem(p) is not None for p in entries):
            hint = "; it holds NIfTI files directly: put each study's files in a sub-folder of its own"
        raise InputError(f"{root}: holds no study folder ({ACCEPTED_LAYOUTS}){hint}")
    return folders


def outline_study_folder(folder: str | os.PathLike[str]) -> StudyOutline:
    """The layout, sequence names, grid shape and label presence of a study folder.

    ``maerad`` folders are described by ``case.json``, ``nifti`` folders by their NIfTI headers and
    ``dicom`` folders by their DICOM headers (every slice's, for the geometry checks of
    :func:`~maerad.data.dicom.read_dicom_series_geometry`): no voxel is read.

    Raises:
        InputError: not a study folder (the message lists the layouts), or its description is unreadable
            or inconsistent (names the file).
    """
    folder = Path(folder)
    layout = _required_layout(folder)
    if layout == "maerad":
        return _outline_case_json(folder)
    if layout == "nifti":
        return _outline_nifti(folder)
    return _outline_dicom(folder)


def load_study_folder(folder: str | os.PathLike[str]) -> Study:
    """Load a study folder of any layout (see the module docstring) with the existing readers.

    Raises:
        InputError: not a study folder, an unreadable file, or files of one study on different grids;
            the message names the folder or file.
    """
    folder = Path(folder)
    layout = _required_layout(folder)
    if layout == "maerad":
        return load_study(folder)
    if layout == "nifti":
        files, labels = _nifti_files(folder)
        parts = [(path, load_nifti(path, sequence=name)) for name, path in files.items()]
        return _merge(folder, parts, labels, {"source": "nifti folder"})
    return _load_dicom_folder(folder)


# --------------------------------------------------------------------------------------------------
def _required_layout(folder: Path) -> StudyLayout:
    layout = study_layout(folder)
    if layout is None:
        raise InputError(f"{folder}: not a study folder; {ACCEPTED_LAYOUTS}")
    return layout


def _entries(folder: Path) -> list[Path]:
    """The non-hidden entries of ``folder``, sorted (so discovery and sequence order are deterministic)."""
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise InputError(f"{folder}: cannot list the folder ({exc.strerror})") from None


def _nifti_stem(path: Path) -> str | None:
    """The file name without its ``.nii`` / ``.nii.gz`` suffix for a NIfTI file, else ``None``."""
    suffix = nifti_suffix(path)
    if suffix is None or path.name.startswith(".") or not path.is_file():
        return None
    return path.name[: -len(suffix)] or None


def _sequence_stem(path: Path) -> str | None:
    """The sequence name of a NIfTI sequence file (not the label map), else ``None``."""
    stem = _nifti_stem(path)
    return None if stem is None or stem.lower() == _LABELS_STEM else stem


def _labels_file(entries: Sequence[Path]) -> Path | None:
    found = [p for p in entries if (_nifti_stem(p) or "").lower() == _LABELS_STEM]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(f"{found[0].parent}: several label maps ({names}); keep one")
    return found[0] if found else None


def _nifti_files(folder: Path) -> tuple[dict[str, Path], Path | None]:
    """Sequence name → NIfTI file, in sorted file-name order, and the label map file if present."""
    entries = _entries(folder)
    files: dict[str, Path] = {}
    for path in entries:
        stem = _sequence_stem(path)
        if stem is None:
            continue
        if stem in files:
            raise InputError(f"{folder}: two files for sequence {stem!r} ({files[stem].name}, {path.name})")
        files[stem] = path
    return files, _labels_file(entries)


def _dicom_folders(entries: Sequence[Path]) -> list[Path]:
    """The sub-folders (among ``entries``) holding at least one DICOM file: one sequence each."""
    return [p for p in entries if p.is_dir() and _holds_dicom(p)]


def _holds_dicom(folder: Path) -> bool:
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.upper() == "DICOMDIR":  # an index, not a series
                continue
            try:
                with (Path(here) / name).open("rb") as f:
                    head = f.read(132)
            except OSError:
                continue
            if head[128:132] == b"DICM":
                return True
    return False


def _load_dicom_folder(folder: Path) -> Study:
    entries = _entries(folder)
    parts = [(sub, load_dicom_series(sub, sequence=sub.name)) for sub in _dicom_folders(entries)]
    metadata = {"source": "dicom folder", "series": {path.name: part.metadata for path, part in parts}}
    return _merge(folder, parts, _labels_file(entries), metadata)


def _merge(
    folder: Path, parts: list[tuple[Path, Study]], labels_path: Path | None, metadata: dict[str, Any]
) -> Study:
    """One study from single-file (or single-series) studies on one grid, plus an optional label map."""
    ref_path, ref = parts[0]
    assert ref.affine is not None
    sequences: dict[str, FloatArray] = {}
    notes: list[str] = []
    for path, part in parts:
        assert part.affine is not None
        _check_grid(path, part.shape, part.affine, ref_path, ref.shape, ref.affine)
        for name, arr in part.sequences.items():
            if name in sequences:
                raise InputError(f"{path}: sequence {name!r} is given twice in {folder}")
            sequences[name] = arr
        notes += [n for n in part.metadata.get("geometry_notes", []) if n not in notes]
    labels = None
    if labels_path is not None:
        values, affine = read_nifti_volume(labels_path)
        _check_grid(labels_path, values.shape, affine, ref_path, ref.shape, ref.affine)
        info = np.iinfo(np.int16)
        if not np.array_equal(values, np.round(values)) or values.min() < info.min or values.max() > info.max:
            raise InputError(f"{labels_path}: label values must be whole numbers that fit in int16")
        labels = values.astype(np.int16)
    if notes:
        metadata["geometry_notes"] = notes
    try:
        return Study(sequences, affine=ref.affine, labels=labels, metadata=metadata)
    except InputError as exc:
        raise InputError(f"{folder}: {exc}") from None


def _check_grid(
    path: Path,
    shape: tuple[int, ...],
    affine: npt.NDArray[np.float64],
    ref_path: Path,
    ref_shape: tuple[int, ...],
    ref_affine: npt.NDArray[np.float64],
) -> None:
    if tuple(shape) != tuple(ref_shape):
        raise InputError(
            f"{path}: grid {tuple(shape)} differs from {ref_path.name} {tuple(ref_shape)}; "
            "all files of a study must share one grid (resample first)"
        )
    if not np.allclose(affine, ref_affine, rtol=_AFFINE_RTOL, atol=_AFFINE_ATOL):
        raise InputError(
            f"{path}: its affine (voxel-to-world geometry) differs from {ref_path.name}'s; "
            "all files of a study must share one grid (resample first)"
        )


def _outline_nifti(folder: Path) -> StudyOutline:
    files, labels = _nifti_files(folder)
    names: list[str] = []
    ref: tuple[Path, tuple[int, int, int], npt.NDArray[np.float64]] | None = None
    for stem, path in files.items():
        shape, affine = read_nifti_header(path)
        grid = (shape[-3], shape[-2], shape[-1])
        ref = ref or (path, grid, affine)
        _check_grid(path, grid, affine, *ref)
        # as load_nifti names sequences: the file's stem, or one name per frame of a 4D file
        frames = [stem] if len(shape) == 3 else [f"{stem}_{t}" for t in range(shape[0])]
        for name in frames:
            if name in names:
                raise InputError(f"{path}: sequence {name!r} is given twice in {folder}")
            names.append(name)
    assert ref is not None  # the layout is "nifti" only with at least one sequence file
    if labels is not None:
        shape, affine = read_nifti_header(labels)
        _check_grid(labels, shape, affine, *ref)
    return StudyOutline("nifti", tuple(names), ref[1], labels is not None)


def _outline_dicom(folder: Path) -> StudyOutline:
    entries = _entries(folder)
    names: list[str] = []
    ref: tuple[Path, tuple[int, int, int], npt.NDArray[np.float64]] | None = None
    for sub in _dicom_folders(entries):
        geometry = read_dicom_series_geometry(sub)
        ref = ref or (sub, geometry.shape, geometry.affine)
        _check_grid(sub, geometry.shape, geometry.affine, *ref)
        names.append(sub.name)
    assert ref is not None  # the layout is "dicom" only with at least one series folder
    labels = _labels_file(entries)
    if labels is not None:
        shape, affine = read_nifti_header(labels)
        _check_grid(labels, shape, affine, *ref)
    return StudyOutline("dicom", tuple(names), ref[1], labels is not None)


def _outline_case_json(folder: Path) -> StudyOutline:
    path = folder / CASE_FILE
    case = read_case_json(folder)
    names = case.get("sequences")
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise InputError(f"{path}: 'sequences' must be a list of names")
    shape = case.get("shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(s) is int for s in shape)):
        raise InputError(f"{path}: 'shape' must be a list of 3 integers")
    has_labels = case.get("labels") is not None
    metadata = case.get("metadata")
    synthetic = isinstance(metadata, dict) and metadata.get("synthetic") is True
    return StudyOutline("maerad", tuple(names), (shape[0], shape[1], shape[2]), has_labels, synthetic)
