"""The optional maerad ↔ SNOMED CT mapping file (``data/snomed-mapping.tsv``, SPEC §6.1).

SNOMED CT identifiers are kept out of the ontology: using them needs the user's own SNOMED CT licence
(the file's header carries the attribution and licence note). Rows are ``mr_id, sctid, relation,
label, sources``; ``same_as`` rows link a maerad concept to the SNOMED CT concept that means the same
thing, ``related`` rows record a broader or otherwise related SNOMED CT code (``"mass"`` for
``MR:F001``) and only add it to the concept's codes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from maerad.errors import InputError
from maerad.terminology.bundled import SNOMED_MAPPING
from maerad.terminology.graph import TermGraph

__all__ = ["MappingRow", "SnomedMapping", "load_snomed_mapping"]

_HEADER = ["mr_id", "sctid", "relation", "label", "sources"]
_SCTID = re.compile(r"^[1-9]\d{5,17}$")


@dataclass(frozen=True)
class MappingRow:
    """One mapping row (``line``: its line number in the file)."""

    mr_id: str
    sctid: str
    relation: Literal["same_as", "related"]
    label: str
    sources: tuple[str, ...]
    line: int

    @property
    def snomed_id(self) -> str:
        """The SNOMED CT concept as a graph id (``"SCTID:35039007"``)."""
        return f"SCTID:{self.sctid}"


@dataclass(frozen=True)
class SnomedMapping:
    """A parsed mapping file."""

    rows: tuple[MappingRow, ...]
    source: str

    def same_as(self) -> list[tuple[str, str]]:
        """``(mr_id, "SCTID:<id>")`` pairs of the ``same_as`` rows."""
        return [(r.mr_id, r.snomed_id) for r in self.rows if r.relation == "same_as"]

    def codes(self) -> list[tuple[str, str, str]]:
        """``(mr_id, "SNOMED", sctid)`` for every row."""
        return [(r.mr_id, "SNOMED", r.sctid) for r in self.rows]

    def missing(self, bundled: TermGraph, snomed: TermGraph) -> tuple[MappingRow, ...]:
        """Rows whose maerad id is not in ``bundled`` or whose SNOMED CT id is not in ``snomed``."""
        return tuple(r for r in self.rows if r.mr_id not in bundled or r.snomed_id not in snomed)

    def merge(self, bundled: TermGraph, snomed: TermGraph) -> TermGraph:
        """``bundled`` and ``snomed`` joined through this mapping (see :meth:`TermGraph.merge`)."""
        return bundled.merge(snomed, self.same_as(), self.codes())


def load_snomed_mapping(path: str | os.PathLike[str] | None = None) -> SnomedMapping:
    """Read a mapping file (default: the bundled one).

    Raises:
        InputError: unreadable file, wrong header, or a row with a malformed value (file and line named).
    """
    path = Path(path) if path is not None else SNOMED_MAPPING
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the SNOMED CT mapping ({exc})") from exc
    rows: list[MappingRow] = []
    header_seen = False
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if not header_seen:
            if cells != _HEADER:
                raise InputError(f"{path}:{number}: expected the header {' '.join(_HEADER)} (tab-separated)")
            header_seen = True
            continue
        if len(cells) != len(_HEADER):
            raise InputError(
                f"{path}:{number}: expected {len(_HEADER)} tab-separated columns, got {len(cells)}"
            )
        mr_id, sctid, relation, label, sources = (c.strip() for c in cells)
        if not mr_id:
            raise InputError(f"{path}:{number}: mr_id is empty")
        if not _SCTID.match(sctid):
            raise InputError(
                f"{path}:{number}: sctid must be a SNOMED CT identifier (6-18 digits), got {sctid!r}"
            )
        if relation not in ("same_as", "related"):
            raise InputError(f"{path}:{number}: relation must be same_as or related, got {relation!r}")
        rows.append(
            MappingRow(
                mr_id,
                sctid,
                cast(Literal["same_as", "related"], relation),
                label,
                tuple(sources.split()),
                number,
            )
        )
    if not header_seen:
        raise InputError(f"{path}: no header line ({' '.join(_HEADER)})")
    return SnomedMapping(tuple(rows), str(path))
