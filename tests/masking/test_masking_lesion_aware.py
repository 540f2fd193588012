"""Lesion-aware masking: core/boundary/background classes, exact weighted sampling, and a statistical
test that core tokens are hidden more often than boundary tokens."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from maerad.errors import ConfigError, InputError
from maerad.masking import LesionAwareMasking, MaskSpec, lesion_classes, lesion_hide_weights, weighted_scores
from maerad.masking.lesion_weights import BACKGROUND, BOUNDARY, CORE


# -- small statistics toolbox (scipy is not available; tails from math.erfc / math.exp) --------------
def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X ~ chi-square(df), integer df, by the recurrence
    Q(x; k + 2) = Q(x; k) + (x/2)^(k/2) e^(-x/2) / Gamma(k/2 + 1), from Q(x; 1) = erfc(sqrt(x/2)) and
    Q(x; 2) = e^(-x/2)."""
    k = 1 if df % 2 else 2
    q = math.erfc(math.sqrt(x / 2.0)) if k == 1 else math.exp(-x / 2.0)
    while k < df:
        q += math.exp((k / 2.0) * math.log(x / 2.0) - x / 2.0 - math.lgamma(k / 2.0 + 1.0))
        k += 2
    return q


def two_proportion_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """z statistic of H0: p_a == p_b against p_a > p_b (pooled standard error)."""
    p_a, p_b = hits_a / n_a, hits_b / n_b
    pooled = (hits_a + hits_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return (p_a - p_b) / se


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [(3.841459, 1, 0.05), (5.991465, 2, 0.05), (16.918978, 9, 0.05), (21.665994, 9, 0.01),
     (1.0, 1, 0.3173105)],
)
def test_chi2_tail_matches_tabulated_values(x: float, df: int, p: float) -> None:
    assert chi2_sf(x, df) == pytest.approx(p, rel=1e-5)


def test_normal_tail_matches_tabulated_values() -> None:
    assert normal_sf(1.959964) == pytest.approx(0.025, rel=1e-5)
    assert normal_sf(0.0) == 0.5


# -- classes and weights -------------------------------------------------------------------------------
def test_classes_of_a_central_lesion() -> None:
    prob = torch.zeros(1, 7, 7)
    prob[0, 2:5, 2:5] = 0.8  # a 3×3-token lesion
    classes = lesion_classes(prob, (7, 7)).view(7, 7)
    expected = torch.full((7, 7), BACKGROUND)
    expected[1:6, 1:6] = BOUNDARY  # one token inside and one outside the lesion edge
    expected[3, 3] = CORE  # the only lesion token whose whole 3×3 neighbourhood is lesion
    assert torch.equal(classes, expected)


def test_image_edge_is_not_a_lesion_edge_and_width_is_configurable() -> None:
    prob = torch.zeros(1, 6, 6)
    prob[0, :3, :3] = 1.0
    classes = lesion_classes(prob, (6, 6)).view(6, 6)
    assert (classes[:2, :2] == CORE).all()  # tokens on the image border stay core
    assert (classes[:4, :4][classes[:4, :4] != CORE] == BOUNDARY).all()
    assert (classes[4:, :] == BACKGROUND).all() and (classes[:, 4:] == BACKGROUND).all()
    wide = lesion_classes(torch.ones(1, 9, 9) * (torch.arange(9) < 5).float()[None, :, None], (9, 9),
                          boundary_width=2).view(9, 9)
    assert (wide[:3] == CORE).all() and (wide[3:7] == BOUNDARY).all() and (wide[7:] == BACKGROUND).all()


def test_classes_in_3d_and_threshold() -> None:
    prob = torch.zeros(1, 5, 5, 5)
    prob[0, 1:4, 1:4, 1:4] = 0.6
    classes = lesion_classes(prob.flatten(1), (5, 5, 5)).view(5, 5, 5)
    assert classes[2, 2, 2] == CORE and int((classes == CORE).sum()) == 1
    assert int((classes == BOUNDARY).sum()) == 124  # the dilated lesion fills the 5³ grid
    assert (lesion_classes(prob.flatten(1), (5, 5, 5), threshold=0.7) == BACKGROUND).all()


