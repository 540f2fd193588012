"""Doctors' corrections of a report: records, application, diff, JSON files.

A :class:`Correction` says that ``who`` changed ``field`` from ``old`` to ``new`` at ``when`` (``None``
= empty). Applying a list checks every ``old`` against the report (a stale correction is an error,
never applied blindly), stores the new values with provenance ``human`` and re-checks the report, so
derived fields follow the corrected findings and a corrected derived value that the rules contradict
is flagged. This is the data format later used for learning from the edits.

Examples::

    >>> from datetime import datetime, timezone
    >>> from maerad.report.corrections import Correction, apply_corrections
    >>> from maerad.report.derive import derive_report
    >>> from maerad.report.structured_report import StructuredReport
    >>> r = derive_report(StructuredReport.model_validate({
    ...     "template_id": "pelvic-floor", "template_version": "1.0.0",
    ...     "fields": {"h_line_mm": 55, "m_line_mm": 15, "bladder_base_descent_mm": -5,
    ...                "cervix_descent_mm": -20, "anorectal_junction_descent_mm": -5}}))
    >>> fix = Correction(field="bladder_base_descent_mm", old=-5, new=35, who="dr-li",
    ...                  when=datetime(2025, 1, 2, 9, 30, tzinfo=timezone.utc), note="re-measured at strain")
    >>> apply_corrections(r, [fix]).value("cystocele_severity")
    'MR:P021'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from maerad.atomic import write_text_atomic
from maerad.errors import FindingsError
from maerad.report.cross_check import check_report
from maerad.report.derive import same_value
from maerad.report.structured_report import FieldEntry, StructuredReport
from maerad.report.templates.derivation import RuleOptions
from maerad.report.templates.model import ReportTemplate, Value
from maerad.report.templates.registry import get_template
from maerad.terminology.graph import TermGraph

__all__ = [
    "Correction",
    "apply_corrections",
    "corrections_to_json",
    "diff_reports",
    "read_corrections",
    "write_corrections",
]


class Correction(BaseModel):
    """One edit of one field by one person.

    Attributes:
        field: the field id.
        old: the value before the edit (None: the field was empty).
        new: the value after the edit (None: the value is removed).
        who: the person (an id or a name).
        when: time of the edit, with time zone (ISO 8601 in JSON).
        note: free-text reason.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1)
    old: Value | None = None
    new: Value | None = None
    who: str = Field(min_length=1)
    when: AwareDatetime
    note: str = ""


_LIST = TypeAdapter(list[Correction])


def apply_corrections(report: StructuredReport, corrections: Sequence[Correction], *,
                      template: ReportTemplate | None = None, graph: TermGraph | None = None,
                      check: bool = True, options: RuleOptions | None = None) -> StructuredReport:
    """The report after the corrections, applied in order.

    Args:
        report: the report being corrected.
        corrections: the edits; each ``old`` must match the value at that point.
        template, graph: default: from the registry / the bundled ontology.
        check: re-check the result (:func:`~maerad.report.cross_check.check_report`): validates the
            new values, recomputes the rule-derived fields and the flags.
        options: rule options for the re-check.

    Raises:
        FindingsError: unknown field, or ``old`` differs from the report (the message names the
            correction's position, field and author); invalid values (on the re-check).
    """
    template = template if template is not None else get_template(report.template_id, report.template_version)
    known = set(template.field_ids())
    fields = dict(report.fields)
    for i, c in enumerate(corrections, 1):
        where = f"correction {i} (field {c.field!r}, by {c.who})"
        if c.field not in known:
            raise FindingsError(f"{where}: unknown field "
                                f"(fields of {template.key}: {', '.join(sorted(known))})")
        current = fields[c.field].value if c.field in fields else None
        if not _same_or_empty(current, c.old):
            raise FindingsError(f"{where}: expected old value {_show(c.old)}, "
                                f"the report has {_show(current)}")
        if c.new is None:
            fields.pop(c.field, None)
        else:
            fields[c.field] = FieldEntry(value=c.new, provenance="human")
    ordered = {f: fields[f] for f in template.field_ids() if f in fields}
    updated = report.model_copy(update={"fields": ordered})
    return check_report(updated, template=template, graph=graph, options=options) if check else updated


def _same_or_empty(a: Value | None, b: Value | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return same_value(a, b)


def _show(value: Value | None) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def diff_reports(before: StructuredReport, after: StructuredReport, *, who: str, when: AwareDatetime,
                 note: str = "") -> list[Correction]:
    """The corrections turning ``before`` into ``after`` (fields whose value differs).

    Fields that ``after`` holds as rule-derived (provenance ``rule``) are skipped: they follow the
    other fields and were not edited.

    Raises:
        FindingsError: the two reports are of different templates.
    """
    if (before.template_id, before.template_version) != (after.template_id, after.template_version):
        raise FindingsError("diff_reports: the two reports use different templates")
    out = []
    for field_id in dict.fromkeys([*before.fields, *after.fields]):
        old, new = before.value(field_id), after.value(field_id)
        entry = after.fields.get(field_id)
        if entry is not None and entry.provenance == "rule":
            continue
        if not _same_or_empty(old, new):
            out.append(Correction(field=field_id, old=old, new=new, who=who, when=when, note=note))
    return out


def corrections_to_json(corrections: Sequence[Correction]) -> str:
    """A JSON array of the corrections (UTF-8, ISO 8601 times)."""
    return _LIST.dump_json(list(corrections), indent=2).decode("utf-8")


def read_corrections(path: str | os.PathLike[str]) -> list[Correction]:
    """Read a JSON array of corrections.

    Raises:
        FindingsError: unreadable file or invalid records (one line naming the record and key).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FindingsError(f"{path}: cannot read corrections ({exc})") from None
    try:
        return _LIST.validate_json(text)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{loc or 'file'}: {str(err.get('msg', 'invalid')).lower()}")
        raise FindingsError(f"{path}: " + "; ".join(dict.fromkeys(problems[:5]))) from None


def write_corrections(corrections: Sequence[Correction], path: str | os.PathLike[str]) -> None:
    """Write the corrections as a JSON array, atomically."""
    write_text_atomic(path, corrections_to_json(corrections) + "\n")
