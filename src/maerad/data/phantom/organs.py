"""Soft-tissue organs around the uterus: bladder, urethra, vagina, rectum, ovaries, ureters, nodes.

Built from the SPEC §4.1 landmarks so that the landmarks lie on the organs: ``B`` is the
posterior-inferior point of the bladder base, ``A`` / ``ARJ_ant`` the posterior / anterior walls of
the anorectal junction, ``Cx`` the anterior lip of the cervix (see :mod:`.uterus`). The vagina runs
from a vault around the ectocervix to the introitus; its thirds are measured along its centre line
(SPEC §1.2 ``vaginal_involvement``). Sizes are ``ASSUMPTION`` unless tagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.anatomy import AnatomyParams, PelvicLandmarks
from maerad.data.phantom.shapes import Capsule, Ellipsoid, Tube, rotation_from_axes
from maerad.data.phantom.skeleton import SIDES, Part, Skeleton
from maerad.data.phantom.uterus import UterusModel

__all__ = ["BLADDER_WALL_MM", "Node", "Organs", "build_organs", "sample_benign_nodes"]

F64 = npt.NDArray[np.float64]
BLADDER_WALL_MM = 3.0  # SPEC §5.1: ≈ 1.1–4.5 mm (UNCERTAIN, U14)
RECTAL_WALL_MM = 3.0


@dataclass
class Node:
    """A lymph node: station, side, centre (anatomy mm), short and long axis (mm)."""

    station: str
    side: str
    centre: F64
    short_axis: float
    long_axis: float
    suspicious: bool
    direction: F64 = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))

    def shape(self) -> Ellipsoid:
        """The node as an ellipsoid (long axis along ``direction``)."""
        rot = rotation_from_axes(
            self.direction,
            np.array([1.0, 0.0, 0.0]) if abs(self.direction[0]) < 0.9 else np.array([0.0, 1.0, 0.0]),
        )
        axes = np.array([self.long_axis / 2, self.short_axis / 2, self.short_axis / 2 * 1.05])
        return Ellipsoid(self.centre, axes, rot, roughness=0.0 if not self.suspicious else 0.02)

    def summary(self) -> dict[str, object]:
        """JSON-serialisable description."""
        return {
            "station": self.station,
            "side": self.side,
            "short_axis_mm": round(self.short_axis, 2),
            "long_axis_mm": round(self.long_axis, 2),
            "suspicious": self.suspicious,
            "centre_mm": [round(float(c), 2) for c in self.centre],
        }


@dataclass
class Organs:
    """Soft-tissue organs in paint order (below the uterus) and named shapes for lesions."""

    parts: list[Part]
    uterus: UterusModel
    bladder: Ellipsoid
    bladder_lumen: Ellipsoid
    rectum: Tube
    vagina: Tube
    vagina_length: float
    ovaries: dict[str, Ellipsoid]
    ureters: dict[str, Tube]


def _v(*xyz: float) -> F64:
    return np.array(xyz, dtype=np.float64)


def _bezier(p0: F64, p1: F64, p2: F64, n: int) -> F64:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.asarray((1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2, dtype=np.float64)


def build_organs(
    params: AnatomyParams,
    lm: PelvicLandmarks,
    uterus: UterusModel,
    skeleton: Skeleton,
    rng: np.random.Generator,
    *,
    hydroureter: tuple[str, ...] = (),
) -> Organs:
    """Build bladder, urethra, vagina, rectum, ovaries and ureters around the landmarks ``lm``."""
    parts: list[Part] = _bowel_loops(lm, uterus, rng)
    # --- bladder: ellipsoid whose posterior-inferior surface point is B
    vol = params.bladder_volume
    k = (vol * 1000.0 / (4.0 / 3.0 * math.pi * 1.35 * 0.75 * 0.95)) ** (1.0 / 3.0)
    axes = _v(1.35 * k, 0.75 * k, 0.95 * k)
    d = _v(0.0, -0.45, -0.89)
    d /= np.linalg.norm(d)
    centre = lm.B - d / math.sqrt(float(((d / axes) ** 2).sum()))
    shift = _push_away(centre, axes, _cervix_surface(uterus))
    if shift is not None:  # a bulky cervix displaces the bladder (mass effect); B moves with it
        centre = centre + shift
        lm.B = lm.B + shift
    bladder = Ellipsoid(centre, axes, roughness=0.05)
    lumen = Ellipsoid(centre, axes - BLADDER_WALL_MM, roughness=0.05)
    # --- ureters: from the top of the pelvis along the sidewall, lateral to the cervix, to the trigone
    ureters: dict[str, Tube] = {}
    for side, sx in SIDES.items():
        lat_gap = uterus.tube.radii_at(uterus.cervix_length * 0.6)[0] + 16.0
        near_cervix = uterus.point(uterus.cervix_length * 0.6) + _v(sx * lat_gap, 0, 0)
        trigone = lm.B + _v(sx * 14.0, 8.0, 10.0)
        yP, zP = float(lm.P[1]), float(lm.P[2])
        pts = [
            _v(sx * 32, yP - 72, zP + 130),
            _v(sx * 38, yP - 74, zP + 85),
            _v(sx * 44, yP - 62, zP + 52),
            near_cervix + _v(0, -8, 6),
            near_cervix,
            trigone,
        ]
        r = 6.0 if side in hydroureter else 2.5
        ureters[side] = Tube(np.array(pts), np.full(6, r), np.full(6, r))
        parts.append(
            Part(
                f"ureter_{side}", ureters[side], "urine" if side in hydroureter else "bladder_wall", "ureter"
            )
        )
    parts.append(Part("bladder_wall", bladder, "bladder_wall", "bladder_wall"))
    parts.append(Part("bladder_lumen", lumen, "urine", "bladder_lumen"))
    # --- urethra: from the bladder neck behind the symphysis to below it
    meatus = lm.P + _v(0, -10, -20)
    parts.append(Part("urethra", Capsule(lm.B + _v(0, -1, 2), meatus, 4.0, 3.5), "bladder_wall", "urethra"))
    # --- rectum: sacral curve → ampulla → anorectal junction (A posterior, ARJ_ant anterior wall)
    arj = 0.5 * (lm.A + lm.ARJ_ant)
    r_arj = 0.5 * float(np.linalg.norm(lm.ARJ_ant - lm.A))
    C = lm.C
    rr = params.rectum_radius
    upper = [C + _v(0, 22, 135), C + _v(0, 28, 100), C + _v(0, 32, 68), C + _v(0, 34, 40)]
    ampulla = 0.5 * (upper[-1] + arj) + _v(0, -8, 0)
    axis = arj - ampulla
    axis /= np.linalg.norm(axis)
    ara = math.radians(rng.uniform(95.0, 120.0))  # anorectal angle at rest (SPEC §4.1: ≈ 70–134°)
    turn = math.pi - ara  # the anal canal turns backwards from the rectal axis
    cands = [
        _v(0, axis[1] * math.cos(a) + axis[2] * math.sin(a), -axis[1] * math.sin(a) + axis[2] * math.cos(a))
        for a in (turn, -turn)
    ]
    anal_dir = min(cands, key=lambda c: float(c[1]))
    anal_end = arj + 32.0 * anal_dir
    rect_pts = np.array([*upper, ampulla, arj, arj + 12.0 * anal_dir, anal_end])
    lat = np.array([rr - 1, rr, rr + 2, rr + 4, rr + 5, r_arj + 3, 9.0, 8.0])
    ap = np.array([rr - 3, rr - 2, rr - 1, rr, rr + 1, r_arj, 8.0, 7.0])
    rectum = Tube(rect_pts, lat, ap, roughness=0.03)
    lumen_lat = np.maximum(lat - RECTAL_WALL_MM, 0.6)
    lumen_ap = np.maximum(ap - RECTAL_WALL_MM, 0.6) * np.array([1, 1, 1, 1, 1, 0.9, 0.25, 0.2])
    yP, zP = float(lm.P[1]), float(lm.P[2])
    A = lm.A
    for side, sx in SIDES.items():  # levator ani: from the pubis along the sidewall to a sling behind A
        pts_l = np.array(
            [
                _v(sx * 14, yP - 6, zP + 4),
                _v(sx * 34, yP - 30, zP + 8),
                _v(sx * 30, A[1] + 6, A[2] + 5),
                _v(sx * 15, A[1] - 8, A[2] - 1),
                _v(0, A[1] - 11, A[2] - 3),
            ]
        )
        parts.append(
            Part(
                f"levator_ani_{side}",
                Tube(pts_l, np.full(5, 4.5), np.full(5, 4.5), roughness=0.04),
                "muscle",
                "levator_ani",
            )
        )
    parts.append(Part("rectum_wall", rectum, "rectal_wall", "rectum_wall"))
    lumen_tube = Tube(rect_pts, lumen_lat, lumen_ap, roughness=0.03)
    parts.append(Part("rectum_lumen", lumen_tube, "rectal_content", "rectum_lumen"))
    # --- vagina: vault around the ectocervix (posterior fornix deeper) to the introitus
    t0, _, n0 = uterus.tube.frame_at(0.0)
    vault = uterus.external_os + 5.0 * t0 - 5.0 * n0
    mid = 0.5 * (vault + lm.introitus) + _v(0, -6, 0)
    vpts = _bezier(vault, mid, lm.introitus, 14)
    seg = np.linalg.norm(np.diff(vpts, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    length = float(arc[-1])
    f = arc / length
    vlat = 13.0 + 5.0 * np.clip(1.0 - f / 0.18, 0.0, 1.0)
    vap = 5.0 + 9.0 * np.clip(1.0 - f / 0.18, 0.0, 1.0)
    vagina = Tube(vpts, vlat, vap, cap=6.0, roughness=0.03)
    parts.append(Part("vagina", vagina, "vaginal_wall", "vagina"))
    parts.append(
        Part("vagina_lumen", Tube(vpts, vlat * 0.75, np.full_like(vap, 1.3)), "cervical_mucosa", "vagina")
    )
    # --- ovaries lateral to the uterus in the ovarian fossae, with follicles
    ovaries: dict[str, Ellipsoid] = {}
    io = uterus.internal_os
    half_w = params.corpus_width / 2.0
    for side, sx in SIDES.items():
        a = params.ovary_axes[side]
        x = sx * float(np.clip(half_w + a[0] * 0.7 + 6.0, 30.0, 48.0 - a[2]))
        c = _v(io[0] + x, io[1] - 8.0 + rng.uniform(-6, 6), io[2] + rng.uniform(0.0, 12.0))
        ang = rng.uniform(0, math.pi)
        rot = rotation_from_axes(_v(math.cos(ang) * 0.4, math.sin(ang), 0.6), _v(1, 0, 0))
        ovary = Ellipsoid(c, _v(*a), rot, roughness=0.04)
        ovaries[side] = ovary
        params.ovary_centre[side] = (float(c[0]), float(c[1]), float(c[2]))
        parts.append(Part(f"ovary_{side}", ovary, "ovarian_stroma", f"ovary_{side}"))
        n_foll = int(rng.integers(3, 8)) if not params.postmenopausal else int(rng.integers(0, 2))
        for _ in range(n_foll):
            r = rng.uniform(2.0, 4.5) if not params.postmenopausal else 1.8
            if not params.postmenopausal and rng.uniform() < 0.2:
                r = rng.uniform(5.0, 8.0)  # dominant follicle
            off = rng.uniform(-1, 1, size=3) * np.maximum(np.array(a) - r - 1.0, 0.0) * 0.6
            parts.append(Part("follicle", Ellipsoid(c + rot @ off, _v(r, r, r)), "follicle", "follicle"))
    return Organs(
        parts=parts,
        uterus=uterus,
        bladder=bladder,
        bladder_lumen=lumen,
        rectum=rectum,
        vagina=vagina,
        vagina_length=length,
        ovaries=ovaries,
        ureters=ureters,
    )


def _bowel_loops(lm: PelvicLandmarks, uterus: UterusModel, rng: np.random.Generator) -> list[Part]:
    """Sigmoid and small-bowel loops in the upper pelvis, painted only over fat (``ASSUMPTION``)."""
    parts: list[Part] = []
    yP, zP = float(lm.P[1]), float(lm.P[2])
    z0 = max(float(uterus.internal_os[2]) + 5.0, zP + 45.0)
    z1 = max(zP + 115.0, z0 + 10.0)  # a long (tumour-bearing) cervix lifts the loops
    for i in range(int(rng.integers(4, 7))):
        start = _v(rng.uniform(-45, 45), rng.uniform(yP - 95, yP - 5), rng.uniform(z0, z1))
        heading = rng.normal(size=3)
        pts = [start]
        for _ in range(6):  # a wandering loop
            heading = heading + rng.normal(scale=0.8, size=3)
            heading /= np.linalg.norm(heading)
            pts.append(pts[-1] + heading * rng.uniform(8.0, 14.0))
        sigmoid = i == 0
        r = float(rng.uniform(9.0, 13.0) if sigmoid else rng.uniform(7.0, 10.0))
        n = len(pts)
        wall = Tube(np.array(pts), np.full(n, r), np.full(n, r), cap=r, roughness=0.04)
        lumen = Tube(np.array(pts), np.full(n, r - 2.5), np.full(n, r - 2.5), cap=r - 2.5, roughness=0.04)
        content = "rectal_content" if sigmoid else "bowel_content"
        parts.append(Part("bowel_wall", wall, "bowel_wall", "bowel_wall", only_in=("fat",)))
        parts.append(Part("bowel_lumen", lumen, content, "bowel_lumen", only_in=("bowel_wall",)))
    return parts


def _cervix_surface(uterus: UterusModel) -> F64:
    """Points on the cervix surface (and lower uterine segment), anatomy space: ``(N, 3)``."""
    pts = []
    for s in np.linspace(0.0, uterus.cervix_length + 5.0, 10):
        lat, ap = uterus.tube.radii_at(float(s))
        for a in np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False):
            pts.append(uterus.point(float(s), lat * math.cos(a), ap * math.sin(a)))
    return np.array(pts)


def _push_away(centre: F64, axes: F64, points: F64, margin: float = 1.12, step: float = 2.0) -> F64 | None:
    """Translation (≤ 30 mm) moving an axis-aligned ellipsoid until no point lies inside ``margin``."""
    shift = np.zeros(3)
    for _ in range(15):
        rho = np.sqrt((((points - centre - shift) / axes) ** 2).sum(axis=1))
        inside = rho < margin
        if not inside.any():
            break
        direction = centre + shift - points[inside].mean(axis=0)
        direction[0] = 0.0
        norm = float(np.linalg.norm(direction))
        if norm < 1e-6:
            direction, norm = _v(0.0, 1.0, 0.3), float(np.linalg.norm(_v(0.0, 1.0, 0.3)))
        shift = shift + step * direction / norm
    return shift if float(np.linalg.norm(shift)) > 0 else None


def sample_benign_nodes(skeleton: Skeleton, rng: np.random.Generator, n: int) -> list[Node]:
    """``n`` normal-sized nodes (short axis 3–7 mm, oval) at random pelvic stations (``ASSUMPTION``)."""
    stations = ["external_iliac", "obturator", "internal_iliac", "common_iliac"]
    nodes: list[Node] = []
    for _ in range(n):
        st = str(rng.choice(stations))
        side = str(rng.choice(["left", "right"]))
        short = float(rng.uniform(3.0, 7.0))
        centre = skeleton.stations[st][side] + rng.uniform(-5, 5, size=3)
        nodes.append(
            Node(
                st,
                side,
                centre,
                short,
                short * float(rng.uniform(1.4, 2.0)),
                False,
                direction=_v(0.0, 0.5, 0.85),
            )
        )
    return nodes
