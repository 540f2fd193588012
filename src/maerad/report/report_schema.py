"""JSON Schemas of reports: the generic :class:`StructuredReport` model and one schema per template
(the allowed fields, concept ids, units and ranges of that template version).

Conditional rules (``when``) are written into each field's ``description``; mandatory fields
without a condition are ``required``. A report valid under the template schema may still fail
:func:`~maerad.report.report_validation.validate_report` on a condition.

Examples::

    >>> from maerad.report.report_schema import template_schema
    >>> s = template_schema("cervix-figo2018")
    >>> s["properties"]["fields"]["properties"]["stromal_ring"]["properties"]["value"]["enum"]
    ['MR:F010', 'MR:F011', 'MR:F012']
"""

from __future__ import annotations

from typing import Any

from maerad.report.structured_report import FLAG_KINDS, StructuredReport
from maerad.report.templates.model import FieldSpec, ReportTemplate
from maerad.report.templates.registry import get_template
from maerad.report.templates.value_sets import value_set_members
from maerad.terminology.graph import TermGraph

__all__ = ["report_model_schema", "template_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def report_model_schema() -> dict[str, Any]:
    """The JSON Schema of the generic :class:`StructuredReport` model (any template)."""
    return {"$schema": DIALECT, **StructuredReport.model_json_schema()}


def _value_schema(spec: FieldSpec, graph: TermGraph) -> dict[str, Any]:
    if spec.type == "boolean":
        return {"type": "boolean"}
    if spec.type == "text":
        return {"type": "string", "minLength": 1, "maxLength": spec.max_length}
    if spec.type == "number":
        assert spec.range is not None
        return {"type": "integer" if spec.integer else "number", "minimum": spec.range[0],
                "maximum": spec.range[1], "x-unit": spec.unit}
    members = list(value_set_members(spec, graph))
    single = {"type": "string", "enum": members}
    if spec.multiple:
        return {"type": "array", "items": single, "minItems": 1, "uniqueItems": True}
    return single


def _field_schema(spec: FieldSpec, graph: TermGraph, lang: str) -> dict[str, Any]:
    notes = [spec.label.get(lang)]
    if spec.unit is not None:
        notes.append(f"unit {spec.unit}")
    if spec.derived:
        notes.append("derived by the rule engines")
    if spec.mandatory:
        notes.append("mandatory" + (f" when {spec.when.describe()}" if spec.when is not None else ""))
    elif spec.when is not None:
        notes.append(f"applies when {spec.when.describe()}")
    return {
        "type": "object",
        "description": "; ".join(notes),
        "properties": {
            "value": _value_schema(spec, graph),
            "provenance": {"type": "string", "enum": ["model", "rule", "human"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["value"],
        "additionalProperties": False,
    }


def template_schema(template: str | ReportTemplate, *, graph: TermGraph | None = None,
                    lang: str = "en") -> dict[str, Any]:
    """The JSON Schema of the reports of one template version.

    Args:
        template: a template or its id (latest version).
        graph: terminology for the value sets (default: the bundled ontology).
        lang: language of the field descriptions.

    Raises:
        ConfigError: unknown template.
    """
    if isinstance(template, str):
        template = get_template(template)
    if graph is None:
        from maerad.terminology.bundled import load_bundled

        graph = load_bundled()
    required = [f.id for f in template.fields if f.mandatory and f.when is None]
    flag = {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": list(FLAG_KINDS)},
            "message": {"type": "string", "minLength": 1},
            "field": {"type": ["string", "null"]},
            "source": {"type": "string"},
        },
        "required": ["kind", "message"],
        "additionalProperties": False,
    }
    return {
        "$schema": DIALECT,
        "$id": f"urn:maerad:template:{template.id}:{template.version}",
        "title": template.title.get(lang),
        "description": f"maerad structured report, template {template.key} ({template.source})",
        "type": "object",
        "properties": {
            "template_id": {"const": template.id},
            "template_version": {"const": template.version},
            "fields": {
                "type": "object",
                "properties": {f.id: _field_schema(f, graph, lang) for f in template.fields},
                "required": required,
                "additionalProperties": False,
            },
            "flags": {"type": "array", "items": flag},
        },
        "required": ["template_id", "template_version", "fields"],
        "additionalProperties": False,
    }
