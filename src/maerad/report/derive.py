"""Derived fields: computed by the rule engines from the other fields, never silently overwritten.

:func:`derive_report` runs the template's derivation on the report's non-derived fields. A derived
field that is empty, or that holds an earlier rule-computed value, receives the computed value
(provenance ``rule``). A derived field stated by a model or a person keeps its value; when the rule
engines disagree (or cannot determine it) the report carries a ``derived_mismatch`` flag. The
engines' own notes become ``rule`` flags.

Examples::

    >>> from maerad.report.derive import derive_report
    >>> from maerad.report.structured_report import StructuredReport
    >>> r = StructuredReport.model_validate({"template_id": "pelvic-floor", "template_version": "1.0.0",
    ...     "fields": {"h_line_mm": 65, "m_line_mm": 25, "bladder_base_descent_mm": 35,
    ...                "cervix_descent_mm": -10, "anorectal_junction_descent_mm": 20}})
    >>> d = derive_report(r)
    >>> d.value("cystocele_severity"), d.value("hmo_h"), d.fields["hmo_h"].provenance
    ('MR:P021', 'MR:P030.H1', 'rule')
"""

from __future__ import annotations

import math

from maerad.errors import ConfigError
from maerad.report.report_validation import check_value, validate_report
from maerad.report.structured_report import FieldEntry, ReportFlag, StructuredReport
from maerad.report.templates.derivation import DERIVATIONS, Derived, RuleOptions
from maerad.report.templates.model import ReportTemplate, Value
from maerad.terminology.graph import TermGraph

__all__ = ["derive_report", "run_derivation", "same_value"]


def run_derivation(report: StructuredReport, template: ReportTemplate, graph: TermGraph,
                   options: RuleOptions | None = None) -> Derived:
    """Run the template's derivation on the report's non-derived fields (empty without a derivation).

    Raises:
        ConfigError: the derivation is not registered, or it returned a value its field rejects.
    """
    if template.derivation is None:
        return Derived()
    derivation = DERIVATIONS.get(template.derivation)
    inputs = {f.id: report.fields[f.id].value for f in template.fields
              if not f.derived and f.id in report.fields}
    derived = derivation(inputs, graph, options)
    for field_id, value in derived.values.items():
        try:
            spec = template.field(field_id)
        except KeyError:
            raise ConfigError(f"derivation {derivation.name} returned unknown field {field_id!r}") from None
        problem = check_value(spec, value, graph) if spec.derived else f"field {field_id!r} is not derived"
        if problem is not None:
            raise ConfigError(f"derivation {derivation.name} returned a bad value: {problem}")
    return derived


def same_value(a: Value, b: Value) -> bool:
    """Equality of two field values (numbers to 1e-9, concept lists as sets, ``True`` ≠ ``1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return set(a) == set(b)
    return a == b


def derive_report(report: StructuredReport, *, template: ReportTemplate | None = None,
                  graph: TermGraph | None = None, options: RuleOptions | None = None,
                  source: str = "report") -> StructuredReport:
    """The report with its derived fields computed and the rule flags attached.

    Args:
        report: a report (validated here against its template).
        template: its template (default: looked up from the registry).
        graph: the terminology (default: the bundled ontology).
        options: options per rule system, e.g. ``{"figo2018-cervix": {"boundaries": "original_2018"}}``.
        source: name used at the start of validation errors (a file name).

    Returns:
        A new report: fields in template order; previous ``rule`` and ``derived_mismatch`` flags
        replaced by the current ones, other flags kept.

    Raises:
        FindingsError: the report is invalid (see :func:`validate_report`) or the rule engines reject
            the combination of its fields.
        ConfigError: unknown template, derivation or rule option.
    """
    graph = graph if graph is not None else _bundled()
    template = validate_report(report, template=template, graph=graph, source=source)
    derived = run_derivation(report, template, graph, options)
    fields: dict[str, FieldEntry] = {}
    flags = [f for f in report.flags if f.kind not in ("rule", "derived_mismatch")]
    for spec in template.fields:
        stated = report.fields.get(spec.id)
        if not spec.derived:
            if stated is not None:
                fields[spec.id] = stated
            continue
        computed = derived.values.get(spec.id)
        if stated is None or stated.provenance == "rule":
            if computed is not None:
                fields[spec.id] = FieldEntry(value=computed, provenance="rule")
            continue
        fields[spec.id] = stated
        if computed is None:
            flags.append(ReportFlag(kind="derived_mismatch", field=spec.id, source=template.derivation or "",
                                    message=f"{spec.id}: stated {_show(graph, stated.value)}, but the rule "
                                    "engines cannot determine it from the other fields; stated value kept"))
        elif not same_value(stated.value, computed):
            flags.append(ReportFlag(kind="derived_mismatch", field=spec.id, source=template.derivation or "",
                                    message=f"{spec.id}: stated {_show(graph, stated.value)}, rule engines "
                                    f"give {_show(graph, computed)}; stated value kept"))
    flags.extend(ReportFlag(kind="rule", message=n.message, field=n.field, source=n.system)
                 for n in derived.notes)
    return StructuredReport(template_id=report.template_id, template_version=report.template_version,
                            fields=fields, flags=tuple(_unique(flags)))


def _unique(flags: list[ReportFlag]) -> list[ReportFlag]:
    return list(dict.fromkeys(flags))


def _show(graph: TermGraph, value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value in graph:
        return f"{value} ({graph.concept(value).label()})"
    if isinstance(value, list):
        return "[" + ", ".join(_show(graph, v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bundled() -> TermGraph:
    from maerad.terminology.bundled import load_bundled

    return load_bundled()
