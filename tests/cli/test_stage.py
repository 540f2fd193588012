"""`maerad stage`: JSON in, JSON out; every bad findings file is one stderr line and exit status 2."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from maerad.cli import main as cli_main

VISIBLE_40 = {"tumour_visible": True, "max_diameter_mm": 40}
STRAIN = {"P": [0, 0], "C": [-100, 0], "A": [-50, -10], "ARJ_ant": [-40, 0], "B": [-10, -35], "Cx": [0, 0]}


@pytest.fixture(autouse=True)
def _only_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other sub-command modules are written in parallel; the stage command must work on its own.
    monkeypatch.setattr(cli_main, "_COMMAND_MODULES", ("stage",))


def _write(tmp_path: Path, content: str | bytes, name: str = "findings.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _ok(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert cli_main.main(["stage", *argv]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    result = json.loads(captured.out)
    assert isinstance(result, dict) and isinstance(result["flags"], list)
    return result


def test_stage_from_file_with_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, json.dumps(VISIBLE_40))
    assert _ok(["--system", "figo2018-cervix", "--findings", str(path)], capsys)["stage"] == "IB3"
    out = _ok(
        ["--system", "figo2018-cervix", "--findings", str(path), "--option", "boundaries=original_2018"],
        capsys,
    )
    assert out["stage"] == "IB2"


def test_iva_on_suspicion_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, json.dumps({"tumour_visible": True, "rectal_mucosa": "suspected"}))
    base = ["--system", "figo2018-cervix", "--findings", str(path)]
    assert _ok(base, capsys)["stage"] == "IB1"
    assert _ok([*base, "--option", "stage_iva_on_mri_suspicion=true"], capsys)["stage"] == "IVA"


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"myometrial_invasion_ratio": 0.5}'))
    assert _ok(["--system", "figo2009-endometrium", "--findings", "-"], capsys)["stage"] == "IB"


def test_iiic_label_and_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, json.dumps({"nodes_pelvic_positive": True, "nodes_from_pathology": True}))
    out = _ok(["--system", "figo2018-cervix", "--findings", str(path)], capsys)
    assert (out["stage"], out["suffix"], out["label"]) == ("IIIC1", "p", "IIIC1p")


@pytest.mark.parametrize(
    ("system", "findings", "options", "key", "expected"),
    [
        ("figo2023-endometrium", {"myometrial_invasion_ratio": 0.3}, [], "stage", "I"),
        (
            "figo2023-endometrium",
            {"myometrial_invasion_ratio": 0.3, "histotype": "serous", "lvsi": "none"},
            [],
            "stage",
            "IIC",
        ),
        (
            "orads-mri",
            {"lesion": {"max_diameter_mm": 50, "solid_tissue": True, "tic": "high"}, "hysterectomy": True},
            [],
            "score",
            "4|5",
        ),
        ("orads-mri", {"technically_inadequate": True}, [], "score", 0),
        (
            "rmi",
            {"ca125_u_ml": 100, "ascites": True, "solid_areas": True, "postmenopausal": True},
            ["variant=III", "cutoff=250", "features_from_mri=true"],
            "rmi",
            900.0,
        ),
        (
            "pelvic-floor",
            {"strain": STRAIN, "rectocele_depth_mm": 20},
            [],
            "grades",
            {"anterior": "moderate", "middle": "none", "posterior": "none", "rectocele": "moderate"},
        ),
        (
            "esgo2020",
            {"figo2009_stage": "II", "histotype": "serous", "molecular": "POLEmut"},
            [],
            "risk_group",
            "low",
        ),
    ],
)
def test_every_system(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    system: str,
    findings: dict[str, object],
    options: list[str],
    key: str,
    expected: object,
) -> None:
    path = _write(tmp_path, json.dumps(findings))
    argv = ["--system", system, "--findings", str(path)]
    for option in options:
        argv += ["--option", option]
    out = _ok(argv, capsys)
    assert out[key] == expected
    if system == "rmi":
        assert out["flags"] == ["rmi_features_from_mri"] and out["at_or_above_cutoff"] is True


PELVIC = "pelvic-floor"
C18 = "figo2018-cervix"
BAD_FINDINGS: list[tuple[str, str | bytes]] = [
    (C18, ""),
    (C18, "  \n\t"),
    (C18, '{"tumour_visible": true'),
    (C18, '{"tumour_visible": tr'),
    (C18, "{"),
    (C18, "not json"),
    (C18, "{'tumour_visible': True}"),
    (C18, '{"tumour_visible": true,}'),
    (C18, "[]"),
    (C18, '[{"tumour_visible": true}]'),
    (C18, '"findings"'),
    (C18, "42"),
    (C18, "null"),
    (C18, "true"),
    (C18, '{"tumour_visible": "yes"}'),
    (C18, '{"tumour_visible": 1}'),
    (C18, '{"tumour_visible": null}'),
    (C18, '{"max_diameter_mm": "25"}'),
    (C18, '{"max_diameter_mm": -3}'),
    (C18, '{"max_diameter_mm": NaN}'),
    (C18, '{"max_diameter_mm": Infinity}'),
    (C18, '{"max_diameter_mm": -Infinity}'),
    (C18, '{"max_diameter_mm": 1e999}'),
    (C18, '{"max_diameter_mm": [25]}'),
    (C18, '{"parametrial_invasion": "yes"}'),
    (C18, '{"vaginal_involvement": "lower"}'),
    (C18, '{"hydronephrosis": true}'),
    (C18, '{"bladder_mucosa": "proven"}'),
    (C18, '{"tumor_visible": true}'),
    (C18, '{"stage": "IB1"}'),
    (C18, '{"dims_mm": [1, 2]}'),
    (C18, '{"dims_mm": "1x2x3"}'),
    (C18, '{"path_stage_IA": "IA3"}'),
    (C18, '{"nodes_pelvic_stations": ["obturator"]}'),
    (C18, '{"tumour_visible": true, "tumour_visible": false}'),
    (C18, b'{"tumour_visible": \xff\xfe}'),
    (C18, "[" * 100_000),
    ("figo2009-endometrium", '{"myometrial_invasion_ratio": 1.5}'),
    ("figo2009-endometrium", '{"myometrial_invasion_ratio": -0.1}'),
    ("figo2009-endometrium", '{"myometrial_invasion_ratio": "half"}'),
    ("figo2009-endometrium", '{"serosa": "present"}'),
    ("figo2023-endometrium", '{"histotype": "squamous"}'),
    ("figo2023-endometrium", '{"grade": 3}'),
    ("figo2023-endometrium", '{"molecular": "POLE"}'),
    ("figo2023-endometrium", '{"histotype": "serous", "histology_aggressive": false}'),
    ("orads-mri", '{"lesion": []}'),
    ("orads-mri", '{"lesion": {}}'),
    ("orads-mri", '{"lesion": {"max_diameter_mm": 50, "solid_tissue": true}}'),
    ("orads-mri", '{"lesion": {"max_diameter_mm": 50, "tic": "medium"}}'),
    ("orads-mri", '{"lesion": {"max_diameter_mm": 50, "size": 3}}'),
    ("rmi", "{}"),
    ("rmi", '{"ca125_u_ml": -5}'),
    ("rmi", '{"ca125_u_ml": 50, "ascites": "yes"}'),
    (PELVIC, "{}"),
    (PELVIC, '{"strain": {"P": [0, 0]}}'),
    (PELVIC, json.dumps({"strain": {**STRAIN, "C": [0, 0]}})),
    (PELVIC, json.dumps({"strain": {**STRAIN, "B": [0]}})),
    (PELVIC, json.dumps({"strain": {**STRAIN, "B": [0, "a"]}})),
    (PELVIC, json.dumps({"strain": STRAIN, "rectocele_depth_mm": -1})),
    ("esgo2020", '{"figo2009_stage": "IC", "histotype": "endometrioid"}'),
    ("esgo2020", '{"histotype": "endometrioid"}'),
    ("esgo2020", '{"figo2009_stage": "IB", "histotype": "endometrioid", "myometrial_invasion": false}'),
]


@pytest.mark.parametrize(("system", "content"), BAD_FINDINGS)
def test_bad_findings_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], system: str, content: str | bytes
) -> None:
    path = _write(tmp_path, content)
    assert cli_main.main(["stage", "--system", system, "--findings", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"maerad: error: {path}: ")


def test_bad_findings_count() -> None:
    assert len(BAD_FINDINGS) >= 40


def test_error_message_names_field_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, '{"parametrial_invasion": "yes"}')
    assert cli_main.main(["stage", "--system", C18, "--findings", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"maerad: error: {path}: field 'parametrial_invasion': got 'yes', expected one of absent, present, "
        "equivocal\n"
    )


@pytest.mark.parametrize(("name", "fragment"), [("missing.json", "not found"), ("folder", "directory")])
def test_unreadable_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, fragment: str
) -> None:
    (tmp_path / "folder").mkdir()
    assert cli_main.main(["stage", "--system", C18, "--findings", str(tmp_path / name)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1 and fragment in captured.err


def test_bad_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("[1, 2"))
    assert cli_main.main(["stage", "--system", C18, "--findings", "-"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("maerad: error: <stdin>: malformed JSON")


@pytest.mark.parametrize(
    "option", ["boundaries=2009", "colour=red", "no_equals_sign", "=x", "stage_iva_on_mri_suspicion=maybe"]
)
def test_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str) -> None:
    path = _write(tmp_path, "{}")
    assert cli_main.main(["stage", "--system", C18, "--findings", str(path), "--option", option]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1


def test_unknown_system_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "{}")
    with pytest.raises(SystemExit) as info:
        cli_main.main(["stage", "--system", "figo1988", "--findings", str(path)])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