def test_hide_weights_map_classes_and_reject_bad_values() -> None:
    prob = torch.zeros(1, 7, 7)
    prob[0, 2:5, 2:5] = 1.0
    w = lesion_hide_weights(prob, (7, 7), core_weight=5.0, boundary_weight=0.5, background_weight=2.0)
    classes = lesion_classes(prob, (7, 7))
    assert torch.equal(w, torch.tensor([2.0, 0.5, 5.0])[classes])
    with pytest.raises(ConfigError, match="boundary_weight"):
        lesion_hide_weights(prob, (7, 7), boundary_weight=0.0)
    with pytest.raises(ConfigError, match="boundary_width"):
        lesion_classes(prob, (7, 7), boundary_width=0)
    with pytest.raises(InputError, match="lesion map"):
        lesion_classes(prob, (6, 6))


# -- exact weighted sampling without replacement ---------------------------------------------------
def enumerate_set_probabilities(weights: list[float], size: int) -> dict[frozenset[int], float]:
    """P(first `size` successive draws form each set), each draw ∝ weight among the remaining items,
    by brute force over all orderings of the drawn items."""
    probs: dict[frozenset[int], float] = {}
    for order in itertools.permutations(range(len(weights)), size):
        p, left = 1.0, sum(weights)
        for i in order:
            p *= weights[i] / left
            left -= weights[i]
        key = frozenset(order)
        probs[key] = probs.get(key, 0.0) + p
    return probs


def empirical_sets(mask: torch.Tensor, hidden: bool) -> dict[frozenset[int], int]:
    counts: dict[frozenset[int], int] = {}
    chosen = mask if hidden else ~mask
    for row in chosen.tolist():
        key = frozenset(i for i, v in enumerate(row) if v)
        counts[key] = counts.get(key, 0) + 1
    return counts


def chi_square(counts: dict[frozenset[int], int], probs: dict[frozenset[int], float], n: int) -> float:
    assert set(counts) <= set(probs)
    return sum((counts.get(k, 0) - n * p) ** 2 / (n * p) for k, p in probs.items())


WEIGHTS = [1.0, 2.0, 3.0, 5.0, 9.0]
N_DRAWS = 60_000


@pytest.mark.parametrize("scale", [1.0, 1e-40])
def test_hidden_set_matches_exact_inclusion_probabilities(scale: float) -> None:
    """mask_ratio 0.6 on 5 tokens: K = 2 visible, so 3 tokens are hidden, drawn ∝ the hide weights.
    Subnormal float32 weights (scale 1e-40) would overflow float32 keys to -inf: same distribution."""
    strategy = LesionAwareMasking(0.6, weights_kind="hide_weight")
    w = (torch.tensor(WEIGHTS) * scale).expand(N_DRAWS, 5)
    spec = strategy(N_DRAWS, (5,), weights=w, generator=torch.Generator().manual_seed(1234))
    probs = enumerate_set_probabilities(WEIGHTS, 3)
    stat = chi_square(empirical_sets(spec.mask, hidden=True), probs, N_DRAWS)
    assert chi2_sf(stat, len(probs) - 1) > 1e-3
    # per-token inclusion probabilities as a second, more readable check (5 sigma)
    for i in range(5):
        p_i = sum(p for s, p in probs.items() if i in s)
        freq = float(spec.mask[:, i].float().mean())
        assert abs(freq - p_i) < 5 * math.sqrt(p_i * (1 - p_i) / N_DRAWS)


def test_visible_set_sampling_matches_its_own_enumeration() -> None:
    w = torch.tensor(WEIGHTS).expand(N_DRAWS, 5)
    noise = torch.rand(N_DRAWS, 5, generator=torch.Generator().manual_seed(99))
    spec = MaskSpec.from_scores(weighted_scores(w, noise, sampled="visible"), 2, (5,))
    probs = enumerate_set_probabilities(WEIGHTS, 2)
    stat = chi_square(empirical_sets(spec.mask, hidden=False), probs, N_DRAWS)
    assert chi2_sf(stat, len(probs) - 1) > 1e-3


