"""A tiny hand-written RF2 snapshot with made-up identifiers (no licensed SNOMED CT content)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from maerad.terminology.rf2_files import COLUMNS
from maerad.terminology.rf2_synthetic import sctid

US, GB = "900000000000509007", "900000000000508004"
FSN, SYN = "900000000000003001", "900000000000013009"
PREF, ACC = "900000000000548007", "900000000000549004"
IS_A, FINDING_SITE = "116680003", "363698007"
MODULE = "900000000000207008"


def ids(items: list[int], partition: str) -> list[str]:
    """Made-up SCTIDs with valid Verhoeff check digits."""
    return [str(x) for x in sctid(np.array(items, dtype=np.int64), partition).tolist()]


ROOT, BODY, GENITAL, UTERUS, RETIRED, CERVIX, FINDING = ids([7001, 7002, 7003, 7004, 7005, 7006, 7007], "00")
ZH_REFSET = ids([7099], "00")[0]


def write_release(folder: Path, *, time: str = "20240101") -> Path:
    """Write the snapshot below ``folder``; returns the release root."""
    root = folder / "SnomedCT_TestRF2_PRODUCTION_20240101T120000Z"
    term, lang = root / "Snapshot" / "Terminology", root / "Snapshot" / "Refset" / "Language"
    term.mkdir(parents=True)
    lang.mkdir(parents=True)
    concepts = [
        (c, "0" if c == RETIRED else "1") for c in (ROOT, BODY, GENITAL, UTERUS, RETIRED, CERVIX, FINDING)
    ]
    _write(
        term / "sct2_Concept_Snapshot_INT_20240101.txt",
        "concept",
        [[c, time, a, MODULE, "900000000000074008"] for c, a in concepts],
    )
    rel = ids(list(range(8001, 8011)), "02")
    links = [
        (rel[0], "1", BODY, ROOT, IS_A),
        (rel[1], "1", GENITAL, BODY, IS_A),
        (rel[2], "1", UTERUS, GENITAL, IS_A),
        (rel[3], "1", CERVIX, UTERUS, IS_A),
        (rel[4], "1", FINDING, ROOT, IS_A),
        (rel[5], "0", UTERUS, FINDING, IS_A),  # inactive link
        (rel[6], "1", CERVIX, UTERUS, FINDING_SITE),  # attribute, not is-a
        (rel[7], "1", CERVIX, RETIRED, IS_A),  # link to an inactive concept
        (rel[8], "1", RETIRED, GENITAL, IS_A),
    ]
    _write(
        term / "sct2_Relationship_Snapshot_INT_20240101.txt",
        "relationship",
        [
            [r, time, a, MODULE, s, d, "0", t, "900000000000011006", "900000000000451002"]
            for r, a, s, d, t in links
        ],
    )
    d = ids(list(range(9001, 9020)), "01")
    descriptions = [
        (d[0], "1", ROOT, "en", FSN, "Test root concept (root)"),
        (d[1], "1", ROOT, "en", SYN, "Test root"),
        (d[2], "1", BODY, "en", FSN, "Test body structure (body structure)"),
        (d[3], "1", GENITAL, "en", SYN, "Female genital structure"),
        (d[4], "1", UTERUS, "en", FSN, "Uterine structure (body structure)"),
        (d[5], "1", UTERUS, "en", SYN, "Uterus"),
        (d[6], "1", UTERUS, "en", SYN, "Womb structure"),
        (d[7], "0", UTERUS, "en", SYN, "Retired uterus term"),  # inactive description
        (d[8], "1", UTERUS, "en", SYN, "Unlisted uterus term"),  # in no language refset
        (d[9], "1", UTERUS, "en", SYN, "Uterus, GB spelling"),
        (d[10], "1", UTERUS, "zh", SYN, "子宫"),
        (d[11], "1", CERVIX, "en", SYN, "Cervix uteri structure"),
        (d[12], "1", RETIRED, "en", SYN, "Retired concept"),
        (d[13], "1", FINDING, "en", SYN, "Test finding"),
    ]
    _write(
        term / "sct2_Description_Snapshot-en_INT_20240101.txt",
        "description",
        [[i, time, a, MODULE, c, lg, t, text, "900000000000448009"] for i, a, c, lg, t, text in descriptions],
    )
    refset = [
        (US, d[0], PREF),
        (US, d[1], PREF),
        (US, d[2], PREF),
        (US, d[3], PREF),
        (US, d[4], PREF),
        (US, d[5], PREF),
        (US, d[6], ACC),
        (US, d[7], PREF),
        (US, d[9], ACC),
        (GB, d[9], PREF),
        (GB, d[5], ACC),
        (US, d[11], PREF),
        (US, d[12], PREF),
        (US, d[13], PREF),
        (ZH_REFSET, d[10], PREF),
    ]
    _write(
        lang / "der2_cRefset_LanguageSnapshot-en_INT_20240101.txt",
        "language",
        [
            [f"00000000-0000-4000-8000-{k:012d}", time, "1", MODULE, r, desc, acc]
            for k, (r, desc, acc) in enumerate(refset)
        ],
    )
    return root


def _write(path: Path, kind: str, rows: list[list[str]]) -> None:
    lines = ["\t".join(COLUMNS[kind])] + ["\t".join(r) for r in rows]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
