"""Number fields: standardisation statistics and the pelvic-floor range constraints."""

from __future__ import annotations

import math

import pytest

from maerad.errors import FindingsError
from maerad.report.generation.numeric_constraints import field_range, pelvic_floor_range
from maerad.report.generation.numeric_heads import MIN_STD, NumericStats
from maerad.report.templates import get_template
from maerad.report.templates.pelvic_floor import landmarks_from_measurements


def test_stats_fit_and_round_trip() -> None:
    stats = NumericStats.fit({"a": [2.0, 4.0, 6.0, 8.0], "b": [5.0, 5.0]})
    assert stats.get("a") == (5.0, pytest.approx(math.sqrt(5.0)))
    assert stats.get("b") == (5.0, MIN_STD)  # constant targets keep a finite scale
    z = stats.normalise("a", 7.0)
    assert stats.denormalise("a", z) == pytest.approx(7.0)
    # an unseen field: centre and quarter width of its range
    assert stats.get("c", (0.0, 200.0)) == (100.0, 50.0)
    assert NumericStats.from_dict(stats.to_dict()) == stats


def test_m_line_is_bounded_by_the_h_line() -> None:
    spec = get_template("pelvic-floor").field("m_line_mm")
    assert field_range("pelvic-floor", spec, {"h_line_mm": 42.0}) == (-42.0, 42.0)
    assert field_range("pelvic-floor", spec, {}) == (-100.0, 200.0)  # nothing known yet: template range


@pytest.mark.parametrize(("h", "m", "descent"), [(50.0, 30.0, 12.0), (60.0, 2.0, 40.0), (45.0, -10.0, -8.0)])
def test_below_h_line_range_is_what_the_derivation_accepts(h: float, m: float, descent: float) -> None:
    values = {"h_line_mm": h, "m_line_mm": m, "bladder_base_descent_mm": descent}
    bounds = pelvic_floor_range("bladder_base_below_h_line_mm", values)
    assert bounds is not None
    low, high = bounds
    descents = {"B": descent, "Cx": 0.0, "ARJ_ant": 0.0}
    for wanted in (low, high, (low + high) / 2):
        marks = landmarks_from_measurements(h, m, descents, {"B": wanted, "Cx": 0.0, "ARJ_ant": 0.0})
        assert abs(marks["B"][1] + descent) < 1e-9
    width = high - low
    with pytest.raises(FindingsError, match="does not fit"):
        landmarks_from_measurements(h, m, descents, {"B": high + 0.05 * width, "Cx": 0.0, "ARJ_ant": 0.0})


def test_zero_m_line_pins_the_distance_to_the_descent() -> None:
    bounds = pelvic_floor_range("cervix_below_h_line_mm",
                                {"h_line_mm": 50.0, "m_line_mm": 0.0, "cervix_descent_mm": 17.0})
    # the H-line lies on the PCL (SPEC §4.2): the distance below it is the descent
    assert bounds is not None and bounds[0] == bounds[1] == pytest.approx(17.0)
