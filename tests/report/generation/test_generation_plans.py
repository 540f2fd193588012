"""Teacher-forcing plans replay the ground truth exactly; batches pad correctly."""

from __future__ import annotations

import pytest
import torch
from helpers_generation import SMALL

from maerad.data.phantom import generate_case
from maerad.report.generation.field_steps import FieldWalker, field_key
from maerad.report.generation.numeric_heads import NumericStats
from maerad.report.generation.plans import (
    CasePlan,
    collate_plans,
    option_weights,
    plan_case,
    plan_targets,
)
from maerad.report.generation.targets import targets_from_metadata
from maerad.terminology.bundled import load_bundled

GRAPH = load_bundled()
CASES = [("cervical", {"stage": "IIIC1r"}), ("cervical", {"stage": "IB2"}),
         ("endometrial", {"stage": "IIIB"}), ("adnexal", {"score": 4}), ("pelvic_floor", {}), ("normal", {})]


@pytest.mark.parametrize(("kind", "targets"), CASES)
def test_replaying_the_plan_writes_the_true_report(kind: str, targets: dict[str, object]) -> None:
    truth = targets_from_metadata(generate_case(kind, seed=4, config=SMALL, **targets).study.metadata,
                                  graph=GRAPH)
    assert truth is not None
    walker = FieldWalker.for_template(truth.template, GRAPH)
    plan = plan_case(truth, walker, template_index=0)
    walk = walker.start()
    for planned in plan.steps:  # the recorded targets, fed back through the walker
        walk, step = walker.next_step(walk)
        assert step is not None and step.field.id == planned.step.field.id
        assert step.options[planned.target].allowed
        walk = walker.apply(walk, step, planned.target, planned.number, exact=True)
    walk, step = walker.next_step(walk)
    assert step is None
    stated = {k: v for k, v in truth.report.values().items() if not walker.template.field(k).derived}
    assert walk.state.values() == stated
    # the auxiliary targets: asserted concepts and the headline among its value set
    assert plan.headline_target is not None
    assert walker.concept_index[truth.headline] == plan.headline_candidates[plan.headline_target]
    assert walker.concept_index[truth.headline] in plan.report_concepts


def test_collate_pads_steps_options_and_standardises_numbers() -> None:
    plans, walkers = [], {}
    for kind, targets in CASES[:4]:
        truth = targets_from_metadata(generate_case(kind, seed=4, config=SMALL, **targets).study.metadata,
                                      graph=GRAPH)
        assert truth is not None
        walker = walkers.setdefault(truth.template, FieldWalker.for_template(truth.template, GRAPH))
        plans.append(plan_case(truth, walker, template_index=0))
    key = field_key(plans[0].steps[1].step.template, "max_diameter_mm")
    stats = NumericStats({key: (40.0, 10.0)})
    batch = collate_plans(plans, stats)
    b, t = batch.field.shape
    assert b == 4 and t == max(len(p.steps) for p in plans)
    assert batch.valid.sum(dim=1).tolist() == [len(p.steps) for p in plans]
    assert (batch.mask.any(dim=-1)).all()  # padding steps keep one option so the softmax is defined
    for i, plan in enumerate(plans):
        for j, planned in enumerate(plan.steps):
            assert batch.mask[i, j, planned.target]
            n = len(planned.step.options)
            assert (batch.parts[i, j, n:] == -1).all()
            if planned.step.field.id == "max_diameter_mm":
                assert planned.number is not None
                assert batch.number[i, j] == pytest.approx((planned.number - 40.0) / 10.0)
                assert batch.has_number[i, j]
    assert batch.has_number.sum() == sum(p.number is not None for plan in plans for p in plan.steps)
    assert torch.equal(batch.valid, batch.valid & batch.mask.any(-1))


def _normal_plan(status: str) -> CasePlan:
    truth = targets_from_metadata({"kind": "normal", "anatomy": {"menopausal_status": status}}, graph=GRAPH)
    assert truth is not None
    return plan_case(truth, FieldWalker.for_template(truth.template, GRAPH), template_index=0)


def test_option_weights_are_inverse_option_frequencies_per_field() -> None:
    plans = [_normal_plan("premenopausal")] * 3 + [_normal_plan("postmenopausal")]
    weights = option_weights(plans, 1.0)
    key = field_key(plans[0].steps[0].step.template, "menopausal_status")
    by_value = {v: w for (k, _, v), w in weights.items() if k == key}
    # 4 steps, 2 distinct true options seen 3 and 1 times: 4 / (2·3) and 4 / (2·1)
    assert by_value == {repr("MR:S020.premenopausal"): pytest.approx(2 / 3),
                        repr("MR:S020.postmenopausal"): pytest.approx(2.0)}
    assert 3 * by_value[repr("MR:S020.premenopausal")] + by_value[repr("MR:S020.postmenopausal")] == \
        pytest.approx(4.0)  # every option of the field weighs the same in total
    root = option_weights(plans, 0.5)
    assert root[next(k for k in root if k[0] == key and "post" in k[2])] == pytest.approx(2.0 ** 0.5)
    assert set(option_weights(plans, 0.0).values()) == {1.0}
    batch = collate_plans(plans, NumericStats(), weights)
    row = next(j for j, p in enumerate(plans[3].steps) if p.step.field.id == "menopausal_status")
    assert batch.weight[3, row] == pytest.approx(2.0) and batch.weight[0, row] == pytest.approx(2 / 3)
    assert torch.equal(collate_plans(plans, NumericStats()).weight, torch.ones_like(batch.weight))


def test_plan_targets_indexes_templates_and_fits_number_statistics() -> None:
    truths = [targets_from_metadata(generate_case(kind, seed=4, config=SMALL, **kw).study.metadata,
                                    graph=GRAPH) for kind, kw in CASES[:3]]
    assert all(t is not None for t in truths)
    templates = sorted({t.template for t in truths if t is not None})
    plans, stats, concepts = plan_targets([t for t in truths if t is not None], templates, GRAPH)
    assert concepts == sorted(GRAPH)
    assert [p.template_index for p in plans] == [templates.index(t.template) for t in truths if t is not None]
    sizes = [p.number for plan in plans for p in plan.steps
             if p.number is not None and p.step.field.id == "max_diameter_mm"]
    key = next(k for k in stats.stats if k.endswith("/max_diameter_mm"))
    assert stats.stats[key][0] == pytest.approx(sum(sizes) / len(sizes))
