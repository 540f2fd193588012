"""``maerad terms …`` sub-commands, run through an argparse parser built with ``add_parser``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from maerad.cli import terms
from maerad.errors import MaeradError


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Parse and run like ``maerad.cli.main.main`` (a MaeradError becomes one stderr line and status 2)."""
    parser = argparse.ArgumentParser(prog="maerad")
    terms.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except MaeradError as exc:
        print(f"maerad: error: {exc}", file=__import__("sys").stderr)
        status = 2
    out = capsys.readouterr()
    return status, out.out, out.err


def test_normalize_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        ["terms", "normalize", "deep myometrial invasion", "未见宫旁侵犯", "zzz qqq", "--json"], capsys
    )
    assert status == 0
    results = json.loads(out)
    assert [r["status"] for r in results] == ["match", "match", "no_match"]
    assert [r["concept"] for r in results] == ["MR:F063", "MR:F021", None]
    assert results[0]["preferred"] == "deep myometrial invasion (≥ 50 %)" and results[0]["score"] == 100.0
    assert all({"status", "concept", "preferred", "score", "candidates"} <= set(r) for r in results)


def test_normalize_text_and_lang(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["terms", "normalize", "nop parametrial invasion", "--lang", "en"], capsys)
    assert status == 0 and "\tambiguous\t" in out and "MR:F020" in out and "MR:F021" in out


def test_check_exit_status_and_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"concepts": ["myometrial invasion", "deep myometrial invasion", "MR:F032", "MR:S001.IIB"]}
        ),
        encoding="utf-8",
    )
    status, out, _ = run(["terms", "check", str(bad)], capsys)
    assert status == 1
    assert "non_preferred_term" in out and "redundant_ancestor" in out and "implication_violated" in out
    status, out, _ = run(["terms", "check", str(bad), "--json", "--allow-synonyms"], capsys)
    issues = json.loads(out)["issues"]
    assert status == 1 and sorted(i["kind"] for i in issues) == ["implication_violated", "redundant_ancestor"]
    good = tmp_path / "good.json"
    good.write_text(json.dumps(["MR:F063", "MR:S002.II", "MR:F066"]), encoding="utf-8")
    status, out, _ = run(["terms", "check", str(good)], capsys)
    assert status == 0 and "no terminology issues" in out


def test_check_bad_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    status, _, err = run(["terms", "check", str(broken)], capsys)
    assert status == 2 and "broken.json" in err and len(err.strip().splitlines()) == 1


def test_show(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["terms", "show", "MR:F063", "--json"], capsys)
    info = json.loads(out)
    assert status == 0 and info["preferred"]["zh"] == "子宫肌层浸润深度≥50%"
    assert info["parents"][0]["id"] == "MR:F060" and set(info["exclusion_groups"]["E-MI"]) == {
        "MR:F061",
        "MR:F062",
    }
    status, out, _ = run(["terms", "show", "MR:S001"], capsys)
    assert status == 0 and "FIGO 2018 cervical stage" in out
    status, _, err = run(["terms", "show", "MR:NOPE"], capsys)
    assert status == 2 and "MR:NOPE" in err


def test_import_rf2_and_show_merged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from maerad.terminology.rf2_synthetic import write_synthetic_rf2

    root = write_synthetic_rf2(tmp_path, 60, seed=1)
    status, out, _ = run(["terms", "import-rf2", str(root), "--out", str(tmp_path / "cache")], capsys)
    assert status == 0 and "concepts" in out and (tmp_path / "cache" / "rf2-graph.npz").is_file()
    sct = "SCTID:100001001"  # item 100001, partition 00, Verhoeff digit 1 (second synthetic concept)
    status, out, _ = run(["terms", "show", sct, "--rf2-cache", str(tmp_path / "cache"), "--json"], capsys)
    assert status == 0 and json.loads(out)["id"] == sct
    status, _, err = run(
        ["terms", "import-rf2", str(tmp_path / "missing"), "--out", str(tmp_path / "c2")], capsys
    )
    assert status == 2 and "missing" in err


def test_ontology_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from maerad.terminology import BUNDLED_OWL

    status, out, _ = run(["terms", "normalize", "womb", "--ontology", str(BUNDLED_OWL), "--json"], capsys)
    assert status == 0 and json.loads(out)[0]["concept"] == "MR:A001"
    status, _, err = run(["terms", "show", "MR:A001", "--ontology", str(tmp_path / "none.owl")], capsys)
    assert status == 2 and "none.owl" in err
