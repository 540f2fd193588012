"""``maerad phantom``: folders, index.json, preview, byte-identical reruns, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maerad.cli.main import main
from maerad.data.study_folder import load_study

ARGS = ["--size", "8", "32", "32", "--no-progress"]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_phantom_writes_cases_index_and_preview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    assert (
        main(
            [
                "phantom",
                "--n",
                "3",
                "--out",
                str(out),
                "--kind",
                "cervical",
                "--seed",
                "2",
                "--preview",
                *ARGS,
            ]
        )
        == 0
    )
    assert "wrote 3 case(s)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "case-0000",
        "case-0001",
        "case-0002",
        "index.json",
        "preview.png",
    ]
    index = json.loads((out / "index.json").read_text())
    assert index["n"] == 3 and index["seed"] == 2 and index["kind"] == "cervical"
    first = index["cases"][0]
    assert first["kind"] == "cervical" and first["outputs"]["figo2018"] == first["target"]["stage"]
    study = load_study(out / "case-0001")
    assert study.shape == (8, 32, 32) and study.sequence_names == ["t2w", "dwi_b800", "adc", "t1c"]
    assert study.metadata["kind"] == "cervical"
    assert (out / "preview.png").read_bytes()[:4] == b"\x89PNG"
    # same seed → byte-identical output, preview included
    again = tmp_path / "again"
    assert (
        main(
            [
                "phantom",
                "--n",
                "3",
                "--out",
                str(again),
                "--kind",
                "cervical",
                "--seed",
                "2",
                "--preview",
                *ARGS,
            ]
        )
        == 0
    )
    assert _tree(out) == _tree(again)


def test_phantom_pelvic_floor_kind(tmp_path: Path) -> None:
    assert main(["phantom", "--n", "1", "--out", str(tmp_path), "--kind", "pelvic_floor", *ARGS]) == 0
    study = load_study(tmp_path / "case-0000")
    assert "t2w_strain" in study.sequences and "Cx_strain" in study.landmarks


def test_a_smaller_rerun_leaves_only_its_own_cases(tmp_path: Path) -> None:
    out = tmp_path / "phantom"
    assert main(["phantom", "--n", "3", "--out", str(out), *ARGS]) == 0
    (out / "notes.txt").write_text("mine")
    (out / "case-0009").mkdir()  # folders of the user's that the old index does not list: left alone
    (out / "case-0009" / "case.json").write_text("{}")
    assert main(["phantom", "--n", "1", "--out", str(out), "--size", "16", "32", "32", "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["case-0000", "case-0009", "index.json", "notes.txt"]
    assert json.loads((out / "index.json").read_text())["n"] == 1
    assert load_study(out / "case-0000").shape == (16, 32, 32)


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["--n", "0"], "--n"),
        (["--n", "1", "--seed", "-3"], "--seed"),
        (["--n", "1", "--size", "2", "32", "32"], "size"),
    ],
)
def test_phantom_bad_values_exit_2_with_one_line(
    argv: list[str], text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["phantom", "--out", str(tmp_path / "x"), *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("maerad: error:") and text in err[0]


def test_phantom_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["phantom", "--n", "1", "--out", str(target), *ARGS]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_phantom_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["phantom", "--n", "1", "--out", "x", "--kind", "brain"])
    assert info.value.code == 2
