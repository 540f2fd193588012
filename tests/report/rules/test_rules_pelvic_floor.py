"""Pelvic floor (SPEC §4.1–4.3): geometry, sign convention, rule of three, rectocele and HMO bands.

Frame used by the tables: PCL horizontal from P = (0, 0) to C = (-100, 0), caudal = (0, -1), so a
point (x, -d) lies exactly d mm below the PCL.
"""

from __future__ import annotations

import math
from typing import Any

import pydantic
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from maerad.errors import ConfigError, FindingsError
from maerad.report.rules import PelvicFloorFindings, PelvicLandmarks, parse_findings, pelvic_floor
from maerad.report.rules.pelvic_geometry import caudal_normal, signed_distance

BASE: dict[str, Any] = {
    "P": (0.0, 0.0),
    "C": (-100.0, 0.0),
    "A": (-50.0, -10.0),
    "ARJ_ant": (-40.0, 5.0),
    "B": (-10.0, 5.0),
    "Cx": (-25.0, 10.0),
}


def grade(**points: Any) -> Any:
    return pelvic_floor(PelvicFloorFindings(strain=PelvicLandmarks(**{**BASE, **points})))


@pytest.mark.parametrize(
    ("depth_mm", "expected"),
    [
        (-5.0, "none"),
        (0.0, "none"),
        (0.1, "mild"),
        (30.0, "mild"),
        (30.1, "moderate"),
        (60.0, "moderate"),
        (60.1, "severe"),
        (90.0, "severe"),
    ],
)
def test_rule_of_three_bands_every_compartment(depth_mm: float, expected: str) -> None:
    for compartment, landmark in (("anterior", "B"), ("middle", "Cx"), ("posterior", "ARJ_ant")):
        result = grade(**{landmark: (-30.0, -depth_mm)})
        assert result.strain.descent_mm[landmark] == depth_mm + 0.0
        assert result.grades[compartment] == expected


def test_rule_of_three_exclusive_option() -> None:
    findings = PelvicFloorFindings(
        strain=PelvicLandmarks(**{**BASE, "B": (-30.0, -30.0), "Cx": (-30.0, -60.0)})
    )
    assert pelvic_floor(findings, rule_of_three_inclusive=False).grades["anterior"] == "moderate"
    assert pelvic_floor(findings, rule_of_three_inclusive=False).grades["middle"] == "severe"
    assert pelvic_floor(findings).grades["anterior"] == "mild"


def test_subtract_physiologic_excursion() -> None:
    findings = PelvicFloorFindings(
        strain=PelvicLandmarks(
            **{**BASE, "B": (-30.0, -40.0), "Cx": (-30.0, -10.0), "ARJ_ant": (-40.0, -20.0)}
        )
    )
    plain = pelvic_floor(findings)
    assert (plain.grades["anterior"], plain.grades["middle"], plain.grades["posterior"]) == (
        "moderate",
        "mild",
        "mild",
    )
    assert any("anorectal junction" in flag for flag in plain.flags)
    sub = pelvic_floor(findings, subtract_physiologic_excursion=True)
    # 4 - 1 = 3 cm -> mild; 1 - 1 = 0 -> none; 2 - 3 < 0 -> none
    assert (sub.grades["anterior"], sub.grades["middle"], sub.grades["posterior"]) == ("mild", "none", "none")


@pytest.mark.parametrize(
    ("depth_mm", "expected"),
    [
        (0.0, "small"),
        (19.9, "small"),
        (20.0, "moderate"),
        (30.0, "moderate"),
        (40.0, "moderate"),
        (40.1, "large"),
    ],
)
def test_rectocele_bands(depth_mm: float, expected: str) -> None:
    f = PelvicFloorFindings(strain=PelvicLandmarks(**BASE), rectocele_depth_mm=depth_mm)
    assert pelvic_floor(f).grades["rectocele"] == expected


def test_rectocele_absent_when_not_given() -> None:
    assert "rectocele" not in grade().grades


@pytest.mark.parametrize(
    ("h_mm", "expected"),
    [(59.9, 0), (60.0, 1), (79.9, 1), (80.0, 2), (99.9, 2), (100.0, 3), (120.0, 3)],
)
def test_h_line_grades(h_mm: float, expected: int) -> None:
    result = grade(A=(-h_mm, 0.0))  # A on the PCL: H = h_mm exactly, M = 0
    assert result.strain.h_line_mm == h_mm
    assert result.hmo["H"] == expected


