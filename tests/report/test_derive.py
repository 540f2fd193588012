"""Derived fields come from the rule engines; a stated value that disagrees is flagged, never overwritten;
terminology violations become flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maerad.errors import ConfigError, FindingsError
from maerad.report.assertions import report_assertions, terminology_flags
from maerad.report.cross_check import check_report
from maerad.report.derive import derive_report, same_value
from maerad.report.structured_report import FieldEntry, ReportFlag, StructuredReport, read_report
from maerad.report.templates import DERIVATIONS, Derivation, Derived, get_template, parse_template
from maerad.terminology import Assertion, ConsistencyChecker, load_bundled

EXAMPLES = Path(__file__).parent / "templates" / "examples"
CERVIX: dict[str, Any] = {
    "tumour_visible": True,
    "max_diameter_mm": 25,
    "stromal_ring": "MR:F012",
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


def _cervix(**changes: Any) -> StructuredReport:
    return StructuredReport.model_validate(
        {"template_id": "cervix-figo2018", "template_version": "1.0.0", "fields": {**CERVIX, **changes}}
    )


def test_empty_derived_field_is_filled_by_the_rules() -> None:
    r = derive_report(_cervix())
    assert r.fields["figo2018_stage"] == FieldEntry(value="MR:S001.IB2", provenance="rule")
    assert list(r.fields)[-1] == "figo2018_stage", "fields in template order"
    assert r.flags == ()


def test_stated_value_that_disagrees_is_kept_and_flagged() -> None:
    stated = {"value": "MR:S001.IB1", "provenance": "model"}
    r = derive_report(_cervix(figo2018_stage=stated))
    assert r.fields["figo2018_stage"] == FieldEntry(value="MR:S001.IB1", provenance="model")
    [flag] = [f for f in r.flags if f.kind == "derived_mismatch"]
    assert flag.field == "figo2018_stage" and "MR:S001.IB1" in flag.message and "MR:S001.IB2" in flag.message
    agreeing = derive_report(_cervix(figo2018_stage={"value": "MR:S001.IB2", "provenance": "human"}))
    assert agreeing.fields["figo2018_stage"].provenance == "human" and agreeing.flags == ()


def test_rule_values_follow_the_findings_and_old_rule_flags_are_replaced() -> None:
    first = derive_report(_cervix(parametrium_left="MR:F022"))
    assert any("equivocal" in f.message for f in first.flags)
    note = ReportFlag(kind="note", message="discussed at tumour board")
    edited = first.model_copy(
        update={
            "fields": {
                **first.fields,
                "parametrium_left": FieldEntry(value="MR:F020"),
                "parametrium_right": FieldEntry(value="MR:F021"),
            },
            "flags": (*first.flags, note),
        }
    )
    second = derive_report(edited)
    assert second.value("figo2018_stage") == "MR:S001.IIB", "a rule value is recomputed"
    assert not any("equivocal" in f.message for f in second.flags)
    assert note in second.flags, "flags that are not computed are kept"


def test_undeterminable_value_stated_by_a_person_is_flagged() -> None:
    fields = {
        "menopausal_status": "MR:S020.premenopausal",
        "hysterectomy": True,
        "adnexal_lesion": True,
        "lesion_max_diameter_mm": 50,
        "lesion_type": "MR:O012",
        "solid_tissue_features": ["MR:O035"],
        "tic": "MR:O052",
        "peritoneal_disease": False,
        "orads_score": "MR:S010.5",
    }
    r = derive_report(
        StructuredReport.model_validate(
            {"template_id": "adnexa-orads-mri", "template_version": "1.0.0", "fields": fields}
        )
    )
    assert r.value("orads_score") == "MR:S010.5"
    assert any(f.kind == "derived_mismatch" and "cannot determine" in f.message for f in r.flags)
    assert any(f.kind == "rule" and "score 4 or 5" in f.message for f in r.flags)


def test_options_and_option_errors() -> None:
    r = derive_report(
        _cervix(max_diameter_mm=40), options={"figo2018-cervix": {"boundaries": "original_2018"}}
    )
    assert r.value("figo2018_stage") == "MR:S001.IB2"
    with pytest.raises(ConfigError, match="unknown option 'colour'"):
        derive_report(_cervix(), options={"figo2018-cervix": {"colour": "red"}})
    with pytest.raises(ConfigError, match="options given for orads-mri, which it does not use"):
        derive_report(_cervix(), options={"orads-mri": {}})
    with pytest.raises(FindingsError, match="field 'max_diameter_mm'"):
        derive_report(_cervix(max_diameter_mm=-1))


def test_a_derivation_returning_a_bad_value_is_a_config_error() -> None:
    template = parse_template(
        {
            "id": "bad-derivation-test",
            "version": "1.0.0",
            "title": {"en": "x"},
            "derivation": "always-bad",
            "sections": [{"id": "a", "label": {"en": "A"}}],
            "fields": [
                {
                    "id": "stage",
                    "type": "concept",
                    "section": "a",
                    "label": {"en": "S"},
                    "derived": True,
                    "value_set": {"root": "MR:S002"},
                }
            ],
        }
    )
    DERIVATIONS.add(
        "always-bad",
        Derivation("always-bad", (), lambda v, g, o: Derived(values={"stage": "IA"})),
        overwrite=True,
    )
    report = StructuredReport(template_id=template.id, template_version=template.version)
    with pytest.raises(
        ConfigError, match="derivation always-bad returned a bad value: field 'stage': got 'IA'"
    ):
        derive_report(report, template=template)


def test_same_value() -> None:
    assert same_value(1.0, 1.0 + 1e-12) and not same_value(1.0, 1.001)
    assert not same_value(True, 1) and same_value(["a", "b"], ["b", "a"])


def test_terminology_violation_becomes_a_flag_on_the_offending_field() -> None:
    r = check_report(
        _cervix(vaginal_involvement="MR:F032", figo2018_stage={"value": "MR:S001.IIB", "provenance": "model"})
    )
    terms = [f for f in r.flags if f.kind == "terminology"]
    assert [f.source for f in terms] == ["IMP-F032-FIGO-CX"]
    assert terms[0].field == "figo2018_stage"
    assert any(f.kind == "derived_mismatch" for f in r.flags)


def test_per_side_exclusion_groups_do_not_clash() -> None:
    r = check_report(_cervix(parametrium_left="MR:F020", parametrium_right="MR:F021"))
    assert not [f for f in r.flags if f.kind == "terminology"]
    subjects = {(a.value, a.subject) for a in report_assertions(r)}
    assert {("MR:F020", "left"), ("MR:F021", "right")} <= subjects
    # the same two findings without subjects are an exclusion conflict (SPEC §6.3 E-PARAM)
    issues = ConsistencyChecker(load_bundled()).check([Assertion("MR:F020"), Assertion("MR:F021")])
    assert [i.kind for i in issues] == ["exclusion_conflict"]


def test_refined_concepts_are_not_asserted_twice() -> None:
    r = check_report(_cervix(pelvic_nodes=True, pelvic_node_stations=["MR:N003"]))
    values = [a.value for a in report_assertions(r)]
    assert "MR:N003" in values and "MR:N001" not in values and "MR:F050" in values
    assert terminology_flags(r) == ()


@pytest.mark.parametrize(
    "template", ["cervix-figo2018", "endometrium-figo2009", "adnexa-orads-mri", "pelvic-floor"]
)
def test_examples_are_consistent(template: str) -> None:
    r = check_report(read_report(EXAMPLES / f"{template}.json"))
    assert not [f for f in r.flags if f.kind in ("terminology", "derived_mismatch")]
    assert all(r.fields[f].provenance == "rule" for f in get_template(template).impression if f in r.fields)
