"""SPEC §7.2 recurrence simulator: Weibull scale, 5-year incidence, censoring, log-hazard offset."""

from __future__ import annotations

import math

import numpy as np
import pytest

from maerad.data.phantom import RecurrenceParams
from maerad.data.phantom.recurrence import DEFAULT_P5, simulate_recurrence, weibull_scale
from maerad.errors import ConfigError


@pytest.mark.parametrize("group", list(DEFAULT_P5))
def test_weibull_scale_gives_the_five_year_target(group: str) -> None:
    p5, k = DEFAULT_P5[group], 0.8
    theta = weibull_scale(p5, k)
    assert math.exp(-((5.0 / theta) ** k)) == pytest.approx(1.0 - p5)


def test_simulated_five_year_incidence_matches_p5() -> None:
    params = RecurrenceParams()
    rng = np.random.default_rng(0)
    # zero offset: reference volume and MI ratio 0.5
    times = np.array(
        [
            simulate_recurrence("high", rng, params, tumour_volume_ml=10.0, mi_ratio=0.5)["event_time_years"]
            for _ in range(4000)
        ]
    )
    assert abs(float((times <= 5.0).mean()) - DEFAULT_P5["high"]) < 0.03  # binomial SE ≈ 0.008


def test_censoring_and_observed_data() -> None:
    rng = np.random.default_rng(1)
    params = RecurrenceParams(admin_min_years=5.0, admin_max_years=8.0)
    for _ in range(300):
        out = simulate_recurrence("intermediate", rng, params, tumour_volume_ml=3.0, mi_ratio=0.2)
        assert out["censor_time_years"] <= 8.0
        assert out["time_years"] == min(out["event_time_years"], out["censor_time_years"])
        assert out["event"] == (out["event_time_years"] <= out["censor_time_years"])


def test_log_hazard_offset_uses_the_known_coefficients() -> None:
    params = RecurrenceParams(beta_log_volume=0.5, beta_mi=1.0, ref_volume_ml=10.0)
    rng = np.random.default_rng(2)
    small = simulate_recurrence("low", rng, params, tumour_volume_ml=10.0, mi_ratio=0.5)
    big = simulate_recurrence("low", rng, params, tumour_volume_ml=10.0 * math.e**2, mi_ratio=0.9)
    assert small["log_hazard_offset"] == pytest.approx(0.0)
    assert big["log_hazard_offset"] == pytest.approx(0.5 * 2.0 + 1.0 * 0.4)
    assert big["linear_predictor"] - small["linear_predictor"] == pytest.approx(1.4)


def test_bad_parameters_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match="p5"):
        RecurrenceParams(p5={"low": 0.1})
    with pytest.raises(ConfigError, match="weibull_k"):
        RecurrenceParams(weibull_k=0.0)
    with pytest.raises(ConfigError, match="admin_max_years"):
        RecurrenceParams(admin_min_years=6.0, admin_max_years=5.0)
    with pytest.raises(ConfigError, match="risk group"):
        simulate_recurrence(
            "unknown", np.random.default_rng(0), RecurrenceParams(), tumour_volume_ml=1.0, mi_ratio=0.1
        )
