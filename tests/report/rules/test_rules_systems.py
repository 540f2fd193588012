"""RULE_SYSTEMS / evaluate: names, models, option parsing and errors."""

from __future__ import annotations

import pytest

from maerad.errors import ConfigError, FindingsError
from maerad.registry import Registry
from maerad.report.rules import (
    RULE_SYSTEMS,
    AdnexalFindings,
    CervixFindings,
    EndometriumFindings,
    Esgo2020Input,
    Figo2023Findings,
    PelvicFloorFindings,
    RmiInput,
    evaluate,
)

EXPECTED = {
    "figo2018-cervix": CervixFindings,
    "figo2009-endometrium": EndometriumFindings,
    "figo2023-endometrium": Figo2023Findings,
    "orads-mri": AdnexalFindings,
    "rmi": RmiInput,
    "pelvic-floor": PelvicFloorFindings,
    "esgo2020": Esgo2020Input,
}


def test_registry_lists_every_system_with_its_model() -> None:
    assert isinstance(RULE_SYSTEMS, Registry)
    assert RULE_SYSTEMS.kind == "rule_system"
    assert set(RULE_SYSTEMS.names()) == set(EXPECTED)
    for name, model in EXPECTED.items():
        system = RULE_SYSTEMS.get(name)
        assert system.name == name and system.input_model is model


def test_options_come_from_keyword_parameters() -> None:
    cervix = RULE_SYSTEMS.get("figo2018-cervix")
    assert set(cervix.options) == {"boundaries", "stage_iva_on_mri_suspicion", "inguinal_nodes_stage"}
    assert cervix.defaults()["boundaries"] == "corrigendum_2019"
    assert set(RULE_SYSTEMS.get("figo2009-endometrium").options) == set()
    assert {"variant", "cutoff", "ca125_raised_u_ml", "features_from_mri"} == set(
        RULE_SYSTEMS.get("rmi").options
    )
    assert {"h_line_normal_cm", "m_line_normal_cm", "subtract_physiologic_excursion"} <= set(
        RULE_SYSTEMS.get("pelvic-floor").options
    )


def test_evaluate_with_string_options_as_from_the_cli() -> None:
    f = {"tumour_visible": True, "max_diameter_mm": 40}
    assert evaluate("figo2018-cervix", f).stage == "IB3"  # type: ignore[attr-defined]
    assert evaluate("figo2018-cervix", f, boundaries="original_2018").stage == "IB2"  # type: ignore[attr-defined]
    g = {"tumour_visible": True, "bladder_mucosa": "suspected"}
    assert evaluate("figo2018-cervix", g, stage_iva_on_mri_suspicion="true").stage == "IVA"  # type: ignore[attr-defined]
    assert evaluate("figo2018-cervix", g, stage_iva_on_mri_suspicion=False).stage == "IB1"  # type: ignore[attr-defined]
    r = evaluate("rmi", {"ca125_u_ml": 100, "solid_areas": True, "ascites": True}, cutoff="250", variant="II")
    assert r.rmi == 400.0 and r.cutoff == 250.0  # type: ignore[attr-defined]
    p = {
        "strain": {"P": [0, 0], "C": [-100, 0], "A": [-75, 0], "ARJ_ant": [-40, 0], "B": [0, 0], "Cx": [0, 0]}
    }
    # H = 7.5 cm: grade 1 with the default limits (6, 8, 10), grade 2 with (6, 7, 9)
    assert evaluate("pelvic-floor", p).hmo["H"] == 1  # type: ignore[attr-defined]
    assert evaluate("pelvic-floor", p, h_line_grade_cm="7,9").hmo["H"] == 2  # type: ignore[attr-defined]
    e = {"myometrial_invasion_ratio": 0.2, "molecular_features": ["p53abn", "POLEmut"]}
    assert evaluate("figo2023-endometrium", e, molecular_precedence="p53abn,POLEmut,MMRd,NSMP").stage == (  # type: ignore[attr-defined]
        "IICmp53abn"
    )


@pytest.mark.parametrize(
    ("system", "options", "fragment"),
    [
        ("figo2018-cervix", {"boundaries": "2009"}, "expected one of corrigendum_2019, original_2018"),
        ("figo2018-cervix", {"colour": "red"}, "unknown option 'colour'"),
        ("figo2018-cervix", {"stage_iva_on_mri_suspicion": "maybe"}, "stage_iva_on_mri_suspicion"),
        ("rmi", {"cutoff": "high"}, "'cutoff'"),
        ("figo2009-endometrium", {"boundaries": "original_2018"}, "options: none"),
    ],
)
def test_bad_options(system: str, options: dict[str, str], fragment: str) -> None:
    findings: dict[str, object] = {"ca125_u_ml": 10} if system == "rmi" else {}
    with pytest.raises(ConfigError, match=fragment):
        evaluate(system, findings, **options)


def test_unknown_system_and_bad_findings() -> None:
    with pytest.raises(ConfigError, match="did you mean 'orads-mri'"):
        evaluate("orads", {})
    with pytest.raises(FindingsError, match=r"^case\.json: field 'vagina'"):
        evaluate("figo2009-endometrium", {"vagina": "yes"}, source="case.json")
    with pytest.raises(FindingsError, match="expected a JSON object"):
        evaluate("esgo2020", [1, 2])


def test_every_system_result_dumps_to_json_with_flags() -> None:
    minimal = {
        "figo2018-cervix": {},
        "figo2009-endometrium": {},
        "figo2023-endometrium": {},
        "orads-mri": {},
        "rmi": {"ca125_u_ml": 12.5},
        "pelvic-floor": {
            "strain": {
                "P": [0, 0],
                "C": [-100, 0],
                "A": [-50, -10],
                "ARJ_ant": [-40, 0],
                "B": [0, 0],
                "Cx": [0, 0],
            }
        },
        "esgo2020": {"figo2009_stage": "IA", "histotype": "endometrioid", "grade": "G1"},
    }
    keys = {
        "figo2018-cervix": "stage",
        "figo2009-endometrium": "stage",
        "figo2023-endometrium": "stage",
        "orads-mri": "score",
        "rmi": "rmi",
        "pelvic-floor": "grades",
        "esgo2020": "risk_group",
    }
    for name, findings in minimal.items():
        dumped = evaluate(name, findings).model_dump(mode="json")
        assert keys[name] in dumped and isinstance(dumped["flags"], list)
        assert dumped["system"] == name