def test_the_exactness_test_has_power() -> None:
    """A plausible-looking but different sampler (keep 2 visible ∝ 1/w) is clearly rejected by the same
    chi-square test, so passing it above means something."""
    inv = torch.tensor([1 / x for x in WEIGHTS]).expand(N_DRAWS, 5)
    noise = torch.rand(N_DRAWS, 5, generator=torch.Generator().manual_seed(5))
    spec = MaskSpec.from_scores(weighted_scores(inv, noise, sampled="visible"), 2, (5,))
    probs = enumerate_set_probabilities(WEIGHTS, 3)
    stat = chi_square(empirical_sets(spec.mask, hidden=True), probs, N_DRAWS)
    assert chi2_sf(stat, len(probs) - 1) < 1e-6


# -- the clinical intent: core hidden more often than the boundary --------------------------------
def lesion_batch(n: int) -> torch.Tensor:
    prob = torch.zeros(n, 14, 14)
    prob[:, 4:10, 3:9] = 0.9  # a 6×6-token lesion: 16 core tokens, 48 boundary tokens
    return prob.flatten(1)


def hidden_rates(strategy: LesionAwareMasking, n: int, seed: int) -> dict[int, tuple[int, int]]:
    prob = lesion_batch(n)
    spec = strategy(n, (14, 14), weights=prob, generator=torch.Generator().manual_seed(seed))
    classes = lesion_classes(prob, (14, 14))
    return {c: (int(spec.mask[classes == c].sum()), int((classes == c).sum()))
            for c in (BACKGROUND, BOUNDARY, CORE)}


def test_core_is_hidden_significantly_more_often_than_boundary() -> None:
    rates = hidden_rates(LesionAwareMasking(0.75), n=200, seed=2024)
    (core_hits, core_n), (bnd_hits, bnd_n) = rates[CORE], rates[BOUNDARY]
    assert core_n == 200 * 16 and bnd_n == 200 * 48
    z = two_proportion_z(core_hits, core_n, bnd_hits, bnd_n)
    assert normal_sf(z) < 1e-9
    bg_hits, bg_n = rates[BACKGROUND]
    assert normal_sf(two_proportion_z(bg_hits, bg_n, bnd_hits, bnd_n)) < 1e-9  # background hidden too


def test_tiny_class_weights_keep_the_sampling_of_their_ratios() -> None:
    """Class weights of 1e-39 scale give the same sampling as the defaults (2 / 0.2 / 1), whose ratios
    they share: float32 keys would overflow to -inf there and hide tokens in raster order."""
    tiny = LesionAwareMasking(0.75, core_weight=2e-39, boundary_weight=2e-40, background_weight=1e-39)
    prob = lesion_batch(400)
    classes = lesion_classes(prob, (14, 14))
    rates = {}
    for name, strategy in (("default", LesionAwareMasking(0.75)), ("tiny", tiny)):
        mask = strategy(400, (14, 14), weights=prob, generator=torch.Generator().manual_seed(7)).mask
        rates[name] = [float(mask[classes == c].float().mean()) for c in (BACKGROUND, BOUNDARY, CORE)]
        # within the background the hidden rate must not depend on raster position
        background_rate = mask.float().mean(0)[classes[0] == BACKGROUND]
        assert float(background_rate[:40].mean() - background_rate[-40:].mean()) == pytest.approx(0, abs=0.06)
    assert rates["tiny"] == pytest.approx(rates["default"], abs=0.02)


def test_equal_weights_show_no_difference() -> None:
    """Control: with equal class weights the same test finds no core/boundary difference."""
    flat = LesionAwareMasking(0.75, core_weight=1.0, boundary_weight=1.0, background_weight=1.0)
    rates = hidden_rates(flat, n=200, seed=2024)
    z = two_proportion_z(*rates[CORE], *rates[BOUNDARY])
    assert abs(z) < 4.0


def test_lesion_aware_input_checks() -> None:
    strategy = LesionAwareMasking(0.5)
    with pytest.raises(ConfigError, match="needs weights"):
        strategy(1, (4, 4))
    with pytest.raises(InputError, match="finite"):
        strategy(1, (2, 2), weights=torch.tensor([[0.1, float("nan"), 0.0, 0.0]]))
    with pytest.raises(InputError, match=r"shape \(B, L\)"):
        strategy(1, (4, 4), weights=torch.zeros(1, 15))
    with pytest.raises(InputError, match="floating-point"):
        strategy(1, (2, 2), weights=torch.zeros(1, 4, dtype=torch.long))
    hide = LesionAwareMasking(0.5, weights_kind="hide_weight")
    with pytest.raises(InputError, match="> 0"):
        hide(1, (2, 2), weights=torch.tensor([[1.0, 0.0, 1.0, 1.0]]))
    with pytest.raises(ConfigError, match="weights_kind"):
        LesionAwareMasking(weights_kind="logits")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="core_weight"):
        LesionAwareMasking(core_weight=-1.0)
    for bad in (float("nan"), 0.0, 2.0, True):
        with pytest.raises(ConfigError, match=r"threshold must be a lesion probability in \(0, 1\]"):
            LesionAwareMasking(threshold=bad)


