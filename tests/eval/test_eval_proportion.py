"""Wilson score intervals of proportions (review D9: a bootstrap of 0/n or n/n collapses to a point)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maerad.errors import ConfigError, InputError
from maerad.eval import ProportionResult, bootstrap_ci, evaluation_table, to_json, wilson_interval


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (0, 6, 0.0, 0.3903),     # the review's 0 of 6 stage cases
    (6, 6, 0.6097, 1.0),
    (2, 2, 0.3424, 1.0),
    (45, 50, 0.7864, 0.9565),  # Brown, Cai & DasGupta-style reference values
    (1, 10, 0.0179, 0.4042),
])
def test_wilson_reference_values(k: int, n: int, low: float, high: float) -> None:
    r = wilson_interval(k, n)
    assert r.estimate == k / n and (r.successes, r.n, r.method) == (k, n, "wilson")
    assert r.low == pytest.approx(low, abs=1e-4) and r.high == pytest.approx(high, abs=1e-4)
    assert 0.0 <= r.low <= r.estimate <= r.high <= 1.0 and r.low < r.high


def test_wilson_does_not_collapse_where_the_bootstrap_does() -> None:
    hits = np.zeros(6)
    boot = bootstrap_ci(lambda h: h.mean(axis=-1), hits, batched=True)
    assert boot.low == boot.high == 0.0  # the degenerate "interval" the demo used to print
    assert wilson_interval(0, 6).high > 0.3


def test_wilson_coverage_is_close_to_nominal() -> None:
    rng = np.random.default_rng(0)
    for p in (0.1, 0.5, 0.9):
        hits = rng.binomial(20, p, size=2000)
        covered = np.mean([wilson_interval(int(k), 20).low <= p <= wilson_interval(int(k), 20).high
                           for k in hits])
        assert 0.92 <= covered <= 0.99, (p, covered)


def test_wilson_errors() -> None:
    with pytest.raises(InputError):
        wilson_interval(0, 0)
    with pytest.raises(InputError):
        wilson_interval(4, 3)
    with pytest.raises(ConfigError):
        wilson_interval(1, 3, alpha=1.5)


def test_table_and_json_show_the_counts() -> None:
    r = wilson_interval(0, 6)
    table = evaluation_table({"stage_accuracy": r, "n_test": 16})
    assert "stage_accuracy  0.000  [0.000, 0.390] (0/6)" in table
    data = json.loads(to_json({"stage_accuracy": r}))
    assert data["stage_accuracy"] == 0.0
    assert data["confidence_intervals"]["stage_accuracy"]["n"] == 6
    assert isinstance(r, ProportionResult)


def test_table_does_not_print_a_collapsed_bootstrap_interval() -> None:
    collapsed = bootstrap_ci(lambda h: h.mean(axis=-1), np.ones(5), batched=True)
    table = evaluation_table({"orads_score_accuracy": collapsed})
    assert "[1.000, 1.000]" not in table and "n/a (every resample equal)" in table
