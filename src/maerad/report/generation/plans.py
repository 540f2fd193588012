"""Teacher-forcing plans: the decision sequence that writes a ground-truth report, and its batches.

:func:`plan_case` replays a target report through the :class:`~.field_steps.FieldWalker` — the same
steps, options and masks the decoder sees at inference — and records at each step the index of the
true option (and the true number). :func:`collate_plans` pads the plans of a batch into tensors.
Besides the steps, a plan carries what the auxiliary heads need: the concepts the target report
asserts (the "report text" of the alignment loss), the headline value set and its true value (direct
stage head), the template index (template head) and a soft-label key (cases with the same template and
headline are not negatives of each other).

Examples::

    >>> from maerad.terminology.bundled import load_bundled
    >>> from maerad.report.generation.field_steps import FieldWalker
    >>> from maerad.report.generation.targets import targets_from_metadata
    >>> g = load_bundled()
    >>> meta = {"kind": "normal", "anatomy": {"menopausal_status": "premenopausal"}}
    >>> t = targets_from_metadata(meta, graph=g)
    >>> plan = plan_case(t, FieldWalker.for_template("adnexa-orads-mri", g), template_index=0)
    >>> [(p.step.field.id, p.step.options[p.target].value) for p in plan.steps][:3]
    [('menopausal_status', 'MR:S020.premenopausal'), ('hysterectomy', None), ('ca125_u_ml', None)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from maerad.errors import FindingsError
from maerad.report.assertions import report_assertions
from maerad.report.generation.field_steps import FieldStep, FieldWalker, field_key
from maerad.report.generation.numeric_heads import NumericStats
from maerad.report.generation.pointer_decoder import KINDS
from maerad.report.generation.targets import CaseTargets
from maerad.report.templates import get_template
from maerad.report.templates.value_sets import value_set_members
from maerad.terminology.graph import TermGraph

__all__ = ["CasePlan", "PlanBatch", "PlannedStep", "collate_plans", "option_weights", "plan_case",
           "plan_targets"]


@dataclass(frozen=True)
class PlannedStep:
    """One teacher-forced step: the step, the index of the true option, the true number (or None)."""

    step: FieldStep
    target: int
    number: float | None = None


@dataclass(frozen=True)
class CasePlan:
    """Everything the training losses need about one labelled case."""

    steps: tuple[PlannedStep, ...]
    template_index: int
    report_concepts: tuple[int, ...]
    headline_candidates: tuple[int, ...]
    headline_target: int | None
    key: str


def _target(step: FieldStep, value: object, chosen: tuple[str, ...]) -> int:
    def index(action: str, wanted: object = None) -> int:
        for i, o in enumerate(step.options):
            same = type(o.value) is type(wanted) and (action != "value" or o.value == wanted)
            if o.action == action and same:
                return i
        raise FindingsError(f"field {step.field.id!r}: the true value {wanted!r} is not an option of the "
                            "generation step (not allowed by the template / terminology)")

    if step.kind == "multi":
        if value is None:
            return index("skip")
        remaining = [m for m in value if m not in chosen] if isinstance(value, list) else []
        return index("value", remaining[0]) if remaining else index("stop")
    if value is None:
        return index("skip")
    if step.kind == "number":
        return index("value", None)
    return index("value", value)


def plan_case(targets: CaseTargets, walker: FieldWalker, *, template_index: int) -> CasePlan:
    """Replay ``targets.report`` through ``walker``.

    Raises:
        FindingsError: the report cannot be generated step by step (a true value the terminology
            excludes at its step, or a field the walk never reaches); the message names the field.
    """
    report, graph = targets.report, walker.graph
    walk = walker.start()
    steps: list[PlannedStep] = []
    while True:
        walk, step = walker.next_step(walk)
        if step is None:
            break
        value = report.value(step.field.id)
        choice = _target(step, value, walk.chosen)
        if not step.options[choice].allowed:
            raise FindingsError(f"field {step.field.id!r}: the true value {value!r} is excluded at its step")
        number = float(value) if step.kind == "number" and isinstance(value, (int, float)) else None
        steps.append(PlannedStep(step, choice, number))
        walk = walker.apply(walk, step, choice, number, exact=True)
    index = walker.concept_index
    concepts = sorted({index[a.value] for a in report_assertions(report, walker.template, graph)
                       if a.value in index})
    candidates: tuple[int, ...] = ()
    target = None
    if targets.headline_field is not None:
        members = value_set_members(walker.template.field(targets.headline_field), graph)
        candidates = tuple(index[m] for m in members)
        if targets.headline in members:
            target = members.index(targets.headline)
    key = f"{targets.template}:{targets.headline}"
    return CasePlan(tuple(steps), template_index, tuple(concepts), candidates, target, key)


def _option_key(planned: PlannedStep) -> tuple[str, str, str]:
    option = planned.step.options[planned.target]
    return (field_key(planned.step.template, planned.step.field.id), option.action, repr(option.value))


def option_weights(plans: Sequence[CasePlan], power: float) -> dict[tuple[str, str, str], float]:
    """Class-balancing weights of the pointer loss, from the true options of the labelled plans.

    For a field with ``n`` teacher-forced steps over ``k`` distinct true options, a step whose true
    option occurs ``c`` times gets ``(n / (k · c)) ** power``: ``power=1`` makes every option of the
    field weigh the same in total (inverse frequency), ``0`` gives every step weight 1. Rare positive
    findings ("parametrial invasion present") would otherwise be drowned by the common "absent".

    >>> from maerad.terminology.bundled import load_bundled
    >>> from maerad.report.generation.field_steps import FieldWalker
    >>> from maerad.report.generation.targets import targets_from_metadata
    >>> g = load_bundled()
    >>> walker = FieldWalker.for_template("adnexa-orads-mri", g)
    >>> meta = {"kind": "normal", "anatomy": {"menopausal_status": "premenopausal"}}
    >>> plan = plan_case(targets_from_metadata(meta, graph=g), walker, template_index=0)
    >>> set(option_weights([plan, plan], 1.0).values())       # one option per field: weight 1
    {1.0}
    """
    counts: dict[tuple[str, str, str], int] = {}
    for plan in plans:
        for planned in plan.steps:
            key = _option_key(planned)
            counts[key] = counts.get(key, 0) + 1
    per_field: dict[str, list[int]] = {}
    for key, count in counts.items():
        per_field.setdefault(key[0], []).append(count)
    return {key: (sum(per_field[key[0]]) / (len(per_field[key[0]]) * count)) ** power
            for key, count in counts.items()}


@dataclass(frozen=True)
class PlanBatch:
    """Padded tensors of a batch of plans (``B`` cases, ``T`` steps, ``O`` options, ``P`` parts).

    Attributes:
        field, kind, target: ``(B, T)`` long (field-table row, index into :data:`KINDS`, true option).
        parts: ``(B, T, O, P)`` long, vocabulary rows of each option, ``-1`` = padding.
        mask: ``(B, T, O)`` bool, allowed options (padding steps allow option 0 only).
        number, has_number: ``(B, T)`` standardised true number and whether the step has one.
        valid: ``(B, T)`` bool, real (non-padding) steps.
        template: ``(B,)`` long; report_parts: ``(B, R)`` long (−1 padded) concepts of each report.
        headline: per case ``(candidate rows, true index or None)``; keys: soft-label keys.
        weight: ``(B, T)`` float, pointer-loss weight of each step (:func:`option_weights`; 1 when none).
    """

    field: torch.Tensor
    kind: torch.Tensor
    target: torch.Tensor
    parts: torch.Tensor
    mask: torch.Tensor
    number: torch.Tensor
    has_number: torch.Tensor
    valid: torch.Tensor
    template: torch.Tensor
    report_parts: torch.Tensor
    headline: tuple[tuple[tuple[int, ...], int | None], ...]
    keys: tuple[str, ...]
    weight: torch.Tensor


def collate_plans(plans: Sequence[CasePlan], stats: NumericStats,
                  weights: dict[tuple[str, str, str], float] | None = None) -> PlanBatch:
    """Pad ``plans`` into a :class:`PlanBatch`; numbers are standardised with ``stats``; ``weights``
    (from :func:`option_weights`) weigh the pointer loss of each step (options not in it: 1)."""
    b = len(plans)
    t = max(1, max(len(p.steps) for p in plans))
    o = max([len(s.step.options) for p in plans for s in p.steps] or [1])
    q = max([len(opt.parts) for p in plans for s in p.steps for opt in s.step.options] or [1])
    r = max([len(p.report_concepts) for p in plans] or [1]) or 1
    field = torch.zeros(b, t, dtype=torch.long)
    kind = torch.zeros(b, t, dtype=torch.long)
    target = torch.zeros(b, t, dtype=torch.long)
    parts = torch.full((b, t, o, q), -1, dtype=torch.long)
    mask = torch.zeros(b, t, o, dtype=torch.bool)
    mask[..., 0] = True
    number = torch.zeros(b, t)
    has_number = torch.zeros(b, t, dtype=torch.bool)
    valid = torch.zeros(b, t, dtype=torch.bool)
    weight = torch.ones(b, t)
    report_parts = torch.full((b, r), -1, dtype=torch.long)
    for i, plan in enumerate(plans):
        report_parts[i, : len(plan.report_concepts)] = torch.tensor(plan.report_concepts, dtype=torch.long)
        for j, planned in enumerate(plan.steps):
            step = planned.step
            field[i, j], kind[i, j], target[i, j] = step.field_index, KINDS.index(step.kind), planned.target
            valid[i, j] = True
            if weights:
                weight[i, j] = weights.get(_option_key(planned), 1.0)
            mask[i, j, : len(step.options)] = torch.tensor(step.mask)
            for k, option in enumerate(step.options):
                parts[i, j, k, : len(option.parts)] = torch.tensor(option.parts, dtype=torch.long)
            if planned.number is not None:
                key = field_key(step.template, step.field.id)
                number[i, j] = stats.normalise(key, planned.number, step.range)
                has_number[i, j] = True
    return PlanBatch(field, kind, target, parts, mask, number, has_number, valid,
                     torch.tensor([p.template_index for p in plans], dtype=torch.long), report_parts,
                     tuple((p.headline_candidates, p.headline_target) for p in plans),
                     tuple(p.key for p in plans), weight)


def plan_targets(targets: Sequence[CaseTargets], templates: Sequence[str], graph: TermGraph,
                 skip_fields: Sequence[str] = ()) -> tuple[list[CasePlan], NumericStats, list[str]]:
    """Plans of many ground truths for a generator writing ``templates`` (ids, in its order), the
    statistics of their numbers, and the concept vocabulary (every concept of ``graph``, sorted) the
    plans index into — what fine-tuning needs before its first step."""
    tpls = [get_template(t) for t in templates]
    concepts = sorted(graph)
    concept_index = {c: i for i, c in enumerate(concepts)}
    field_index = {k: i for i, k in enumerate(field_key(t, f.id) for t in tpls for f in t.fields)}
    walkers = {t.id: FieldWalker(t, graph, concept_index, field_index, skip_fields) for t in tpls}
    ids = [t.id for t in tpls]
    plans = [plan_case(t, walkers[t.template], template_index=ids.index(t.template)) for t in targets]
    numbers: dict[str, list[float]] = {}
    for plan in plans:
        for p in plan.steps:
            if p.number is not None:
                numbers.setdefault(field_key(p.step.template, p.step.field.id), []).append(p.number)
    return plans, NumericStats.fit(numbers), concepts
