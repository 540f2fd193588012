"""Decoding under template and terminology constraints: by construction every mandatory field is
filled, no terminology violation remains and only preferred terms appear — over many random-weight
decodes — plus the masked softmax, backtracking and beam search."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers_generation import SEQUENCES, SHAPE, SMALL, TEMPLATES, tiny_generator

from maerad.data.phantom import generate_case
from maerad.data.study import Study
from maerad.report.generation.decoding import UniformScorer, beam_decode, greedy_decode, is_valid
from maerad.report.generation.field_steps import FieldStep, FieldWalker
from maerad.report.generation.pointer_decoder import PointerDecoder
from maerad.report.render_text import render_text
from maerad.report.report_validation import validate_report
from maerad.report.structured_report import StructuredReport
from maerad.report.templates import get_template
from maerad.terminology.bundled import load_bundled

GRAPH = load_bundled()


def _studies() -> list[Study]:
    rng = np.random.default_rng(0)
    noise = Study({s: rng.random(SHAPE).astype(np.float32) for s in SEQUENCES}, spacing=(10.0, 8.0, 8.0))
    return [generate_case("cervical", seed=1, config=SMALL).study,
            generate_case("adnexal", seed=2, config=SMALL).study, noise]


def _check(report: StructuredReport) -> None:
    template = get_template(report.template_id, report.template_version)
    validate_report(report, graph=GRAPH)
    values = report.values()
    for spec in template.fields:  # every applicable mandatory field is filled
        if spec.mandatory and spec.applies(values):
            assert values.get(spec.id) is not None, spec.id
    assert not [f for f in report.flags if f.kind == "terminology"], report.flags
    en, zh = render_text(report, "en"), render_text(report, "zh")
    for spec in template.fields:
        value = values.get(spec.id)
        if spec.type != "concept" or value is None:
            continue
        for cid in value if isinstance(value, list) else [value]:
            assert cid in GRAPH  # a concept id of the ontology, never free text
            assert (GRAPH.preferred(cid, "en") or cid) in en
            assert (GRAPH.preferred(cid, "zh") or GRAPH.preferred(cid, "en") or cid) in zh


def test_random_weight_decodes_are_complete_consistent_and_use_preferred_terms() -> None:
    studies = _studies()
    n = 0
    for seed in range(8):
        gen = tiny_generator(seed)
        for template in TEMPLATES:
            for study in studies:
                result = gen.generate_detailed(study, template=template)
                assert result.valid and result.report.template_id == template.split("@")[0]
                _check(result.report)
                n += 1
    assert n == 8 * len(TEMPLATES) * len(studies)


def test_beam_decodes_are_valid_too() -> None:
    study = _studies()[0]
    for seed in (11, 12):
        gen = tiny_generator(seed)
        for template in TEMPLATES:
            result = gen.generate_detailed(study, template=template, beam_size=3)
            assert result.valid
            _check(result.report)


def test_masked_options_get_probability_zero_before_the_softmax() -> None:
    torch.manual_seed(0)
    dec = PointerDecoder(d_model=16, image_dim=8, num_heads=2)
    memory = dec.memory(torch.randn(2, 5, 8))
    state = dec.initial_state(torch.randn(2, 8))
    options = torch.randn(2, 4, 16)
    options[:, 2] *= 1000.0  # a huge option: it would dominate an unmasked softmax either way
    mask = torch.tensor([[True, True, False, True], [False, True, True, True]])
    out = dec.step(state, memory, torch.randn(2, 16), torch.tensor([0, 2]), options, mask)
    probs = out.log_probs.detach().exp()
    assert probs[0, 2] == 0.0 and probs[1, 0] == 0.0
    assert torch.allclose(probs.sum(dim=1), torch.ones(2))
    assert torch.isfinite(out.log_probs[mask]).all()


class _PreferTrue:
    """Picks true over false over skip, the first allowed concept, numbers at the range centre."""

    def initial(self) -> object:
        return None

    def score(self, state: object, step: FieldStep) -> tuple[list[float], float | None]:
        scores = []
        for i, option in enumerate(step.options):
            base = {True: 0.0, False: -1.0, None: -2.0}.get(option.value, -0.1 * i)  # type: ignore[arg-type]
            scores.append(base if option.allowed else -math.inf)
        total = math.log(sum(math.exp(s) for s in scores if s > -math.inf))
        number = None if step.range is None else (step.range[0] + step.range[1]) / 2
        return [s - total for s in scores], number

    def advance(self, state: object, step: FieldStep, choice: int, number: float | None) -> object:
        return None


def test_greedy_backtracks_from_a_contradicted_derived_value() -> None:
    # greedy choices give a technically inadequate study (O-RADS 0) with peritoneal disease, which
    # the terminology says implies O-RADS 5 (SPEC §6.3): the first complete report is not valid
    walker = FieldWalker.for_template("adnexa-orads-mri", GRAPH)
    first = greedy_decode(walker, _PreferTrue(), max_leaves=1)
    assert not first.valid and not is_valid(first.report)
    assert first.report.value("technically_inadequate") is True
    assert first.report.value("peritoneal_disease") is True
    result = greedy_decode(walker, _PreferTrue(), max_leaves=64)
    assert result.valid and result.leaves > 1
    assert result.log_prob < first.log_prob  # a less probable but consistent report
    assert not (result.report.value("technically_inadequate") is True
                and result.report.value("peritoneal_disease") is True)


def test_beam_search_prefers_a_valid_report() -> None:
    walker = FieldWalker.for_template("adnexa-orads-mri", GRAPH)
    result = beam_decode(walker, _PreferTrue(), beam_size=4)
    assert result.valid


@pytest.mark.parametrize("template", [t.split("@")[0] for t in TEMPLATES])
def test_uniform_scorer_reports_are_valid(template: str) -> None:
    walker = FieldWalker.for_template(template, GRAPH)
    for decode in (greedy_decode(walker, UniformScorer()), beam_decode(walker, UniformScorer(), beam_size=2)):
        assert decode.valid
        _check(decode.report)
