"""Pelvic-floor cases: a rest frame and a maximal-strain frame with moving landmarks (SPEC §4).

Targets are the rule-of-three grades of the three compartments (anterior ``B``, middle ``Cx``,
posterior ``ARJ_ant``; SPEC §4.3 a) and optionally a rectocele (§4.3 b). Strain landmarks are
placed at a sampled descent inside the target band, at least 4 mm from every band limit, measured
perpendicular to the PCL (§4.2); the posterior anorectal junction ``A`` follows ``ARJ_ant`` and the
hiatus widens, giving the H- and M-line grades (§4.3 d), which are kept 3 mm from their limits and
recorded in the target. ``P`` and ``C`` (bones) do not move. The strain frame is rendered as a
second T2-weighted sequence ``t2w_strain`` on the same grid with the organs rebuilt around the
moved landmarks; landmarks are given as ``<name>`` (rest) and ``<name>_strain``.
Healthy controls also move on straining (SPEC §4.3 priors, ``ASSUMPTION``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.anatomy import PelvicLandmarks, pcl_frame
from maerad.data.phantom.context import CaseContext, KindOutput
from maerad.data.phantom.lesion_tools import LesionPart, paint_parts
from maerad.data.phantom.scene import build_scene
from maerad.data.phantom.shapes import Ellipsoid
from maerad.errors import ConfigError
from maerad.report.rules import PelvicFloorFindings, pelvic_floor
from maerad.report.rules import PelvicLandmarks as RuleLandmarks

__all__ = ["GRADES", "PELVIC_FLOOR_GRADES", "pelvic_floor_case", "sample_pelvic_floor_targets"]

F64 = npt.NDArray[np.float64]

PELVIC_FLOOR_GRADES: tuple[str, ...] = ("anterior", "middle", "posterior", "rectocele")
GRADES: tuple[str, ...] = ("none", "mild", "moderate", "severe")
RECTOCELE: tuple[str, ...] = ("small", "moderate", "large")
# descent below the PCL (mm) sampled per grade: SPEC §4.3(a) bands (0,30] (30,60] > 60, 4 mm margins
_DESCENT = {"none": (-22.0, -4.0), "mild": (4.0, 26.0), "moderate": (34.0, 56.0), "severe": (64.0, 76.0)}
# SPEC §4.3(b): rectocele depth bands < 20, 20–40, > 40 mm, with margins
_RECTOCELE = {"small": (6.0, 16.0), "moderate": (24.0, 36.0), "large": (44.0, 52.0)}
_M_LIMITS = (20.0, 40.0, 60.0)
_H_LIMITS = (60.0, 80.0, 100.0)


def sample_pelvic_floor_targets(targets: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Validate given grades and draw the missing ones (rectocele present with p = 0.4)."""
    out: dict[str, Any] = {}
    for comp in ("anterior", "middle", "posterior"):
        value = targets.get(comp)
        if value is None:
            value = str(rng.choice(GRADES, p=[0.25, 0.3, 0.28, 0.17]))
        if value not in GRADES:
            raise ConfigError(
                f"pelvic-floor target {comp!r} must be one of {', '.join(GRADES)}, got {value!r}"
            )
        out[comp] = value
    rect = targets.get("rectocele")
    if rect is None and rng.uniform() < 0.4:
        rect = str(rng.choice(RECTOCELE))
    if rect is not None:
        if rect not in RECTOCELE:
            raise ConfigError(
                f"pelvic-floor target 'rectocele' must be one of {', '.join(RECTOCELE)}, got {rect!r}"
            )
        out["rectocele"] = rect
    return out


def _away(value: float, limits: tuple[float, ...], margin: float) -> float:
    """Move ``value`` at least ``margin`` away from every limit (upwards)."""
    for _ in range(len(limits) + 1):
        near = [b for b in limits if abs(value - b) < margin]
        if not near:
            break
        value = near[0] + margin + 0.5
    return value


def _grade(value: float, limits: tuple[float, ...]) -> int:
    return sum(1 for b in limits if value >= b)


