"""`maerad terms check` on a StructuredReport file (the JSON `maerad report` reads and writes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maerad.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[1] / "report" / "templates" / "examples"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_example_reports_have_no_terminology_issues(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["terms", "check", str(EXAMPLES / name)]) == 0
    assert "no terminology issues" in capsys.readouterr().out


def test_implication_violation_is_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = json.loads((EXAMPLES / "cervix-figo2018.json").read_text(encoding="utf-8"))
    # lower-third vaginal invasion stated together with a stage below IIIA (SPEC §6.3)
    report["fields"]["vaginal_involvement"] = "MR:F032"
    report["fields"]["pelvic_nodes"] = False
    report["fields"].pop("pelvic_node_stations")
    report["fields"].pop("pelvic_node_short_axis_mm")
    report["fields"]["figo2018_stage"] = "MR:S001.IIB"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    assert main(["terms", "check", str(path), "--json"]) == 1
    issues = json.loads(capsys.readouterr().out)["issues"]
    assert any("IIIA" in json.dumps(i, ensure_ascii=False) for i in issues)


def test_a_malformed_report_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"template_id": "cervix-figo2018", "fields": [1, 2]}', encoding="utf-8")
    assert main(["terms", "check", str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
