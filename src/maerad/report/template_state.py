"""The template state machine used to generate a report field by field.

Given the fields filled so far, :class:`TemplateState` says which field comes next (the first field,
in clinical order, that applies, is empty and was not skipped) and which values it may take: for a
concept field, the members of its value set that the terminology constraint API
(:meth:`TermGraph.allowed_concepts`: exclusion groups and implication rules, SPEC §6.3) still allows
given the concepts already asserted for the same subject. Mandatory fields can never be skipped, and
the allowed set is never empty (when the constraints exclude every member, the report already
contradicts itself: the constraint is relaxed and the consistency checker will flag the report).

Examples::

    >>> from maerad.report.template_state import TemplateState
    >>> s = TemplateState.start("endometrium-figo2009")
    >>> s.next_field().id
    'tumour_size_mm'
    >>> s = s.fill("tumour_size_mm", 32.0)
    >>> s.next_field().id, s.allowed("myometrial_invasion").concepts
    ('myometrial_invasion', ('MR:F061', 'MR:F062', 'MR:F063'))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from maerad.errors import FindingsError
from maerad.report.assertions import report_assertions
from maerad.report.cross_check import check_report
from maerad.report.report_validation import check_value
from maerad.report.structured_report import FieldEntry, Provenance, StructuredReport
from maerad.report.templates.derivation import RuleOptions
from maerad.report.templates.model import FieldSpec, FieldType, ReportTemplate, Value
from maerad.report.templates.registry import get_template
from maerad.report.templates.value_sets import value_set_members
from maerad.terminology.graph import TermGraph

__all__ = ["Allowed", "TemplateState"]


@dataclass(frozen=True)
class Allowed:
    """The values a field may take now.

    Attributes:
        field: the field id; type: its type.
        concepts: allowed concept ids (``concept`` fields; never empty), in value-set order.
        multiple: a list of concepts is expected.
        booleans: ``(True, False)`` for boolean fields.
        range, unit, integer: for number fields.
        relaxed: True when the terminology constraints had to be dropped to keep the set non-empty.
    """

    field: str
    type: FieldType
    concepts: tuple[str, ...] = ()
    multiple: bool = False
    booleans: tuple[bool, ...] = ()
    range: tuple[float, float] | None = None
    unit: str | None = None
    integer: bool = False
    relaxed: bool = False


@dataclass(frozen=True)
class TemplateState:
    """An immutable generation state: the template, the values filled so far and the skipped fields.

    Use :meth:`start`, then :meth:`next_field` / :meth:`allowed` / :meth:`fill` / :meth:`skip`, and
    :meth:`to_report` when :attr:`done`. ``include_derived`` makes derived fields (stage, score) part
    of the sequence too, constrained by the terminology; otherwise the rule engines fill them.
    """

    template: ReportTemplate
    graph: TermGraph
    entries: Mapping[str, FieldEntry] = field(default_factory=dict)
    skipped: frozenset[str] = frozenset()
    include_derived: bool = False

    @classmethod
    def start(cls, template: str | ReportTemplate, *, graph: TermGraph | None = None,
              include_derived: bool = False) -> TemplateState:
        """An empty state for ``template`` (an id or a template)."""
        if isinstance(template, str):
            template = get_template(template)
        if graph is None:
            from maerad.terminology.bundled import load_bundled

            graph = load_bundled()
        return cls(template, graph, {}, frozenset(), include_derived)

    # ------------------------------------------------------------------ queries
    def values(self) -> dict[str, Value]:
        """Field id → value filled so far."""
        return {k: e.value for k, e in self.entries.items()}

    def _in_sequence(self, spec: FieldSpec) -> bool:
        return self.include_derived or not spec.derived

    def pending(self) -> tuple[FieldSpec, ...]:
        """Fields still to fill or skip, in clinical order (applicable, empty, not skipped)."""
        values = self.values()
        return tuple(f for f in self.template.fields if self._in_sequence(f) and f.id not in self.entries
                     and f.id not in self.skipped and f.applies(values))

    def next_field(self) -> FieldSpec | None:
        """The field that comes next, or None when the report is complete."""
        pending = self.pending()
        return pending[0] if pending else None

    @property
    def done(self) -> bool:
        """True when no field is pending."""
        return not self.pending()

    def allowed(self, field_id: str) -> Allowed:
        """The values ``field_id`` may take given the current state (never an empty set).

        Raises:
            FindingsError: unknown field.
        """
        spec = self._spec(field_id)
        if spec.type == "boolean":
            return Allowed(spec.id, spec.type, booleans=(True, False))
        if spec.type == "number":
            return Allowed(spec.id, spec.type, range=spec.range, unit=spec.unit, integer=spec.integer)
        if spec.type == "text":
            return Allowed(spec.id, spec.type)
        members = value_set_members(spec, self.graph)
        assert spec.value_set is not None
        asserted = self._asserted(spec)
        allowed = self.graph.allowed_concepts(spec.value_set.root, asserted)
        chosen = tuple(m for m in members if m in allowed)
        relaxed = False
        if not chosen:  # the report contradicts itself already: keep the set non-empty
            relaxed = True
            chosen = tuple(m for m in members
                           if not any(self.graph.conflicts(m, a) for a in asserted)) or members
        return Allowed(spec.id, spec.type, concepts=chosen, multiple=spec.multiple, relaxed=relaxed)

    def _asserted(self, spec: FieldSpec) -> list[str]:
        """Concepts asserted by the other fields for the whole report or the field's own subject."""
        partial = StructuredReport(template_id=self.template.id, template_version=self.template.version,
                                   fields={k: e for k, e in self.entries.items() if k != spec.id})
        subject = spec.scope or None
        return sorted({a.value for a in report_assertions(partial, self.template, self.graph)
                       if a.subject is None or a.subject == subject})

    def _spec(self, field_id: str) -> FieldSpec:
        try:
            return self.template.field(field_id)
        except KeyError:
            raise FindingsError(f"{self.template.key}: unknown field {field_id!r} "
                                f"(fields: {', '.join(self.template.field_ids())})") from None

    # ---------------------------------------------------------------- updates
    def fill(self, field_id: str, value: Value, *, provenance: Provenance = "model",
             confidence: float | None = None) -> TemplateState:
        """A new state with ``field_id`` filled.

        Raises:
            FindingsError: the field is unknown, derived (without ``include_derived``), not applicable,
                already filled, or the value is not allowed (the message lists the allowed values).
        """
        spec = self._spec(field_id)
        if not self._in_sequence(spec):
            raise FindingsError(f"field {field_id!r} is derived by the rule engines; it is not generated")
        if field_id in self.entries:
            raise FindingsError(f"field {field_id!r} is already filled")
        if not spec.applies(self.values()):
            assert spec.when is not None
            raise FindingsError(f"field {field_id!r} applies only when {spec.when.describe()}")
        problem = check_value(spec, value, self.graph)
        if problem is not None:
            raise FindingsError(problem)
        if spec.type == "concept":
            allowed = self.allowed(field_id).concepts
            items = value if isinstance(value, list) else [value]
            wrong = [v for v in items if v not in allowed]
            if wrong:
                raise FindingsError(f"field {field_id!r}: {wrong[0]} is excluded by the terminology given "
                                    f"the report so far; allowed: {', '.join(allowed)}")
        entry = FieldEntry(value=value, provenance=provenance, confidence=confidence)
        entries = {**self.entries, field_id: entry}
        return TemplateState(self.template, self.graph, entries, self.skipped, self.include_derived)

    def skip(self, field_id: str) -> TemplateState:
        """A new state with the optional field ``field_id`` left empty.

        Raises:
            FindingsError: the field is mandatory (mandatory fields can never be skipped) or unknown.
        """
        spec = self._spec(field_id)
        if spec.mandatory:
            raise FindingsError(f"field {field_id!r} is mandatory and cannot be skipped")
        return TemplateState(self.template, self.graph, self.entries, self.skipped | {field_id},
                             self.include_derived)

    def to_report(self, *, check: bool = True, options: RuleOptions | None = None) -> StructuredReport:
        """The report of the filled fields (optional pending fields are left empty).

        Args:
            check: run :func:`~maerad.report.cross_check.check_report` (derived fields and flags).
            options: rule options passed to the check.

        Raises:
            FindingsError: a mandatory field is still pending.
        """
        missing = [f.id for f in self.pending() if f.mandatory]
        if missing:
            raise FindingsError(f"{self.template.key}: mandatory fields not filled: {', '.join(missing)}")
        ordered = {f.id: self.entries[f.id] for f in self.template.fields if f.id in self.entries}
        report = StructuredReport(template_id=self.template.id, template_version=self.template.version,
                                  fields=ordered)
        if not check:
            return report
        return check_report(report, template=self.template, graph=self.graph, options=options)
