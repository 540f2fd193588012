"""`maerad report render|validate|schema`: every template end to end; bad input is one line, exit 2."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from maerad.cli import main as cli_main

EXAMPLES = Path(__file__).parents[1] / "report" / "templates" / "examples"
TEMPLATES = ("cervix-figo2018", "endometrium-figo2009", "adnexa-orads-mri", "pelvic-floor")


@pytest.fixture(autouse=True)
def _only_report(monkeypatch: pytest.MonkeyPatch) -> None:
    # other sub-command modules are written in parallel; the report command must work on its own
    monkeypatch.setattr(cli_main, "_COMMAND_MODULES", ("report",))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli_main.main(["report", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _fail(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    status, out, err = _run(argv, capsys)
    assert status == 2 and out == ""
    assert err.startswith("maerad: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("template", TEMPLATES)
def test_render_every_template_in_every_format(template: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(EXAMPLES / f"{template}.json")
    status, en, err = _run(["render", path], capsys)
    assert status == 0 and err == "" and en.splitlines()[-1].startswith("Impression: ")
    status, zh, _ = _run(["render", path, "--lang", "zh"], capsys)
    assert status == 0 and zh.splitlines()[-1].startswith("印象：")
    status, out, _ = _run(["render", path, "--format", "json"], capsys)
    report = json.loads(out)
    assert status == 0 and report["template_id"] == template
    assert any(e["provenance"] == "rule" for e in report["fields"].values())
    status, out, _ = _run(["render", path, "--format", "fhir", "--lang", "zh"], capsys)
    doc = json.loads(out)
    assert (
        status == 0 and doc["resourceType"] == "DiagnosticReport" and doc["conclusion"].startswith("印象：")
    )


def test_render_to_file_and_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "report.txt"
    status, out, _ = _run(["render", str(EXAMPLES / "pelvic-floor.json"), "--output", str(target)], capsys)
    assert status == 0 and out == "" and "HMO H grade 1" in target.read_text(encoding="utf-8")
    monkeypatch.setattr(
        "sys.stdin", io.StringIO((EXAMPLES / "pelvic-floor.json").read_text(encoding="utf-8"))
    )
    status, out, _ = _run(["render", "-"], capsys)
    assert status == 0 and "HMO H grade 1" in out


def test_snomed_codes_only_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(EXAMPLES / "cervix-figo2018.json")
    _, plain, _ = _run(["render", path, "--format", "fhir"], capsys)
    assert "http://snomed.info/sct" not in plain
    status, coded, _ = _run(["render", path, "--format", "fhir", "--snomed-codes"], capsys)
    assert status == 0 and "http://snomed.info/sct" in coded
    assert '"code": "36086000"' in coded  # obturator lymph node, MR:N003 same_as
    assert "--format fhir only" in _fail(["render", path, "--snomed-codes"], capsys)


def test_rule_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads((EXAMPLES / "cervix-figo2018.json").read_text(encoding="utf-8"))
    data["fields"].update(
        pelvic_nodes=False, max_diameter_mm=40, parametrium_left="MR:F021", vaginal_involvement="MR:F030"
    )
    for key in ("pelvic_node_stations", "pelvic_node_short_axis_mm"):
        del data["fields"][key]
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    _, out, _ = _run(["render", str(path)], capsys)
    assert "FIGO 2018 cervical stage IB3" in out
    _, out, _ = _run(["render", str(path), "--option", "figo2018-cervix.boundaries=original_2018"], capsys)
    assert "FIGO 2018 cervical stage IB2" in out
    assert "expects SYSTEM.KEY=VALUE" in _fail(
        ["render", str(path), "--option", "boundaries=original_2018"], capsys
    )
    assert "unknown option 'colour'" in _fail(
        ["render", str(path), "--option", "figo2018-cervix.colour=1"], capsys
    )


def test_validate_lists_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(["validate", str(EXAMPLES / "adnexa-orads-mri.json")], capsys)
    lines = out.splitlines()
    assert status == 0 and "valid adnexa-orads-mri 1.0.0 report" in lines[0] and "2 flags" in lines[0]
    assert lines[1].startswith("  rule [rmi]: ")
    data = json.loads((EXAMPLES / "cervix-figo2018.json").read_text(encoding="utf-8"))
    data["fields"]["figo2018_stage"] = {"value": "MR:S001.IB2", "provenance": "model"}
    path = tmp_path / "stated.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    status, out, _ = _run(["validate", str(path)], capsys)
    assert status == 0, "flags are reported, they are not errors"
    assert "derived_mismatch [figo2018_stage]" in out and "terminology [figo2018_stage]" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{", "malformed JSON at line 1 column 2"),
        ("", "empty"),
        (
            '{"template_id": "cervix-figo2018", "template_version": "1.0.0", '
            '"fields": {"tumour_visible": 1}}',
            "field 'tumour_visible': got 1, expected true or false",
        ),
        (
            '{"template_id": "cervix-figo2018", "template_version": "2.0.0", "fields": {}}',
            "version '2.0.0' is not registered",
        ),
        ('{"template_id": "nope", "template_version": "1.0.0", "fields": {}}', "unknown template 'nope'"),
    ],
)
@pytest.mark.parametrize("action", ["render", "validate"])
def test_bad_report_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str, content: str, expected: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    err = _fail([action, str(path)], capsys)
    assert expected in err
    if "template" not in expected:
        assert str(path) in err, "the message names the file"


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "report file not found" in _fail(["validate", str(tmp_path / "none.json")], capsys)


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(["schema", "endometrium-figo2009"], capsys)
    schema = json.loads(out)
    assert status == 0 and schema["properties"]["template_id"] == {"const": "endometrium-figo2009"}
    status, out, _ = _run(["schema", "pelvic-floor@1.0.0", "--lang", "zh"], capsys)
    assert status == 0 and json.loads(out)["title"] == "盆底动态MRI报告"
    assert "unknown template 'nope'" in _fail(["schema", "nope"], capsys)
    assert "version '3.0.0' is not registered" in _fail(["schema", "pelvic-floor@3.0.0"], capsys)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli_main.main(["report", "render", str(EXAMPLES / "pelvic-floor.json"), "--format", "pdf"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
