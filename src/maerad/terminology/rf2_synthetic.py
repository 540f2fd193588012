"""Write a synthetic SNOMED CT-shaped RF2 snapshot with made-up identifiers (tests and benchmarks).

No licensed content: identifiers are invented (valid Verhoeff check digits, partition ``00``
concepts / ``01`` descriptions / ``02`` relationships) and terms are random word strings. The layout
and columns follow the RF2 specification, so the same loader reads it as a real release. A few
inactive concepts, inactive and non-is-a relationships, and inactive descriptions are included so that
filtering is exercised.

Examples::

    from maerad.terminology.rf2_synthetic import write_synthetic_rf2
    root = write_synthetic_rf2("/tmp/sct", n_concepts=350_000)   # ≈1M descriptions, ≈500k is-a links
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from maerad.terminology.rf2_files import COLUMNS

__all__ = ["sctid", "verhoeff_digit", "write_synthetic_rf2"]

_D = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ],
    dtype=np.int64,
)
_P = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ],
    dtype=np.int64,
)
_INV = np.array([0, 4, 3, 2, 1, 5, 6, 7, 8, 9], dtype=np.int64)
_WORDS = (
    "structure",
    "lesion",
    "tissue",
    "pelvic",
    "finding",
    "disorder",
    "procedure",
    "region",
    "entire",
    "left",
    "right",
    "upper",
    "lower",
    "chronic",
    "acute",
    "benign",
    "mass",
    "node",
    "wall",
    "duct",
    "gland",
    "vessel",
    "muscle",
    "bone",
    "joint",
    "fluid",
    "cyst",
    "tumor",
    "neoplasm",
    "infection",
)
_TAGS = ("body structure", "finding", "disorder", "procedure", "qualifier value")
IS_A = 116680003
FINDING_SITE = 363698007


def verhoeff_digit(numbers: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Verhoeff check digit of each positive integer in ``numbers`` (vectorised, ``(N,)``)."""
    rest = numbers.astype(np.int64).copy()
    lengths = np.char.str_len(rest.astype(str))
    c = np.zeros(len(rest), dtype=np.int64)
    for i in range(int(lengths.max()) if len(rest) else 0):
        live = i < lengths
        step = _D[c, _P[(i + 1) % 8, rest % 10]]
        c = np.where(live, step, c)
        rest //= 10
    return _INV[c]


def sctid(items: npt.NDArray[np.int64], partition: str) -> npt.NDArray[np.int64]:
    """Identifiers ``item ‖ partition ‖ check digit`` for item numbers ``items`` (``(N,)``)."""
    base = items.astype(np.int64) * 100 + int(partition)
    return base * 10 + verhoeff_digit(base)


