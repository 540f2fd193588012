"""Bootstrap confidence intervals: coverage, determinism, pairing, methods, degenerate inputs."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from maerad.errors import ConfigError, InputError
from maerad.eval import accuracy, bootstrap_ci, roc_auc
from maerad.eval.bootstrap import Method


def batched_mean(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(x.mean(axis=-1), dtype=np.float64)


@pytest.mark.parametrize(("method", "experiments"), [("percentile", 400), ("bca", 200)])
def test_ci_of_a_normal_mean_covers_the_true_mean_about_95_percent(method: Method, experiments: int) -> None:
    """Repeat: draw a N(3, 2²) sample of 100, bootstrap a 95 % CI of its mean, check it covers 3.

    The number of covering intervals is Binomial(m, p) with p ≈ 0.95 (slightly less for the
    percentile method at n = 100); accept a coverage within 3 binomial standard deviations of 0.95.
    """
    rng = np.random.default_rng(2024)
    covered = 0
    for i in range(experiments):
        sample = rng.normal(3.0, 2.0, size=100)
        r = bootstrap_ci(batched_mean, sample, batched=True, seed=i, method=method)
        covered += r.low <= 3.0 <= r.high
    coverage = covered / experiments
    sd = math.sqrt(0.95 * 0.05 / experiments)
    assert abs(coverage - 0.95) <= 3 * sd, f"coverage {coverage:.3f}, tolerance ±{3 * sd:.3f}"


def test_interval_width_matches_the_standard_error() -> None:
    # for a mean the 95 % percentile interval is about ±1.96·s/√n wide
    x = np.random.default_rng(7).normal(0.0, 1.0, size=400)
    r = bootstrap_ci(batched_mean, x, batched=True, n_resamples=4000)
    half_width = 1.96 * x.std() / math.sqrt(x.size)
    assert (r.high - r.low) / 2 == pytest.approx(half_width, rel=0.1)
    assert r.low < x.mean() < r.high
    assert r.estimate == pytest.approx(x.mean())


def test_same_seed_same_interval_and_batched_equals_looped() -> None:
    x = np.random.default_rng(0).exponential(size=50)
    a = bootstrap_ci(batched_mean, x, batched=True, seed=5)
    b = bootstrap_ci(batched_mean, x, batched=True, seed=5)
    c = bootstrap_ci(lambda v: float(np.mean(v)), x, seed=5)  # one call per resample
    d = bootstrap_ci(batched_mean, x, batched=True, seed=6)
    assert a == b
    assert (c.low, c.high) == pytest.approx((a.low, a.high), abs=1e-12)
    assert (d.low, d.high) != (a.low, a.high)


def test_paired_arrays_are_resampled_together() -> None:
    x = np.random.default_rng(1).normal(size=60)
    # if x and its copy were resampled independently, mean(x - y) would vary around 0
    r = bootstrap_ci(lambda a, b: float(np.mean(a - b)), x, x.copy())
    assert (r.low, r.high, r.estimate) == (0.0, 0.0, 0.0)
    stages = ["IB1", "IIB", "IVA", "IB2"] * 5
    r = bootstrap_ci(accuracy, stages, list(stages), n_resamples=200)
    assert (r.estimate, r.low, r.high) == (1.0, 1.0, 1.0)


def test_basic_interval_reflects_the_percentile_one() -> None:
    x = np.random.default_rng(2).exponential(size=40)
    p = bootstrap_ci(batched_mean, x, batched=True, seed=3)
    b = bootstrap_ci(batched_mean, x, batched=True, seed=3, method="basic")
    # basic = (2θ̂ − q_high, 2θ̂ − q_low), with the same resampled quantiles
    assert b.low == pytest.approx(2 * p.estimate - p.high)
    assert b.high == pytest.approx(2 * p.estimate - p.low)


def test_bca_moves_right_for_a_right_skewed_mean() -> None:
    """For the mean of exponential data the bootstrap distribution is right-skewed; the bias
    correction and the positive acceleration move both BCa limits above the percentile limits."""
    x = np.random.default_rng(1).exponential(size=30)
    p = bootstrap_ci(batched_mean, x, batched=True)
    bca = bootstrap_ci(batched_mean, x, batched=True, method="bca")
    looped = bootstrap_ci(lambda v: float(np.mean(v)), x, method="bca")
    assert bca.low > p.low and bca.high > p.high
    assert (looped.low, looped.high) == pytest.approx((bca.low, bca.high))


@pytest.mark.parametrize("method", ["percentile", "basic", "bca"])
def test_degenerate_samples_give_a_point_interval(method: Method) -> None:
    for data in ([4.2], [7.0] * 25):
        r = bootstrap_ci(batched_mean, np.array(data), batched=True, method=method)
        assert r.low == pytest.approx(r.estimate) and r.high == pytest.approx(r.estimate)
        assert r.n_valid == 1000


def test_undefined_resamples_are_dropped_and_counted() -> None:
    labels = [0, 0, 0, 0, 0, 0, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.6, 0.8]
    r = bootstrap_ci(roc_auc, labels, scores, n_resamples=500)
    # P(no positive in a resample) = (6/8)^8 ≈ 0.10: about 50 resamples have an undefined AUC
    assert 20 < r.n_resamples - r.n_valid < 90
    assert 0.0 <= r.low <= r.estimate <= r.high <= 1.0
    nothing = bootstrap_ci(lambda v: float("nan"), [1.0, 2.0], n_resamples=10)
    assert nothing.n_valid == 0 and math.isnan(nothing.low) and math.isnan(nothing.high)
    assert nothing.to_dict()["low"] is None


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_resamples": 0}, ConfigError, "n_resamples"),
        ({"alpha": 0.0}, ConfigError, "alpha"),
        ({"alpha": 1.5}, ConfigError, "alpha"),
        ({"method": "student"}, ConfigError, "method"),
    ],
)
def test_bad_options(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        bootstrap_ci(batched_mean, np.ones(5), batched=True, **kwargs)  # type: ignore[arg-type]


def test_bad_arrays() -> None:
    with pytest.raises(InputError, match="at least one array"):
        bootstrap_ci(batched_mean)
    with pytest.raises(InputError, match="empty"):
        bootstrap_ci(batched_mean, np.zeros(0))
    with pytest.raises(InputError, match="lengths"):
        bootstrap_ci(accuracy, ["a", "b"], ["a"])
    with pytest.raises(InputError, match="one value per case, got float64"):
        bootstrap_ci(batched_mean, np.float64(3.0))
    with pytest.raises(ConfigError, match="one value per resample"):
        bootstrap_ci(lambda x: x.mean(), np.ones(5), batched=True)


def test_large_n_is_processed_in_blocks() -> None:
    x = np.random.default_rng(4).normal(size=30_000)  # 1000 × 30 000 indices: several blocks
    r = bootstrap_ci(batched_mean, x, batched=True, n_resamples=200)
    assert r.n_valid == 200
    assert r.high - r.low == pytest.approx(2 * 1.96 / math.sqrt(x.size), rel=0.25)


def test_plain_lists_of_booleans_labels_and_label_sets() -> None:
    # booleans stay booleans (a binary outcome for the AUC), tuples stay one case each
    auc = bootstrap_ci(roc_auc, [True, False, True, False, True], [0.9, 0.2, 0.7, 0.4, 0.3], n_resamples=50)
    assert auc.estimate == pytest.approx(5 / 6)  # 0.9, 0.7 beat both negatives, 0.3 only 0.2: 5 of 6
    sets = [("MR:A1", "MR:A2"), ("MR:A1",), ("MR:A3",)]
    r = bootstrap_ci(accuracy, sets, [("MR:A1", "MR:A2"), ("MR:A1",), None], n_resamples=50)
    assert r.estimate == pytest.approx(2 / 3)
    assert 0.0 <= r.low <= r.high <= 1.0
