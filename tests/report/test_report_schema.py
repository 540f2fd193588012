"""Per-template JSON Schemas: enums are the value sets, ranges and required fields match the template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maerad.report.cross_check import check_report
from maerad.report.report_schema import template_schema
from maerad.report.structured_report import read_report
from maerad.report.templates import get_template, value_set_members
from maerad.terminology import load_bundled

EXAMPLES = Path(__file__).parent / "templates" / "examples"
TEMPLATES = ("cervix-figo2018", "endometrium-figo2009", "adnexa-orads-mri", "pelvic-floor")


def _fits(schema: dict[str, Any], value: object) -> bool:
    """The few JSON Schema keywords the template schemas use."""
    kind = schema.get("type")
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("number", "integer"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        whole = kind == "number" or float(value) == int(value)
        return whole and bool(schema["minimum"] <= value <= schema["maximum"])
    if kind == "string":
        return isinstance(value, str) and ("enum" not in schema or value in schema["enum"])
    if kind == "array":
        return isinstance(value, list) and len(value) >= 1 and all(_fits(schema["items"], v) for v in value)
    raise AssertionError(f"unexpected schema {schema}")


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_schema_matches_template_and_accepts_the_example(template_id: str) -> None:
    template = get_template(template_id)
    schema = template_schema(template_id)
    fields = schema["properties"]["fields"]
    assert schema["properties"]["template_id"] == {"const": template_id}
    assert set(fields["properties"]) == set(template.field_ids()) and fields["additionalProperties"] is False
    assert fields["required"] == [f.id for f in template.fields if f.mandatory and f.when is None]
    graph = load_bundled()
    for spec in template.fields:
        value_schema = fields["properties"][spec.id]["properties"]["value"]
        if spec.type == "concept":
            enum = value_schema["items"]["enum"] if spec.multiple else value_schema["enum"]
            assert enum == list(value_set_members(spec, graph))
    report = check_report(read_report(EXAMPLES / f"{template_id}.json"))
    for field_id, entry in report.fields.items():
        assert _fits(fields["properties"][field_id]["properties"]["value"], entry.value), field_id


def test_schema_descriptions_carry_conditions_and_language() -> None:
    props = template_schema("cervix-figo2018")["properties"]["fields"]["properties"]
    assert props["max_diameter_mm"]["description"] == (
        "Maximum tumour diameter; unit mm; mandatory when tumour_visible is true"
    )
    assert "derived by the rule engines" in props["figo2018_stage"]["description"]
    zh = template_schema("cervix-figo2018", lang="zh")
    assert zh["title"] == "宫颈癌MRI分期报告（FIGO 2018）"
