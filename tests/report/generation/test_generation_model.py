"""The network's losses and gradients, learning (memorising two studies), and the stage-head flag."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers_generation import SMALL, tiny_finetune_config, tiny_generator

from maerad.data.phantom import generate_case
from maerad.report.generation.cases import labelled_cases, split_study_folders
from maerad.report.generation.model import LOSS_NAMES
from maerad.report.generation.numeric_heads import NumericStats
from maerad.report.generation.plans import collate_plans, plan_case
from maerad.report.generation.study_input import study_tensor
from maerad.report.generation.targets import targets_from_metadata
from maerad.report.templates import value_set_members
from maerad.train.finetune import finetune


def test_losses_are_finite_and_reach_every_part() -> None:
    gen = tiny_generator(0)
    plans, images = [], []
    for i, (kind, tpl) in enumerate([("cervical", 1), ("adnexal", 0), ("pelvic_floor", 3)]):
        case = generate_case(kind, seed=i, config=SMALL)
        truth = targets_from_metadata(case.study.metadata, graph=gen.graph)
        assert truth is not None
        plans.append(plan_case(truth, gen.walkers[gen.config.templates[tpl]], template_index=tpl))
        images.append(study_tensor(case.study, gen.spec))
    tokens, pooled = gen.model.encode(torch.cat(images))
    losses = gen.model.losses(tokens, pooled, collate_plans(plans, NumericStats()))
    assert set(losses) == set(LOSS_NAMES)
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    assert losses["template"] > 0  # several templates: the template head is trained
    sum(losses.values()).backward()  # type: ignore[union-attr]
    for name, module in (("encoder", gen.model.encoder), ("terms", gen.model.terms),
                         ("decoder", gen.model.decoder), ("alignment", gen.model.align)):
        grads = [p.grad for p in module.parameters() if p.requires_grad]  # type: ignore[attr-defined]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    assert gen.model.align.logit_scale.grad is not None  # learnable temperature


def test_pointer_loss_is_the_weighted_mean_of_the_step_losses() -> None:
    gen = tiny_generator(0, templates=["cervix-figo2018@1.0.0"])
    case = generate_case("cervical", seed=1, config=SMALL)
    truth = targets_from_metadata(case.study.metadata, graph=gen.graph)
    assert truth is not None
    batch = collate_plans([plan_case(truth, gen.walkers[gen.config.templates[0]], template_index=0)],
                          NumericStats())
    with torch.no_grad():
        tokens, pooled = gen.model.encode(study_tensor(case.study, gen.spec))

        def pointer(weight: torch.Tensor) -> float:
            return float(gen.model.losses(tokens, pooled, replace(batch, weight=weight))["pointer"])

        ones = batch.weight
        one_hot = [torch.zeros_like(ones).index_fill_(1, torch.tensor([j]), 1.0) for j in (0, 3)]
        step_losses = [pointer(w) for w in one_hot]
        assert step_losses[0] != pytest.approx(step_losses[1])
        mixed = pointer(3.0 * one_hot[0] + 1.0 * one_hot[1])
        assert mixed == pytest.approx((3 * step_losses[0] + step_losses[1]) / 4, rel=1e-5)
        assert pointer(2.5 * ones) == pytest.approx(pointer(ones), rel=1e-5)  # only relative weights count


def test_decoder_state_reads_its_own_numbers_not_the_true_ones() -> None:
    """Teacher forcing of numbers would let later fields be decided from the true tumour size, which
    inference never has (exposure bias): by default the pointer loss must not depend on true numbers."""
    gen = tiny_generator(0, templates=["cervix-figo2018@1.0.0"])
    case = generate_case("cervical", seed=1, config=SMALL, stage="IB2")
    truth = targets_from_metadata(case.study.metadata, graph=gen.graph)
    assert truth is not None
    batch = collate_plans([plan_case(truth, gen.walkers[gen.config.templates[0]], template_index=0)],
                          NumericStats())
    assert batch.has_number.any()
    moved = replace(batch, number=batch.number + 5.0 * batch.has_number)
    with torch.no_grad():
        tokens, pooled = gen.model.encode(study_tensor(case.study, gen.spec))

        def losses(b: Any, **kw: Any) -> dict[str, torch.Tensor]:
            return gen.model.losses(tokens, pooled, b, **kw)

        assert float(losses(moved)["pointer"]) == float(losses(batch)["pointer"])
        assert float(losses(moved)["regression"]) != float(losses(batch)["regression"])
        teacher = float(losses(batch, feed_true_numbers=True)["pointer"])
        assert float(losses(moved, feed_true_numbers=True)["pointer"]) != pytest.approx(teacher)


def test_generator_memorises_two_studies(tiny_data: Path, tmp_path: Path) -> None:
    config = tiny_finetune_config(tiny_data, tmp_path, labels=2, split="all", max_steps=80, batch_size=2,
                                  lr=1e-2, templates=["cervix-figo2018"])
    result = finetune(config, progress=False, log=lambda m: None)
    assert result.losses[-1] < 0.2 * result.losses[0]
    cases = labelled_cases(split_study_folders(tiny_data, "all"), limit=2, templates=["cervix-figo2018"])
    for case in cases:
        truth = case.targets.report.values()
        pred = result.generator.generate(case.folder).values()
        assert set(pred) == set(truth)
        for key, value in truth.items():
            if isinstance(value, float):
                assert abs(pred[key] - value) < 1.0, key  # type: ignore[operator]
            else:
                assert pred[key] == value, key


def test_stage_head_disagreement_becomes_a_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = tiny_generator(3, templates=["cervix-figo2018@1.0.0"])
    study = generate_case("cervical", seed=0, config=SMALL).study
    plain = gen.generate_detailed(study)
    rule = plain.rule_headline
    assert rule is not None and plain.report.value("figo2018_stage") == rule
    stages = list(value_set_members(gen.templates[0].field("figo2018_stage"), gen.graph))
    other = next(s for s in stages if s != rule)

    def prefer(wanted: str) -> Any:
        def logits(pooled: torch.Tensor, rows: list[int]) -> torch.Tensor:
            out = torch.zeros(1, len(rows))
            out[0, stages.index(wanted)] = 10.0
            return out
        return logits

    monkeypatch.setattr(gen.model, "headline_logits", prefer(other))
    flagged = gen.generate_detailed(study)
    notes = [f for f in flagged.report.flags if f.source == "stage-head"]
    assert flagged.model_headline == other and len(notes) == 1
    assert notes[0].kind == "note" and notes[0].field == "figo2018_stage"
    assert flagged.report.value("figo2018_stage") == rule  # the rule engines' stage stays
    monkeypatch.setattr(gen.model, "headline_logits", prefer(rule))
    agreeing = gen.generate_detailed(study)
    assert not [f for f in agreeing.report.flags if f.source == "stage-head"]
