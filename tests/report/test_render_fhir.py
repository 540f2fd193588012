"""FHIR R4 DiagnosticReport rendering; validated with fhir.resources (optional extra ``fhir``, in CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maerad.report.cross_check import check_report
from maerad.report.render_fhir import CODE_SYSTEMS, concept_codings, render_fhir, with_snomed_codes
from maerad.report.structured_report import StructuredReport, read_report
from maerad.terminology import load_bundled, load_snomed_mapping

EXAMPLES = Path(__file__).parent / "templates" / "examples"
TEMPLATES = ("cervix-figo2018", "endometrium-figo2009", "adnexa-orads-mri", "pelvic-floor")
GRAPH = load_bundled()


def _example(template: str) -> StructuredReport:
    return check_report(read_report(EXAMPLES / f"{template}.json"))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_fhir_validates(template: str, lang: str) -> None:
    pytest.importorskip("fhir.resources", reason="optional extra 'fhir' (CI installs it)")
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport

    report = _example(template)
    doc = render_fhir(report, lang=lang, subject="Patient/example")
    parsed = DiagnosticReport.model_validate(json.loads(json.dumps(doc)))
    assert parsed.contained is not None and len(parsed.contained) == len(report.fields)
    assert [r.reference for r in parsed.result or []] == [f"#{o['id']}" for o in doc["contained"]]
    ids = [o["id"] for o in doc["contained"]]
    assert len(set(ids)) == len(ids)
    assert doc["status"] == "final", "no value stated by a model"


def test_fhir_codings_and_values() -> None:
    example = _example("cervix-figo2018")
    with_text = StructuredReport.model_validate(
        {**example.to_dict(), "fields": {**example.to_dict()["fields"], "growth_pattern": "exophytic"}}
    )
    doc = render_fhir(with_text)
    by_field = {o["code"]["coding"][0]["code"]: o for o in doc["contained"]}
    stage = by_field["figo2018_stage"]["valueCodeableConcept"]["coding"]
    assert {
        "system": CODE_SYSTEMS["NCIt"],
        "code": "C96259",
        "display": "FIGO 2018 cervical stage IIIC1",
    } in stage
    assert stage[0]["code"] == "MR:S001.IIIC1"
    size = by_field["max_diameter_mm"]["valueQuantity"]
    assert size == {"value": 34, "unit": "mm", "system": "http://unitsofmeasure.org", "code": "mm"}
    assert by_field["pelvic_sidewall"]["valueBoolean"] is False
    assert by_field["growth_pattern"]["valueString"] == "exophytic"
    stations = by_field["pelvic_node_stations"]["component"]
    assert [c["valueCodeableConcept"]["coding"][0]["code"] for c in stations] == ["MR:N003", "MR:N005"]
    assert by_field["figo2018_stage"]["method"]["text"] == "provenance: rule"
    assert doc["conclusionCode"][0]["coding"][0]["code"] == "MR:S001.IIIC1"
    radlex = concept_codings(GRAPH, "MR:A008")
    assert {"system": CODE_SYSTEMS["RadLex"], "code": "RID308", "display": "uterine cervix"} in radlex


def test_fhir_marks_model_values_preliminary_and_snomed_codes_when_merged() -> None:
    report = _example("pelvic-floor")
    fields = report.to_dict()["fields"]
    fields["h_line_mm"]["provenance"] = "model"
    doc = render_fhir(StructuredReport.model_validate({**report.to_dict(), "fields": fields}))
    assert doc["status"] == "preliminary"
    assert [o["status"] for o in doc["contained"] if o["id"] == "obs-h-line-mm"] == ["preliminary"]
    snomed = with_snomed_codes(GRAPH, load_snomed_mapping())
    codings = concept_codings(snomed, "MR:A008")
    assert {"system": CODE_SYSTEMS["SNOMED"], "code": "71252005", "display": "uterine cervix"} in codings
    assert not snomed.concept("MR:F001").code("SNOMED"), "a 'related' (broader) code is not a coding"
    assert not GRAPH.concept("MR:A008").code("SNOMED"), "the bundled graph stays SNOMED-free"
