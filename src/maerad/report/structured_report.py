"""``StructuredReport``: a report as validated data — template id and version, field values with
their provenance, and flags. Text (English / Chinese), JSON and FHIR are renderings of it.

The JSON form is canonical (``report.to_json()``): every field is ``{"value": …, "provenance": …}``.
When reading, a bare value is accepted as shorthand for ``{"value": v, "provenance": "human"}``.
Structure is checked here; values against the template by
:func:`maerad.report.report_validation.validate_report`.

Examples::

    >>> from maerad.report.structured_report import StructuredReport
    >>> r = StructuredReport.model_validate({"template_id": "cervix-figo2018", "template_version": "1.0.0",
    ...                                      "fields": {"tumour_visible": True}})
    >>> r.fields["tumour_visible"].provenance
    'human'
    >>> StructuredReport.from_json(r.to_json()) == r
    True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from maerad.atomic import write_text_atomic
from maerad.errors import FindingsError
from maerad.report.templates.model import Value
from maerad.strict_json import parse_json

__all__ = [
    "FLAG_KINDS",
    "FieldEntry",
    "FlagKind",
    "Provenance",
    "ReportFlag",
    "StructuredReport",
    "read_report",
    "write_report",
]

Provenance = Literal["model", "rule", "human"]
"""Who stated a field value: a model (generation), a rule engine (derived), or a person."""

FlagKind = Literal["rule", "derived_mismatch", "terminology", "note"]
FLAG_KINDS: tuple[FlagKind, ...] = ("rule", "derived_mismatch", "terminology", "note")
"""``rule``: a note of a rule engine (equivocal finding, missing pathology, uncertain rule);
``derived_mismatch``: a stated derived value disagrees with the rule engines; ``terminology``: an
exclusion-group or implication-rule violation; ``note``: anything else (kept by re-checks)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldEntry(_Frozen):
    """One field value and who stated it; ``confidence`` (0–1) is optional, for model outputs."""

    value: Value
    provenance: Provenance = "human"
    confidence: float | None = Field(None, ge=0.0, le=1.0)


class ReportFlag(_Frozen):
    """A flag carried by a report (never a silent change).

    Attributes:
        kind: see :data:`FLAG_KINDS`.
        message: one human-readable line.
        field: the field concerned, if any.
        source: the rule system, terminology rule id or person that raised it.
    """

    kind: FlagKind
    message: str = Field(min_length=1)
    field: str | None = None
    source: str = ""


class StructuredReport(_Frozen):
    """A structured report of one template version.

    Attributes:
        template_id, template_version: the template (``cervix-figo2018``, ``1.0.0``).
        fields: field id → :class:`FieldEntry`, in template order after a check.
        flags: rule notes, derived-value mismatches and terminology violations.
    """

    template_id: str = Field(min_length=1)
    template_version: str = Field(min_length=1)
    fields: dict[str, FieldEntry] = Field(default_factory=dict)
    flags: tuple[ReportFlag, ...] = ()

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if not isinstance(data, Mapping):
            return data
        return {key: (value if isinstance(value, (Mapping, FieldEntry)) else {"value": value})
                for key, value in data.items()}

    def values(self) -> dict[str, Value]:
        """Field id → value."""
        return {key: entry.value for key, entry in self.fields.items()}

    def value(self, field_id: str) -> Value | None:
        """The value of ``field_id`` or None when it is not filled."""
        entry = self.fields.get(field_id)
        return None if entry is None else entry.value

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-ready dict (``confidence`` omitted when not set)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self, *, indent: int | None = 2) -> str:
        """Canonical JSON text (UTF-8, Chinese unescaped); ``from_json(to_json())`` is identical."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_data(cls, data: object, *, source: str = "report") -> StructuredReport:
        """Validate a decoded JSON object.

        Raises:
            FindingsError: one line naming ``source`` and every offending key.
        """
        if not isinstance(data, Mapping):
            raise FindingsError(f"{source}: expected a JSON object (a structured report)")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise FindingsError(f"{source}: " + _describe(exc)) from None

    @classmethod
    def from_json(cls, text: str, *, source: str = "report") -> StructuredReport:
        """Parse JSON text (duplicate keys are an error).

        Raises:
            FindingsError: malformed JSON or an invalid report, in one line.
        """
        data = parse_json(text, source=source, expected="a JSON object (a structured report)")
        return cls.from_data(data, source=source)


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        # a union error is reported once per member type: keep the field path, drop the member type
        if len(loc) >= 3 and loc[0] == "fields" and loc[2] == "value":
            problems.append(f"field {loc[1]!r}: got {_show(err.get('input'))}, expected a concept id, "
                            "a list of concept ids, a number, true/false or text")
            continue
        where = ".".join(loc)
        kind = err.get("type", "")
        if kind == "missing":
            problems.append(f"key {where!r} is required")
        elif kind == "extra_forbidden":
            problems.append(f"unknown key {where!r}")
        else:
            problems.append(f"{where or 'report'}: {str(err.get('msg', 'invalid')).lower()}")
    return "; ".join(dict.fromkeys(problems))


def _show(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_report(path: str | os.PathLike[str]) -> StructuredReport:
    """Read a report JSON file (``"-"``: standard input).

    Raises:
        FindingsError: unreadable file, not UTF-8, malformed JSON or invalid structure (one line).
    """
    source = "<stdin>" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            import sys

            text = sys.stdin.read()
        else:
            text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FindingsError(f"{source}: report file not found") from None
    except IsADirectoryError:
        raise FindingsError(f"{source}: is a directory, expected a report JSON file") from None
    except UnicodeDecodeError as exc:
        raise FindingsError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise FindingsError(f"{source}: cannot read report file ({exc.strerror or exc})") from None
    return StructuredReport.from_json(text, source=source)


def write_report(report: StructuredReport, path: str | os.PathLike[str]) -> None:
    """Write the canonical JSON of ``report`` to ``path`` atomically."""
    write_text_atomic(path, report.to_json() + "\n")
