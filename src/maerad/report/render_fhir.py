"""FHIR R4 ``DiagnosticReport`` rendering: one contained ``Observation`` per filled field.

Codings of a concept: the maerad ontology (system = the ontology IRI, code = the ``MR:`` id), plus
RadLex, NCIt and SNOMED CT codes carried by the concept (SNOMED CT only when the user's mapping is
merged into the graph, SPEC §6.1). The field itself is coded in the template's code system
(``urn:maerad:template:<id>``) and with the field's ontology concepts. Numbers are ``valueQuantity``
with UCUM units, booleans ``valueBoolean``, text ``valueString``, a concept ``valueCodeableConcept``
and a list of concepts one ``component`` each. Model-stated values are ``preliminary``; the report
is ``preliminary`` when any value is. Validated in tests with ``fhir.resources`` (R4B models, which
accept these R4 resources), an optional dependency (extra ``fhir``).

Examples::

    >>> from maerad.report.render_fhir import render_fhir
    >>> from maerad.report.derive import derive_report
    >>> from maerad.report.structured_report import StructuredReport
    >>> r = derive_report(StructuredReport.model_validate({
    ...     "template_id": "pelvic-floor", "template_version": "1.0.0",
    ...     "fields": {"h_line_mm": 55, "m_line_mm": 15, "bladder_base_descent_mm": -5,
    ...                "cervix_descent_mm": -20, "anorectal_junction_descent_mm": -5}}))
    >>> doc = render_fhir(r)
    >>> doc["resourceType"], len(doc["contained"]) == len(r.fields)
    ('DiagnosticReport', True)
    >>> doc["contained"][0]["valueQuantity"]["code"]
    'mm'
"""

from __future__ import annotations

from typing import Any

from maerad.report.render_text import concept_term, impression_line
from maerad.report.structured_report import FieldEntry, StructuredReport
from maerad.report.templates.model import FieldSpec, ReportTemplate
from maerad.report.templates.registry import get_template
from maerad.terminology.graph import TermGraph
from maerad.terminology.hierarchy import NxHierarchy
from maerad.terminology.snomed_mapping import SnomedMapping

__all__ = ["CODE_SYSTEMS", "MAERAD_SYSTEM", "concept_codings", "render_fhir", "with_snomed_codes"]

MAERAD_SYSTEM = "https://maerad.example/ontology/maerad-gyn"
"""Fallback code system of ``MR:`` ids (the bundled ontology's IRI is used when the graph has one)."""

CODE_SYSTEMS = {
    "RadLex": "http://www.radlex.org",
    "NCIt": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
    "SNOMED": "http://snomed.info/sct",
}
"""FHIR system URIs of the external codes a concept may carry."""

UCUM = "http://unitsofmeasure.org"


def concept_codings(graph: TermGraph, cid: str, lang: str = "en") -> list[dict[str, str]]:
    """FHIR ``Coding`` objects of a concept: its ``MR:`` id, then RadLex / NCIt / SNOMED CT codes."""
    concept = graph.concept(cid)
    display = concept_term(graph, cid, lang)
    system = (graph.meta.get("iri") or MAERAD_SYSTEM) if cid.startswith("MR:") else "urn:maerad:concept"
    codings = [{"system": system, "code": cid, "display": display}]
    for name, uri in CODE_SYSTEMS.items():
        for code in concept.code(name):
            codings.append({"system": uri, "code": code, "display": display})
    return codings


def with_snomed_codes(graph: TermGraph, mapping: SnomedMapping) -> TermGraph:
    """``graph`` with the SNOMED CT codes of the mapping's ``same_as`` rows added to its concepts.

    Only for users who hold a SNOMED CT licence (SPEC §6.1); ``related`` rows (broader codes) are not
    used, since a coding of a ``CodeableConcept`` must mean the concept itself.

    Examples::

        >>> from maerad.terminology import load_bundled, load_snomed_mapping
        >>> g = with_snomed_codes(load_bundled(), load_snomed_mapping())
        >>> g.concept("MR:A008").code("SNOMED")
        ('71252005',)
    """
    codes = [(r.mr_id, "SNOMED", r.sctid) for r in mapping.rows if r.relation == "same_as"]
    return graph.merge(TermGraph({}, NxHierarchy.from_links([], [])), (), codes)


