"""The concepts a report asserts, and the terminology checks on them (SPEC §6.3).

A concept field asserts its value(s); a true boolean field asserts its ``concepts``; numbers and text
assert nothing. Each assertion carries the field's ``scope`` as its subject (e.g. left / right
parametrium), so exclusion groups compare only assertions about the same subject. A concept asserted
by one field is dropped when another field of the same subject asserts a more specific one (pelvic
nodes with an obturator station): naming both adds nothing.

Examples::

    >>> from maerad.report.assertions import report_assertions
    >>> from maerad.report.structured_report import StructuredReport
    >>> r = StructuredReport.model_validate({"template_id": "cervix-figo2018", "template_version": "1.0.0",
    ...     "fields": {"pelvic_nodes": True, "pelvic_node_stations": ["MR:N003"],
    ...                "parametrium_left": "MR:F020"}})
    >>> [(a.value, a.subject) for a in report_assertions(r)]
    [('MR:F020', 'left'), ('MR:F050', None), ('MR:N003', None)]
"""

from __future__ import annotations

from maerad.report.structured_report import ReportFlag, StructuredReport
from maerad.report.templates.model import ReportTemplate
from maerad.report.templates.registry import get_template
from maerad.terminology.consistency import Assertion, ConsistencyChecker
from maerad.terminology.graph import TermGraph

__all__ = ["asserting_fields", "report_assertions", "terminology_flags"]


def asserting_fields(report: StructuredReport,
                     template: ReportTemplate | None = None) -> dict[Assertion, str]:
    """Every assertion of the report → the id of the field that makes it (first field wins)."""
    template = template if template is not None else get_template(report.template_id, report.template_version)
    found: dict[Assertion, str] = {}
    for spec in template.fields:
        value = report.value(spec.id)
        if value is None:
            continue
        subject = spec.scope or None
        if spec.type == "concept":
            items = value if isinstance(value, list) else [value]
            concepts = [str(v) for v in items]
        elif spec.type == "boolean" and value is True:
            concepts = list(spec.concepts)
        else:
            continue
        for cid in concepts:
            found.setdefault(Assertion(cid, subject), spec.id)
    return found


def report_assertions(report: StructuredReport, template: ReportTemplate | None = None,
                      graph: TermGraph | None = None) -> list[Assertion]:
    """The report's assertions, without concepts refined by another assertion of the same subject."""
    graph = graph if graph is not None else _bundled()
    items = list(asserting_fields(report, template))
    kept = []
    for a in items:
        refined = any(b.subject == a.subject and b.value != a.value and b.value in graph
                      and a.value in graph and graph.subsumes(a.value, b.value) for b in items)
        if not refined:
            kept.append(a)
    return kept


def terminology_flags(report: StructuredReport, template: ReportTemplate | None = None,
                      graph: TermGraph | None = None,
                      checker: ConsistencyChecker | None = None) -> tuple[ReportFlag, ...]:
    """Exclusion-group conflicts and violated implication rules of the report, as ``terminology`` flags.

    Each flag names the field that asserts the last concept of the issue (the offending value of an
    implication rule) and, as ``source``, the exclusion group or rule id.
    """
    graph = graph if graph is not None else _bundled()
    template = template if template is not None else get_template(report.template_id, report.template_version)
    checker = checker if checker is not None else ConsistencyChecker(graph)
    by_concept = {a.value: field for a, field in asserting_fields(report, template).items()}
    flags = []
    for issue in checker.check(report_assertions(report, template, graph)):
        field = next((by_concept[c] for c in reversed(issue.concepts) if c in by_concept), None)
        flags.append(ReportFlag(kind="terminology", message=f"{issue.message}; {issue.suggestion}",
                                field=field, source=issue.rule or issue.kind))
    return tuple(flags)


def _bundled() -> TermGraph:
    from maerad.terminology.bundled import load_bundled

    return load_bundled()
