"""Bad configuration and targets raise ConfigError with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from maerad.data.phantom import PhantomConfig, generate_case, generate_cases
from maerad.errors import ConfigError, MaeradError


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"size": (2, 64, 64)}, "size"),
        ({"size": (12, 64)}, "size"),
        ({"size": (12.5, 64, 64)}, "size"),
        ({"spacing": (0.0, 1.0, 1.0)}, "spacing"),
        ({"field_strength_t": 7.0}, "field_strength_t"),
        ({"t2w_te_ms": -1.0}, "t2w_te_ms"),
        ({"noise_level": 2.0}, "noise_level"),
        ({"supersample": 2}, "supersample"),
        ({"kind_weights": {"cervical": 1.0, "brain": 1.0}}, "kind_weights"),
        ({"kind_weights": {"cervical": 0.0}}, "kind_weights"),
        ({"node_short_axis_mm": 50.0}, "node_short_axis_mm"),
        ({"figo2018_boundaries": "2009"}, "figo2018_boundaries"),
        ({"orads_malignancy_rates": {1: 0.1}}, "orads_malignancy_rates"),
    ],
)
def test_invalid_config_fields(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        PhantomConfig(**changes)


def test_valid_config_summary_is_json_ready() -> None:
    cfg = PhantomConfig(size=(12, 64, 64), spacing=(10.0, 3.0, 3.0), field_strength_t=3.0)
    assert cfg.field_of_view_mm == (120.0, 192.0, 192.0)
    summary = cfg.to_dict()
    assert summary["size"] == [12, 64, 64] and summary["recurrence"]["weibull_k"] == 0.8


@pytest.mark.parametrize(
    ("kind", "targets", "text"),
    [
        ("brain", {}, "kind"),
        ("cervical", {"stage": "IIC"}, "stage"),
        ("endometrial", {"stage": "IIIC"}, "stage"),
        ("adnexal", {"score": 6}, "score"),
        ("adnexal", {"score": True}, "score"),
        ("pelvic_floor", {"anterior": "huge"}, "anterior"),
        ("normal", {"stage": "IB"}, "target"),
        ("cervical", {"score": 3}, "target"),
    ],
)
def test_invalid_kind_or_target(kind: str, targets: dict[str, Any], text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        generate_case(
            kind, seed=0, config=PhantomConfig(size=(8, 32, 32), spacing=(12.0, 6.0, 6.0)), **targets
        )


def test_invalid_seed_and_count() -> None:
    with pytest.raises(ConfigError, match="seed"):
        generate_case("normal", seed=-1)
    with pytest.raises(ConfigError, match="number"):
        list(generate_cases(-2))
    with pytest.raises(MaeradError):
        list(generate_cases(1, kind="brain"))


def test_field_strength_3t_renders() -> None:
    case = generate_case(
        "normal",
        seed=0,
        config=PhantomConfig(size=(8, 32, 32), spacing=(12.0, 6.0, 6.0), field_strength_t=3.0),
    )
    assert case.study.metadata["config"]["field_strength_t"] == 3.0
