"""SNOMED CT RF2 snapshot loading, on a tiny hand-written release with made-up identifiers."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from terms_rf2_fixture import (
    BODY,
    CERVIX,
    FINDING,
    GB,
    GENITAL,
    RETIRED,
    ROOT,
    UTERUS,
    ZH_REFSET,
    write_release,
)

import maerad.terminology.rf2 as rf2_module
from maerad.errors import InputError
from maerad.terminology import import_rf2, load_rf2, load_rf2_cache
from maerad.terminology.rf2_synthetic import write_synthetic_rf2


def _sct(x: str) -> str:
    return f"SCTID:{x}"


@pytest.fixture
def release(tmp_path: Path) -> Path:
    return write_release(tmp_path)


def _verhoeff_ok(number: int) -> bool:
    d = [
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
    ]
    p = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]
    c = 0
    for i, ch in enumerate(reversed(str(number))):
        c = d[c][p[i % 8][int(ch)]]
    return c == 0


def test_fixture_ids_are_valid_made_up_sctids() -> None:
    assert _verhoeff_ok(116680003) and _verhoeff_ok(138875005)  # the checker accepts real, public ids
    assert not _verhoeff_ok(116680004)
    assert all(_verhoeff_ok(int(x)) for x in (ROOT, UTERUS, CERVIX, ZH_REFSET))
    assert UTERUS.endswith(UTERUS[-1]) and UTERUS[-3:-1] == "00"  # partition 00: a concept


def test_active_concepts_and_is_a_links_only(release: Path) -> None:
    g = load_rf2(release)
    assert _sct(RETIRED) not in g
    assert len(g) == 6
    assert g.parents(_sct(UTERUS)) == (_sct(GENITAL),)  # inactive link to FINDING dropped
    assert g.parents(_sct(CERVIX)) == (_sct(UTERUS),)  # attribute and link to a retired concept dropped
    assert g.ancestors(_sct(CERVIX)) == {_sct(x) for x in (UTERUS, GENITAL, BODY, ROOT)}
    assert g.subsumes(_sct(BODY), _sct(CERVIX)) and not g.subsumes(_sct(FINDING), _sct(UTERUS))
    assert g.descendants(_sct(ROOT)) == {_sct(x) for x in (BODY, GENITAL, UTERUS, CERVIX, FINDING)}


def test_terms_follow_the_language_refsets(release: Path) -> None:
    uterus = load_rf2(release).concept(_sct(UTERUS))
    assert uterus.preferred("en") == "Uterus"  # US English first by default
    en = uterus.texts("en")
    assert "Womb structure" in en and "Uterine structure" in en  # acceptable synonym; FSN without its tag
    assert "Uterus, GB spelling" in en
    assert "Retired uterus term" not in en and "Unlisted uterus term" not in en
    assert uterus.preferred("zh") == "子宫"
    assert uterus.code("SNOMED") == (UTERUS,)
    gb_first = load_rf2(release, language_refsets=[GB, ZH_REFSET]).concept(_sct(UTERUS))
    assert gb_first.preferred("en") == "Uterus, GB spelling"
    assert "Womb structure" not in gb_first.texts("en")  # only in the US refset, which is not selected


def test_unknown_refset_is_an_input_error(release: Path) -> None:
    with pytest.raises(InputError, match="123456789"):
        load_rf2(release, language_refsets=["123456789"])


def test_zip_release_equals_folder(release: Path, tmp_path: Path) -> None:
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in release.rglob("*.txt"):
            zf.write(file, f"{release.name}/{file.relative_to(release)}")
    a, b = load_rf2(release), load_rf2(archive)
    assert sorted(a) == sorted(b)
    assert all(a.concept(c) == b.concept(c) for c in a)


def test_cache_round_trip_and_reuse(release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = load_rf2(release, cache_dir=cache)
    assert (cache / "rf2-graph.npz").is_file() and (cache / "rf2-graph.json").is_file()
    with np.load(cache / "rf2-graph.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)  # plain arrays, nothing pickled

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(rf2_module, "parse_rf2", no_parse)
    second = load_rf2(release, cache_dir=cache)
    assert sorted(first) == sorted(second)
    assert all(first.concept(c) == second.concept(c) for c in first)
    assert second.ancestors(_sct(CERVIX)) == first.ancestors(_sct(CERVIX))
    monkeypatch.undo()
    concept_file = next(release.rglob("sct2_Concept_Snapshot*.txt"))
    concept_file.write_text(concept_file.read_text(encoding="utf-8") + "\r\n", encoding="utf-8")
    calls: list[int] = []
    real = rf2_module.parse_rf2

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rf2_module, "parse_rf2", counting)
    load_rf2(release, cache_dir=cache)
    assert calls == [1]  # the release changed: parsed again


def test_import_rf2_and_cache_errors(release: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    snapshot = import_rf2(release, cache)
    # 14 rows: 1 inactive, 1 in no refset, 1 of a retired concept -> 11 kept
    assert snapshot.meta["counts"] == {"concepts": 6, "is_a": 5, "descriptions": 11}
    assert len(load_rf2_cache(cache).to_graph()) == 6
    meta = json.loads((cache / "rf2-graph.json").read_text(encoding="utf-8"))
    (cache / "rf2-graph.json").write_text(json.dumps({**meta, "format": "other"}), encoding="utf-8")
    with pytest.raises(InputError, match="no maerad RF2 cache"):
        load_rf2_cache(cache)
    (cache / "rf2-graph.json").write_text(json.dumps(meta), encoding="utf-8")
    np.savez(cache / "rf2-graph.npz", concept_ids=np.array([object()], dtype=object))
    with pytest.raises(InputError, match="unreadable RF2 cache"):
        load_rf2_cache(cache)


@pytest.mark.parametrize("broken", ["header", "columns", "id", "missing", "duplicate"])
def test_malformed_releases_are_input_errors(release: Path, broken: str) -> None:
    concept_file = next(release.rglob("sct2_Concept_Snapshot*.txt"))
    lines = concept_file.read_text(encoding="utf-8").splitlines()
    if broken == "header":
        lines[0] = "id\teffectiveTime\tactive"
    elif broken == "columns":
        lines[1] = lines[1] + "\textra"
    elif broken == "id":
        lines[1] = "12ab" + lines[1][4:]
    elif broken == "duplicate":
        lines.append(lines[1])
    if broken == "missing":
        concept_file.unlink()
    else:
        concept_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"[Cc]oncept"):
        load_rf2(release)


def test_missing_path_and_non_release(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_rf2(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="concept snapshot"):
        load_rf2(tmp_path)
    with pytest.raises(InputError, match="zip"):
        load_rf2(tmp_path / "notes.txt")


def test_full_and_delta_folders_are_ignored(release: Path) -> None:
    full = release / "Full" / "Terminology"
    full.mkdir(parents=True)
    for file in (release / "Snapshot" / "Terminology").iterdir():
        shutil.copy(file, full / file.name.replace("Snapshot", "Full"))
        shutil.copy(file, full / file.name)
    assert len(load_rf2(release)) == 6


def test_synthetic_generator_shape(tmp_path: Path) -> None:
    root = write_synthetic_rf2(tmp_path, 400, seed=3)
    g = load_rf2(root)
    assert 380 <= len(g) <= 400  # ≈1 % of concepts are written inactive
    sample = list(g)[:50]
    assert all(_verhoeff_ok(int(c.split(":")[1])) for c in sample)
    assert all(g.concept(c).preferred("en") for c in sample)
    links = sum(len(g.parents(c)) for c in g)
    assert 1.2 * len(g) < links < 1.6 * len(g)  # one parent plus ≈43 % second parents
    assert os.path.basename(str(root)).startswith("SnomedCT_")
