"""Compact in-memory form of a parsed SNOMED CT snapshot, its lazy concept view and its on-disk cache.

:class:`Rf2Snapshot` holds numpy arrays only: concept ids, is-a links, and descriptions as one UTF-8
blob with offsets. :class:`Rf2Concepts` materialises a :class:`~maerad.terminology.model.Concept` only
when asked, so a 350k-concept release stays small and a cached release loads in well under a second.

The cache is a folder with ``rf2-graph.npz`` (arrays, read with ``allow_pickle=False``) and
``rf2-graph.json`` (format, source fingerprint, languages, counts): no pickle, so a cache from
elsewhere cannot run code.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.atomic import atomic_path, write_text_atomic
from maerad.errors import InputError
from maerad.terminology.graph import TermGraph
from maerad.terminology.hierarchy import ArrayHierarchy
from maerad.terminology.model import Concept, Term

__all__ = ["CACHE_FORMAT", "Rf2Concepts", "Rf2Snapshot", "load_rf2_cache", "save_rf2_cache"]

CACHE_FORMAT = "maerad-rf2-cache/1"
PREFIX = "SCTID:"
KIND_FSN, KIND_SYNONYM = 0, 1
ACCEPT_ACCEPTABLE, ACCEPT_PREFERRED = 1, 2
_ARRAYS = (
    "concept_ids",
    "child_idx",
    "parent_idx",
    "desc_ptr",
    "desc_kind",
    "desc_accept",
    "desc_lang",
    "term_offsets",
    "term_blob",
)
_SEMANTIC_TAG = re.compile(r"\s*\([^()]*\)\s*$")


@dataclass
class Rf2Snapshot:
    """A parsed snapshot as arrays (N concepts, E is-a links, D descriptions).

    Attributes:
        concept_ids: ``(N,)`` int64, sorted active concept ids.
        child_idx, parent_idx: ``(E,)`` int32 rows into ``concept_ids`` of each active is-a link.
        desc_ptr: ``(N+1,)`` int64; descriptions of concept row ``i`` are ``desc_ptr[i]:desc_ptr[i+1]``.
        desc_kind: ``(D,)`` int8, 0 = fully specified name, 1 = synonym.
        desc_accept: ``(D,)`` int8, 2 = preferred, 1 = acceptable (highest-priority language refset).
        desc_lang: ``(D,)`` int8 index into ``langs``.
        term_offsets: ``(D+1,)`` int64 byte offsets into ``term_blob``.
        term_blob: ``(B,)`` uint8, the UTF-8 terms back to back.
        langs: language codes (``["en"]``).
        meta: counts, refsets used, source fingerprint.
    """

    concept_ids: npt.NDArray[np.int64]
    child_idx: npt.NDArray[np.int32]
    parent_idx: npt.NDArray[np.int32]
    desc_ptr: npt.NDArray[np.int64]
    desc_kind: npt.NDArray[np.int8]
    desc_accept: npt.NDArray[np.int8]
    desc_lang: npt.NDArray[np.int8]
    term_offsets: npt.NDArray[np.int64]
    term_blob: npt.NDArray[np.uint8]
    langs: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_graph(self) -> TermGraph:
        """A :class:`TermGraph` over this snapshot (array hierarchy, lazily built concepts)."""
        hierarchy = ArrayHierarchy(self.concept_ids, self.child_idx, self.parent_idx, PREFIX)
        meta = {"source": str(self.meta.get("source", "")), "terminology": "SNOMED CT"}
        return TermGraph(Rf2Concepts(self, hierarchy), hierarchy, group_members={}, meta=meta)


class Rf2Concepts(Mapping[str, Concept]):
    """Read-only mapping ``"SCTID:<id>"`` → :class:`Concept`, built on access from the arrays.

    Terms: per language the preferred synonym first, then the acceptable synonyms, then the fully
    specified name without its semantic tag (``"Uterine structure (body structure)"`` → ``"Uterine
    structure"``) unless it repeats a synonym.
    """

    def __init__(self, snapshot: Rf2Snapshot, hierarchy: ArrayHierarchy) -> None:
        self._s = snapshot
        self._h = hierarchy
        self._blob = snapshot.term_blob.tobytes()

    def __getitem__(self, key: str) -> Concept:
        row = self._h.index(key)
        if row < 0:
            raise KeyError(key)
        s = self._s
        start, stop = int(s.desc_ptr[row]), int(s.desc_ptr[row + 1])
        offsets = s.term_offsets[start : stop + 1].tolist()
        texts = [self._blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(stop - start)]
        kinds, accepts, langs = (
            s.desc_kind[start:stop].tolist(),
            s.desc_accept[start:stop].tolist(),
            s.desc_lang[start:stop].tolist(),
        )
        terms: list[Term] = []
        for li, lang in enumerate(s.langs):
            mine = [i for i in range(len(texts)) if langs[i] == li]
            syn = sorted((i for i in mine if kinds[i] == KIND_SYNONYM), key=lambda i: -accepts[i])
            seen: set[str] = set()
            for rank, i in enumerate(syn):
                if texts[i] not in seen:
                    seen.add(texts[i])
                    terms.append(Term(texts[i], lang, rank == 0 and accepts[i] == ACCEPT_PREFERRED))
            for i in (i for i in mine if kinds[i] == KIND_FSN):
                name = _SEMANTIC_TAG.sub("", texts[i]) or texts[i]
                if name not in seen:
                    seen.add(name)
                    terms.append(Term(name, lang, not syn and not terms))
        digits = str(int(s.concept_ids[row]))
        cid = PREFIX + digits
        return Concept(cid, tuple(terms), self._h.parents(cid), (), (("SNOMED", digits),))

    def __contains__(self, key: object) -> bool:
        return self._h.index(key) >= 0

    def __iter__(self) -> Iterator[str]:
        return iter(self._h)

    def __len__(self) -> int:
        return len(self._h)


def save_rf2_cache(snapshot: Rf2Snapshot, cache_dir: str | os.PathLike[str]) -> Path:
    """Write ``snapshot`` to ``cache_dir`` (created if needed; each file written atomically)."""
    folder = Path(cache_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "rf2-graph.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **{name: getattr(snapshot, name) for name in _ARRAYS})
    meta = {"format": CACHE_FORMAT, "langs": snapshot.langs, **snapshot.meta}
    write_text_atomic(folder / "rf2-graph.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return folder


def read_cache_meta(cache_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The cache's JSON metadata, or None when the folder holds no readable cache."""
    path = Path(cache_dir).expanduser() / "rf2-graph.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == CACHE_FORMAT else None


def load_rf2_cache(cache_dir: str | os.PathLike[str]) -> Rf2Snapshot:
    """Read a cache written by :func:`save_rf2_cache`.

    Raises:
        InputError: missing, foreign or inconsistent cache files.
    """
    folder = Path(cache_dir).expanduser()
    meta = read_cache_meta(folder)
    if meta is None:
        raise InputError(
            f"{folder}: no maerad RF2 cache here (expected rf2-graph.json with format {CACHE_FORMAT})"
        )
    try:
        with np.load(folder / "rf2-graph.npz", allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAYS}
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{folder / 'rf2-graph.npz'}: unreadable RF2 cache ({exc})") from exc
    n, d = len(arrays["concept_ids"]), len(arrays["desc_kind"])
    consistent = (
        len(arrays["desc_ptr"]) == n + 1
        and len(arrays["term_offsets"]) == d + 1
        and len(arrays["child_idx"]) == len(arrays["parent_idx"])
        and all(len(arrays[k]) == d for k in ("desc_accept", "desc_lang"))
        and (n == 0 or int(arrays["desc_ptr"][-1]) == d)
        and (d == 0 or int(arrays["term_offsets"][-1]) == len(arrays["term_blob"]))
    )
    if not consistent:
        raise InputError(f"{folder}: RF2 cache arrays have inconsistent lengths; re-import the release")
    langs = [str(x) for x in meta.get("langs", [])]
    extra = {k: v for k, v in meta.items() if k not in ("format", "langs")}
    return Rf2Snapshot(**arrays, langs=langs, meta=extra)
