"""The decision steps of report generation: one walk through a template, shared by training and decoding.

:class:`FieldWalker` turns the template state machine (:class:`~maerad.report.template_state.TemplateState`)
into a sequence of :class:`FieldStep` decisions, each a choice among :class:`Option` s:

* ``concept`` field: every member of the field's value set (the pointer's candidates), each option
  marked ``allowed`` when the terminology still allows it given the report so far
  (``TemplateState.allowed``: exclusion groups and implication rules, SPEC §6.3); plus ``skip`` for
  an optional field. The decoder masks the disallowed candidates **before** its softmax.
* ``multi`` (a list-valued concept field): one step per chosen member — the remaining members that
  do not conflict with those already chosen, plus ``stop`` (or ``skip`` at the first step of an
  optional field). The list is written in value-set order.
* ``boolean`` field: ``true`` / ``false`` (+ ``skip``); ``true`` is disallowed when the concepts the
  field asserts would conflict with the report's assertions or break an implication rule.
* ``number`` field: ``fill`` (+ ``skip``); the value comes from the regression head, clamped to the
  range of :func:`~maerad.report.generation.numeric_constraints.field_range`.

Text fields and ``skip_fields`` are never asked: optional ones are skipped, mandatory text is filled
with :data:`NOT_ASSESSED`. Derived fields are left to the rule engines. Options are embedded from a
vocabulary of concept rows followed by the special tokens :data:`SPECIALS`.

Examples::

    >>> from maerad.terminology.bundled import load_bundled
    >>> g = load_bundled()
    >>> walker = FieldWalker.for_template("cervix-figo2018", g)
    >>> walk, step = walker.next_step(walker.start())
    >>> step.field.id, step.kind, [o.value for o in step.options]
    ('tumour_visible', 'boolean', [True, False])
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from maerad.errors import FindingsError
from maerad.report.assertions import report_assertions
from maerad.report.cross_check import check_report
from maerad.report.generation.numeric_constraints import field_range
from maerad.report.structured_report import StructuredReport
from maerad.report.template_state import TemplateState
from maerad.report.templates import RuleOptions, get_template
from maerad.report.templates.model import FieldSpec, ReportTemplate, Value
from maerad.report.templates.value_sets import value_set_members
from maerad.terminology.consistency import ConsistencyChecker
from maerad.terminology.constraints import violations
from maerad.terminology.graph import TermGraph

__all__ = ["NOT_ASSESSED", "SPECIALS", "FieldStep", "FieldWalker", "Option", "StepKind", "WalkState",
           "field_key"]

SPECIALS: tuple[str, ...] = ("skip", "stop", "true", "false", "fill")
"""Special option tokens, embedded after the concept rows of the vocabulary (in this order)."""
NOT_ASSESSED = "not assessed by the model"
"""The text written into a mandatory free-text field (the generator does not write free text)."""

StepKind = Literal["concept", "multi", "boolean", "number"]
Action = Literal["value", "skip", "stop"]


def field_key(template: ReportTemplate, field_id: str) -> str:
    """``"cervix-figo2018@1.0.0/stromal_ring"``: the key of a field across templates."""
    return f"{template.key}/{field_id}"


@dataclass(frozen=True)
class Option:
    """One choice of a step.

    Attributes:
        action: ``value`` (fill / add ``value``), ``skip`` (leave the field empty) or ``stop``.
        value: the concept id or boolean; None for ``skip``, ``stop`` and a number's ``fill``.
        parts: vocabulary rows whose mean embeds the option.
        allowed: False when the terminology excludes it now (masked before the softmax).
    """

    action: Action
    value: Value | None
    parts: tuple[int, ...]
    allowed: bool = True


@dataclass(frozen=True)
class FieldStep:
    """A decision: which option for field ``field`` (and a number for ``number`` steps)."""

    template: ReportTemplate
    field: FieldSpec
    field_index: int
    kind: StepKind
    options: tuple[Option, ...]
    range: tuple[float, float] | None = None
    integer: bool = False

    @property
    def mask(self) -> tuple[bool, ...]:
        """Per option: allowed now."""
        return tuple(o.allowed for o in self.options)


@dataclass(frozen=True)
class WalkState:
    """The template state plus an unfinished list field (``field_id`` and the members chosen so far)."""

    state: TemplateState
    field_id: str | None = None
    chosen: tuple[str, ...] = ()


class FieldWalker:
    """Steps of one template for a vocabulary of concepts and fields.

    Args:
        template: the template.
        graph: the terminology.
        concept_index: concept id → vocabulary row (must hold every value-set member and field concept).
        field_index: :func:`field_key` → row of the field embedding table.
        skip_fields: field ids never generated (left empty when optional).
    """

    def __init__(self, template: ReportTemplate, graph: TermGraph, concept_index: Mapping[str, int],
                 field_index: Mapping[str, int], skip_fields: Collection[str] = ()) -> None:
        self.template, self.graph = template, graph
        self.concept_index, self.field_index = dict(concept_index), dict(field_index)
        self.skip_fields = frozenset(skip_fields)
        n = len(self.concept_index)
        self.special = {name: n + i for i, name in enumerate(SPECIALS)}
        self._checker: ConsistencyChecker | None = None

    @classmethod
    def for_template(cls, template: str | ReportTemplate, graph: TermGraph) -> FieldWalker:
        """A walker with the whole ontology as vocabulary (sorted ids) and this template's fields."""
        tpl = get_template(template) if isinstance(template, str) else template
        concepts = {cid: i for i, cid in enumerate(sorted(graph))}
        fields = {field_key(tpl, f.id): i for i, f in enumerate(tpl.fields)}
        return cls(tpl, graph, concepts, fields)

    def start(self) -> WalkState:
        """The empty walk."""
        return WalkState(TemplateState.start(self.template, graph=self.graph))

    # ------------------------------------------------------------------------------------- steps
    def next_step(self, walk: WalkState) -> tuple[WalkState, FieldStep | None]:
        """The next decision (None when the report is complete), after the automatic skips/fills."""
        if walk.field_id is not None:
            return walk, self._multi_step(walk)
        while (spec := walk.state.next_field()) is not None:
            if spec.type == "text" or spec.id in self.skip_fields:
                if not spec.mandatory:
                    state = walk.state.skip(spec.id)
                else:
                    value = NOT_ASSESSED if spec.type == "text" else self._default(walk, spec)
                    state = walk.state.fill(spec.id, value)
                walk = WalkState(state)
                continue
            return walk, self._step(walk, spec)
        return walk, None

    @staticmethod
    def _default(walk: WalkState, spec: FieldSpec) -> Value:
        """A mandatory field listed in ``skip_fields``: its lowest / first allowed value (documented)."""
        if spec.type == "number":
            assert spec.range is not None
            return int(spec.range[0]) if spec.integer else float(spec.range[0])
        if spec.type == "boolean":
            return False
        first = walk.state.allowed(spec.id).concepts[0]
        return [first] if spec.multiple else first

    def _skip(self, spec: FieldSpec) -> tuple[Option, ...]:
        return () if spec.mandatory else (Option("skip", None, (self.special["skip"],)),)

    def _step(self, walk: WalkState, spec: FieldSpec) -> FieldStep:
        index = self.field_index[field_key(self.template, spec.id)]
        if spec.type == "number":
            low, high = field_range(self.template.id, spec, walk.state.values())
            options = (Option("value", None, (self.special["fill"],)), *self._skip(spec))
            return FieldStep(self.template, spec, index, "number", options, (low, high), spec.integer)
        if spec.type == "boolean":
            concepts = tuple(self.concept_index[c] for c in spec.concepts)
            true_ok = self._true_allowed(walk, spec)
            options = (Option("value", True, (self.special["true"], *concepts), true_ok),
                       Option("value", False, (self.special["false"], *concepts)), *self._skip(spec))
            return FieldStep(self.template, spec, index, "boolean", options)
        allowed = set(walk.state.allowed(spec.id).concepts)
        members = value_set_members(spec, self.graph)
        options = tuple(Option("value", m, (self.concept_index[m],), m in allowed) for m in members)
        return FieldStep(self.template, spec, index, "multi" if spec.multiple else "concept",
                         (*options, *self._skip(spec)))

    def _multi_step(self, walk: WalkState) -> FieldStep | None:
        assert walk.field_id is not None
        spec = self.template.field(walk.field_id)
        allowed = set(walk.state.allowed(spec.id).concepts)
        members = value_set_members(spec, self.graph)
        options = tuple(
            Option("value", m, (self.concept_index[m],),
                   m in allowed and not any(self.graph.conflicts(m, c) for c in walk.chosen))
            for m in members if m not in walk.chosen
        )
        if not any(o.allowed for o in options):
            return None
        index = self.field_index[field_key(self.template, spec.id)]
        return FieldStep(self.template, spec, index, "multi",
                         (*options, Option("stop", None, (self.special["stop"],))))

    def _true_allowed(self, walk: WalkState, spec: FieldSpec) -> bool:
        """Asserting the field's concepts adds no exclusion conflict and breaks no new rule (SPEC §6.3)."""
        if not spec.concepts:
            return True
        partial = StructuredReport(template_id=self.template.id, template_version=self.template.version,
                                   fields=dict(walk.state.entries))
        subject = spec.scope or None
        asserted = {a.value for a in report_assertions(partial, self.template, self.graph)
                    if a.subject is None or a.subject == subject}
        if any(self.graph.conflicts(c, a) for c in spec.concepts for a in asserted):
            return False
        before = {v.rule.id for v in violations(self.graph, asserted)}
        after = {v.rule.id for v in violations(self.graph, asserted | set(spec.concepts))}
        return not (after - before)

    # ------------------------------------------------------------------------------------- apply
    def apply(self, walk: WalkState, step: FieldStep, choice: int, number: float | None = None, *,
              exact: bool = False) -> WalkState:
        """The walk after choosing option ``choice`` of ``step`` (``number`` for a number's ``fill``).

        ``number`` is rounded and clamped (:meth:`clamp`) unless ``exact`` (teacher forcing with true
        values).

        Raises:
            FindingsError: a disallowed option, or a ``fill`` without a number.
        """
        option = step.options[choice]
        if not option.allowed:
            raise FindingsError(f"field {step.field.id!r}: option {option.value!r} is not allowed now")
        spec = step.field
        if step.kind == "multi":
            return self._apply_multi(walk, spec, option)
        if option.action == "skip":
            return WalkState(walk.state.skip(spec.id))
        if step.kind == "number":
            if number is None:
                raise FindingsError(f"field {spec.id!r}: a number is needed")
            return WalkState(walk.state.fill(spec.id, number if exact else self.clamp(step, number)))
        assert option.value is not None
        return WalkState(walk.state.fill(spec.id, option.value))

    def _apply_multi(self, walk: WalkState, spec: FieldSpec, option: Option) -> WalkState:
        if option.action == "skip":
            return WalkState(walk.state.skip(spec.id))
        chosen = walk.chosen
        if option.action == "value":
            chosen = (*chosen, str(option.value))
            provisional = WalkState(walk.state, spec.id, chosen)
            if self._multi_step(provisional) is not None:
                return provisional
        members = value_set_members(spec, self.graph)
        ordered = [m for m in members if m in chosen]
        return WalkState(walk.state.fill(spec.id, ordered))

    @staticmethod
    def clamp(step: FieldStep, number: float) -> float | int:
        """``number`` rounded (integers; else to 0.1) and clamped into the step's range."""
        assert step.range is not None
        low, high = step.range
        if step.integer:
            return int(min(max(round(number), math.ceil(low)), math.floor(high)))
        return min(max(round(float(number), 1), low), high)

    def finish(self, walk: WalkState, options: RuleOptions | None = None) -> StructuredReport:
        """The checked report of a complete walk (derived fields and flags from the rule engines).

        Raises:
            FindingsError: the walk is incomplete, or the rule engines reject the generated fields.
        """
        report = walk.state.to_report(check=False)
        if self._checker is None:  # built once: building its phrase normaliser is the slow part
            self._checker = ConsistencyChecker(self.graph)
        return check_report(report, template=self.template, graph=self.graph, options=options,
                            checker=self._checker, source=self.template.key)
