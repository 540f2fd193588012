"""Load a SNOMED CT RF2 snapshot (the user's own licensed release) as a :class:`TermGraph`.

What is kept: active concepts; active inferred ``116680003 |Is a|`` relationships between active
concepts; active fully specified names and synonyms of active concepts that an active row of a
selected language reference set marks preferred or acceptable. With several language refsets, the
first one in ``language_refsets`` that lists a description decides its acceptability (default order:
US English, GB English, then every other refset found, by id).

The first load parses the text files (about 15–30 s for a full international release); pass
``cache_dir`` and later loads read compact numpy arrays instead (see ``maerad.terminology.rf2_store``).

Examples::

    from maerad.terminology import load_bundled, load_rf2, load_snomed_mapping
    snomed = load_rf2("SnomedCT_InternationalRF2_PRODUCTION_20240101T120000Z.zip", cache_dir="~/.cache/sct")
    merged = load_snomed_mapping().merge(load_bundled(), snomed)
    merged.subsumes("SCTID:<a body structure>", "MR:A001")
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from maerad.errors import InputError
from maerad.terminology.graph import TermGraph
from maerad.terminology.rf2_files import Rf2Files, Rf2Source, find_rf2_files
from maerad.terminology.rf2_store import (
    ACCEPT_ACCEPTABLE,
    ACCEPT_PREFERRED,
    KIND_FSN,
    KIND_SYNONYM,
    Rf2Snapshot,
    load_rf2_cache,
    read_cache_meta,
    save_rf2_cache,
)

__all__ = [
    "ACCEPTABLE",
    "FSN",
    "GB_ENGLISH",
    "IS_A",
    "PREFERRED",
    "SYNONYM",
    "US_ENGLISH",
    "import_rf2",
    "load_rf2",
    "parse_rf2",
]

IS_A = "116680003"
FSN = "900000000000003001"
SYNONYM = "900000000000013009"
PREFERRED = "900000000000548007"
ACCEPTABLE = "900000000000549004"
US_ENGLISH = "900000000000509007"
GB_ENGLISH = "900000000000508004"


def load_rf2(
    path: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    language_refsets: Sequence[str] | None = None,
) -> TermGraph:
    """Load a snapshot (release folder or zip) as a graph, using or refreshing a cache when given.

    A cache is used when its fingerprint (file names, sizes, modification times) and refset choice
    match the release; otherwise the release is parsed and the cache rewritten.

    Raises:
        InputError: missing files, malformed rows, or an unreadable cache.
    """
    files = find_rf2_files(path)
    if cache_dir is not None:
        meta = read_cache_meta(cache_dir)
        if (
            meta is not None
            and meta.get("fingerprint") == files.fingerprint()
            and meta.get("requested_refsets") == (list(language_refsets) if language_refsets else None)
        ):
            return load_rf2_cache(cache_dir).to_graph()
    snapshot = parse_rf2(files, language_refsets=language_refsets)
    if cache_dir is not None:
        save_rf2_cache(snapshot, cache_dir)
    return snapshot.to_graph()


def import_rf2(
    path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    *,
    language_refsets: Sequence[str] | None = None,
) -> Rf2Snapshot:
    """Parse a release and write its cache to ``cache_dir`` (what ``maerad terms import-rf2`` runs)."""
    snapshot = parse_rf2(find_rf2_files(path), language_refsets=language_refsets)
    save_rf2_cache(snapshot, cache_dir)
    return snapshot


def parse_rf2(
    files: Rf2Files | str | os.PathLike[str], *, language_refsets: Sequence[str] | None = None
) -> Rf2Snapshot:
    """Parse the snapshot files into arrays (see the module docstring for what is kept)."""
    if not isinstance(files, Rf2Files):
        files = find_rf2_files(files)
    started = time.perf_counter()
    concept_ids = _active_concepts(files.concept)
    child, parent = _is_a_links(files.relationship, concept_ids)
    refsets, accept = _acceptability(files.languages, language_refsets)
    ptr, kind, acceptability, lang, offsets, blob, langs = _descriptions(
        files.descriptions, concept_ids, accept
    )
    snapshot = Rf2Snapshot(concept_ids, child, parent, ptr, kind, acceptability, lang, offsets, blob, langs)
    snapshot.meta = {
        "source": str(Path(files.root).resolve()),
        "fingerprint": files.fingerprint(),
        "requested_refsets": list(language_refsets) if language_refsets else None,
        "language_refsets": refsets,
        "counts": {"concepts": len(concept_ids), "is_a": len(child), "descriptions": len(snapshot.desc_kind)},
        "parse_seconds": round(time.perf_counter() - started, 3),
    }
    return snapshot


def _active_concepts(source: Rf2Source) -> np.ndarray:
    ids: list[int] = []
    for row in source.rows():
        if row[2] == "1":
            ids.append(_int(row[0], source))
    arr = np.array(ids, dtype=np.int64)
    arr.sort()
    if len(arr) > 1 and bool(np.any(arr[1:] == arr[:-1])):
        raise InputError(
            f"{source.path}: concept ids repeat; pass a Snapshot release, not a Full or Delta one"
        )
    return arr


def _is_a_links(source: Rf2Source, concept_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    src: list[int] = []
    dst: list[int] = []
    for row in source.rows():
        if row[2] == "1" and row[7] == IS_A:
            src.append(_int(row[4], source))
            dst.append(_int(row[5], source))
    child, parent = (
        _rows_of(np.array(src, dtype=np.int64), concept_ids),
        _rows_of(np.array(dst, dtype=np.int64), concept_ids),
    )
    keep = (child >= 0) & (parent >= 0) & (child != parent)
    pairs = (
        np.unique(np.stack([child[keep], parent[keep]], axis=1), axis=0) if keep.any() else np.zeros((0, 2))
    )
    return pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int32)


def _acceptability(
    sources: Sequence[Rf2Source], wanted: Sequence[str] | None
) -> tuple[list[str], dict[int, int]]:
    rows: list[tuple[str, int, int]] = []
    for source in sources:
        for row in source.rows():
            if row[2] == "1" and row[6] in (PREFERRED, ACCEPTABLE):
                rows.append(
                    (
                        row[4],
                        _int(row[5], source),
                        ACCEPT_PREFERRED if row[6] == PREFERRED else ACCEPT_ACCEPTABLE,
                    )
                )
    present = sorted({r[0] for r in rows})
    if wanted:
        missing = [r for r in wanted if r not in present]
        if missing:
            raise InputError(
                f"{sources[0].path}: language refset(s) {', '.join(missing)} not found in the release "
                f"(found: {', '.join(present) or 'none'})"
            )
        order = list(wanted)
    else:
        order = [r for r in (US_ENGLISH, GB_ENGLISH) if r in present] + [
            r for r in present if r not in (US_ENGLISH, GB_ENGLISH)
        ]
    rank = {r: i for i, r in enumerate(order)}
    best: dict[int, tuple[int, int]] = {}
    for refset, desc_id, value in rows:
        r = rank.get(refset)
        if r is not None and (desc_id not in best or r < best[desc_id][0]):
            best[desc_id] = (r, value)
    return order, {d: v for d, (_, v) in best.items()}


_Descriptions = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int8],
    npt.NDArray[np.int8],
    npt.NDArray[np.int8],
    npt.NDArray[np.int64],
    npt.NDArray[np.uint8],
    list[str],
]


def _descriptions(
    sources: Sequence[Rf2Source], concept_ids: npt.NDArray[np.int64], accept: dict[int, int]
) -> _Descriptions:
    owner: list[int] = []
    kinds: list[int] = []
    accepts: list[int] = []
    langs: list[int] = []
    terms: list[bytes] = []
    lang_codes: list[str] = []
    seen_ids: list[int] = []
    for source in sources:
        for row in source.rows():
            if row[2] != "1" or row[6] not in (FSN, SYNONYM):
                continue
            desc_id = _int(row[0], source)
            value = accept.get(desc_id)
            if value is None:
                continue
            seen_ids.append(desc_id)
            code = row[5].strip().lower() or "en"
            if code not in lang_codes:
                lang_codes.append(code)
            owner.append(_int(row[4], source))
            kinds.append(KIND_FSN if row[6] == FSN else KIND_SYNONYM)
            accepts.append(value)
            langs.append(lang_codes.index(code))
            terms.append(row[7].encode("utf-8"))
    ids = np.array(seen_ids, dtype=np.int64)
    if len(ids) > 1 and len(np.unique(ids)) != len(ids):
        raise InputError(
            f"{sources[0].path}: description ids repeat; pass a Snapshot release, not a Full one"
        )
    rows = _rows_of(np.array(owner, dtype=np.int64), concept_ids)
    keep = np.flatnonzero(rows >= 0)
    order = keep[np.argsort(rows[keep], kind="stable")]
    kept_rows = rows[order]
    ptr = np.zeros(len(concept_ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(kept_rows, minlength=len(concept_ids)), out=ptr[1:])
    ordered_terms = [terms[i] for i in order.tolist()]
    offsets = np.zeros(len(ordered_terms) + 1, dtype=np.int64)
    np.cumsum(
        np.fromiter((len(t) for t in ordered_terms), dtype=np.int64, count=len(ordered_terms)),
        out=offsets[1:],
    )
    blob = np.frombuffer(b"".join(ordered_terms), dtype=np.uint8)
    return (
        ptr,
        np.array(kinds, dtype=np.int8)[order],
        np.array(accepts, dtype=np.int8)[order],
        np.array(langs, dtype=np.int8)[order],
        offsets,
        blob,
        lang_codes,
    )


def _rows_of(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Row of each value in ``sorted_ids`` (-1 when absent)."""
    if len(sorted_ids) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, values)
    pos = np.minimum(pos, len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == values, pos, -1)


def _int(text: str, source: Rf2Source) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InputError(f"{source.path}: expected a SNOMED CT identifier (digits), got {text!r}")
    return int(text)
