"""Simulated recurrence time and censoring for endometrial cases (SPEC §7.2, all ``ASSUMPTION``).

Model: Weibull proportional hazards. For a risk group with 5-year cumulative recurrence ``p5`` and
shape ``k`` the scale is ``θ = 5 / (−ln(1 − p5))^(1/k)`` so that ``S(5) = 1 − p5``. A per-patient
log-hazard offset ``η`` built from image features with known coefficients multiplies the hazard by
``exp(η)``: ``S(t) = exp(−(t/θ)^k · e^η)`` and ``T = θ · (−ln U · e^−η)^(1/k)``. Independent
censoring ``C = min(administrative ~ U(admin_min, admin_max), dropout ~ U(0, dropout_max))``;
the observed data are ``(min(T, C), T ≤ C)``. The ground-truth risk score is the linear predictor
``k·ln(5/θ) + η`` (log cumulative hazard at 5 years), usable for C-index tests (SPEC §7.3).

Examples::

    >>> import numpy as np
    >>> out = simulate_recurrence("high", np.random.default_rng(0), RecurrenceParams(),
    ...                           tumour_volume_ml=12.0, mi_ratio=0.6)
    >>> sorted(out)[:3]
    ['censor_time_years', 'event', 'event_time_years']
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from maerad.errors import ConfigError

__all__ = ["DEFAULT_P5", "RecurrenceParams", "simulate_recurrence", "weibull_scale"]

# SPEC §7.2 "proposed simulator targets" (p5 defaults); advanced/metastatic have no anchor (U15).
DEFAULT_P5: dict[str, float] = {
    "low": 0.06,
    "intermediate": 0.13,
    "high_intermediate": 0.18,
    "high": 0.40,
    "advanced": 0.55,
    "metastatic": 0.80,
}


@dataclass(frozen=True)
class RecurrenceParams:
    """Parameters of the recurrence simulator (SPEC §7.2; every value is an ``ASSUMPTION``).

    Args:
        p5: risk group → 5-year cumulative recurrence probability.
        weibull_k: Weibull shape (k < 1: front-loaded hazard; UNCERTAIN, U15).
        admin_min_years, admin_max_years: administrative censoring ~ U(min, max).
        dropout_max_years: loss to follow-up ~ U(0, dropout_max_years).
        beta_log_volume: log-hazard coefficient of ``ln(tumour volume / ref_volume_ml)``.
        ref_volume_ml: reference tumour volume (mL) where the volume term is 0.
        beta_mi: log-hazard coefficient of ``(myometrial invasion ratio − 0.5)``.
    """

    p5: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_P5))
    weibull_k: float = 0.8
    admin_min_years: float = 5.0
    admin_max_years: float = 8.0
    dropout_max_years: float = 30.0
    beta_log_volume: float = 0.5
    ref_volume_ml: float = 10.0
    beta_mi: float = 1.0

    def __post_init__(self) -> None:
        p5 = {str(k): float(v) for k, v in dict(self.p5).items()}
        if set(p5) != set(DEFAULT_P5) or not all(0.0 < v < 1.0 for v in p5.values()):
            raise ConfigError(
                "recurrence field 'p5': expected probabilities in (0, 1) for "
                f"{', '.join(DEFAULT_P5)}, got {p5}"
            )
        object.__setattr__(self, "p5", p5)
        for name in ("weibull_k", "admin_min_years", "admin_max_years", "dropout_max_years", "ref_volume_ml"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
                raise ConfigError(f"recurrence field {name!r}: expected a positive number, got {value!r}")
        if self.admin_max_years < self.admin_min_years:
            raise ConfigError("recurrence field 'admin_max_years' must be >= 'admin_min_years'")
        for name in ("beta_log_volume", "beta_mi"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"recurrence field {name!r}: expected a finite number, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable parameters."""
        out = dataclasses.asdict(self)
        out["p5"] = dict(self.p5)
        return out


def weibull_scale(p5: float, k: float) -> float:
    """Scale θ (years) such that a Weibull(k, θ) has ``S(5) = 1 − p5`` (SPEC §7.2)."""
    return float(5.0 / (-math.log(1.0 - p5)) ** (1.0 / k))


def simulate_recurrence(
    risk_group: str,
    rng: np.random.Generator,
    params: RecurrenceParams,
    *,
    tumour_volume_ml: float,
    mi_ratio: float,
) -> dict[str, Any]:
    """Draw one patient's recurrence time, censoring time and observed outcome.

    Args:
        risk_group: ESGO/ESTRO/ESP 2020 group (SPEC §7.1), a key of ``params.p5``.
        rng: the case's random generator.
        params: simulator parameters.
        tumour_volume_ml: rendered tumour volume (image feature of the log-hazard offset).
        mi_ratio: myometrial invasion ratio (image feature of the log-hazard offset).

    Returns:
        JSON-serialisable dict: ``risk_group``, ``p5``, ``weibull_k``, ``theta_years``,
        ``log_hazard_offset``, ``linear_predictor``, ``event_time_years``, ``censor_time_years``,
        ``time_years``, ``event``.
    """
    if risk_group not in params.p5:
        raise ConfigError(f"recurrence: no p5 for risk group {risk_group!r}")
    p5 = params.p5[risk_group]
    k = params.weibull_k
    theta = weibull_scale(p5, k)
    eta = params.beta_log_volume * math.log(
        max(tumour_volume_ml, 1e-3) / params.ref_volume_ml
    ) + params.beta_mi * (mi_ratio - 0.5)
    u = float(rng.uniform(1e-12, 1.0))
    t_event = theta * (-math.log(u) * math.exp(-eta)) ** (1.0 / k)
    admin = float(rng.uniform(params.admin_min_years, params.admin_max_years))
    dropout = float(rng.uniform(0.0, params.dropout_max_years))
    censor = min(admin, dropout)
    return {
        "risk_group": risk_group,
        "p5": p5,
        "weibull_k": k,
        "theta_years": theta,
        "log_hazard_offset": eta,
        "linear_predictor": k * math.log(5.0 / theta) + eta,
        "event_time_years": t_event,
        "censor_time_years": censor,
        "time_years": min(t_event, censor),
        "event": bool(t_event <= censor),
    }
