"""Mapping of template pelvic-floor to the pelvic-floor engine (SPEC §4): exact geometry, grades."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.errors import FindingsError
from maerad.report.rules import evaluate
from maerad.report.templates import DERIVATIONS, Value
from maerad.report.templates.pelvic_floor import landmarks_from_measurements, pelvic_floor_findings
from maerad.terminology.bundled import load_bundled

GRAPH = load_bundled()


def _derive(template: str, values: dict[str, Value], **options: Any) -> dict[str, Value]:
    return DERIVATIONS.get(template)(values, GRAPH, options).values


@settings(max_examples=150, deadline=None)
@given(
    h=st.floats(5.0, 150.0),
    m_frac=st.floats(-0.95, 0.95),
    descents=st.tuples(*(st.floats(-80.0, 120.0) for _ in range(3))),
    xs=st.tuples(*(st.floats(-150.0, 50.0) for _ in range(3))),
)
def test_pelvic_landmarks_reproduce_the_measurements(
    h: float, m_frac: float, descents: tuple[float, float, float], xs: tuple[float, float, float]
) -> None:
    # measurements of a real configuration: P at the origin, PCL on the x axis, organs at (x, -descent);
    # the distance below the H-line P->A is computed here with the plain line equation
    m = h * m_frac
    ax = math.sqrt(h * h - m * m)
    below = tuple((x * m + d * ax) / h for x, d in zip(xs, descents, strict=True))
    organs = ("B", "Cx", "ARJ_ant")
    landmarks = landmarks_from_measurements(
        h,
        m,
        dict(zip(organs, descents, strict=True)),
        dict(zip(organs, below, strict=True)) if m != 0 else None,
    )
    strain = evaluate("pelvic-floor", {"strain": landmarks}).strain  # type: ignore[attr-defined]
    assert strain.h_line_mm == h and strain.m_line_mm == m
    assert [strain.descent_mm[o] for o in organs] == list(descents)
    if m != 0:
        for organ, wanted in zip(organs, below, strict=True):
            assert abs(strain.below_h_line_mm[organ] - wanted) <= 1e-9 * max(1.0, abs(wanted))


@settings(max_examples=80, deadline=None)
@given(
    h=st.integers(20, 120),
    m_frac=st.floats(-0.9, 0.9).filter(lambda x: abs(x) > 0.01),
    boundary=st.sampled_from([20.0, 40.0, 30.0, 60.0]),
)
def test_pelvic_boundary_values_are_reproduced_exactly(h: int, m_frac: float, boundary: float) -> None:
    # grade boundaries are whole millimetres: the reconstruction must hit them exactly, not 1 ulp off
    m = round(h * m_frac, 1)
    organs = {"B": boundary, "Cx": -boundary, "ARJ_ant": boundary / 2}
    strain = evaluate("pelvic-floor", {"strain": landmarks_from_measurements(float(h), m, organs, organs)})
    below = strain.strain.below_h_line_mm  # type: ignore[attr-defined]
    assert below == organs


@pytest.mark.parametrize(
    ("h", "m", "b", "cx", "arj", "expected"),
    [
        # rule of three with boundaries included (SPEC §4.3a, U10): 30 mm mild, 60 mm moderate, 60.1 severe
        (
            55.0,
            15.0,
            30.0,
            60.0,
            60.1,
            {
                "cystocele_severity": "MR:P020",
                "uterine_prolapse_severity": "MR:P021",
                "arj_descent_severity": "MR:P022",
                "hmo_h": "MR:P030.H0",
                "hmo_m": "MR:P030.M0",
            },
        ),
        # H 60 mm and M 20 mm are the first values of grade 1 (SPEC §4.3d: normal H < 6 cm, M < 2 cm)
        (60.0, 20.0, 0.0, -10.0, -5.0, {"cystocele": False, "hmo_h": "MR:P030.H1", "hmo_m": "MR:P030.M1"}),
        (100.0, 60.0, 0.0, 0.0, 0.0, {"hmo_h": "MR:P030.H3", "hmo_m": "MR:P030.M3"}),
    ],
)
def test_pelvic_floor_grades(
    h: float, m: float, b: float, cx: float, arj: float, expected: dict[str, Value]
) -> None:
    values: dict[str, Value] = {
        "h_line_mm": h,
        "m_line_mm": m,
        "bladder_base_descent_mm": b,
        "cervix_descent_mm": cx,
        "anorectal_junction_descent_mm": arj,
    }
    derived = _derive("pelvic-floor", values)
    for key, value in expected.items():
        assert derived[key] == value, key
    assert "hmo_o" not in derived, "O needs the distances below the H-line"


def test_pelvic_floor_rectocele_and_o_grade() -> None:
    values: dict[str, Value] = {
        "h_line_mm": 70.0,
        "m_line_mm": 30.0,
        "bladder_base_descent_mm": 10.0,
        "cervix_descent_mm": 0.0,
        "anorectal_junction_descent_mm": 0.0,
        "bladder_base_below_h_line_mm": 41.0,
        "cervix_below_h_line_mm": 20.0,
        "anorectal_junction_below_h_line_mm": -3.0,
        "rectocele_depth_mm": 41.0,
    }
    derived = _derive("pelvic-floor", values)
    assert derived["rectocele_severity"] == "MR:P022"  # > 4 cm large
    assert derived["hmo_o"] == "MR:P030.O3"  # 4.1 cm below the H-line: > 4 cm
    assert pelvic_floor_findings(values)["rectocele_depth_mm"] == 41.0


def test_pelvic_floor_impossible_geometry() -> None:
    with pytest.raises(FindingsError, match=r"'m_line_mm' .* cannot exceed the H-line"):
        landmarks_from_measurements(30.0, 31.0, {"B": 0.0, "Cx": 0.0, "ARJ_ant": 0.0})
    with pytest.raises(FindingsError, match="both distances must be equal"):
        landmarks_from_measurements(
            30.0, 0.0, {"B": 5.0, "Cx": 0.0, "ARJ_ant": 0.0}, {"B": 9.0, "Cx": 0.0, "ARJ_ant": 0.0}
        )
    with pytest.raises(FindingsError, match=r"'cervix_below_h_line_mm' .* more than 1 m from the symphysis"):
        landmarks_from_measurements(
            50.0, 10.0, {"B": 0.0, "Cx": 0.0, "ARJ_ant": 0.0}, {"B": 0.0, "Cx": 300.0, "ARJ_ant": 0.0}
        )
    with pytest.raises(FindingsError, match=r"'cervix_below_h_line_mm' .* more than 1 m from the symphysis"):
        landmarks_from_measurements(
            50.0, 1e-6, {"B": 0.0, "Cx": 0.0, "ARJ_ant": 0.0}, {"B": 0.0, "Cx": 5.0, "ARJ_ant": 0.0}
        )
    values: dict[str, Value] = {
        "h_line_mm": 30.0,
        "m_line_mm": 29.9,
        "bladder_base_descent_mm": 0.0,
        "cervix_descent_mm": 0.0,
        "anorectal_junction_descent_mm": 0.0,
    }
    with pytest.raises(FindingsError, match="cannot be graded"):
        _derive("pelvic-floor", values)