def pelvic_floor_case(ctx: CaseContext, target: dict[str, Any]) -> KindOutput:
    """Paint the rest frame on ``ctx.canvas`` and the strain frame on a second canvas."""
    rng, canvas = ctx.rng, ctx.canvas
    rest = ctx.params.landmarks  # image space
    P, C = rest.P, rest.C
    u, n = pcl_frame(P, C)

    def along(X: F64) -> float:
        return float((X - P) @ u)

    def desc(X: F64) -> float:
        return float((X - P) @ n)

    def at(a: float, d: float, x: float = 0.0) -> F64:
        return np.asarray(P + a * u + d * n + np.array([x, 0.0, 0.0]), dtype=np.float64)

    d_b = float(rng.uniform(*_DESCENT[target["anterior"]]))
    d_cx = float(rng.uniform(*_DESCENT[target["middle"]]))
    d_arj = float(rng.uniform(*_DESCENT[target["posterior"]]))
    m_line = _away(max(d_arj + float(rng.uniform(-4.0, 6.0)), 2.0), _M_LIMITS, 3.0)
    a_arj = along(rest.ARJ_ant) + float(rng.uniform(-3.0, 6.0))
    a_a = max(along(rest.A) + float(rng.uniform(0.0, 14.0)), a_arj + 10.0)
    h_line = _away(math.hypot(a_a, m_line), _H_LIMITS, 3.0)
    a_a = math.sqrt(max(h_line**2 - m_line**2, 1.0))
    strain = PelvicLandmarks(
        P=P.copy(),
        C=C.copy(),
        A=at(a_a, m_line),
        ARJ_ant=at(a_arj, d_arj),
        B=at(along(rest.B) + float(rng.uniform(-4.0, 4.0)), d_b),
        Cx=at(along(rest.Cx) - float(rng.uniform(0.0, 12.0)) * max(d_cx - desc(rest.Cx), 0.0) / 60.0, d_cx),
        introitus=rest.introitus + float(rng.uniform(0.0, 8.0)) * n,
    )
    # the rest frame lies above (or at) the strain frame for every moving point
    for name in ("A", "ARJ_ant", "B", "Cx"):
        X_r, X_s = getattr(rest, name), getattr(strain, name)
        if desc(X_r) > desc(X_s) - 1.0:
            setattr(rest, name, at(along(X_r), desc(X_s) - float(rng.uniform(1.0, 6.0))))
    ctx.lm = PelvicLandmarks(**{k: canvas.to_anatomy(v) for k, v in rest.__dict__.items()})
    state = rng.bit_generator.state
    scene = build_scene(ctx.params, ctx.lm, rng)
    scene.paint(canvas)
    strain_anat = PelvicLandmarks(**{k: canvas.to_anatomy(v) for k, v in strain.__dict__.items()})
    rng_strain = np.random.Generator(np.random.PCG64())
    rng_strain.bit_generator.state = state
    strain_scene = build_scene(ctx.params, strain_anat, rng_strain, skeleton=scene.skeleton)
    strain_canvas = canvas.fresh_copy()
    strain_scene.paint(strain_canvas)
    rect_depth = None
    if "rectocele" in target:
        rect_depth = float(rng.uniform(*_RECTOCELE[target["rectocele"]]))
        centre = strain_anat.ARJ_ant + np.array([0.0, 0.0, 8.0]) - 0.5 * rect_depth * u
        r = 0.5 * rect_depth + 5.0
        bulge = Ellipsoid(centre, np.array([r * 0.9, r, r * 0.8]), roughness=0.03)
        lumen = Ellipsoid(centre, np.array([r * 0.9, r, r * 0.8]) - 3.0, roughness=0.03)
        paint_parts(
            strain_canvas,
            [
                LesionPart(bulge, "rectal_wall", "rectum_wall"),
                LesionPart(lumen, "rectal_content", "rectum_lumen"),
            ],
        )
    rounded_rest = {k: _r(v) for k, v in rest.__dict__.items()}
    rounded_strain = {k: _r(v) for k, v in strain.__dict__.items()}
    findings = PelvicFloorFindings(
        rest=_rule_landmarks(rounded_rest),
        strain=_rule_landmarks(rounded_strain),
        rectocele_depth_mm=round(rect_depth, 2) if rect_depth is not None else None,
    )
    result = pelvic_floor(findings)
    full_target = dict(target)
    full_target["H"] = _grade(h_line, _H_LIMITS)
    full_target["M"] = _grade(m_line, _M_LIMITS)
    meta = {
        "pelvic_floor": {
            "h_line_mm": round(h_line, 2),
            "m_line_mm": round(m_line, 2),
            "descent_mm": {"B": round(d_b, 2), "Cx": round(d_cx, 2), "ARJ_ant": round(d_arj, 2)},
            "rectocele_depth_mm": rect_depth,
        },
        "nodes": [nd.summary() for nd in scene.nodes],
    }
    strain_lm = {f"{k}_strain": np.array(v) for k, v in rounded_strain.items()}
    return KindOutput(
        scene=scene,
        findings=findings,
        outputs={"pelvic_floor": result},
        target=full_target,
        metadata=meta,
        organ_labels=canvas.output_labels().copy(),
        strain_canvas=strain_canvas,
        strain_landmarks=strain_lm,
    )


def _r(p: F64) -> tuple[float, float, float]:
    return (round(float(p[0]), 4), round(float(p[1]), 4), round(float(p[2]), 4))


def _rule_landmarks(points: dict[str, tuple[float, float, float]]) -> RuleLandmarks:
    """Mid-sagittal 2-D points ``(y, z)`` (anterior, superior; caudal = (0, −1)) for the rule engine."""
    return RuleLandmarks(
        **{k: (v[1], v[2]) for k, v in points.items() if k in ("P", "C", "A", "ARJ_ant", "B", "Cx")}
    )
