"""Sampling of one woman's normal pelvic anatomy: age, sizes, uterine position and landmarks.

Everything is in anatomy space (mm, RAS+: +x patient's right, +y anterior, +z superior). The
pelvic-floor landmarks of SPEC §4.1 are sampled first and the organs are then built around them
(see :mod:`maerad.data.phantom.organs`), so moving a landmark (strain frame) moves its organ.

Sources: uterine length vs age [A2], postmenopausal corpus regression with a stable cervix [A3],
endometrial and junctional-zone thickness [A6][A12], ovarian volume vs age [A4], version
p(AV) = 0.75 (SPEC §5.1 suggestion, ``ASSUMPTION``). Distributions are ``ASSUMPTION``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["AnatomyParams", "PelvicLandmarks", "descent_below_pcl", "pcl_frame", "sample_anatomy"]

F64 = npt.NDArray[np.float64]

# SPEC §4.1 landmark names (mid-sagittal points).
PELVIC_FLOOR_POINTS = ("P", "C", "A", "ARJ_ant", "B", "Cx")


@dataclass
class PelvicLandmarks:
    """SPEC §4.1 points (anatomy space, mm): P, C, A, ARJ_ant, B, Cx and the introitus."""

    P: F64
    C: F64
    A: F64
    ARJ_ant: F64
    B: F64
    Cx: F64
    introitus: F64

    def copy(self) -> PelvicLandmarks:
        """A deep copy."""
        return PelvicLandmarks(**{k: np.array(v, dtype=np.float64) for k, v in self.__dict__.items()})


def pcl_frame(P: F64, C: F64) -> tuple[F64, F64]:
    """SPEC §4.2: unit vector ``u`` along the PCL (P → C) and the in-plane normal ``n`` pointing caudally.

    The mid-sagittal plane is the (y, z) plane; ``down`` is −z.
    """
    u = np.asarray(C, dtype=np.float64) - np.asarray(P, dtype=np.float64)
    u[0] = 0.0
    u /= np.linalg.norm(u)
    n = np.array([0.0, -u[2], u[1]])
    if n[2] > 0:  # SPEC §4.2: flip so that dot(n, down) > 0
        n = -n
    return u, n


def descent_below_pcl(X: F64, P: F64, C: F64) -> float:
    """SPEC §4.2 ``desc(X) = dot(X − P, n)``: signed distance below the PCL in mm (+ = caudal)."""
    _, n = pcl_frame(P, C)
    d = np.asarray(X, dtype=np.float64) - np.asarray(P, dtype=np.float64)
    d[0] = 0.0
    return float(d @ n)


@dataclass
class AnatomyParams:
    """One sampled normal anatomy (sizes in mm, angles in degrees, volumes in mL)."""

    age: int
    postmenopausal: bool
    parity: int
    landmarks: PelvicLandmarks
    version: str  # "anteverted" | "retroverted"
    flexion: str  # "anteflexed" | "retroflexed"
    cervix_angle_deg: float  # cervical axis from +z towards +y
    flexion_deg: float  # corpus axis relative to the cervical axis (+ = anterior)
    lateral_tilt_deg: float
    uterine_length: float  # external os to fundus along the axis
    cervix_length: float
    cervix_radius_lat: float
    cervix_radius_ap: float
    corpus_width: float
    corpus_thickness: float
    endometrial_thickness: float  # double layer
    jz_thickness: float
    ovary_volume: dict[str, float]
    ovary_axes: dict[str, tuple[float, float, float]]
    ovary_centre: dict[str, tuple[float, float, float]]
    bladder_volume: float
    rectum_radius: float
    extras: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable description stored in the study metadata."""
        return {
            "age": self.age,
            "menopausal_status": "postmenopausal" if self.postmenopausal else "premenopausal",
            "parity": self.parity,
            "uterus": {
                "version": self.version,
                "flexion": self.flexion,
                "cervical_axis_angle_deg": round(self.cervix_angle_deg, 2),
                "flexion_angle_deg": round(self.flexion_deg, 2),
                "length_mm": round(self.uterine_length, 2),
                "corpus_width_mm": round(self.corpus_width, 2),
                "corpus_thickness_mm": round(self.corpus_thickness, 2),
                "endometrial_thickness_mm": round(self.endometrial_thickness, 2),
                "junctional_zone_thickness_mm": round(self.jz_thickness, 2),
            },
            "cervix_length_mm": round(self.cervix_length, 2),
            "ovary_volume_ml": {k: round(v, 3) for k, v in self.ovary_volume.items()},
            "bladder_volume_ml": round(self.bladder_volume, 1),
        }


