"""Decoding: greedy (depth-first with backtracking) and beam search over the field steps.

Both searches walk the template with a :class:`~.field_steps.FieldWalker` — so every mandatory field
is filled and only allowed options (masked before the softmax) can be chosen — and score the options
with a :class:`StepScorer` (the model). A complete walk becomes a report checked by the rule engines
(derived stage / score, flags). A report is **valid** when the engines accept it and it carries no
``terminology`` flag: the walker's masks follow the terminology at every step, but an implication
rule can still involve a *derived* value (e.g. peritoneal disease implies O-RADS 5, which a
technically inadequate study — O-RADS 0 — contradicts), which only the finished report shows.

* :func:`greedy_decode` takes the most probable option at every step; when the finished report is
  not valid it backtracks to the most recent step with an untried option (next most probable first).
* :func:`beam_decode` keeps the ``beam_size`` most probable partial walks (sum of log-probabilities)
  and returns the most probable valid finished one; if none is valid it falls back to the greedy
  search.

Both give up after ``max_leaves`` finished reports and return the most probable one they found,
with ``valid=False``.

Examples::

    >>> from maerad.terminology.bundled import load_bundled
    >>> from maerad.report.generation.field_steps import FieldWalker
    >>> walker = FieldWalker.for_template("adnexa-orads-mri", load_bundled())
    >>> result = greedy_decode(walker, UniformScorer())
    >>> result.valid, result.report.value("adnexal_lesion") is not None
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from maerad.errors import FindingsError
from maerad.report.generation.field_steps import FieldStep, FieldWalker, WalkState
from maerad.report.structured_report import StructuredReport
from maerad.report.templates import RuleOptions

__all__ = ["DecodeResult", "StepScorer", "UniformScorer", "beam_decode", "greedy_decode", "is_valid"]


class StepScorer(Protocol):
    """Scores the options of a step given an opaque decoder state."""

    def initial(self) -> object:
        """The state before the first step."""

    def score(self, state: object, step: FieldStep) -> tuple[list[float], float | None]:
        """Log-probabilities of ``step.options`` (``-inf`` where masked) and, for number steps, the value."""

    def advance(self, state: object, step: FieldStep, choice: int, number: float | None) -> object:
        """The state after choosing option ``choice`` (with ``number`` for a number step)."""


class UniformScorer:
    """A scorer without a model: every allowed option equally likely, numbers at the range centre."""

    def initial(self) -> object:
        """No state."""
        return None

    def score(self, state: object, step: FieldStep) -> tuple[list[float], float | None]:
        """Uniform log-probabilities over the allowed options."""
        n = sum(step.mask)
        logp = [-math.log(n) if ok else -math.inf for ok in step.mask]
        number = None if step.range is None else (step.range[0] + step.range[1]) / 2
        return logp, number

    def advance(self, state: object, step: FieldStep, choice: int, number: float | None) -> object:
        """No state."""
        return None


@dataclass
class DecodeResult:
    """A decoded report.

    Attributes:
        report: the checked report (derived fields and flags from the rule engines).
        log_prob: sum of the log-probabilities of the choices.
        leaves: finished reports checked during the search.
        valid: the report is accepted by the engines and has no terminology flag.
    """

    report: StructuredReport
    log_prob: float
    leaves: int
    valid: bool


def is_valid(report: StructuredReport) -> bool:
    """No terminology flag (exclusion-group conflicts and implication rules, SPEC §6.3)."""
    return not any(f.kind == "terminology" for f in report.flags)


@dataclass
class _Node:
    walk: WalkState
    state: object
    log_prob: float
    step: FieldStep | None = None
    scores: list[float] = field(default_factory=list)
    number: float | None = None


def _expand(walker: FieldWalker, scorer: StepScorer, walk: WalkState, state: object,
            log_prob: float) -> _Node:
    walk, step = walker.next_step(walk)
    node = _Node(walk, state, log_prob, step)
    if step is not None:
        node.scores, node.number = scorer.score(state, step)
    return node


def _child(walker: FieldWalker, scorer: StepScorer, node: _Node, choice: int) -> _Node:
    assert node.step is not None
    fill = node.step.kind == "number" and node.step.options[choice].action == "value"
    number = FieldWalker.clamp(node.step, node.number) if fill and node.number is not None else None
    walk = walker.apply(node.walk, node.step, choice, number)
    state = scorer.advance(node.state, node.step, choice, number)
    return _expand(walker, scorer, walk, state, node.log_prob + node.scores[choice])


def _ranked(node: _Node) -> list[int]:
    """The allowed options, most probable first (ties: option order)."""
    assert node.step is not None
    allowed = [i for i, option in enumerate(node.step.options) if option.allowed]
    return sorted(allowed, key=lambda i: (-node.scores[i], i))


def _finish(walker: FieldWalker, node: _Node, options: RuleOptions | None) -> StructuredReport | None:
    try:
        return walker.finish(node.walk, options)
    except FindingsError:
        return None


def greedy_decode(walker: FieldWalker, scorer: StepScorer, *, options: RuleOptions | None = None,
                  max_leaves: int = 64) -> DecodeResult:
    """Most probable option at each step, backtracking from reports that are not valid.

    Raises:
        FindingsError: no finished walk could be checked by the rule engines at all.
    """
    stack: list[tuple[_Node, list[int]]] = []
    node = _expand(walker, scorer, walker.start(), scorer.initial(), 0.0)
    best: DecodeResult | None = None
    leaves = 0
    while True:
        if node.step is not None:
            order = _ranked(node)
            stack.append((node, order[1:]))
            node = _child(walker, scorer, node, order[0])
            continue
        leaves += 1
        report = _finish(walker, node, options)
        if report is not None:
            if is_valid(report):
                return DecodeResult(report, node.log_prob, leaves, True)
            if best is None:
                best = DecodeResult(report, node.log_prob, leaves, False)
        while stack and not stack[-1][1]:
            stack.pop()
        if not stack or leaves >= max_leaves:
            break
        parent, rest = stack[-1]
        node = _child(walker, scorer, parent, rest.pop(0))
    if best is None:
        raise FindingsError(f"{walker.template.key}: no generated report could be checked by the rule "
                            "engines")
    best.leaves = leaves
    return best


def beam_decode(walker: FieldWalker, scorer: StepScorer, *, beam_size: int = 4,
                options: RuleOptions | None = None, max_leaves: int = 64) -> DecodeResult:
    """Beam search of width ``beam_size``; the most probable valid finished report wins.

    Raises:
        FindingsError: as :func:`greedy_decode` (used as the fallback).
    """
    if beam_size <= 1:
        return greedy_decode(walker, scorer, options=options, max_leaves=max_leaves)
    beam = [_expand(walker, scorer, walker.start(), scorer.initial(), 0.0)]
    finished: list[_Node] = []
    while beam:
        candidates: list[tuple[float, int, int]] = []
        for b, node in enumerate(beam):
            if node.step is None:
                finished.append(node)
                continue
            candidates.extend((node.log_prob + node.scores[i], b, i) for i in _ranked(node))
        candidates.sort(key=lambda c: -c[0])
        room = beam_size - len(finished)
        beam = [_child(walker, scorer, beam[b], i) for _, b, i in candidates[:max(room, 0)]]
    leaves = 0
    for node in sorted(finished, key=lambda n: -n.log_prob)[:max_leaves]:
        leaves += 1
        report = _finish(walker, node, options)
        if report is not None and is_valid(report):
            return DecodeResult(report, node.log_prob, leaves, True)
    result = greedy_decode(walker, scorer, options=options, max_leaves=max_leaves)
    result.leaves += leaves
    return result
