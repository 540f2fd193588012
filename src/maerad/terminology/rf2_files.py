"""Locate the files of a SNOMED CT RF2 *Snapshot* in a release folder or zip, and read their rows.

A release (``SnomedCT_InternationalRF2_PRODUCTION_<date>``, or a national / extension release) holds
``Snapshot/Terminology/sct2_Concept_Snapshot_*.txt``, ``sct2_Description_Snapshot-<lang>_*.txt`` (one
per language), ``sct2_Relationship_Snapshot_*.txt`` (inferred; the *stated* file is not used) and
``Snapshot/Refset/Language/der2_cRefset_LanguageSnapshot-<lang>_*.txt``. Files are found by name
anywhere below the given path, so the user's own folder layout works too. Files are UTF-8,
tab-separated, with a header row; every header is checked before any row is read.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from maerad.errors import InputError

__all__ = ["COLUMNS", "Rf2Files", "Rf2Source", "find_rf2_files"]

COLUMNS = {
    "concept": ("id", "effectiveTime", "active", "moduleId", "definitionStatusId"),
    "description": (
        "id",
        "effectiveTime",
        "active",
        "moduleId",
        "conceptId",
        "languageCode",
        "typeId",
        "term",
        "caseSignificanceId",
    ),
    "relationship": (
        "id",
        "effectiveTime",
        "active",
        "moduleId",
        "sourceId",
        "destinationId",
        "relationshipGroup",
        "typeId",
        "characteristicTypeId",
        "modifierId",
    ),
    "language": (
        "id",
        "effectiveTime",
        "active",
        "moduleId",
        "refsetId",
        "referencedComponentId",
        "acceptabilityId",
    ),
}
_PATTERNS = {
    "concept": re.compile(r"^sct2_Concept_Snapshot[_-].*\.txt$"),
    "description": re.compile(r"^sct2_Description_Snapshot[_-].*\.txt$"),
    "relationship": re.compile(r"^sct2_Relationship_Snapshot[_-].*\.txt$"),
    "language": re.compile(r"^der2_cRefset_LanguageSnapshot.*\.txt$"),
}


@dataclass(frozen=True)
class Rf2Source:
    """One RF2 file inside a folder (``zip_path`` None) or a zip archive."""

    kind: str
    name: str
    size: int
    mtime_ns: int
    path: Path
    zip_path: Path | None = None

    def rows(self) -> Iterator[list[str]]:
        """The data rows (header checked and skipped), each split on tabs.

        Raises:
            InputError: unreadable file, wrong header, or a row with the wrong number of columns.
        """
        expected = COLUMNS[self.kind]
        where = f"{self.zip_path}!{self.name}" if self.zip_path else str(self.path)
        try:
            with self._open() as fh:
                header = fh.readline().rstrip("\r\n").lstrip("\ufeff").split("\t")
                if tuple(header) != expected:
                    raise InputError(
                        f"{where}: header {header[:10]} is not an RF2 {self.kind} header "
                        f"({', '.join(expected)})"
                    )
                width = len(expected)
                for number, line in enumerate(fh, start=2):
                    row = line.rstrip("\r\n").split("\t")
                    if len(row) != width:
                        if not line.strip():
                            continue
                        raise InputError(
                            f"{where}:{number}: expected {width} tab-separated columns, got {len(row)}"
                        )
                    yield row
        except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
            raise InputError(f"{where}: cannot read RF2 file ({exc})") from exc

    @contextlib.contextmanager
    def _open(self) -> Iterator[io.TextIOBase]:
        if self.zip_path is None:
            with open(self.path, encoding="utf-8", newline="") as fh:
                yield fh
            return
        with (
            zipfile.ZipFile(self.zip_path) as archive,
            archive.open(self.name) as raw,
            io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh,
        ):
            yield fh


@dataclass(frozen=True)
class Rf2Files:
    """The files of one snapshot, with a fingerprint for cache validation."""

    root: Path
    concept: Rf2Source
    descriptions: tuple[Rf2Source, ...]
    relationship: Rf2Source
    languages: tuple[Rf2Source, ...]

    def all(self) -> tuple[Rf2Source, ...]:
        """Every file, in a fixed order."""
        return (self.concept, *self.descriptions, self.relationship, *self.languages)

    def fingerprint(self) -> list[list[object]]:
        """``[name, size, mtime_ns]`` of every file (a changed file invalidates a cache)."""
        return [[s.name, s.size, s.mtime_ns] for s in self.all()]


def find_rf2_files(path: str | os.PathLike[str]) -> Rf2Files:
    """Find the snapshot files below ``path`` (a release folder or a ``.zip``).

    Raises:
        InputError: ``path`` does not exist, or a required file is missing or ambiguous.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise InputError(f"{root}: SNOMED CT release folder or zip not found")
    found: dict[str, list[Rf2Source]] = {k: [] for k in _PATTERNS}
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise InputError(f"{root}: expected a SNOMED CT release folder or .zip archive")
        stat = root.stat()
        with zipfile.ZipFile(root) as archive:
            for info in archive.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                for kind, pattern in _PATTERNS.items():
                    if (
                        pattern.match(base)
                        and "/Full/" not in f"/{info.filename}"
                        and "/Delta/" not in f"/{info.filename}"
                    ):
                        found[kind].append(
                            Rf2Source(kind, info.filename, info.file_size, stat.st_mtime_ns, root, root)
                        )
    else:
        for file in sorted(root.rglob("*.txt")):
            parts = set(file.relative_to(root).parts[:-1])
            if "Full" in parts or "Delta" in parts:
                continue
            for kind, pattern in _PATTERNS.items():
                if pattern.match(file.name):
                    stat = file.stat()
                    found[kind].append(
                        Rf2Source(kind, str(file.relative_to(root)), stat.st_size, stat.st_mtime_ns, file)
                    )
    for kind in ("concept", "relationship"):
        if len(found[kind]) != 1:
            what = "no" if not found[kind] else f"{len(found[kind])}"
            raise InputError(
                f"{root}: {what} RF2 {kind} snapshot file found (expected exactly one file named like "
                f"{_example(kind)})"
            )
    for kind in ("description", "language"):
        if not found[kind]:
            raise InputError(
                f"{root}: no RF2 {kind} snapshot file found (expected files named like {_example(kind)})"
            )
    return Rf2Files(
        root,
        found["concept"][0],
        tuple(found["description"]),
        found["relationship"][0],
        tuple(found["language"]),
    )


def _example(kind: str) -> str:
    return {
        "concept": "sct2_Concept_Snapshot_INT_20240101.txt",
        "relationship": "sct2_Relationship_Snapshot_INT_20240101.txt",
        "description": "sct2_Description_Snapshot-en_INT_20240101.txt",
        "language": "der2_cRefset_LanguageSnapshot-en_INT_20240101.txt",
    }[kind]
