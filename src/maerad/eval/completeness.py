"""Mandatory-field completeness of reports.

A field is *filled* when the report has the key and its value is not ``None``, not an empty string
and not an empty list. Given the ids of the mandatory fields:

* ``rate``: filled (report, mandatory field) slots / all slots;
* ``complete_reports``: fraction of reports with every mandatory field filled;
* ``per_field``: for each mandatory field, the fraction of reports that fill it.

The pointer decoder fills every mandatory field by construction, so its completeness should be 1.0;
this metric is there to show it (and to score other generators).

Examples::

    >>> from maerad.eval.completeness import mandatory_completeness
    >>> r = mandatory_completeness([{"a": 1, "b": "MR:F1"}, {"a": None, "b": "MR:F2"}], ["a", "b"])
    >>> r.rate, r.complete_reports, r.per_field
    (0.75, 0.5, {'a': 0.5, 'b': 1.0})
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from maerad.errors import ConfigError, InputError
from maerad.eval.json_data import jsonable

__all__ = ["CompletenessResult", "is_filled", "mandatory_completeness"]


@dataclass(frozen=True)
class CompletenessResult:
    """Completeness of the mandatory fields over a set of reports (see the module docstring).

    Attributes:
        mandatory: the mandatory field ids, in the order given.
        n_reports: number of reports.
        rate: filled mandatory slots / (n_reports × number of mandatory fields).
        complete_reports: fraction of reports with all mandatory fields filled.
        per_field: mandatory field id → fraction of reports filling it.
    """

    mandatory: tuple[str, ...]
    n_reports: int
    rate: float
    complete_reports: float
    per_field: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data."""
        result: dict[str, Any] = jsonable(self)
        return result


def is_filled(value: object) -> bool:
    """Whether a field value counts as filled (not ``None``, ``""`` or an empty list)."""
    return value is not None and value != "" and value != [] and value != ()


def mandatory_completeness(
    reports: Sequence[Mapping[str, object]], mandatory: Collection[str]
) -> CompletenessResult:
    """Completeness of the ``mandatory`` fields over ``reports``.

    Args:
        reports: the (predicted) reports as field id → value mappings.
        mandatory: the ids of the mandatory fields (e.g. ``template.mandatory`` field ids).

    Raises:
        InputError: no reports, or a report that is not a mapping.
        ConfigError: ``mandatory`` is empty or a plain string.
    """
    if isinstance(mandatory, str) or not mandatory:
        raise ConfigError(f"mandatory: expected a non-empty collection of field ids, got {mandatory!r}")
    if not reports:
        raise InputError("reports: no reports to evaluate")
    fields = tuple(dict.fromkeys(mandatory))
    filled = {f: 0 for f in fields}
    complete = 0
    for i, item in enumerate(reports):
        report: object = item  # checked at run time: callers may pass anything
        if not isinstance(report, Mapping):
            kind = type(report).__name__
            raise InputError(f"reports[{i}]: expected a mapping field id → value, got {kind}")
        ok = [is_filled(report.get(f)) for f in fields]
        for f, v in zip(fields, ok, strict=True):
            filled[f] += v
        complete += all(ok)
    n = len(reports)
    return CompletenessResult(
        mandatory=fields, n_reports=n,
        rate=sum(filled.values()) / (n * len(fields)),
        complete_reports=complete / n,
        per_field={f: filled[f] / n for f in fields},
    )
