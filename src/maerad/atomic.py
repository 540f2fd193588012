"""Atomic writes: a file or folder appears complete or not at all.

A crash (or Ctrl-C) half-way through writing never leaves a truncated output behind: data is written
to a temporary sibling first and moved into place with :func:`os.replace`, which is atomic on POSIX
and Windows when source and target are on the same file system.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "aside_name",
    "atomic_directory",
    "atomic_path",
    "fsync_path",
    "interrupted_swaps",
    "unwritable_reason",
    "write_bytes_atomic",
    "write_text_atomic",
]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only if the block succeeds.

    The temporary name keeps the target's suffixes so that libraries choosing a format from the file
    name (nibabel's ``.nii.gz``, matplotlib's ``.png``) behave as they would on the real name.

    Examples::

        with atomic_path("out/t2w.nii.gz") as tmp:
            nibabel.save(img, tmp)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_sibling(target, ".tmp" + "".join(target.suffixes), directory=False)
    mode = stat.S_IMODE(tmp.stat().st_mode)  # what the umask gives a new file
    try:
        yield tmp
        _set_mode(tmp, mode)  # a writer may have replaced it with a private file (safetensors writes 0600)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _new_sibling(target: Path, suffix: str, *, directory: bool) -> Path:
    """Create an empty file or folder ``.<name>.XXXXXXXX<suffix>`` beside ``target``, with the
    permissions a plain ``open`` / ``mkdir`` gives under the current umask (``tempfile``'s 0600 / 0700
    would make every output unreadable to the rest of a lab's group)."""
    for _ in range(100):
        path = target.with_name(f".{target.name}.{secrets.token_hex(4)}{suffix}")
        try:
            if directory:
                path.mkdir(mode=0o777)
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name beside {target}")


def unwritable_reason(target: str | os.PathLike[str], *, folder: bool) -> str | None:
    """Why ``target`` (a file, or with ``folder`` a folder) could not be written, else ``None``: a
    part of its path that exists as a file, or a file target that exists as a folder. Cheap, for
    refusing an output path before hours of work rather than when writing it."""
    target = Path(target)
    for part in (target, *target.parents) if folder else target.parents:
        if part.exists() and not part.is_dir():
            return f"{part} is a file, not a folder"
    if not folder and target.is_dir():
        return f"{target} is a folder, not a file"
    return None


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def fsync_path(path: Path, *, directory: bool) -> None:
    """Flush ``path`` to disk; a no-op where the platform cannot (directories on Windows, some FUSE)."""
    flags = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if directory else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _set_file_modes(root: Path, mode: int) -> None:
    """Give every file below ``root`` the umask's permissions: some writers create private files
    (safetensors writes 0600), which would hide checkpoints from the rest of a lab's group."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                _set_mode(path, mode)


def _set_mode(path: Path, mode: int) -> None:
    """``chmod`` where it is needed and possible (some network mounts refuse it: the write still counts)."""
    with contextlib.suppress(OSError):
        if stat.S_IMODE(path.stat().st_mode) != mode:
            os.chmod(path, mode)


def _fsync_tree(root: Path) -> None:
    """fsync every file below ``root``, then the folders bottom-up, so the tree is on disk before a rename."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            fsync_path(Path(dirpath, name), directory=False)
        fsync_path(Path(dirpath), directory=True)


def aside_name(target: Path, pid: int | None = None) -> Path:
    """Where :func:`atomic_directory` parks the old ``target`` during a swap: ``.<name>.old-<pid>``."""
    return target.with_name(f".{target.name}.old-{os.getpid() if pid is None else pid}")


def interrupted_swaps(target: str | os.PathLike[str]) -> list[Path]:
    """Old copies of ``target`` that an interrupted :func:`atomic_directory` swap left aside, newest first.

    A crash between moving the old folder aside and moving the new one in leaves only
    ``.<name>.old-<pid>``; it holds the previous complete contents of ``target``.
    """
    target = Path(target)
    pattern = _aside_pattern(target)
    try:
        found = [p for p in target.parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir()]
    except OSError:
        return []
    return sorted(found, key=_mtime, reverse=True)


def _aside_pattern(target: Path) -> re.Pattern[str]:
    """The names :func:`aside_name` gives ``target``'s old copies, for any pid."""
    return re.compile(re.escape(f".{target.name}.old-") + r"\d+")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove_leftovers(target: Path) -> None:
    """Delete ``target``'s temporary and aside siblings left by earlier interrupted writes."""
    # _new_sibling adds 8 hex characters; matching exactly keeps ``a`` from touching ``a.b``'s files
    tmp_re = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}\.tmp")
    old_re = _aside_pattern(target)
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return
    for path in siblings:
        is_leftover = tmp_re.fullmatch(path.name) or old_re.fullmatch(path.name)
        if is_leftover and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; rename it to ``target`` only if the block succeeds.

    With ``overwrite=True`` an existing ``target`` is replaced (it is removed only after the new
    folder is complete). Without it, an existing ``target`` raises :class:`FileExistsError`.

    The new folder's files are fsynced before the swap. Replacing a folder takes two renames (old
    aside to ``.<name>.old-<pid>``, new in); a crash between them leaves the old copy aside, which
    :func:`interrupted_swaps` finds. Temporary and aside folders left by interrupted writes of the same
    ``target`` are removed after the next successful one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists")
    tmp = _new_sibling(target, ".tmp", directory=True)
    file_mode = stat.S_IMODE(tmp.stat().st_mode) & 0o666  # what the umask gives a new file
    try:
        yield tmp
        _set_file_modes(tmp, file_mode)
        _fsync_tree(tmp)
        if target.exists():
            old = aside_name(target)
            if old.exists():  # stale, e.g. a reused pid; target is complete, so it is redundant
                shutil.rmtree(old)
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):  # put the old copy back; if that fails it stays aside
                    os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        fsync_path(target.parent, directory=True)  # make the renames themselves durable
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_leftovers(target)
