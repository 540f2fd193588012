"""Derivation of template ``pelvic-floor``: measurements → landmarks → :func:`pelvic_floor` grades.

The rule engine grades landmarks (SPEC §4.2); a report states measurements. The mapping places
landmarks on a mid-sagittal plane that reproduces every measurement exactly, then runs the engine:

* ``P = (0, 0)``, ``C = (-100, 0)`` (the PCL is the x axis), caudal direction ``(0, -1)``;
* organ points ``B``, ``Cx``, ``ARJ_ant`` at ``y = -descent`` (descent below the PCL, SPEC §4.2 sign:
  positive = caudal);
* ``A = (-x, -M)`` with ``x = sqrt(H² - M²)`` adjusted by a few ulps so that ``|A - P|`` is exactly
  ``H`` in floating point (an M-line longer than the H-line is impossible and rejected);
* with the "below the H-line" distances given, each organ's x is solved so that its signed distance
  from the H-line (through ``P`` and ``A``) equals the stated value; otherwise HMO O is not derived.

Report fields → engine: ``bladder_base_descent_mm`` → ``B``, ``cervix_descent_mm`` → ``Cx``,
``anorectal_junction_descent_mm`` → ``ARJ_ant``, ``rectocele_depth_mm``, ``hysterectomy``. Engine →
derived fields: ``grades`` anterior / middle / posterior (none | mild | moderate | severe) →
``cystocele`` / ``uterine_prolapse`` / ``arj_descent`` (true unless none) and their ``*_severity``
MR:P020 / P021 / P022; ``grades["rectocele"]`` small / moderate / large → ``rectocele_severity``
MR:P020 / P021 / P022; ``hmo`` H, M, O → ``MR:P030.H<g>``, ``MR:P030.M<g>``, ``MR:P030.O<g>``.
Options: those of ``pelvic-floor`` (U9–U11).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from maerad.errors import FindingsError
from maerad.report.rules import PelvicFloorResult
from maerad.report.rules.pelvic_geometry import Point, caudal_normal, distance, signed_distance
from maerad.report.templates.derivation import Derivation, Derived, RuleNote, RuleOptions, run_rule
from maerad.report.templates.model import Value
from maerad.terminology.graph import TermGraph

__all__ = ["PELVIC_FLOOR_DERIVATION", "landmarks_from_measurements", "pelvic_floor_findings"]

TEMPLATE = "pelvic-floor"
SYSTEM = "pelvic-floor"
CAUDAL: Point = (0.0, -1.0)
_P: Point = (0.0, 0.0)
_C: Point = (-100.0, 0.0)
_ORGANS = (("B", "bladder_base"), ("Cx", "cervix"), ("ARJ_ant", "anorectal_junction"))
_SEVERITY = {"mild": "MR:P020", "moderate": "MR:P021", "severe": "MR:P022",
             "small": "MR:P020", "large": "MR:P022"}
_COMPARTMENTS = (("anterior", "cystocele"), ("middle", "uterine_prolapse"), ("posterior", "arj_descent"))
_MAX_STEPS = 64
_MAX_X_MM = 1000.0  # a landmark further than 1 m from the symphysis means inconsistent measurements


def _exact(target: float, start: float, measure: Any) -> float:
    """Step ``start`` by ulps until ``measure(x) == target`` (monotonic increasing ``measure``)."""
    x = start
    for _ in range(_MAX_STEPS):
        got = measure(x)
        if got == target:
            return x
        x = math.nextafter(x, math.inf if got < target else -math.inf)
    return start


def landmarks_from_measurements(h_mm: float, m_mm: float, descents: Mapping[str, float],
                                below_h_line: Mapping[str, float] | None = None) -> dict[str, list[float]]:
    """Strain-frame landmarks reproducing the measurements (see the module docstring).

    Args:
        h_mm: H-line length; m_mm: signed M-line (+ = below the PCL).
        descents: ``B`` / ``Cx`` / ``ARJ_ant`` → signed distance below the PCL in mm.
        below_h_line: the same organs → signed distance below the H-line, or None.

    Raises:
        FindingsError: ``|m_mm| > h_mm`` (A cannot be further from the PCL than from P), or a
            below-H-line distance that does not fit the descent and the M-line (with ``m_mm == 0``
            the two lines coincide and the distances must be equal).

    Examples::

        >>> marks = landmarks_from_measurements(50.0, 30.0, {"B": 10.0, "Cx": -5.0, "ARJ_ant": 20.0})
        >>> marks["A"], marks["B"][1]
        ([-40.0, -30.0], -10.0)
    """
    if abs(m_mm) > h_mm:
        raise FindingsError(f"{TEMPLATE}: field 'm_line_mm' ({m_mm:g} mm) cannot exceed the H-line "
                            f"'h_line_mm' ({h_mm:g} mm): M is the distance of the same point from the PCL")
    ax = _exact(h_mm, math.sqrt(max(h_mm * h_mm - m_mm * m_mm, 0.0)), lambda x: distance(_P, (-x, -m_mm)))
    a: Point = (-ax, -m_mm)
    marks: dict[str, list[float]] = {"P": list(_P), "C": list(_C), "A": list(a)}
    n_h = caudal_normal(_P, a, CAUDAL) if h_mm > 0 else (0.0, -1.0)
    for key, name in _ORGANS:
        y = -float(descents[key])
        x = -50.0
        if below_h_line is not None:
            x = _organ_x(float(below_h_line[key]), y, n_h, f"{name}_below_h_line_mm", m_mm)
        marks[key] = [x, y]
    return marks


def _organ_x(wanted: float, y: float, n_h: Point, field: str, m_mm: float) -> float:
    """The x of an organ at height ``y`` whose signed distance below the H-line is ``wanted``.

    Solves ``x * n_h[0] + y * n_h[1] = wanted`` (exact to the ulp where possible) with ``|x|`` at most
    1 m; with an M-line of (nearly) 0 the H-line lies on the PCL and ``x`` barely matters.
    """
    nx, ny = n_h
    needed = wanted - y * ny
    tolerance = 1e-9 * max(1.0, abs(wanted))
    if abs(needed) > _MAX_X_MM * abs(nx) + tolerance:
        raise FindingsError(f"{TEMPLATE}: field {field!r} ({wanted:g} mm) does not fit the distance below "
                            f"the PCL ({-y:g} mm) and the M-line ({m_mm:g} mm): the point would lie more "
                            "than 1 m from the symphysis (with an M-line of 0 both distances must be equal)")
    if nx == 0.0:
        return 0.0
    sign = 1.0 if nx > 0 else -1.0
    start = max(-_MAX_X_MM, min(_MAX_X_MM, needed / nx))
    # s = sign * x makes the signed distance increase with s
    found = sign * _exact(wanted, sign * start, lambda s: signed_distance((sign * s, y), _P, n_h))
    return found if abs(found) <= _MAX_X_MM else start


def pelvic_floor_findings(values: Mapping[str, Value]) -> dict[str, Any]:
    """The :class:`~maerad.report.rules.PelvicFloorFindings` mapping of a report's field values."""
    def number(key: str) -> float:
        value = values[key]
        assert isinstance(value, (int, float))
        return float(value)

    descents = {key: number(f"{name}_descent_mm") for key, name in _ORGANS}
    below = None
    if "bladder_base_below_h_line_mm" in values:
        below = {key: number(f"{name}_below_h_line_mm") for key, name in _ORGANS}
    f: dict[str, Any] = {
        "strain": landmarks_from_measurements(number("h_line_mm"), number("m_line_mm"), descents, below),
        "caudal": list(CAUDAL),
        "hysterectomy": values.get("hysterectomy") is True,
    }
    if "rectocele_depth_mm" in values:
        f["rectocele_depth_mm"] = number("rectocele_depth_mm")
    return f


