"""The data model of a versioned report template: fields, value sets, applicability conditions.

A template is data (a JSON file shipped with maerad or written by a user). Each field has an id, a
type — ``concept`` (one or several concepts of a value set rooted in the ontology), ``number`` (with a
unit and a plausible range), ``boolean`` or ``text`` —, a mandatory flag and an optional applicability
condition on earlier fields (``when``). Derived fields (stage, score, grades, risk group) are computed by
the rule engines through the template's named derivation, never asked from the user.

Examples::

    >>> from maerad.report.templates import get_template
    >>> t = get_template("cervix-figo2018")
    >>> t.field("stromal_ring").type, t.field("figo2018_stage").derived
    ('concept', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

__all__ = [
    "FORMAT",
    "Condition",
    "FieldSpec",
    "FieldType",
    "LabelSuffix",
    "LocalText",
    "ReportTemplate",
    "Section",
    "Value",
    "ValueSet",
]

FORMAT = "maerad-report-template/1"

FieldType = Literal["concept", "number", "boolean", "text"]

Value = StrictBool | StrictInt | StrictFloat | StrictStr | list[StrictStr]
"""A field value: a concept id (``"MR:F012"``), a list of concept ids, a number, a boolean or text."""

_Id = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(_Model):
    """A display text in English and (optionally) Chinese."""

    en: str = Field(min_length=1)
    zh: str | None = None

    def get(self, lang: str) -> str:
        """The text in ``lang`` (``"en"`` or ``"zh"``), English when that language is missing."""
        return self.zh if lang == "zh" and self.zh else self.en


class ValueSet(_Model):
    """The concepts a ``concept`` field may take.

    ``root``: the value-set root in the ontology (passed to the terminology constraint API);
    ``members``: optional explicit subset of the concepts below ``root`` (e.g. the three stromal-ring
    findings under ``MR:F000``). Without ``members`` every descendant of ``root`` is allowed.
    """

    root: str = Field(min_length=1)
    members: tuple[str, ...] | None = None


class Condition(_Model):
    """When a field applies. Exactly one form:

    * ``{"field": F, "in": [v, ...]}``: field ``F`` is filled with one of the values (for a
      multi-valued field: any of its values);
    * ``{"field": F, "present": true|false}``: field ``F`` is filled / not filled;
    * ``{"any": [cond, ...]}`` / ``{"all": [cond, ...]}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str | None = None
    in_: tuple[StrictBool | StrictInt | StrictFloat | StrictStr, ...] | None = Field(None, alias="in")
    present: StrictBool | None = None
    any: tuple[Condition, ...] | None = None
    all: tuple[Condition, ...] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        leaf = self.field is not None
        forms = [leaf, self.any is not None, self.all is not None]
        if sum(forms) != 1:
            raise ValueError("a condition needs exactly one of 'field', 'any', 'all'")
        if leaf and (self.in_ is None) == (self.present is None):
            raise ValueError("a 'field' condition needs exactly one of 'in' or 'present'")
        return self

    def fields(self) -> tuple[str, ...]:
        """Every field id the condition reads."""
        if self.field is not None:
            return (self.field,)
        found: list[str] = []
        for sub in (*(self.any or ()), *(self.all or ())):
            found.extend(sub.fields())
        return tuple(dict.fromkeys(found))

    def describe(self) -> str:
        """The condition in words, e.g. ``tumour_visible is true``."""
        if self.any is not None:
            return " or ".join(c.describe() for c in self.any)
        if self.all is not None:
            return " and ".join(c.describe() for c in self.all)
        if self.present is not None:
            return f"{self.field} is {'filled' if self.present else 'empty'}"
        shown = [str(v).lower() if isinstance(v, bool) else str(v) for v in self.in_ or ()]
        if len(shown) == 1:
            return f"{self.field} is {shown[0]}"
        return f"{self.field} is one of {', '.join(shown)}"

    def holds(self, values: Mapping[str, Value]) -> bool:
        """True if the condition is met by ``values`` (field id → value of the filled fields)."""
        if self.any is not None:
            return any(c.holds(values) for c in self.any)
        if self.all is not None:
            return all(c.holds(values) for c in self.all)
        assert self.field is not None
        value = values.get(self.field)
        if self.present is not None:
            return (value is not None) == self.present
        if value is None or self.in_ is None:
            return False
        items = value if isinstance(value, list) else [value]
        return any(_same(item, wanted) for item in items for wanted in self.in_)


