"""parse_findings: the JSON contract of the findings models and its one-line error messages."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from maerad.errors import FindingsError, MaeradError
from maerad.report.rules import (
    AdnexalFindings,
    CervixFindings,
    EndometriumFindings,
    Esgo2020Input,
    Figo2023Findings,
    PelvicFloorFindings,
    RmiInput,
    parse_findings,
)


def _error(model: type[pydantic.BaseModel], data: object, source: str = "findings.json") -> str:
    with pytest.raises(FindingsError) as info:
        parse_findings(model, data, source=source)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, MaeradError)
    return message


def test_bad_enum_value_names_field_and_allowed_values() -> None:
    message = _error(CervixFindings, {"parametrial_invasion": "yes"})
    assert message == (
        "findings.json: field 'parametrial_invasion': got 'yes', expected one of absent, present, equivocal"
    )


def test_unknown_field_is_named_with_the_allowed_fields() -> None:
    message = _error(CervixFindings, {"tumor_visible": True})
    assert message.startswith("findings.json: unknown field 'tumor_visible' (allowed fields: ")
    assert "tumour_visible" in message


def test_several_problems_are_all_named_on_one_line() -> None:
    message = _error(CervixFindings, {"hydronephrosis": "yes", "max_diameter_mm": -1, "zzz": 1})
    assert "'hydronephrosis'" in message and "none, left, right, bilateral" in message
    assert "'max_diameter_mm'" in message and ">= 0" in message
    assert "unknown field 'zzz'" in message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"tumour_visible": "yes"}, "field 'tumour_visible': got 'yes', expected true or false"),
        ({"tumour_visible": 1}, "field 'tumour_visible': got 1, expected true or false"),
        ({"max_diameter_mm": "25"}, "field 'max_diameter_mm': got '25', expected a number"),
        ({"max_diameter_mm": True}, "field 'max_diameter_mm': got true, expected a number"),
        ({"max_diameter_mm": float("nan")}, "field 'max_diameter_mm': got NaN, expected a finite number"),
        (
            {"max_diameter_mm": float("inf")},
            "field 'max_diameter_mm': got Infinity, expected a finite number",
        ),
        ({"nodes_pelvic_stations": ["groin"]}, "expected one of parametrial, obturator"),
        ({"dims_mm": [1.0, 2.0]}, "field 'dims_mm'"),
    ],
)
def test_type_errors(data: dict[str, object], fragment: str) -> None:
    assert fragment in _error(CervixFindings, data)


def test_nested_fields_are_named_with_their_path() -> None:
    message = _error(AdnexalFindings, {"lesion": {"max_diameter_mm": 40, "fluid": "blood"}})
    assert "field 'lesion.fluid': got 'blood', expected one of simple, haemorrhagic, endometriotic" in message
    message = _error(AdnexalFindings, {"lesion": {"max_diameter_mm": 40, "colour": "red"}})
    assert "unknown field 'lesion.colour'" in message and "max_diameter_mm" in message


def test_missing_required_field() -> None:
    assert "field 'ca125_u_ml' is required" in _error(RmiInput, {})
    assert "field 'figo2009_stage' is required" in _error(Esgo2020Input, {"histotype": "serous"})


def test_model_level_inconsistency_is_a_findings_error() -> None:
    message = _error(Figo2023Findings, {"histotype": "serous", "histology_aggressive": False})
    assert "histology_aggressive" in message
    message = _error(CervixFindings, {"nodes_pelvic_stations": ["obturator"]})
    assert "nodes_pelvic_positive" in message


@pytest.mark.parametrize("data", [[], [1, 2], "text", 3, None, True])
def test_non_object_is_rejected(data: object) -> None:
    assert "expected a JSON object of findings" in _error(CervixFindings, data)


def test_source_starts_the_message() -> None:
    assert _error(CervixFindings, {"x": 1}, source="case7.json").startswith("case7.json: ")


@pytest.mark.parametrize("model", [CervixFindings, EndometriumFindings, Figo2023Findings, AdnexalFindings])
def test_empty_object_is_a_valid_minimal_case(model: type[pydantic.BaseModel]) -> None:
    assert parse_findings(model, {}) == model()


def test_models_are_frozen_and_forbid_extra() -> None:
    f = CervixFindings()
    with pytest.raises(pydantic.ValidationError):
        f.tumour_visible = True  # type: ignore[misc]
    for model in (
        CervixFindings,
        EndometriumFindings,
        Figo2023Findings,
        AdnexalFindings,
        RmiInput,
        PelvicFloorFindings,
        Esgo2020Input,
    ):
        assert model.model_config.get("extra") == "forbid"
        assert model.model_config.get("frozen") is True


def test_json_round_trip() -> None:
    f = CervixFindings(
        tumour_visible=True,
        max_diameter_mm=31.5,
        nodes_pelvic_positive=True,
        nodes_pelvic_stations=("obturator",),
    )
    assert parse_findings(CervixFindings, f.model_dump(mode="json")) == f


def test_numpy_booleans_are_accepted_but_strings_and_numbers_are_not() -> None:
    assert CervixFindings(tumour_visible=np.bool_(True)).tumour_visible is True
    assert "expected true or false" in _error(Figo2023Findings, {"histology_aggressive": "yes"})
    assert "expected true or false" in _error(CervixFindings, {"distant_mets": 0})
