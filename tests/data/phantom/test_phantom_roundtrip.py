"""Round trip: re-running the rule engines on the sampled findings returns the sampled target."""

from __future__ import annotations

import pytest
from helpers_phantom import SMALL

from maerad.data.phantom import generate_case
from maerad.data.phantom.adnexal import ORADS_TARGETS
from maerad.data.phantom.cervical import CERVIX_TARGETS
from maerad.data.phantom.endometrial import ENDOMETRIUM_TARGETS
from maerad.data.phantom.pelvic_floor import GRADES
from maerad.report.rules import figo2009_endometrium, figo2018_cervix, orads_mri, pelvic_floor


def _check_seed(seed: int) -> None:
    for stage in CERVIX_TARGETS:
        case = generate_case("cervical", seed=seed, config=SMALL, stage=stage)
        assert figo2018_cervix(case.findings).label == stage == case.target["stage"]  # type: ignore[arg-type]
        assert case.outputs["figo2018"].model_dump()["label"] == stage
    for stage in ENDOMETRIUM_TARGETS:
        case = generate_case("endometrial", seed=seed, config=SMALL, stage=stage)
        assert figo2009_endometrium(case.findings).stage == stage  # type: ignore[arg-type]
    for score in ORADS_TARGETS:
        case = generate_case("adnexal", seed=seed, config=SMALL, score=score)
        assert orads_mri(case.findings).score == score  # type: ignore[arg-type]
    for grade in GRADES:
        case = generate_case(
            "pelvic_floor", seed=seed, config=SMALL, anterior=grade, middle=grade, posterior=grade
        )
        result = pelvic_floor(case.findings)  # type: ignore[arg-type]
        expected = {k: v for k, v in case.target.items() if k not in ("H", "M")}
        assert result.grades == expected
        assert (result.hmo["H"], result.hmo["M"]) == (case.target["H"], case.target["M"])


@pytest.mark.parametrize("seed", [0, 1])
def test_round_trip_every_kind_and_target(seed: int) -> None:
    _check_seed(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 22))
def test_round_trip_many_seeds(seed: int) -> None:
    _check_seed(seed)


def test_original_2018_boundaries_round_trip() -> None:
    cfg = SMALL.replace(figo2018_boundaries="original_2018")
    for stage in ("IA1", "IA2", "IB1", "IB2", "IB3", "IIA1", "IIA2"):
        case = generate_case("cervical", seed=3, config=cfg, stage=stage)
        assert figo2018_cervix(case.findings, boundaries="original_2018").label == stage  # type: ignore[arg-type]


def test_pelvic_floor_rectocele_target() -> None:
    for grade in ("small", "moderate", "large"):
        case = generate_case("pelvic_floor", seed=7, config=SMALL, rectocele=grade)
        assert pelvic_floor(case.findings).grades["rectocele"] == grade  # type: ignore[arg-type]
