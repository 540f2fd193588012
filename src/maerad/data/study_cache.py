"""A folder of normalised studies on disk, memory-mapped: studies shared by processes, kept across runs.

:class:`~maerad.data.datasets.StudyDataset` normally keeps every loaded study in the memory of its own
process: with ``torchrun`` each process holds a copy, a dataset larger than memory cannot be trained
on, and every run decodes and normalises every study again (NIfTI / DICOM decoding, percentiles).
With a cache folder, each study is decoded and normalised once and written as ``.npy`` files; later
loads map those files copy-on-write, so the operating system's page cache holds one copy for every
process and pages studies in and out as memory allows, while the arrays stay writable (a write
changes this process's copy of the page, never the file). The maps hold no open file, so a dataset
of any number of studies stays within the open-file limit.

An entry is found by a key over what decides its arrays: the study folder's resolved path; every
file below it (symbolic links followed, as the readers follow them) by name, resolved target, inode,
size and modification time; the sequences (in channel order); the normalisation; and maerad's version.
Changing a study's files gives it a new entry; the old one stays until the folder is deleted (entries
are never modified, so deleting the whole folder between runs is safe).

Entries are written to a temporary folder and renamed into place, so a reader never sees half an
entry, and processes that build the same entry at once (every rank of a first ``torchrun`` run) keep
whichever was renamed first. Folders and files get the permissions a plain ``mkdir`` / ``open`` gives
under the umask, so a group can share a cache. Temporary folders left by a killed process are removed
by the next cache opened on the folder once they are an hour old.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import torch
from numpy.lib import format as npy_format

import maerad
from maerad.errors import ConfigError, InputError

__all__ = ["CachedStudy", "StudyCache"]

#: Bumped whenever the arrays an entry holds would differ for the same key within one maerad version.
FORMAT_VERSION = 1

#: Age after which a temporary folder counts as left behind by a killed process.
_STALE_SECONDS = 3600.0

_LABEL_DTYPE = np.dtype(np.int16)  # what Study keeps label maps in


@dataclass(frozen=True)
class CachedStudy:
    """One normalised study.

    Attributes:
        image: ``(C, D, H, W)`` float32, channels in the order of the key's sequences.
        labels: the label map ``(D, H, W)`` (int16), or ``None`` when the study has none.
        affine: the study's own 4×4 voxel → RAS+ mm affine (before any flip to another orientation).
        spacing: voxel size in mm along ``(d, h, w)``.
    """

    image: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int16] | None
    affine: npt.NDArray[np.float64]
    spacing: tuple[float, ...]


class StudyCache:
    """Normalised studies as memory-mapped ``.npy`` files under ``root`` (created when missing).

    Args:
        root: the cache folder; any number of datasets, runs and processes may share it.

    Raises:
        ConfigError: ``root`` is empty, exists and is not a folder, or cannot be created.

    Examples::

        >>> cache = StudyCache("/tmp/maerad-cache")                                 # doctest: +SKIP
        >>> key = cache.key("phantom/case-0000", ["t2w", "dwi"], "percentile")      # doctest: +SKIP
        >>> entry = cache.load(key)        # None until cache.store(key, ...)        # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        if not os.fspath(root):
            raise ConfigError("cache_dir is empty; name a folder (or leave it out to keep studies in memory)")
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise ConfigError(f"cache_dir {self.root}: cannot be used as a cache folder ({why})") from None
        self._remove_stale_temporaries()

    def key(self, folder: str | os.PathLike[str], sequences: list[str], normalization: str) -> str:
        """The entry name for a study folder read with ``sequences`` and ``normalization``.

        Lists the folder's files, so a changed study (or a link pointed elsewhere) gets another key.
        """
        source = Path(folder).resolve()
        record = {"format": FORMAT_VERSION, "maerad": maerad.__version__, "folder": str(source),
                  "files": _file_states(source), "sequences": list(sequences), "normalization": normalization}
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()[:32]

    def load(self, key: str) -> CachedStudy | None:
        """The entry ``key``, memory-mapped; ``None`` when there is none.

        Raises:
            InputError: the entry exists but cannot be read or does not hold what its record says
                (changed or damaged from outside maerad): the message names it, to be deleted.
        """
        entry = self.root / key
        if not entry.is_dir():
            return None
        try:
            meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
            image = _map_npy(entry / "image.npy")
            labels = _map_npy(entry / "labels.npy") if meta["has_labels"] else None
            affine = np.array(meta["affine"], dtype=np.float64)
            spacing = tuple(float(s) for s in meta["spacing"])
            recorded = tuple(int(n) for n in meta["shape"])
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise InputError(f"study cache entry {entry} cannot be read ({exc}); delete it (or the whole "
                             "cache folder) and it is built again") from None
        fits = (image.dtype == np.float32 and image.shape == recorded and len(recorded) == 4
                and affine.shape == (4, 4) and len(spacing) == 3
                and (labels is None or (labels.dtype == _LABEL_DTYPE and labels.shape == recorded[1:])))
        if not fits:
            raise InputError(f"study cache entry {entry} does not hold the normalised study its meta.json "
                             "describes; delete it (or the whole cache folder) and it is built again")
        return CachedStudy(image=image, labels=labels, affine=affine, spacing=spacing)

    def store(self, key: str, study: CachedStudy, *, source: str | os.PathLike[str] = "") -> CachedStudy:
        """Write ``study`` as entry ``key`` and return it memory-mapped from there.

        When another process wrote the same entry meanwhile, its copy is kept and returned (both hold the
        same arrays: the key decides them).

        Raises:
            ConfigError: the entry cannot be written (no permission, disk full, ...); nothing is left.
        """
        image = np.ascontiguousarray(study.image, dtype=np.float32)
        labels = None if study.labels is None else np.ascontiguousarray(study.labels, dtype=_LABEL_DTYPE)
        meta: dict[str, Any] = {"format": FORMAT_VERSION, "maerad": maerad.__version__,
                                "source": str(Path(source).resolve()) if os.fspath(source) else "",
                                "shape": list(image.shape), "has_labels": labels is not None,
                                "affine": np.asarray(study.affine, dtype=np.float64).tolist(),
                                "spacing": [float(s) for s in study.spacing]}
        tmp: Path | None = None
        try:
            tmp = self._new_temporary(key)
            _write_synced(tmp / "image.npy", lambda f: np.save(f, image))
            if labels is not None:
                _write_synced(tmp / "labels.npy", lambda f: np.save(f, labels))
            _write_synced(tmp / "meta.json", lambda f: f.write((json.dumps(meta) + "\n").encode("utf-8")))
            try:
                os.rename(tmp, self.root / key)  # refuses an existing entry: the first writer's stays
            except OSError:
                if not (self.root / key).is_dir():
                    raise
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise ConfigError(f"cache_dir {self.root}: cannot write the entry of {source or key} ({why})"
                              ) from None
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        loaded = self.load(key)
        assert loaded is not None  # just written, by this process or another
        return loaded

    def _new_temporary(self, key: str) -> Path:
        """An empty ``.<key>.<hex>.tmp`` folder with the umask's permissions (``tempfile``'s 0700
        would lock the rest of a group out of the entry)."""
        while True:
            path = self.root / f".{key}.{secrets.token_hex(4)}.tmp"
            try:
                path.mkdir(mode=0o777)
            except FileExistsError:
                continue
            return path

    def _remove_stale_temporaries(self) -> None:
        """Remove temporary folders of entries whose writer was killed (older than an hour: a live
        writer's folder is younger)."""
        now = time.time()
        for path in self.root.glob(".*.tmp"):
            try:
                if path.is_dir() and now - path.stat().st_mtime > _STALE_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue  # removed by another process meanwhile


