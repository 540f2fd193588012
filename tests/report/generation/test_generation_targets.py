"""Ground-truth reports from phantom metadata, for every case kind (targets-from-phantom)."""

from __future__ import annotations

import pytest
from helpers_generation import SMALL

from maerad.data.phantom import PhantomCase, generate_case
from maerad.data.phantom.adnexal import ARCHETYPES
from maerad.data.phantom.cervical import CERVIX_TARGETS
from maerad.data.phantom.endometrial import ENDOMETRIUM_TARGETS
from maerad.errors import InputError
from maerad.report.generation.phantom_fields import phantom_report_fields
from maerad.report.generation.targets import CaseTargets, headline_field, targets_from_metadata
from maerad.report.report_validation import validate_report
from maerad.report.templates import get_template
from maerad.report.templates.cervix import cervix_findings
from maerad.terminology.bundled import load_bundled

GRAPH = load_bundled()


def _targets(kind: str, **targets: object) -> tuple[PhantomCase, CaseTargets]:
    case = generate_case(kind, seed=2, config=SMALL, **targets)
    result = targets_from_metadata(case.study.metadata, graph=GRAPH)
    assert result is not None
    return case, result


@pytest.mark.parametrize("stage", CERVIX_TARGETS)
def test_cervix_stage_derived_from_report_equals_phantom_stage(stage: str) -> None:
    case, t = _targets("cervical", stage=stage)
    expected = "MR:S001." + case.outputs["figo2018"].stage  # type: ignore[attr-defined]
    assert t.template == "cervix-figo2018" and t.headline_field == "figo2018_stage"
    assert t.headline == expected and t.report.value("figo2018_stage") == expected
    assert t.mismatches == ()
    validate_report(t.report, graph=GRAPH)  # a valid report of its template
    assert not [f for f in t.report.flags if f.kind in ("terminology", "derived_mismatch")]


def test_cervix_fields_map_back_to_the_phantom_findings() -> None:
    # the template's own mapping (report -> CervixFindings) must give back the sampled findings
    for stage in ("IB2", "IIB", "IIIC1r", "IVA"):
        case, t = _targets("cervical", stage=stage)
        sampled = case.findings.model_dump()  # type: ignore[union-attr]
        back = cervix_findings(t.report.values())
        for key in ("tumour_visible", "max_diameter_mm", "stromal_ring", "parametrial_invasion",
                    "vaginal_involvement", "pelvic_sidewall", "hydronephrosis", "nodes_pelvic_positive",
                    "nodes_paraaortic_positive", "bladder_mucosa", "rectal_mucosa", "distant_mets"):
            assert back[key] == sampled[key], (stage, key)
        assert t.report.value("tumour_volume_ml") == pytest.approx(case.study.metadata["tumour"]["volume_ml"])


@pytest.mark.parametrize("stage", ENDOMETRIUM_TARGETS)
def test_endometrium_stage_and_risk_group(stage: str) -> None:
    case, t = _targets("endometrial", stage=stage)
    assert t.headline == "MR:S002." + case.outputs["figo2009"].stage  # type: ignore[attr-defined]
    assert t.report.value("figo2009_stage") == t.headline and t.mismatches == ()
    risk = case.outputs["esgo2020"].risk_group  # type: ignore[attr-defined]
    assert t.report.value("esgo2020_risk_group") == "MR:S040." + risk.replace("_", "-")
    ratio = case.findings.myometrial_invasion_ratio  # type: ignore[union-attr]
    expected_mi = "MR:F061" if ratio == 0 else ("MR:F062" if ratio < 0.5 else "MR:F063")  # SPEC §2.1
    assert t.report.value("myometrial_invasion") == expected_mi


@pytest.mark.parametrize(("score", "archetype"), [(s, a) for s, names in ARCHETYPES.items() for a in names])
def test_adnexa_scores(score: int, archetype: str) -> None:
    _, t = _targets("adnexal", score=score, archetype=archetype)
    assert t.headline == f"MR:S010.{score}"
    if archetype == "haemorrhagic_cyst":
        # no template concept for a haemorrhagic cyst: written as haemorrhagic fluid, which O-RADS
        # scores 2 (unilocular, no enhancing wall; SPEC §3.2) — the documented template gap
        assert t.report.value("fluid_type") == "MR:O041"
        assert t.report.value("orads_score") == "MR:S010.2" and t.mismatches == ("orads_score",)
    else:
        assert t.report.value("orads_score") == f"MR:S010.{score}" and t.mismatches == ()


@pytest.mark.parametrize("grades", [{"anterior": "none", "middle": "none", "posterior": "none"},
                                    {"anterior": "severe", "middle": "mild", "posterior": "moderate"},
                                    {"anterior": "moderate", "middle": "severe", "posterior": "mild"}])
def test_pelvic_floor_grades(grades: dict[str, str]) -> None:
    case, t = _targets("pelvic_floor", **grades)
    result = case.outputs["pelvic_floor"]
    assert t.mismatches == ()
    assert t.headline == f"MR:P030.H{result.hmo['H']}"  # type: ignore[attr-defined]
    for compartment, field in (("anterior", "cystocele"), ("middle", "uterine_prolapse"),
                               ("posterior", "arj_descent")):
        assert t.report.value(field) is (grades[compartment] != "none")
    strain = result.strain  # type: ignore[attr-defined]
    assert t.report.value("h_line_mm") == strain.h_line_mm


def test_normal_control_is_an_adnexa_report_without_lesion() -> None:
    case, t = _targets("normal")
    assert t.template == "adnexa-orads-mri"
    assert t.report.value("adnexal_lesion") is False
    assert t.headline == "MR:S010.1" == t.report.value("orads_score")  # SPEC §3.2: no lesion -> 1
    assert targets_from_metadata(case.study.metadata, include_normal=False) is None


def test_real_data_without_phantom_metadata_has_no_targets() -> None:
    assert targets_from_metadata({}) is None
    assert targets_from_metadata({"kind": "unknown-kind"}) is None


def test_incomplete_metadata_is_a_named_input_error() -> None:
    with pytest.raises(InputError, match="findings"):
        phantom_report_fields("cervical", {"kind": "cervical"})
    with pytest.raises(InputError, match="stromal_ring"):
        phantom_report_fields("cervical", {"findings": {"tumour_visible": True, "max_diameter_mm": 30.0,
                                                        "stromal_ring": "half"}})
    with pytest.raises(InputError, match="menopausal_status"):
        phantom_report_fields("normal", {"anatomy": {}})


def test_headline_fields_of_the_built_in_templates() -> None:
    expected = {"cervix-figo2018": "figo2018_stage", "endometrium-figo2009": "figo2009_stage",
                "adnexa-orads-mri": "orads_score", "pelvic-floor": "hmo_h"}
    for template, field in expected.items():
        assert headline_field(get_template(template)) == field
