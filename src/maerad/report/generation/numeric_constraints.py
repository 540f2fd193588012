"""Value ranges of number fields that depend on earlier fields (registry ``maerad.numeric_constraint``).

A template's number field has a fixed plausible ``range``; some measurements are also bounded by
others. A constraint is a function ``(field_id, values) -> (low, high) | None`` registered under a
template id; the decoder intersects its range with the field's and clamps the regression output, so
that every generated report can be graded by the rule engines.

Pelvic floor (SPEC §4.1, §4.2): the M-line is the distance of point A below the PCL and the H-line the
distance of A from P, so ``|M| ≤ H``; an organ's distance below the H-line is its height projected on
the H-line normal plus its position along the PCL, which the derivation allows within 1 m of the
symphysis (:mod:`maerad.report.templates.pelvic_floor`) — the range below keeps a 1 % margin inside
that bound (with an M-line of 0 the two lines coincide and the distance must equal the descent).

Examples::

    >>> pelvic_floor_range("m_line_mm", {"h_line_mm": 40.0})
    (-40.0, 40.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from maerad.registry import Registry
from maerad.report.rules.pelvic_geometry import caudal_normal
from maerad.report.templates.model import FieldSpec, Value

__all__ = ["NUMERIC_CONSTRAINTS", "NumericConstraint", "field_range", "pelvic_floor_range"]

NumericConstraint = Callable[[str, Mapping[str, Value]], "tuple[float, float] | None"]

NUMERIC_CONSTRAINTS: Registry[NumericConstraint] = Registry("numeric_constraint")

_BELOW = {"bladder_base_below_h_line_mm": "bladder_base_descent_mm",
          "cervix_below_h_line_mm": "cervix_descent_mm",
          "anorectal_junction_below_h_line_mm": "anorectal_junction_descent_mm"}
_REACH_MM = 990.0  # 1 % inside the derivation's 1 m bound


def _number(values: Mapping[str, Value], key: str) -> float | None:
    v = values.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


@NUMERIC_CONSTRAINTS.register("pelvic-floor")
def pelvic_floor_range(field_id: str, values: Mapping[str, Value]) -> tuple[float, float] | None:
    """Ranges of the M-line and of the distances below the H-line given earlier measurements."""
    h = _number(values, "h_line_mm")
    if h is None or h <= 0:
        return None
    if field_id == "m_line_mm":
        return (-h, h)
    if field_id not in _BELOW:
        return None
    m, descent = _number(values, "m_line_mm"), _number(values, _BELOW[field_id])
    if m is None or descent is None:
        return None
    a = (-math.sqrt(max(h * h - m * m, 0.0)), -m)
    nx, ny = caudal_normal((0.0, 0.0), a, (0.0, -1.0))
    centre = -descent * ny
    reach = _REACH_MM * abs(nx)
    return (centre - reach, centre + reach)


def field_range(template_id: str, spec: FieldSpec, values: Mapping[str, Value]) -> tuple[float, float]:
    """The range of number field ``spec`` now: its template range ∩ the registered constraint.

    When the two do not overlap the constraint wins (it encodes geometry the rule engines need).
    """
    low, high = spec.range if spec.range is not None else (-math.inf, math.inf)
    if template_id in NUMERIC_CONSTRAINTS:
        extra = NUMERIC_CONSTRAINTS.get(template_id)(spec.id, values)
        if extra is not None:
            lo, hi = max(low, extra[0]), min(high, extra[1])
            low, high = (lo, hi) if lo <= hi else extra
    return (float(low), float(high))