def write_synthetic_rf2(
    folder: str | os.PathLike[str],
    n_concepts: int = 1000,
    *,
    seed: int = 0,
    extra_parent_rate: float = 0.43,
    acceptable_per_concept: float = 0.85,
    as_zip: bool = False,
) -> Path:
    """Write a snapshot with ``n_concepts`` concepts below ``folder``; returns the release root (or zip).

    Sizes: ≈ ``n_concepts * (1 + extra_parent_rate)`` is-a links and ≈ ``n_concepts * (2 +
    acceptable_per_concept)`` descriptions (an FSN, a preferred synonym, some acceptable synonyms).
    """
    rng = np.random.default_rng(seed)
    root = Path(folder) / "SnomedCT_SyntheticRF2_PRODUCTION_20240101T120000Z"
    term_dir = root / "Snapshot" / "Terminology"
    lang_dir = root / "Snapshot" / "Refset" / "Language"
    term_dir.mkdir(parents=True, exist_ok=True)
    lang_dir.mkdir(parents=True, exist_ok=True)
    ids = sctid(np.arange(100_000, 100_000 + n_concepts, dtype=np.int64), "00")
    active = rng.random(n_concepts) > 0.01
    active[0] = True
    module, time_ = "900000000000207008", "20240101"
    _write(
        term_dir / "sct2_Concept_Snapshot_INT_20240101.txt",
        "concept",
        (
            f"{i}\t{time_}\t{int(a)}\t{module}\t900000000000074008"
            for i, a in zip(ids.tolist(), active.tolist(), strict=True)
        ),
    )
    child = np.arange(1, n_concepts)
    parent = (rng.random(n_concepts - 1) * child).astype(np.int64)
    extra = child[rng.random(n_concepts - 1) < extra_parent_rate]
    extra_parent = (rng.random(len(extra)) * extra).astype(np.int64)
    src = np.concatenate([child, extra])
    dst = np.concatenate([parent, extra_parent])
    n_attr = max(1, len(src) // 10)
    rel_ids = sctid(np.arange(300_000, 300_000 + len(src) + n_attr, dtype=np.int64), "02")
    rel_active = rng.random(len(src)) > 0.005
    idl = ids.tolist()
    rows = (
        f"{r}\t{time_}\t{int(a)}\t{module}\t{idl[s]}\t{idl[d]}\t0\t{IS_A}\t900000000000011006\t900000000000451002"
        for r, a, s, d in zip(
            rel_ids[: len(src)].tolist(), rel_active.tolist(), src.tolist(), dst.tolist(), strict=True
        )
    )
    attr_src = rng.integers(0, n_concepts, n_attr)
    attr_rows = (
        f"{r}\t{time_}\t1\t{module}\t{idl[s]}\t{idl[0]}\t1\t{FINDING_SITE}\t900000000000011006\t"
        "900000000000451002"
        for r, s in zip(rel_ids[len(src) :].tolist(), attr_src.tolist(), strict=True)
    )
    _write(term_dir / "sct2_Relationship_Snapshot_INT_20240101.txt", "relationship", _chain(rows, attr_rows))
    n_acc = rng.poisson(acceptable_per_concept, n_concepts)
    per = 2 + n_acc
    owner = np.repeat(np.arange(n_concepts), per)
    position = np.arange(len(owner)) - np.repeat(np.cumsum(per) - per, per)
    desc_ids = sctid(np.arange(5_000_000, 5_000_000 + len(owner), dtype=np.int64), "01")
    desc_active = rng.random(len(owner)) > 0.003
    words = rng.integers(0, len(_WORDS), (len(owner), 3)).tolist()
    tags = rng.integers(0, len(_TAGS), n_concepts).tolist()
    fsn, syn = "900000000000003001", "900000000000013009"
    desc_rows = []
    lang_rows = []
    for k, (d, o, pos, a) in enumerate(
        zip(desc_ids.tolist(), owner.tolist(), position.tolist(), desc_active.tolist(), strict=True)
    ):
        w = words[k]
        text = f"{_WORDS[w[0]]} {_WORDS[w[1]]} {_WORDS[w[2]]} {o}"
        kind = syn
        if pos == 0:
            text, kind = f"{text.capitalize()} ({_TAGS[tags[o]]})", fsn
        desc_rows.append(
            f"{d}\t{time_}\t{int(a)}\t{module}\t{idl[o]}\ten\t{kind}\t{text}\t900000000000448009"
        )
        accept = "900000000000548007" if pos <= 1 else "900000000000549004"
        lang_rows.append(
            f"{k:08x}-0000-4000-8000-{d:012x}"[:36]
            + f"\t{time_}\t1\t{module}\t900000000000509007\t{d}\t{accept}"
        )
    _write(term_dir / "sct2_Description_Snapshot-en_INT_20240101.txt", "description", desc_rows)
    _write(lang_dir / "der2_cRefset_LanguageSnapshot-en_INT_20240101.txt", "language", lang_rows)
    if not as_zip:
        return root
    archive = Path(folder) / f"{root.name}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(root.rglob("*.txt")):
            zf.write(file, f"{root.name}/{file.relative_to(root)}")
    return archive


def _chain(*parts: Iterable[str]) -> Iterator[str]:
    for part in parts:
        yield from part


def _write(path: Path, kind: str, rows: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(COLUMNS[kind]) + "\r\n")
        for row in rows:
            fh.write(row)
            fh.write("\r\n")