def test_weighted_scores_in_float32_and_float64_agree_and_leave_inputs_alone() -> None:
    """float32 and float64 keys are log1p(-noise) / w to their precision's rounding, 'visible' negates
    them, and neither touches its inputs."""
    g = torch.Generator().manual_seed(3)
    noise = torch.rand(16, 50, generator=g)
    w = torch.rand(16, 50, generator=g) * 3 + 0.1
    noise_before, w_before = noise.clone(), w.clone()
    exact = torch.log1p(-noise.double()) / w.double()
    fast = weighted_scores(w, noise)
    assert fast.dtype == torch.float32 and fast.shape == (16, 50)
    torch.testing.assert_close(fast.double(), exact, rtol=3e-7, atol=0.0)
    torch.testing.assert_close(weighted_scores(w.double(), noise.double()), exact, rtol=1e-15, atol=0.0)
    assert torch.equal(weighted_scores(w, noise, sampled="visible"), -fast)
    assert torch.equal(noise, noise_before) and torch.equal(w, w_before)
    # noise 0 gives u = 1: the largest possible key, zero (hidden before any other token)
    zero = weighted_scores(torch.ones(1, 2), torch.tensor([[0.0, 0.5]]))
    assert zero[0, 0].item() == 0.0 and zero[0, 1].item() < 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("sampled", ["hidden", "visible"])
def test_weighted_scores_can_reuse_the_noise_memory(dtype: torch.dtype, sampled: str) -> None:
    g = torch.Generator().manual_seed(4)
    noise = torch.rand(4, 30, generator=g, dtype=dtype)
    w = torch.rand(4, 30, generator=g, dtype=dtype) + 0.1
    expected = weighted_scores(w, noise, sampled=sampled)  # type: ignore[arg-type]
    out = weighted_scores(w, noise, sampled=sampled, overwrite_noise=True)  # type: ignore[arg-type]
    assert out.data_ptr() == noise.data_ptr()
    assert torch.equal(out, expected)


def test_overwrite_noise_refuses_memory_it_cannot_safely_reuse() -> None:
    w = torch.tensor([[1.0, 2.0, 4.0], [1.0, 1.0, 1.0]])
    expanded = torch.tensor([[0.5, 0.25, 0.75]]).expand(2, 3)  # both rows share one memory row
    expected = torch.log1p(-expanded.double()) / w.double()
    out = weighted_scores(w, expanded, overwrite_noise=True)
    torch.testing.assert_close(out.double(), expected, rtol=3e-7, atol=0.0)
    assert expanded[0].tolist() == [0.5, 0.25, 0.75]  # not written to
    tracked = torch.tensor([[0.5, 0.25, 0.75]], requires_grad=True)
    keys = weighted_scores(w[:1], tracked, overwrite_noise=True)
    assert keys.requires_grad and tracked.tolist() == [[0.5, 0.25, 0.75]]
    half = torch.tensor([[0.5, 0.25, 0.75]], dtype=torch.float16)  # float32 result: a new tensor
    assert weighted_scores(w[:1], half, overwrite_noise=True).dtype == torch.float32
    assert half.tolist() == [[0.5, 0.25, 0.75]]


def test_float16_probability_maps_with_a_large_sum_are_finite() -> None:
    # the finiteness check sums in float64: 65,536 ones overflow a float16 sum, not the check
    prob = torch.ones(64, 1024, dtype=torch.float16)
    spec = LesionAwareMasking(0.75)(64, (4, 16, 16), weights=prob, generator=torch.Generator().manual_seed(0))
    assert spec.num_visible == 256
    with pytest.raises(InputError, match="finite"):
        bad = prob.clone()
        bad[3, 7] = float("nan")
        LesionAwareMasking(0.75)(64, (4, 16, 16), weights=bad)