_AGE_RANGES = {
    "cervical": (28, 72),
    "endometrial": (42, 82),
    "adnexal": (20, 80),
    "pelvic_floor": (35, 80),
    "normal": (20, 80),
}

# SPEC §5.1 [A4]: mean ovarian volume (mL) by age band.
_OVARY_MEAN = ((30, 6.6), (40, 6.1), (50, 4.8), (60, 2.6), (70, 2.1), (200, 1.8))


def _ovary_mean_volume(age: int) -> float:
    return next(v for limit, v in _OVARY_MEAN if age < limit)


def sample_anatomy(
    rng: np.random.Generator,
    kind: str,
    *,
    age: int | None = None,
    postmenopausal: bool | None = None,
) -> AnatomyParams:
    """Draw a normal anatomy for a case of ``kind`` (age range depends on the kind)."""
    lo, hi = _AGE_RANGES.get(kind, (20, 80))
    if age is None:
        age = int(rng.integers(lo, hi + 1))
    if postmenopausal is None:
        # ASSUMPTION: natural menopause around 51 y (logistic, scale 2 y).
        postmenopausal = bool(rng.uniform() < 1.0 / (1.0 + math.exp(-(age - 51.0) / 2.0)))
    parity = int(rng.choice([0, 1, 2, 3], p=[0.3, 0.25, 0.3, 0.15]))

    # SPEC §5.1 [A2]: mean length ≈ 72 mm at 40 falling to ≈ 42 mm at 80; larger with parity [A17].
    if not postmenopausal:
        mean_len = 60.0 + 12.0 * min(max(age - 20, 0), 20) / 20.0 + 2.5 * parity
        length = float(np.clip(rng.normal(mean_len, 7.0), 55.0, 95.0))
    else:
        mean_len = 72.0 - 30.0 * min(max(age - 50, 0), 30) / 30.0 + 1.5 * parity
        length = float(np.clip(rng.normal(mean_len, 6.0), 36.0, 75.0))
    # SPEC §5.1 [A13]: cervix 25–30 mm (up to 40); it does not regress after menopause [A3].
    cervix_len = float(np.clip(rng.normal(29.0, 3.0), 22.0, 38.0))
    cervix_len = min(cervix_len, length - 12.0)
    corpus_len = length - cervix_len
    # [A2]: length / width ratio ≈ 1.62 at 21 y, decreasing with age.
    ratio = 1.62 - 0.004 * (age - 21)
    corpus_width = float(np.clip(length / ratio * rng.uniform(0.9, 1.1), 26.0, 60.0))
    corpus_width = min(corpus_width, 1.2 * corpus_len + 20.0)
    corpus_thickness = float(corpus_width * rng.uniform(0.62, 0.82))
    if not postmenopausal:
        et = float(rng.uniform(5.0, 14.0))  # [A12] ≈ 5 early to ≈ 10+ late cycle (double layer)
        jz = float(np.clip(rng.normal(4.4, 1.5), 2.5, 8.0))  # [A6] 4.4 ± 2.1 mm
    else:
        et = float(rng.uniform(1.5, 4.5))  # [A12] ≤ 4–5 mm after menopause
        jz = float(rng.uniform(1.5, 3.5))
    # SPEC §5.1 [A15][A14]: version AV p = 0.75, flexion an independent broad distribution.
    anteverted = bool(rng.uniform() < 0.75)
    cervix_angle = float(rng.uniform(15.0, 50.0) if anteverted else rng.uniform(-40.0, -8.0))
    flexion_deg = float(rng.normal(35.0, 25.0) if rng.uniform() < 0.8 else rng.normal(-30.0, 15.0))
    flexion_deg = float(np.clip(flexion_deg, -70.0, 80.0))
    total = float(np.clip(cervix_angle + flexion_deg, -80.0, 100.0))
    flexion_deg = total - cervix_angle

    landmarks = _sample_landmarks(rng)
    ovary_volume: dict[str, float] = {}
    ovary_axes: dict[str, tuple[float, float, float]] = {}
    cap = 18.0 if not postmenopausal else 9.0  # SPEC §5.1 [A4] upper normal 20 / 10 mL
    for side in ("left", "right"):
        vol = float(np.clip(_ovary_mean_volume(age) * rng.lognormal(0.0, 0.3), 0.8, cap))
        shape = np.array([1.0, rng.uniform(0.55, 0.75), rng.uniform(0.45, 0.6)])
        scale = (vol * 1000.0 / (4.0 / 3.0 * math.pi * float(np.prod(shape)))) ** (1.0 / 3.0)
        axes = shape * scale
        ovary_volume[side] = vol
        ovary_axes[side] = (float(axes[0]), float(axes[1]), float(axes[2]))

    return AnatomyParams(
        age=age,
        postmenopausal=postmenopausal,
        parity=parity,
        landmarks=landmarks,
        version="anteverted" if anteverted else "retroverted",
        flexion="anteflexed" if flexion_deg >= 0 else "retroflexed",
        cervix_angle_deg=cervix_angle,
        flexion_deg=flexion_deg,
        lateral_tilt_deg=float(rng.normal(0.0, 7.0)),
        uterine_length=length,
        cervix_length=cervix_len,
        cervix_radius_lat=float(rng.uniform(12.0, 15.0)),
        cervix_radius_ap=float(rng.uniform(10.0, 12.5)),
        corpus_width=corpus_width,
        corpus_thickness=corpus_thickness,
        endometrial_thickness=et,
        jz_thickness=jz,
        ovary_volume=ovary_volume,
        ovary_axes=ovary_axes,
        ovary_centre={},
        bladder_volume=float(rng.uniform(80.0, 320.0)),
        rectum_radius=float(rng.uniform(13.0, 18.0)),
    )


