"""``check_report``: validate a report, compute its derived fields with the rule engines and attach
the rule notes, derived-value mismatches and terminology violations as flags.

Examples::

    >>> from maerad.report.cross_check import check_report
    >>> from maerad.report.structured_report import StructuredReport
    >>> fields = {"tumour_visible": True, "max_diameter_mm": 30, "stromal_ring": "MR:F012",
    ...           "parametrium_left": "MR:F020", "parametrium_right": "MR:F021",
    ...           "vaginal_involvement": "MR:F030",
    ...           "pelvic_sidewall": False, "hydronephrosis_left": False, "hydronephrosis_right": False,
    ...           "bladder_mucosal_invasion": False, "rectal_mucosal_invasion": False, "pelvic_nodes": False,
    ...           "paraaortic_nodes": False, "distant_metastasis": False,
    ...           "figo2018_stage": {"value": "MR:S001.IB2", "provenance": "model"}}
    >>> r = check_report(StructuredReport(template_id="cervix-figo2018", template_version="1.0.0",
    ...                                   fields=fields))
    >>> r.value("figo2018_stage"), sorted({f.kind for f in r.flags})
    ('MR:S001.IB2', ['derived_mismatch', 'terminology'])
"""

from __future__ import annotations

from maerad.report.assertions import terminology_flags
from maerad.report.derive import derive_report
from maerad.report.report_validation import template_for
from maerad.report.structured_report import StructuredReport
from maerad.report.templates.derivation import RuleOptions
from maerad.report.templates.model import ReportTemplate
from maerad.terminology.consistency import ConsistencyChecker
from maerad.terminology.graph import TermGraph

__all__ = ["check_report"]


def check_report(report: StructuredReport, *, template: ReportTemplate | None = None,
                 graph: TermGraph | None = None, options: RuleOptions | None = None,
                 checker: ConsistencyChecker | None = None, source: str = "report") -> StructuredReport:
    """Validate, derive and cross-check ``report``; returns the checked report (never changes a stated value).

    Args:
        report: the report.
        template: its template (default: from the registry).
        graph: the terminology (default: the bundled ontology).
        options: options per rule system (see :func:`~maerad.report.derive.derive_report`).
        checker: a configured consistency checker (default: ``ConsistencyChecker(graph)``).
        source: name used at the start of validation errors (a file name).

    Raises:
        FindingsError: invalid report. ConfigError: unknown template / option.
    """
    if graph is None:
        from maerad.terminology.bundled import load_bundled

        graph = load_bundled()
    template = template if template is not None else template_for(report, source=source)
    derived = derive_report(report, template=template, graph=graph, options=options, source=source)
    kept = tuple(f for f in derived.flags if f.kind != "terminology")
    flags = kept + terminology_flags(derived, template, graph, checker)
    return derived.model_copy(update={"flags": tuple(dict.fromkeys(flags))})
