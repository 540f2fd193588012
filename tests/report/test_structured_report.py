"""StructuredReport: canonical JSON round trip, shorthand input, one-line errors for bad JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.errors import FindingsError
from maerad.report.cross_check import check_report
from maerad.report.report_schema import report_model_schema
from maerad.report.structured_report import (
    FieldEntry,
    ReportFlag,
    StructuredReport,
    read_report,
    write_report,
)

EXAMPLES = Path(__file__).parent / "templates" / "examples"
TEMPLATES = ("cervix-figo2018", "endometrium-figo2009", "adnexa-orads-mri", "pelvic-floor")


@pytest.mark.parametrize("template", TEMPLATES)
def test_json_round_trip_is_identical(template: str) -> None:
    report = check_report(read_report(EXAMPLES / f"{template}.json"))
    text = report.to_json()
    again = StructuredReport.from_json(text)
    assert again == report
    assert again.to_json() == text
    assert json.loads(text)["fields"], "canonical form keeps every field"


@settings(max_examples=50, deadline=None)
@given(
    values=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        st.one_of(
            st.booleans(),
            st.integers(-(10**6), 10**6),
            st.floats(allow_nan=False, allow_infinity=False, width=64),
            st.text(max_size=20),
            st.lists(st.text(max_size=8), max_size=3),
        ),
        max_size=6,
    ),
    provenance=st.sampled_from(["model", "rule", "human"]),
    confidence=st.one_of(st.none(), st.floats(0, 1)),
)
def test_round_trip_of_any_value_kind(
    values: dict[str, object], provenance: str, confidence: float | None
) -> None:
    fields = {k: {"value": v, "provenance": provenance, "confidence": confidence} for k, v in values.items()}
    report = StructuredReport.model_validate(
        {
            "template_id": "t",
            "template_version": "1.0.0",
            "fields": fields,
            "flags": [{"kind": "note", "message": "checked by hand"}],
        }
    )
    again = StructuredReport.from_json(report.to_json())
    assert again == report and again.to_json() == report.to_json()
    for key, value in values.items():
        assert type(again.fields[key].value) is type(value), "booleans stay booleans, ints stay ints"


def test_shorthand_values_are_human_statements() -> None:
    r = StructuredReport.model_validate(
        {
            "template_id": "pelvic-floor",
            "template_version": "1.0.0",
            "fields": {"h_line_mm": 60, "m_line_mm": {"value": 20, "provenance": "model", "confidence": 0.7}},
        }
    )
    assert r.fields["h_line_mm"] == FieldEntry(value=60, provenance="human")
    assert r.fields["m_line_mm"].provenance == "model" and r.fields["m_line_mm"].confidence == 0.7
    assert r.to_dict()["fields"]["h_line_mm"] == {"value": 60, "provenance": "human"}
    assert r.value("nope") is None and r.values() == {"h_line_mm": 60, "m_line_mm": 20}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("{", "malformed JSON at line 1 column 2"),
        ("[]", "expected a JSON object"),
        ('{"template_id": "a", "template_id": "b"}', "key 'template_id' appears more than once"),
        ('{"template_version": "1.0.0", "fields": {}}', "key 'template_id' is required"),
        ('{"template_id": "a", "template_version": "1", "colour": 1}', "unknown key 'colour'"),
        (
            '{"template_id": "a", "template_version": "1", "fields": {"x": {"value": null}}}',
            "field 'x': got null, expected a concept id",
        ),
        (
            '{"template_id": "a", "template_version": "1", '
            '"fields": {"x": {"value": 1, "provenance": "ai"}}}',
            "fields.x.provenance",
        ),
        (
            '{"template_id": "a", "template_version": "1", "flags": [{"kind": "oops", "message": "m"}]}',
            "flags.0.kind",
        ),
    ],
)
def test_bad_json_gives_one_line_errors(text: str, expected: str) -> None:
    with pytest.raises(FindingsError) as info:
        StructuredReport.from_json(text, source="case.json")
    message = str(info.value)
    assert message.startswith("case.json: ") and expected in message and "\n" not in message


def test_read_and_write_files(tmp_path: Path) -> None:
    report = StructuredReport(
        template_id="t",
        template_version="1.0.0",
        fields={"a": FieldEntry(value="宫颈")},
        flags=(ReportFlag(kind="note", message="注意", field="a"),),
    )
    path = tmp_path / "out" / "r.json"
    write_report(report, path)
    assert "宫颈" in path.read_text(encoding="utf-8"), "Chinese is written unescaped"
    assert read_report(path) == report
    with pytest.raises(FindingsError, match="report file not found"):
        read_report(tmp_path / "missing.json")
    with pytest.raises(FindingsError, match="is a directory"):
        read_report(tmp_path)
    (tmp_path / "latin1.json").write_bytes(b'{"a": "\\xe9"}'.replace(b"\\xe9", b"\xe9"))
    with pytest.raises(FindingsError, match="not UTF-8"):
        read_report(tmp_path / "latin1.json")


def test_model_json_schema_is_exported() -> None:
    schema = report_model_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) == {"template_id", "template_version"}
    assert "FieldEntry" in schema["$defs"] and "ReportFlag" in schema["$defs"]