def _derive(values: Mapping[str, Value], graph: TermGraph, options: RuleOptions) -> Derived:
    findings = pelvic_floor_findings(values)
    try:
        result = run_rule(SYSTEM, findings, options, template=TEMPLATE)
    except FindingsError as exc:
        raise FindingsError(f"{TEMPLATE}: fields 'h_line_mm' / 'm_line_mm' / descents cannot be graded: "
                            f"{exc}") from None
    assert isinstance(result, PelvicFloorResult)
    derived: dict[str, Value] = {}
    for compartment, field_id in _COMPARTMENTS:
        grade = result.grades[compartment]
        derived[field_id] = grade != "none"
        if grade != "none":
            derived[f"{field_id}_severity"] = _SEVERITY[grade]
    if "rectocele" in result.grades:
        derived["rectocele_severity"] = _SEVERITY[result.grades["rectocele"]]
    letters = ("H", "M", "O") if "bladder_base_below_h_line_mm" in values else ("H", "M")
    for letter in letters:
        derived[f"hmo_{letter.lower()}"] = f"MR:P030.{letter}{result.hmo[letter]}"
    for cid in (v for v in derived.values() if isinstance(v, str)):
        graph.concept(cid)  # every derived concept must exist in the terminology
    notes = tuple(RuleNote(SYSTEM, m, None) for m in result.flags
                  if not m.startswith("no rest frame given"))  # the template records the strain frame only
    return Derived(values=derived, notes=notes, findings={SYSTEM: findings})


PELVIC_FLOOR_DERIVATION = Derivation(TEMPLATE, (SYSTEM,), _derive,
                                     "rule of three, rectocele bands and HMO grades (SPEC §4.3)")