@pytest.mark.parametrize(
    ("m_mm", "expected"),
    [(-10.0, 0), (19.9, 0), (20.0, 1), (39.9, 1), (40.0, 2), (59.9, 2), (60.0, 3)],
)
def test_m_line_grades(m_mm: float, expected: int) -> None:
    result = grade(A=(-50.0, -m_mm))
    assert result.strain.m_line_mm == m_mm + 0.0
    assert result.hmo["M"] == expected


@pytest.mark.parametrize(
    ("below_mm", "expected"),
    [(-5.0, 0), (0.0, 0), (0.1, 1), (20.0, 1), (20.1, 2), (40.0, 2), (40.1, 3)],
)
def test_o_grades_relative_to_h_line(below_mm: float, expected: int) -> None:
    # A on the PCL, so the H-line is the same horizontal line
    result = grade(A=(-60.0, 0.0), Cx=(-30.0, -below_mm))
    assert result.strain.below_h_line_mm["Cx"] == below_mm + 0.0
    assert result.hmo["O_middle"] == expected
    assert result.hmo["O"] == max(result.hmo["O_anterior"], result.hmo["O_middle"], result.hmo["O_posterior"])


def test_configurable_hmo_limits() -> None:
    f = PelvicFloorFindings(strain=PelvicLandmarks(**{**BASE, "A": (-55.0, 0.0)}))
    assert pelvic_floor(f).hmo["H"] == 0
    assert pelvic_floor(f, h_line_normal_cm=5.0).hmo["H"] == 1
    g = PelvicFloorFindings(strain=PelvicLandmarks(**{**BASE, "A": (-50.0, -15.0)}))
    assert pelvic_floor(g).hmo["M"] == 0
    assert pelvic_floor(g, m_line_normal_cm=1.5).hmo["M"] == 1
    with pytest.raises(ConfigError):
        pelvic_floor(f, h_line_normal_cm=9.0)  # above the grade-2 limit of 8 cm
    with pytest.raises(ConfigError):
        pelvic_floor(f, o_grade_cm=(4.0, 2.0))


def test_sign_convention_positive_is_caudal() -> None:
    n = caudal_normal((0.0, 0.0), (-100.0, 0.0), caudal=(0.0, -1.0))
    assert n == (0.0, -1.0)
    assert signed_distance((-20.0, -15.0), (0.0, 0.0), n) == 15.0
    assert signed_distance((-20.0, 15.0), (0.0, 0.0), n) == -15.0
    # flipping the caudal direction (image rows growing downwards) flips every sign
    landmarks = PelvicLandmarks(**{**BASE, "B": (-10.0, -25.0)})
    up = pelvic_floor(PelvicFloorFindings(strain=landmarks, caudal=(0.0, -1.0)))
    down = pelvic_floor(PelvicFloorFindings(strain=landmarks, caudal=(0.0, 1.0)))
    assert up.strain.descent_mm["B"] == 25.0 and down.strain.descent_mm["B"] == -25.0
    assert up.grades["anterior"] == "mild" and down.grades["anterior"] == "none"


def test_rest_and_strain_are_both_reported_grades_from_strain() -> None:
    rest = PelvicLandmarks(**BASE)
    strain = PelvicLandmarks(**{**BASE, "B": (-10.0, -45.0)})
    result = pelvic_floor(PelvicFloorFindings(rest=rest, strain=strain))
    assert result.rest is not None
    assert result.rest.descent_mm["B"] == -5.0
    assert result.strain.descent_mm["B"] == 45.0
    assert result.grades["anterior"] == "moderate"


def test_coccygeal_tip_option() -> None:
    landmarks = PelvicLandmarks(**{**BASE, "C_tip": (-100.0, -30.0), "B": (0.0, -31.0)})
    f = PelvicFloorFindings(strain=landmarks)
    assert pelvic_floor(f).grades["anterior"] == "moderate"
    tip = pelvic_floor(f, pcl_posterior="coccygeal_tip")
    # PCL through (0,0) and (-100,-30): B at (0,-31) lies 31 mm straight down from P; its perpendicular
    # distance is 31 * cos(atan(0.3)) = 31 / sqrt(1.09) = 29.7 mm -> mild instead of moderate
    assert math.isclose(tip.strain.descent_mm["B"], 31.0 / math.sqrt(1.09))
    assert tip.grades["anterior"] == "mild"
    with pytest.raises(ConfigError, match="C_tip"):
        pelvic_floor(PelvicFloorFindings(strain=PelvicLandmarks(**BASE)), pcl_posterior="coccygeal_tip")


