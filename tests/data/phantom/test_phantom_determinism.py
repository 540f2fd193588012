"""Same seed → identical cases and byte-identical files; case i does not depend on n."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from helpers_phantom import SMALL

from maerad.data.phantom import (
    PhantomCase,
    PhantomConfig,
    generate_case,
    generate_cases,
    write_phantom_dataset,
)
from maerad.data.study_folder import load_study


def _assert_same(a: PhantomCase, b: PhantomCase) -> None:
    assert a.kind == b.kind and a.target == b.target
    assert list(a.study.sequences) == list(b.study.sequences)
    for name in a.study.sequences:
        np.testing.assert_array_equal(a.study.sequences[name], b.study.sequences[name])
    assert a.study.labels is not None and b.study.labels is not None
    np.testing.assert_array_equal(a.study.labels, b.study.labels)
    np.testing.assert_array_equal(a.study.affine, b.study.affine)
    assert a.study.landmarks == b.study.landmarks
    assert json.dumps(a.study.metadata, sort_keys=True) == json.dumps(b.study.metadata, sort_keys=True)
    assert a.findings == b.findings


def test_same_seed_gives_identical_cases() -> None:
    for kind, targets in (("cervical", {"stage": "IIB"}), ("pelvic_floor", {}), ("adnexal", {"score": 3})):
        a = generate_case(kind, seed=5, config=SMALL, **targets)
        b = generate_case(kind, seed=5, config=SMALL, **targets)
        _assert_same(a, b)


def test_other_seed_or_index_gives_another_case() -> None:
    a = generate_case("normal", seed=5, config=SMALL)
    b = generate_case("normal", seed=6, config=SMALL)
    c = generate_case("normal", seed=5, index=1, config=SMALL)
    assert not np.array_equal(a.study.sequences["t2w"], b.study.sequences["t2w"])
    assert not np.array_equal(a.study.sequences["t2w"], c.study.sequences["t2w"])


def test_case_i_does_not_depend_on_n() -> None:
    third = list(generate_cases(3, kind="mixed", seed=2, config=SMALL))[2]
    alone = generate_case("mixed", seed=2, index=2, config=SMALL)
    _assert_same(third, alone)


def test_mixed_follows_kind_weights() -> None:
    cfg = SMALL.replace(kind_weights={"normal": 1.0, "cervical": 0.0})
    assert {c.kind for c in generate_cases(4, kind="mixed", seed=0, config=cfg)} == {"normal"}


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_written_dataset_is_byte_identical(tmp_path: Path) -> None:
    cfg = PhantomConfig(size=(8, 32, 32), spacing=(12.0, 6.0, 6.0))
    first = write_phantom_dataset(tmp_path / "a", 3, kind="mixed", seed=4, config=cfg, progress=False)
    write_phantom_dataset(tmp_path / "b", 3, kind="mixed", seed=4, config=cfg, progress=False)
    tree_a, tree_b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert tree_a == tree_b
    assert "index.json" in tree_a and len(first) == 3
    # writing again over the same folder keeps the bytes
    write_phantom_dataset(tmp_path / "a", 3, kind="mixed", seed=4, config=cfg, progress=False)
    assert _tree(tmp_path / "a") == tree_b
    # and the folders load back to the generated studies
    case = generate_case("mixed", seed=4, index=1, config=cfg)
    loaded = load_study(first[1])
    for name, arr in case.study.sequences.items():
        np.testing.assert_array_equal(loaded.sequences[name], arr)
    assert loaded.metadata["case_id"] == case.case_id
    index = json.loads(tree_a["index.json"])
    assert [c["case"] for c in index["cases"]] == ["case-0000", "case-0001", "case-0002"]
    assert index["cases"][1]["kind"] == case.kind and index["cases"][1]["target"] == case.target
