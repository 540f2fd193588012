"""Validation of a :class:`StructuredReport` against its template: field names, value types, value
sets, plausible ranges, applicability conditions and mandatory fields.

Every problem is collected into one :class:`~maerad.errors.FindingsError` line that names the field
and what was expected (the allowed values of a concept field, the range of a number, …).

Examples::

    >>> from maerad.report.report_validation import validate_report
    >>> from maerad.report.structured_report import StructuredReport
    >>> bad = StructuredReport.model_validate({"template_id": "pelvic-floor", "template_version": "1.0.0",
    ...                                        "fields": {"h_line_mm": 500}})
    >>> try:
    ...     validate_report(bad)
    ... except Exception as exc:
    ...     print(str(exc).split(";")[0])
    report: field 'h_line_mm': got 500, expected a number in mm from 1 to 200
"""

from __future__ import annotations

import math

from maerad.errors import ConfigError, FindingsError
from maerad.report.structured_report import StructuredReport
from maerad.report.templates.model import FieldSpec, ReportTemplate, Value
from maerad.report.templates.registry import get_template
from maerad.report.templates.value_sets import value_set_members
from maerad.terminology.graph import TermGraph

__all__ = ["check_value", "template_for", "validate_report"]


def template_for(report: StructuredReport, *, source: str = "report") -> ReportTemplate:
    """The registered template of ``report`` (its id and version).

    Raises:
        ConfigError: the template or that version is not registered (the message starts with ``source``).
    """
    try:
        return get_template(report.template_id, report.template_version)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def validate_report(report: StructuredReport, *, template: ReportTemplate | None = None,
                    graph: TermGraph | None = None, source: str = "report") -> ReportTemplate:
    """Check ``report`` against its template and return the template.

    Args:
        report: the report.
        template: the template (default: looked up by the report's id and version).
        graph: terminology for concept value sets (default: the bundled ontology).
        source: name used at the start of the error message (a file name).

    Raises:
        ConfigError: the template (version) is not registered.
        FindingsError: one line listing every problem, each naming its field.
    """
    if template is None:
        template = template_for(report, source=source)
    elif (template.id, template.version) != (report.template_id, report.template_version):
        raise FindingsError(f"{source}: report is for template "
                            f"{report.template_id}@{report.template_version}, not {template.key}")
    graph = graph if graph is not None else _bundled()
    values = report.values()
    known = set(template.field_ids())
    problems = [f"unknown field {fid!r} (fields of {template.key}: {', '.join(template.field_ids())})"
                for fid in values if fid not in known]
    for spec in template.fields:
        value = values.get(spec.id)
        applies = spec.applies(values)
        if value is None:
            if spec.mandatory and applies:
                problems.append(f"field {spec.id!r} is required" + _when(spec))
            continue
        if not applies:
            problems.append(f"field {spec.id!r} applies only when {_condition(spec)}")
            continue
        problem = check_value(spec, value, graph)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise FindingsError(f"{source}: " + "; ".join(problems))
    return template


def check_value(spec: FieldSpec, value: Value, graph: TermGraph) -> str | None:
    """The problem with ``value`` for field ``spec`` (one phrase naming the field), or None."""
    name = f"field {spec.id!r}"
    got = _show(value)
    if spec.type == "boolean":
        return None if isinstance(value, bool) else f"{name}: got {got}, expected true or false"
    if spec.type == "number":
        return _check_number(spec, value)
    if spec.type == "text":
        if not isinstance(value, str) or not value.strip():
            return f"{name}: got {got}, expected non-empty text"
        if len(value) > spec.max_length:
            return f"{name}: text longer than {spec.max_length} characters"
        return None
    allowed = value_set_members(spec, graph)
    expected = "expected one of " + ", ".join(_concept_choice(graph, c) for c in allowed)
    if spec.multiple:
        if not isinstance(value, list) or not value:
            return f"{name}: got {got}, expected a non-empty list of concept ids ({expected})"
        if len(set(value)) != len(value):
            return f"{name}: a concept is listed twice"
        wrong = [v for v in value if v not in allowed]
        return None if not wrong else f"{name}: got {_show(wrong[0])}, {expected}"
    if not isinstance(value, str) or value not in allowed:
        return f"{name}: got {got}, {expected}"
    return None


def _check_number(spec: FieldSpec, value: Value) -> str | None:
    assert spec.range is not None
    low, high = spec.range
    kind = "an integer" if spec.integer else "a number"
    expected = f"expected {kind} in {spec.unit} from {low:g} to {high:g}"
    name = f"field {spec.id!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{name}: got {_show(value)}, {expected}"
    if spec.integer and float(value) != int(value):
        return f"{name}: got {_show(value)}, {expected}"
    if not low <= value <= high:
        return f"{name}: got {_show(value)}, {expected}"
    return None


def _concept_choice(graph: TermGraph, cid: str) -> str:
    term = graph.preferred(cid) if cid in graph else None
    return f"{cid} ({term})" if term else cid


def _when(spec: FieldSpec) -> str:
    return f" when {spec.when.describe()}" if spec.when is not None else ""


def _condition(spec: FieldSpec) -> str:
    return spec.when.describe() if spec.when is not None else "always"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _bundled() -> TermGraph:
    from maerad.terminology.bundled import load_bundled

    return load_bundled()