def _template_system(template: ReportTemplate) -> str:
    return f"urn:maerad:template:{template.id}"


def _observation(spec: FieldSpec, entry: FieldEntry, template: ReportTemplate, graph: TermGraph, lang: str,
                 notes: list[str]) -> dict[str, Any]:
    label = spec.label.get(lang)
    coding = [{"system": _template_system(template), "version": template.version, "code": spec.id,
               "display": label}]
    for cid in spec.concepts:
        coding.extend(concept_codings(graph, cid, lang)[:1])
    code = {"coding": coding, "text": label}
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "obs-" + spec.id.replace("_", "-"),
        "status": "preliminary" if entry.provenance == "model" else "final",
        "code": code,
        "method": {"text": f"provenance: {entry.provenance}"},
    }
    value = entry.value
    if spec.type == "boolean":
        obs["valueBoolean"] = bool(value)
    elif spec.type == "number":
        assert isinstance(value, (int, float)) and spec.unit is not None
        obs["valueQuantity"] = {"value": value, "unit": spec.unit, "system": UCUM, "code": spec.unit}
    elif spec.type == "text":
        obs["valueString"] = str(value)
    elif isinstance(value, list):
        obs["component"] = [{"code": code, "valueCodeableConcept": _concept(graph, c, lang)} for c in value]
    else:
        obs["valueCodeableConcept"] = _concept(graph, str(value), lang)
    if notes:
        obs["note"] = [{"text": n} for n in notes]
    return obs


def _concept(graph: TermGraph, cid: str, lang: str) -> dict[str, Any]:
    return {"coding": concept_codings(graph, cid, lang), "text": concept_term(graph, cid, lang)}


def render_fhir(report: StructuredReport, *, lang: str = "en", template: ReportTemplate | None = None,
                graph: TermGraph | None = None, report_id: str = "maerad-report",
                subject: str | None = None) -> dict[str, Any]:
    """The report as a FHIR R4 ``DiagnosticReport`` (a JSON-ready dict with contained Observations).

    Args:
        report: a (checked) report.
        lang: language of displays and texts (``"en"`` / ``"zh"``).
        template, graph: default: from the registry / the bundled ontology.
        report_id: the resource id.
        subject: optional reference of the patient (``"Patient/123"``).
    """
    if graph is None:
        from maerad.terminology.bundled import load_bundled

        graph = load_bundled()
    template = template if template is not None else get_template(report.template_id, report.template_version)
    observations = []
    for spec in template.fields:
        entry = report.fields.get(spec.id)
        if entry is None:
            continue
        notes = [f.message for f in report.flags if f.field == spec.id]
        observations.append(_observation(spec, entry, template, graph, lang, notes))
    preliminary = any(e.provenance == "model" for e in report.fields.values())
    title = template.title.get(lang)
    doc: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": report_id,
        "contained": observations,
        "status": "preliminary" if preliminary else "final",
        "code": {"coding": [{"system": "urn:maerad:template", "version": template.version,
                             "code": template.id, "display": title}], "text": title},
        "result": [{"reference": f"#{o['id']}"} for o in observations],
        "conclusion": impression_line(report, lang, template=template, graph=graph),
    }
    if subject is not None:
        doc["subject"] = {"reference": subject}
    codes = []
    for field_id in template.impression:
        value = report.value(field_id)
        if template.field(field_id).type == "concept" and isinstance(value, str):
            codes.append(_concept(graph, value, lang))
    if codes:
        doc["conclusionCode"] = codes
    return doc
