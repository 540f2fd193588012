"""Pelvic-floor grading on dynamic MRI: PCL rule of three, rectocele bands and HMO (SPEC §4.1–4.3).

Landmarks are mid-sagittal 2-D points in mm at rest and at maximal strain; grades come from the
strain frame, measurements are reported for both (SPEC §4.1: grade on maximal descent).

Examples::

    >>> from maerad.report.rules import PelvicFloorFindings, PelvicLandmarks, pelvic_floor
    >>> strain = PelvicLandmarks(P=(0, 0), C=(-100, 0), A=(-50, -10), ARJ_ant=(-40, -12),
    ...                          B=(-10, -35), Cx=(-25, 5))
    >>> r = pelvic_floor(PelvicFloorFindings(strain=strain))
    >>> r.grades["anterior"], r.strain.descent_mm["B"]
    ('moderate', 35.0)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

from pydantic import model_validator

from maerad.errors import ConfigError
from maerad.report.rules.findings import Findings, Flag, Millimetres, Point2D
from maerad.report.rules.pelvic_geometry import caudal_normal, cos_to, distance, signed_distance
from maerad.report.rules.results import FrameMeasurements, PelvicFloorResult

__all__ = ["PelvicFloorFindings", "PelvicLandmarks", "pelvic_floor"]

SYSTEM = "pelvic-floor"

PclPosterior = Literal["last_coccygeal_joint", "coccygeal_tip"]
_ORGANS = {"anterior": "B", "middle": "Cx", "posterior": "ARJ_ant"}
_EXCURSION_CM = {"anterior": 1.0, "middle": 1.0, "posterior": 3.0}  # SPEC §4.3(a) Radiopaedia variant
_MAX_COS = 0.985  # PCL must be at least ~10° away from the craniocaudal axis


class PelvicLandmarks(Findings):
    """Mid-sagittal landmarks of one frame, ``(x, y)`` in mm (SPEC §4.1 symbols).

    ``P`` inferior symphysis, ``C`` last coccygeal joint (``C_tip`` the coccygeal tip, optional),
    ``A`` posterior anorectal junction, ``ARJ_ant`` anterior anorectal junction, ``B`` bladder base,
    ``Cx`` cervix (anterior lip) or vaginal vault after hysterectomy.
    """

    P: Point2D
    C: Point2D
    A: Point2D
    ARJ_ant: Point2D
    B: Point2D
    Cx: Point2D
    C_tip: Point2D | None = None

    @model_validator(mode="after")
    def _distinct(self) -> PelvicLandmarks:
        if distance(self.P, self.C) == 0.0:
            raise ValueError("landmarks 'P' and 'C' coincide: the PCL is undefined")
        if self.C_tip is not None and distance(self.P, self.C_tip) == 0.0:
            raise ValueError("landmarks 'P' and 'C_tip' coincide: the PCL is undefined")
        if distance(self.P, self.A) == 0.0:
            raise ValueError("landmarks 'P' and 'A' coincide: the H-line is undefined")
        return self


class PelvicFloorFindings(Findings):
    """Landmarks at maximal strain (required) and at rest (optional) plus the rectocele depth.

    ``caudal`` is the in-plane direction towards the feet in the landmarks' frame (default
    ``(0, -1)``: y grows cranially). ``rectocele_depth_mm`` is the depth of the anterior rectal-wall
    bulge beyond the expected anorectal wall, at strain.
    """

    strain: PelvicLandmarks
    rest: PelvicLandmarks | None = None
    caudal: Point2D = (0.0, -1.0)
    rectocele_depth_mm: Millimetres | None = None
    hysterectomy: Flag = False

    @model_validator(mode="after")
    def _geometry(self) -> PelvicFloorFindings:
        if self.caudal == (0.0, 0.0):
            raise ValueError("field 'caudal' must be a non-zero direction")
        for name, frame in (("strain", self.strain), ("rest", self.rest)):
            if frame is None:
                continue
            for line, (start, end) in {"PCL": (frame.P, frame.C), "H-line": (frame.P, frame.A)}.items():
                if cos_to(start, end, self.caudal) > _MAX_COS:
                    raise ValueError(f"{name} landmarks: the {line} is (nearly) parallel to the caudal "
                                     "direction, so 'below the line' is undefined")
        return self


def pelvic_floor(
    f: PelvicFloorFindings,
    *,
    pcl_posterior: PclPosterior = "last_coccygeal_joint",
    subtract_physiologic_excursion: bool = False,
    rule_of_three_inclusive: bool = True,
    h_line_normal_cm: float = 6.0,
    m_line_normal_cm: float = 2.0,
    h_line_grade_cm: Sequence[float] = (8.0, 10.0),
    m_line_grade_cm: Sequence[float] = (4.0, 6.0),
    o_grade_cm: Sequence[float] = (2.0, 4.0),
) -> PelvicFloorResult:
    """Grade pelvic-organ descent and the levator hiatus (SPEC §4.2–4.3).

    Args:
        f: landmarks and rectocele depth.
        pcl_posterior: posterior PCL landmark, ``C`` (last coccygeal joint, default) or ``C_tip``
            (U11).
        subtract_physiologic_excursion: subtract 1 cm (anterior/middle) or 3 cm (posterior) before the
            rule of three (Radiopaedia variant, U10, UNCERTAIN; default off).
        rule_of_three_inclusive: bands ``(0,3] (3,6] >6`` cm (default) or ``(0,3) [3,6) ≥6`` (U10).
        h_line_normal_cm, m_line_normal_cm: upper normal limits of H and M (grade 0 below; U9).
        h_line_grade_cm, m_line_grade_cm: lower limits of grades 2 and 3 (defaults 8/10 and 4/6 cm;
            grade bands are ``[a, b)``, U9 UNCERTAIN).
        o_grade_cm: O (organ below the H-line) grade limits: ``(0, 2]`` → 1, ``(2, 4]`` → 2, ``> 4`` → 3.

    Returns:
        :class:`PelvicFloorResult`: ``grades`` (``anterior``/``middle``/``posterior``: none, mild,
        moderate, severe; ``rectocele``: small, moderate, large), ``hmo`` (0–3), measurements.
    """
    _check_options(pcl_posterior, h_line_normal_cm, m_line_normal_cm, h_line_grade_cm, m_line_grade_cm,
                   o_grade_cm)
    flags: list[str] = []
    strain = _measure(f.strain, f.caudal, pcl_posterior)
    rest = _measure(f.rest, f.caudal, pcl_posterior) if f.rest is not None else None
    grades: dict[str, str] = {}
    for compartment, organ in _ORGANS.items():
        d_cm = strain.descent_mm[organ] / 10.0
        if subtract_physiologic_excursion:
            d_cm -= _EXCURSION_CM[compartment]
        grades[compartment] = _rule_of_three(d_cm, rule_of_three_inclusive)
    if not subtract_physiologic_excursion:
        if grades["posterior"] == "mild":
            flags.append("anorectal junction up to 3 cm below the PCL can be normal [P5]")
        if 0 < strain.descent_mm["B"] <= 10.0:
            flags.append("bladder base up to 1 cm below the PCL can be normal [P5]")
    if f.rectocele_depth_mm is not None:
        grades["rectocele"] = _rectocele(f.rectocele_depth_mm / 10.0)
    hmo = {
        "H": _band_grade(strain.h_line_mm / 10.0, (h_line_normal_cm, *h_line_grade_cm)),
        "M": _band_grade(strain.m_line_mm / 10.0, (m_line_normal_cm, *m_line_grade_cm)),
    }
    for compartment, organ in _ORGANS.items():
        hmo[f"O_{compartment}"] = _o_grade(strain.below_h_line_mm[organ] / 10.0, o_grade_cm)
    hmo["O"] = max(hmo["O_anterior"], hmo["O_middle"], hmo["O_posterior"])
    if f.hysterectomy:
        flags.append("middle compartment measured at the vaginal vault (post-hysterectomy)")
    if rest is None:
        flags.append("no rest frame given: only the strain frame is measured")
    return PelvicFloorResult(system=SYSTEM, grades=grades, hmo=hmo, strain=strain, rest=rest,
                             flags=tuple(flags))


def _check_options(pcl: str, h_normal: float, m_normal: float, h: Sequence[float], m: Sequence[float],
                   o: Sequence[float]) -> None:
    if pcl not in ("last_coccygeal_joint", "coccygeal_tip"):
        raise ConfigError(f"pcl_posterior must be last_coccygeal_joint or coccygeal_tip, got {pcl!r}")
    for name, limits in (("h_line", (h_normal, *h)), ("m_line", (m_normal, *m)), ("o_grade_cm", (0.0, *o))):
        if len(limits) != 3 or any(b <= a for a, b in itertools.pairwise(limits)):
            raise ConfigError(f"{name} limits must be two increasing values above the normal limit, got "
                              f"{', '.join(f'{x:g}' for x in limits[1:])}")


def _measure(frame: PelvicLandmarks, caudal: Point2D, pcl_posterior: PclPosterior) -> FrameMeasurements:
    """SPEC §4.2: H = |A − P|, M and descents are signed distances from the PCL (+ = caudal)."""
    posterior = frame.C
    if pcl_posterior == "coccygeal_tip":
        if frame.C_tip is None:
            raise ConfigError("pcl_posterior=coccygeal_tip needs the landmark 'C_tip'")
        posterior = frame.C_tip
    n_pcl = caudal_normal(frame.P, posterior, caudal)
    n_h = caudal_normal(frame.P, frame.A, caudal)
    points = {"B": frame.B, "Cx": frame.Cx, "ARJ_ant": frame.ARJ_ant}
    return FrameMeasurements(
        h_line_mm=distance(frame.P, frame.A),
        m_line_mm=signed_distance(frame.A, frame.P, n_pcl),
        descent_mm={k: signed_distance(p, frame.P, n_pcl) for k, p in points.items()},
        below_h_line_mm={k: signed_distance(p, frame.P, n_h) for k, p in points.items()},
    )


def _rule_of_three(d_cm: float, inclusive: bool) -> str:
    """SPEC §4.3(a): none at/above PCL, then (0,3] mild, (3,6] moderate, > 6 severe (U10)."""
    if d_cm <= 0:
        return "none"
    if (d_cm <= 3.0) if inclusive else (d_cm < 3.0):
        return "mild"
    if (d_cm <= 6.0) if inclusive else (d_cm < 6.0):
        return "moderate"
    return "severe"


def _rectocele(depth_cm: float) -> str:
    """SPEC §4.3(b): small < 2 cm, moderate 2–4 cm (both ends included), large > 4 cm."""
    if depth_cm < 2.0:
        return "small"
    return "moderate" if depth_cm <= 4.0 else "large"


def _band_grade(value_cm: float, limits: Sequence[float]) -> int:
    """SPEC §4.3(d) H / M: < limits[0] → 0, [l0, l1) → 1, [l1, l2) → 2, ≥ l2 → 3 (U9)."""
    return sum(1 for limit in limits if value_cm >= limit)


def _o_grade(below_cm: float, limits: Sequence[float]) -> int:
    """SPEC §4.3(d) O: at/above the H-line → 0, (0, 2] → 1, (2, 4] → 2, > 4 → 3 (U9)."""
    if below_cm <= 0:
        return 0
    return 1 + sum(1 for limit in limits if below_cm > limit)