def _same(a: object, b: object) -> bool:
    """Equality that keeps ``True`` and ``1`` apart."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


class LabelSuffix(_Model):
    """A suffix appended to a concept's term when rendering, chosen by another field's value.

    Example: the cervical stage IIIC carries ``r`` (imaging) or ``p`` (pathology) after it (SPEC §1.1).
    ``values`` maps the other field's value (``"true"``/``"false"`` for booleans, a concept id
    otherwise) to the suffix; ``default`` is used when that field is empty; the suffix applies only
    when the rendered concept is (below) one of ``within``.
    """

    field: str
    values: dict[str, str]
    default: str | None = None
    within: tuple[str, ...]


class Section(_Model):
    """A report section (findings are rendered section by section, in template order)."""

    id: _Id
    label: LocalText


class FieldSpec(_Model):
    """One field of a template.

    Attributes:
        id: field identifier (``snake_case``), the key in a report's ``fields``.
        type: ``concept`` | ``number`` | ``boolean`` | ``text``.
        label: display label (English, Chinese).
        section: id of the section the field is rendered in.
        concepts: ontology concepts the field denotes: codes of its FHIR ``Observation``; for a
            boolean field they are asserted (for the terminology checks) when the value is true.
        mandatory: must be filled whenever the field applies.
        when: applicability condition on earlier fields (None: always applies).
        derived: computed by the template's derivation (rule engines), never asked.
        scope: subject of the field's assertions for the terminology checks (``""``: the whole
            report; e.g. ``"left"`` / ``"right"`` for per-side exclusion groups, SPEC §6.3).
        value_set, multiple, label_suffix: ``concept`` fields only.
        unit, range, integer: ``number`` fields only (UCUM unit; inclusive plausible range).
        max_length: ``text`` fields only.
        source: where the field comes from (``"SPEC §1.6 #5"``).
    """

    id: _Id
    type: FieldType
    label: LocalText
    section: str
    concepts: tuple[str, ...] = ()
    mandatory: bool = False
    when: Condition | None = None
    derived: bool = False
    scope: str = ""
    value_set: ValueSet | None = None
    multiple: bool = False
    label_suffix: LabelSuffix | None = None
    unit: str | None = None
    range: tuple[float, float] | None = None
    integer: bool = False
    max_length: int = Field(2000, ge=1)
    source: str = ""

    @model_validator(mode="after")
    def _type_options(self) -> FieldSpec:
        is_concept, is_number = self.type == "concept", self.type == "number"
        if is_concept != (self.value_set is not None):
            raise ValueError(f"field {self.id!r}: 'value_set' is required for, and only for, concept fields")
        if not is_concept and (self.multiple or self.label_suffix is not None):
            raise ValueError(f"field {self.id!r}: 'multiple' / 'label_suffix' are for concept fields only")
        if is_number != (self.unit is not None and self.range is not None):
            raise ValueError(f"field {self.id!r}: 'unit' and 'range' are required for, and only for, "
                             "number fields")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"field {self.id!r}: range {list(self.range)} is empty")
        if self.integer and not is_number:
            raise ValueError(f"field {self.id!r}: 'integer' is for number fields only")
        if self.derived and self.mandatory:
            raise ValueError(f"field {self.id!r}: a derived field is computed, it cannot be mandatory")
        return self

    def applies(self, values: Mapping[str, Value]) -> bool:
        """True if the field applies given the other fields' values."""
        return self.when is None or self.when.holds(values)


class ReportTemplate(_Model):
    """A versioned report template (the JSON format ``maerad-report-template/1``).

    Attributes:
        id, version: the template identity recorded in every report (``cervix-figo2018``, ``1.0.0``).
        title: report title.
        derivation: name of the registered derivation computing the derived fields (None: none).
        sections: the clinical order of the findings.
        fields: every field, in clinical order (conditions may only read earlier fields).
        impression: ids of the fields shown on the impression line (derived stage, score, …).
        source: provenance of the field list (SPEC section).
    """

    format: Literal["maerad-report-template/1"] = "maerad-report-template/1"
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    title: LocalText
    derivation: str | None = None
    sections: tuple[Section, ...]
    fields: tuple[FieldSpec, ...]
    impression: tuple[str, ...] = ()
    source: str = ""

    @model_validator(mode="after")
    def _structure(self) -> ReportTemplate:
        sections = [s.id for s in self.sections]
        if len(set(sections)) != len(sections):
            raise ValueError("section ids must be unique")
        seen: dict[str, FieldSpec] = {}
        all_ids = {x.id for x in self.fields}
        last_section = 0
        for f in self.fields:
            if f.id in seen:
                raise ValueError(f"field id {f.id!r} appears more than once")
            if f.section in sections:
                if sections.index(f.section) < last_section:
                    raise ValueError(f"field {f.id!r}: fields must follow the section order (clinical order)")
                last_section = sections.index(f.section)
            else:
                raise ValueError(f"field {f.id!r}: unknown section {f.section!r} "
                                 f"(sections: {', '.join(sections)})")
            for ref in f.when.fields() if f.when is not None else ():
                if ref not in seen:
                    raise ValueError(f"field {f.id!r}: condition reads {ref!r}, "
                                     "which is not an earlier field")
            if f.label_suffix is not None and f.label_suffix.field not in all_ids:
                raise ValueError(f"field {f.id!r}: label_suffix reads unknown field {f.label_suffix.field!r}")
            seen[f.id] = f
        for ref in self.impression:
            if ref not in seen:
                raise ValueError(f"impression lists unknown field {ref!r}")
        return self

    @property
    def key(self) -> str:
        """``id@version``."""
        return f"{self.id}@{self.version}"

    def field(self, field_id: str) -> FieldSpec:
        """The field ``field_id``.

        Raises:
            KeyError: no such field (callers turn it into a user-facing error).
        """
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    def field_ids(self) -> tuple[str, ...]:
        """Every field id, in template order."""
        return tuple(f.id for f in self.fields)

    def section_label(self, section_id: str, lang: str) -> str:
        """Display label of a section."""
        for s in self.sections:
            if s.id == section_id:
                return s.label.get(lang)
        return section_id
