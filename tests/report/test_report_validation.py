"""Validation against the template: every error names the field and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from maerad.errors import ConfigError, FindingsError
from maerad.report.report_validation import validate_report
from maerad.report.structured_report import StructuredReport
from maerad.report.templates import get_template

CERVIX: dict[str, Any] = {
    "tumour_visible": True,
    "max_diameter_mm": 25,
    "stromal_ring": "MR:F010",
    "parametrium_left": "MR:F021",
    "parametrium_right": "MR:F021",
    "vaginal_involvement": "MR:F030",
    "pelvic_sidewall": False,
    "hydronephrosis_left": False,
    "hydronephrosis_right": False,
    "bladder_mucosal_invasion": False,
    "rectal_mucosal_invasion": False,
    "pelvic_nodes": False,
    "paraaortic_nodes": False,
    "distant_metastasis": False,
}


def _report(fields: dict[str, Any], template: str = "cervix-figo2018") -> StructuredReport:
    return StructuredReport.model_validate(
        {"template_id": template, "template_version": "1.0.0", "fields": fields}
    )


def _problem(fields: dict[str, Any], template: str = "cervix-figo2018") -> str:
    with pytest.raises(FindingsError) as info:
        validate_report(_report(fields, template), source="case.json")
    message = str(info.value)
    assert message.startswith("case.json: ") and "\n" not in message
    return message


def test_valid_report_returns_its_template() -> None:
    assert validate_report(_report(CERVIX)) is get_template("cervix-figo2018")


def test_concept_outside_the_value_set_lists_the_allowed_concepts() -> None:
    message = _problem({**CERVIX, "stromal_ring": "MR:F020"})
    assert (
        "field 'stromal_ring': got 'MR:F020', expected one of MR:F010 (stromal ring intact), "
        "MR:F011 (stromal ring thinned), MR:F012 (stromal ring disrupted)"
    ) in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"tumour_visible": "yes"}, "field 'tumour_visible': got 'yes', expected true or false"),
        ({"max_diameter_mm": 250}, "field 'max_diameter_mm': got 250, expected a number in mm from 0 to 200"),
        ({"max_diameter_mm": True}, "field 'max_diameter_mm': got true, expected a number in mm"),
        ({"max_diameter_mm": float("nan")}, "field 'max_diameter_mm': got nan, expected a number"),
        ({"growth_pattern": "  "}, "field 'growth_pattern': got '  ', expected non-empty text"),
        ({"growth_pattern": "x" * 201}, "field 'growth_pattern': text longer than 200 characters"),
        ({"colour": "red"}, "unknown field 'colour' (fields of cervix-figo2018@1.0.0: tumour_visible,"),
        (
            {"pelvic_node_stations": ["MR:N003"]},
            "field 'pelvic_node_stations' applies only when pelvic_nodes is true",
        ),
        (
            {"pelvic_nodes": True, "pelvic_node_stations": []},
            "field 'pelvic_node_stations': got [], expected a non-empty list of concept ids",
        ),
        ({"pelvic_nodes": True, "pelvic_node_stations": ["MR:N003", "MR:N003"]}, "a concept is listed twice"),
        (
            {"pelvic_nodes": True, "pelvic_node_stations": ["MR:N008"]},
            "field 'pelvic_node_stations': got 'MR:N008', expected one of MR:N002 (parametrial lymph node)",
        ),
        (
            {"pelvic_nodes": True, "pelvic_node_stations": "MR:N003"},
            "expected a non-empty list of concept ids",
        ),
        ({"figo2018_stage": "IIB"}, "field 'figo2018_stage': got 'IIB', expected one of MR:S001.I "),
    ],
)
def test_value_problems_name_the_field(changes: dict[str, Any], expected: str) -> None:
    assert expected in _problem({**CERVIX, **changes})


def test_missing_and_conditional_mandatory_fields() -> None:
    fields = {k: v for k, v in CERVIX.items() if k not in ("max_diameter_mm", "vaginal_involvement")}
    message = _problem(fields)
    assert "field 'max_diameter_mm' is required when tumour_visible is true" in message
    assert "field 'vaginal_involvement' is required" in message
    hidden = {k: v for k, v in CERVIX.items() if k not in ("max_diameter_mm", "stromal_ring")}
    validate_report(_report({**hidden, "tumour_visible": False}))  # size and ring do not apply
    assert "applies only when tumour_visible is true" in _problem(
        {**hidden, "tumour_visible": False, "stromal_ring": "MR:F010"}
    )


def test_integer_fields_and_present_conditions() -> None:
    base = {
        "tumour_size_mm": 30,
        "myometrial_invasion": "MR:F062",
        "cervical_stromal_invasion": False,
        "serosal_invasion": False,
        "adnexal_involvement": False,
        "vaginal_involvement": "MR:F030",
        "parametrial_invasion": "MR:F021",
        "bladder_mucosal_invasion": False,
        "bowel_mucosal_invasion": False,
        "pelvic_nodes": False,
        "paraaortic_nodes": False,
        "distant_metastasis": False,
    }
    validate_report(_report(base, "endometrium-figo2009"))
    message = _problem({**base, "endometrioid_histology": True, "tumour_grade": 2.5}, "endometrium-figo2009")
    assert "field 'tumour_grade': got 2.5, expected an integer in 1 from 1 to 3" in message
    assert "field 'lvsi' is required when endometrioid_histology is filled" in message
    validate_report(
        _report(
            {**base, "endometrioid_histology": True, "tumour_grade": 2.0, "lvsi": "MR:S031.none"},
            "endometrium-figo2009",
        )
    )


def test_template_mismatch_and_unknown_template() -> None:
    with pytest.raises(
        FindingsError, match=r"report is for template cervix-figo2018@1\.0\.0, not pelvic-floor@1\.0\.0"
    ):
        validate_report(_report(CERVIX), template=get_template("pelvic-floor"))
    with pytest.raises(ConfigError, match="unknown template 'nope'"):
        validate_report(_report({}, "nope"))