def _file_states(source: Path) -> list[list[Any]]:
    """``[name, resolved target, inode, size, mtime_ns]`` of every file below ``source``, following
    links to folders and files (as the study readers do) and visiting each real folder once."""
    states: list[list[Any]] = []
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(source, followlinks=True):
        info = os.stat(dirpath)
        if (info.st_dev, info.st_ino) in seen:  # a link back to a folder already listed
            dirnames.clear()
            continue
        seen.add((info.st_dev, info.st_ino))
        for name in filenames:
            path = Path(dirpath, name)
            relative = str(path.relative_to(source))
            try:
                state = path.stat()
            except OSError:
                states.append([relative, "unreadable"])  # e.g. a broken link
                continue
            states.append([relative, str(path.resolve()), state.st_ino, state.st_size, state.st_mtime_ns])
    states.sort()
    return states


def _map_npy(path: Path) -> np.ndarray:
    """A C-ordered native ``.npy`` file mapped copy-on-write (writable; writes stay in this process),
    through torch's file mapping, which closes its file once mapped (NumPy's memmap keeps one open per
    array)."""
    with open(path, "rb") as f:
        if npy_format.read_magic(f) == (1, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_1_0(f)
        else:
            shape, fortran_order, dtype = npy_format.read_array_header_2_0(f)
        offset = f.tell()
    if fortran_order or dtype not in (np.dtype(np.float32), _LABEL_DTYPE):
        raise ValueError(f"{path.name} holds {dtype}{' in Fortran order' if fortran_order else ''}")
    size = os.path.getsize(path)
    if size != offset + int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path.name} has {size} bytes, its header promises {offset} + {shape} x {dtype}")
    raw = torch.from_file(str(path), shared=False, size=size, dtype=torch.uint8)
    torch_dtype = torch.float32 if dtype == np.float32 else torch.int16
    return raw[offset:].view(torch_dtype).reshape(shape).numpy()


def _write_synced(path: Path, write: Callable[[BinaryIO], object]) -> None:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())  # complete on disk before the entry is renamed into sight
