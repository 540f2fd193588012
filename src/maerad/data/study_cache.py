"""A folder of normalised studies on disk, memory-mapped: studies shared by processes, kept across runs.

:class:`~maerad.data.datasets.StudyDataset` normally keeps every loaded study in the memory of its own
process: with ``torchrun`` each process holds a copy, a dataset larger than memory cannot be trained
on, and every run decodes and normalises every study again (NIfTI / DICOM decoding, percentiles).
With a cache folder, each study is decoded and normalised once and written as ``.npy`` files; later
loads map those files (:func:`numpy.load` with ``mmap_mode="r"``), so the operating system's page
cache holds one copy for every process and pages studies in and out as memory allows.

An entry is found by a key over what decides its arrays: the study folder's resolved path, the name,
size and modification time of every file in it, the sequences (in channel order) and the
normalisation. Changing a study's files gives it a new entry; the old one stays until the folder is
deleted (entries are never modified, so deleting the whole folder at any time between runs is safe).

Entries are written to a temporary folder and renamed into place, so a reader never sees half an
entry, and processes that build the same entry at once (every rank of a first ``torchrun`` run) keep
whichever was renamed first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.errors import ConfigError, InputError

__all__ = ["CachedStudy", "StudyCache"]

#: Bumped whenever the arrays an entry holds would differ for the same key.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CachedStudy:
    """One normalised study: arrays read-only (memory-mapped when read from the cache folder).

    Attributes:
        image: ``(C, D, H, W)`` float32, channels in the order of the key's sequences.
        labels: the label map ``(D, H, W)``, or ``None`` when the study has none.
        affine: the study's own 4×4 voxel → RAS+ mm affine (before any flip to another orientation).
        spacing: voxel size in mm along ``(d, h, w)``.
    """

    image: npt.NDArray[np.float32]
    labels: np.ndarray | None
    affine: npt.NDArray[np.float64]
    spacing: tuple[float, ...]


class StudyCache:
    """Normalised studies as memory-mapped ``.npy`` files under ``root`` (created when missing).

    Args:
        root: the cache folder; any number of datasets, runs and processes may share it.

    Raises:
        ConfigError: ``root`` exists and is not a folder, or cannot be created.

    Examples::

        >>> cache = StudyCache("/tmp/maerad-cache")                                 # doctest: +SKIP
        >>> key = cache.key("phantom/case-0000", ["t2w", "dwi"], "percentile")      # doctest: +SKIP
        >>> entry = cache.load(key)        # None until cache.store(key, ...)        # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise ConfigError(f"cache_dir {self.root}: cannot be used as a cache folder ({why})") from None

    def key(self, folder: str | os.PathLike[str], sequences: list[str], normalization: str) -> str:
        """The entry name for a study folder read with ``sequences`` and ``normalization``.

        Lists the folder's files (name, size, modification time), so a changed study gets another key.
        """
        source = Path(folder).resolve()
        files = []
        for path in source.rglob("*"):
            if path.is_file():
                info = path.stat()
                files.append([str(path.relative_to(source)), info.st_size, info.st_mtime_ns])
        files.sort()
        record = {"format": FORMAT_VERSION, "folder": str(source), "files": files,
                  "sequences": list(sequences), "normalization": normalization}
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()[:32]

    def load(self, key: str) -> CachedStudy | None:
        """The entry ``key``, memory-mapped; ``None`` when there is none.

        Raises:
            InputError: the entry exists but cannot be read (changed or damaged from outside maerad): the
                message names it, to be deleted.
        """
        entry = self.root / key
        if not entry.is_dir():
            return None
        try:
            meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
            image = np.load(entry / "image.npy", mmap_mode="r")
            labels = np.load(entry / "labels.npy", mmap_mode="r") if meta["has_labels"] else None
            affine = np.array(meta["affine"], dtype=np.float64)
            spacing = tuple(float(s) for s in meta["spacing"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"study cache entry {entry} cannot be read ({exc}); delete it (or the whole "
                             "cache folder) and it is built again") from None
        if image.dtype != np.float32 or image.ndim != 4 or affine.shape != (4, 4) or len(spacing) != 3:
            raise InputError(f"study cache entry {entry} does not hold a normalised study; delete it (or "
                             "the whole cache folder) and it is built again")
        return CachedStudy(image=image, labels=labels, affine=affine, spacing=spacing)

    def store(self, key: str, study: CachedStudy, *, source: str | os.PathLike[str] = "") -> CachedStudy:
        """Write ``study`` as entry ``key`` and return it memory-mapped from there.

        When another process wrote the same entry meanwhile, its copy is kept and returned (both hold the
        same arrays: the key decides them).
        """
        meta: dict[str, Any] = {"format": FORMAT_VERSION, "source": str(source),
                                "affine": np.asarray(study.affine, dtype=np.float64).tolist(),
                                "spacing": [float(s) for s in study.spacing],
                                "has_labels": study.labels is not None}
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.tmp-", dir=self.root))
        try:
            _write_npy(tmp / "image.npy", np.ascontiguousarray(study.image, dtype=np.float32))
            if study.labels is not None:
                _write_npy(tmp / "labels.npy", np.ascontiguousarray(study.labels))
            (tmp / "meta.json").write_text(json.dumps(meta) + "\n", encoding="utf-8")
            try:
                os.rename(tmp, self.root / key)  # refuses an existing entry: the first writer's stays
            except OSError:
                if not (self.root / key).is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        loaded = self.load(key)
        assert loaded is not None  # just written, by this process or another
        return loaded


def _write_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())  # complete on disk before the entry is renamed into sight