def test_degenerate_geometry_is_a_findings_error() -> None:
    with pytest.raises(pydantic.ValidationError):
        PelvicLandmarks(**{**BASE, "C": (0.0, 0.0)})
    with pytest.raises(FindingsError, match="parallel"):
        parse_findings(PelvicFloorFindings, {"strain": {**BASE, "C": (0.0, -100.0)}})
    with pytest.raises(FindingsError, match="caudal"):
        parse_findings(PelvicFloorFindings, {"strain": BASE, "caudal": [0, 0]})
    with pytest.raises(FindingsError, match="strain"):
        parse_findings(PelvicFloorFindings, {})


def test_json_landmarks_as_arrays() -> None:
    data = {"strain": {k: list(v) for k, v in BASE.items()}, "rectocele_depth_mm": 25}
    f = parse_findings(PelvicFloorFindings, data)
    assert pelvic_floor(f).grades["rectocele"] == "moderate"


# ---------------------------------------------------------------- properties

coord = st.floats(-150, 150, allow_nan=False)
point = st.tuples(coord, coord)


def _rotate(
    p: tuple[float, float], angle: float, shift: tuple[float, float] = (0.0, 0.0)
) -> tuple[float, float]:
    c, s = math.cos(angle), math.sin(angle)
    return (c * p[0] - s * p[1] + shift[0], s * p[0] + c * p[1] + shift[1])


@settings(max_examples=200, deadline=None)
@given(
    pts=st.fixed_dictionaries(
        {"A": st.tuples(st.floats(-90, -20), st.floats(-60, 20)), "ARJ_ant": point, "B": point, "Cx": point}
    ),
    c=st.tuples(st.floats(-150, -60), st.floats(-60, 60)),
    angle=st.floats(-math.pi, math.pi),
    shift=point,
)
def test_rotation_and_translation_do_not_change_measurements_or_grades(
    pts: dict[str, tuple[float, float]], c: tuple[float, float], angle: float, shift: tuple[float, float]
) -> None:
    landmarks = {"P": (0.0, 0.0), "C": c, **pts}
    original = pelvic_floor(PelvicFloorFindings(strain=PelvicLandmarks(**landmarks)))
    boundaries_mm = [0.0, 20.0, 30.0, 40.0, 60.0, 80.0, 100.0]
    measured = [
        original.strain.h_line_mm,
        original.strain.m_line_mm,
        *original.strain.descent_mm.values(),
        *original.strain.below_h_line_mm.values(),
    ]
    assume(all(abs(v - b) > 1e-6 for v in measured for b in boundaries_mm))
    moved = {k: _rotate(v, angle, shift) for k, v in landmarks.items()}
    caudal = _rotate((0.0, -1.0), angle)
    rotated = pelvic_floor(PelvicFloorFindings(strain=PelvicLandmarks(**moved), caudal=caudal))
    assert rotated.grades == original.grades
    assert rotated.hmo == original.hmo
    assert math.isclose(rotated.strain.h_line_mm, original.strain.h_line_mm, abs_tol=1e-6)
    assert math.isclose(rotated.strain.m_line_mm, original.strain.m_line_mm, abs_tol=1e-6)
    for key, value in original.strain.descent_mm.items():
        assert math.isclose(rotated.strain.descent_mm[key], value, abs_tol=1e-6)


@settings(max_examples=200, deadline=None)
@given(b=point, extra=st.floats(0, 80), organ=st.sampled_from(["B", "Cx", "ARJ_ant"]))
def test_moving_an_organ_caudally_never_lowers_its_grade(
    b: tuple[float, float], extra: float, organ: str
) -> None:
    order = ["none", "mild", "moderate", "severe"]
    compartment = {"B": "anterior", "Cx": "middle", "ARJ_ant": "posterior"}[organ]
    before = grade(**{organ: b})
    after = grade(**{organ: (b[0], b[1] - extra)})
    assert order.index(after.grades[compartment]) >= order.index(before.grades[compartment])
    assert after.hmo["O"] >= before.hmo["O"]