def _sample_landmarks(rng: np.random.Generator) -> PelvicLandmarks:
    """Rest-frame SPEC §4.1 landmarks of a woman without pelvic-floor dysfunction (``ASSUMPTION``).

    H-line < 60 mm and M-line < 20 mm (normal limits, SPEC §4.3 d), bladder base and cervix above
    the PCL, anorectal junction less than 30 mm below it.
    """
    P = np.array([0.0, 40.0 + rng.normal(0, 2.0), -45.0 + rng.normal(0, 2.0)])
    angle = math.radians(rng.uniform(12.0, 24.0))  # PCL elevation above the −y axis
    pcl_len = rng.uniform(95.0, 112.0)
    C = P + pcl_len * np.array([0.0, -math.cos(angle), math.sin(angle)])
    u, n = pcl_frame(P, C)
    h_line = rng.uniform(44.0, 56.0)
    m_line = rng.uniform(4.0, 16.0)
    A = P + math.sqrt(h_line**2 - m_line**2) * u + m_line * n
    ARJ_ant = A - rng.uniform(14.0, 18.0) * u + rng.uniform(-2.0, 2.0) * n
    B = P + rng.uniform(24.0, 34.0) * u - rng.uniform(6.0, 18.0) * n
    Cx = P + rng.uniform(50.0, 62.0) * u - rng.uniform(14.0, 30.0) * n
    introitus = P + np.array([0.0, -rng.uniform(18.0, 26.0), -rng.uniform(20.0, 26.0)])
    return PelvicLandmarks(P=P, C=C, A=A, ARJ_ant=ARJ_ant, B=B, Cx=Cx, introitus=introitus)
