"""Harrell's C-index (SPEC §7.3) and the Mann–Whitney AUC, against brute-force references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import maerad.eval.c_index as c_index_module
from maerad.errors import InputError
from maerad.eval import concordance, concordance_index, roc_auc


def brute_force_c(time: list[float], event: list[int], risk: list[float]) -> float:
    """Harrell's C by the SPEC §7.3 definition, one ordered pair at a time."""
    comparable = score = 0.0
    for i in range(len(time)):
        for j in range(len(time)):
            if time[i] < time[j] and event[i] == 1:
                comparable += 1
                score += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return score / comparable if comparable else math.nan


def brute_force_auc(labels: list[int], scores: list[float]) -> float:
    pos = [s for y, s in zip(labels, scores, strict=True) if y == 1]
    neg = [s for y, s in zip(labels, scores, strict=True) if y == 0]
    if not pos or not neg:
        return math.nan
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_spec_reference_vector() -> None:
    # SPEC §7.3: comparable (1,2),(1,3),(1,4),(2,3),(2,4); concordant all but (2,3) -> 4/5
    r = concordance([2, 4, 6, 8], [1, 1, 0, 1], [0.9, 0.4, 0.5, 0.1])
    assert (r.comparable, r.concordant, r.discordant, r.tied_risk) == (5, 4, 1, 0)
    assert r.c_index == pytest.approx(0.8)
    events = [True, True, False, True]
    assert concordance_index([2, 4, 6, 8], events, [0.9, 0.4, 0.5, 0.1]) == pytest.approx(0.8)


def test_tied_times_are_not_comparable() -> None:
    # two events at the same time: no comparable pair at all
    assert math.isnan(concordance_index([3, 3], [1, 1], [0.2, 0.9]))
    # an event and a censoring at the same time: not comparable either (documented convention;
    # packages that count it would give 1 comparable pair here)
    assert math.isnan(concordance_index([3, 3], [1, 0], [0.9, 0.1]))
    # (0, 1) tied times, (1, 2) censored first: only (0, 2) is comparable, and it is concordant
    r = concordance([3, 3, 5], [1, 0, 1], [0.9, 0.1, 0.0])
    assert (r.comparable, r.concordant, r.discordant, r.c_index) == (1, 1, 0, 1.0)


def test_censored_earlier_subject_and_risk_ties() -> None:
    # censored at the earlier time: (0, 1) not comparable; (1, ·) has no later subject
    assert math.isnan(concordance_index([1, 2], [0, 1], [0.1, 0.9]))
    # a tie in risk counts 1/2
    r = concordance([1, 2], [1, 1], [0.5, 0.5])
    assert (r.comparable, r.tied_risk, r.c_index) == (1, 1, 0.5)


def test_perfect_and_reversed_ranking() -> None:
    t = np.arange(1.0, 11.0)
    e = np.ones(10)
    assert concordance_index(t, e, -t) == 1.0  # risk decreasing with time: perfect
    assert concordance_index(t, e, t) == 0.0
    # a survival-time-like score must be negated (lifelines convention is the opposite)
    assert concordance_index(t, e, -(t + 0.5)) == 1.0


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.booleans(), st.integers(0, 4)),  # small ranges -> many ties
        min_size=1, max_size=30,
    )
)
def test_matches_brute_force_on_random_data(rows: list[tuple[int, bool, int]]) -> None:
    time = [float(t) for t, _, _ in rows]
    event = [int(e) for _, e, _ in rows]
    risk = [r / 4 for _, _, r in rows]
    expected = brute_force_c(time, event, risk)
    got = concordance_index(time, event, risk)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def test_blocks_give_the_same_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    t, e, r = rng.exponential(size=300).round(1), rng.integers(0, 2, 300), rng.normal(size=300).round(1)
    whole = concordance(t, e, r)
    monkeypatch.setattr(c_index_module, "_BLOCK_PAIRS", 1000)  # blocks of 3 rows
    assert concordance(t, e, r) == whole
    assert whole.c_index == pytest.approx(brute_force_c(t.tolist(), e.tolist(), r.tolist()))


@pytest.mark.parametrize(
    ("time", "event", "risk", "message"),
    [
        ([1, 2], [1, 2], [0.1, 0.2], r"event\[1\]: expected an event indicator 0/1"),
        ([1, float("nan")], [1, 1], [0.1, 0.2], r"time\[1\]: expected a finite number"),
        ([1, 2], [1, 1], [0.1, float("inf")], r"risk\[1\]"),
        ([1, 2], [1, 1], [0.1], "one value per case"),
        ([], [], [], "no cases"),
    ],
)
def test_bad_survival_input(time: list[float], event: list[int], risk: list[float], message: str) -> None:
    with pytest.raises(InputError, match=message):
        concordance_index(time, event, risk)


def test_auc_by_hand() -> None:
    # positives {0.35, 0.8} vs negatives {0.1, 0.4}: 0.35 beats 0.1, 0.8 beats both -> 3/4
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([True, False, True], [0.5, 0.5, 0.9]) == pytest.approx((0.5 + 1) / 2)
    assert roc_auc([1, 0], [0.9, 0.1]) == 1.0
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))  # one class: undefined


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=1, max_size=40))
def test_auc_matches_pair_counting(rows: list[tuple[int, int]]) -> None:
    labels = [y for y, _ in rows]
    scores = [s / 5 for _, s in rows]
    expected = brute_force_auc(labels, scores)
    got = roc_auc(labels, scores)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)
    if not math.isnan(got):
        assert roc_auc(labels, [-s for s in scores]) == pytest.approx(1 - got)  # reversed scores
        assert roc_auc(labels, [math.exp(s) for s in scores]) == pytest.approx(got)  # rank-based


def test_auc_bad_input() -> None:
    with pytest.raises(InputError, match=r"labels\[1\]: expected a binary outcome"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(InputError, match=r"scores\[0\]"):
        roc_auc([0, 1], [float("nan"), 0.2])
