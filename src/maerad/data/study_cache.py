"""A folder of normalised studies on disk, memory-mapped: studies shared by processes, kept across runs.

:class:`~maerad.data.datasets.StudyDataset` normally keeps every loaded study in the memory of its own
process: with ``torchrun`` each process holds a copy, a dataset larger than memory cannot be trained
on, and every run decodes and normalises every study again (NIfTI / DICOM decoding, percentiles).
With a cache folder, each study is decoded and normalised once and written as ``.npy`` files; later
loads map those files read-only (:func:`numpy.load` with ``mmap_mode="r"``), so the operating system's
page cache holds one copy for every process and pages studies in and out as memory allows. Read-only
shared maps count against neither the memory commit limit nor the process's private memory. Each map
keeps its file open, so opening a cache raises the process's soft open-file limit to its hard one
(``ulimit -Hn``, often hundreds of thousands; the default soft limit of 1,024 would stop a dataset at
about 500 studies); a hard limit too low for the dataset is a :class:`~maerad.errors.ConfigError` that
says so.

An entry is found by a key over what decides its arrays: the study folder's resolved path; every
file below it (symbolic links followed, as the readers follow them) by name, resolved target, inode,
size and modification time; the sequences (in channel order); the normalisation; and maerad's version.
Changing a study's files gives it a new entry; the old one stays until the folder is deleted (entries
are never modified, so deleting the whole folder between runs is safe).

Entries are written to a temporary folder and renamed into place, so a reader never sees half an
entry, and processes that build the same entry at once (every rank of a first ``torchrun`` run) keep
whichever was renamed first. Folders and files get the permissions a plain ``mkdir`` / ``open`` gives
under the umask, so a group can share a cache. Temporary folders left by a killed process are removed
by the next cache opened on the folder once they are a day old (a live writer's is seconds old).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

import maerad
from maerad.atomic import fsync_path
from maerad.errors import ConfigError, InputError

__all__ = ["CachedStudy", "StudyCache"]

#: Bumped whenever the arrays an entry holds would differ for the same key within one maerad version.
FORMAT_VERSION = 1

#: Age after which a temporary folder counts as left behind by a killed process (writing one entry
#: takes seconds; a day leaves room for clocks that disagree, e.g. on network file systems).
_STALE_SECONDS = 24 * 3600.0

#: The name of an entry's temporary folder: ``.<key>.<8 hex>.tmp`` (nothing else is ever removed).
_TEMPORARY = re.compile(r"\.[0-9a-f]{32}\.[0-9a-f]{8}\.tmp")

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
        _raise_open_file_limit()  # every mapped array keeps its file open
        self._remove_stale_temporaries()

    def key(self, folder: str | os.PathLike[str], sequences: list[str], normalization: str) -> str:
        """The entry name for a study folder read with ``sequences`` and ``normalization``.

        Lists the folder's files, so a changed study (or a link pointed elsewhere) gets another key.
        """
        source = Path(folder).resolve()
        try:
            files = _file_states(source)
        except OSError as exc:  # out of file descriptors: _file_states records other failures
            raise ConfigError(_resource_message(exc)) from None
        record = {"format": FORMAT_VERSION, "maerad": maerad.__version__, "folder": str(source),
                  "files": files, "sequences": list(sequences), "normalization": normalization}
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()[:32]

    def load(self, key: str, *, channels: int | None = None) -> CachedStudy | None:
        """The entry ``key``, memory-mapped; ``None`` when there is none.

        Args:
            key: the entry's name (:meth:`key`).
            channels: the image channels the entry must hold (the key's sequences), when known.

        Raises:
            InputError: the entry exists but cannot be read or does not hold what its record (or
                ``channels``) says: changed or damaged from outside maerad; the message names it, to be
                deleted.
            ConfigError: the cache folder cannot be read, or the system refuses another map.
        """
        entry = self.root / key
        try:
            if not entry.is_dir():
                return None
        except OSError as exc:
            raise ConfigError(f"cache_dir {self.root}: cannot be read ({exc.strerror or exc})") from None
        try:
            meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
            image = np.load(entry / "image.npy", mmap_mode="r")
            labels = np.load(entry / "labels.npy", mmap_mode="r") if meta["has_labels"] else None
            affine = np.array(meta["affine"], dtype=np.float64)
            spacing = tuple(float(s) for s in meta["spacing"])
            recorded = tuple(int(n) for n in meta["shape"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRORS:
                raise ConfigError(_resource_message(exc)) from None
            raise _damaged(entry, f"cannot be read ({exc})") from None
        fits = (image.dtype == np.float32 and image.shape == recorded and len(recorded) == 4
                and image.flags.c_contiguous and affine.shape == (4, 4) and len(spacing) == 3
                and (labels is None or (labels.dtype == _LABEL_DTYPE and labels.shape == recorded[1:]
                                        and labels.flags.c_contiguous)))
        if not fits:
            raise _damaged(entry, "does not hold the normalised study its meta.json describes")
        if channels is not None and image.shape[0] != channels:
            raise _damaged(entry, f"holds {image.shape[0]} channels, not the {channels} its key names")
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
            fsync_path(tmp, directory=True)  # the folder's entries on disk before it comes into sight
            try:
                os.rename(tmp, self.root / key)  # refuses an existing entry: the first writer's stays
            except OSError:
                if not (self.root / key).is_dir():
                    raise
            fsync_path(self.root, directory=True)  # and the rename itself
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
        """Remove the temporary folders of entries whose writer was killed: named as
        :meth:`_new_temporary` names them and a day old (a live writer's is seconds old)."""
        now = time.time()
        try:
            names = [name for name in os.listdir(self.root) if _TEMPORARY.fullmatch(name)]
        except OSError:
            return  # unreadable: load() says so
        for name in names:
            path = self.root / name
            try:
                if path.is_dir() and not path.is_symlink() and now - path.stat().st_mtime > _STALE_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue  # removed by another process meanwhile


def _damaged(entry: Path, what: str) -> InputError:
    return InputError(f"study cache entry {entry} {what}; delete it (or the whole cache folder) and it is "
                      "built again")


def _file_states(source: Path) -> list[list[Any]]:
    """``[name, resolved target, inode, size, mtime_ns]`` of every file below ``source``, following
    links to folders and files (more than the readers need, never less) and visiting each real folder
    once."""
    states: list[list[Any]] = []
    seen: set[tuple[int, int]] = set()

    def visit(folder: str, relative: str) -> None:
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:  # a link back to a folder already listed
                return
            seen.add((info.st_dev, info.st_ino))
            real = os.path.realpath(folder)  # once per folder: resolving every file costs 10x the stat
            entries = list(os.scandir(folder))
        except OSError as exc:
            if exc.errno in _RESOURCE_ERRORS:
                raise  # not the study's doing: key() says what to do
            states.append([relative, "unreadable"])
            return
        for item in entries:
            name = f"{relative}/{item.name}" if relative else item.name
            try:
                if item.is_dir():
                    visit(item.path, name)
                    continue
                state = item.stat()
                target = os.path.realpath(item.path) if item.is_symlink() else os.path.join(real, item.name)
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRORS:
                    raise
                states.append([name, "unreadable"])  # e.g. a broken link, or gone meanwhile
                continue
            states.append([name, target, state.st_ino, state.st_size, state.st_mtime_ns])

    visit(str(source), "")
    states.sort()
    return states


def _raise_open_file_limit() -> None:
    """Raise this process's soft open-file limit to its hard limit, as far as the system allows (a limit
    still too low shows later as a ConfigError from :func:`_resource_message`)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target <= soft:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # e.g. above the system's own ceiling (macOS)
        return


def _resource_message(exc: OSError) -> str:
    """What to do when the operating system refuses another map (the entry itself is fine)."""
    if exc.errno == errno.ENOMEM:
        return ("the study cache cannot map another study (out of address space or of memory maps: "
                "raise vm.max_map_count, or use fewer studies per process)")
    return ("the study cache keeps one open file per mapped array (two per study with a label map), "
            "and the open-file limit is reached even at its hard limit; raise it (ulimit -Hn, or "
            "LimitNOFILE for a service), or use fewer studies per process")


_RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOMEM)


def _write_synced(path: Path, write: Callable[[BinaryIO], object]) -> None:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())  # complete on disk before the entry is renamed into sight
