"""The fixed frame of the pelvis: body outline, bones, muscles and vessels (``ASSUMPTION`` geometry).

Positions are relative to the landmarks ``P`` (inferior pubic symphysis) and ``C`` (last coccygeal
joint) so that the bony landmarks of SPEC §4.1 lie on the rendered bones. Bones are a cortical shell
(dark) around fatty marrow. Muscles are the SPEC §5.3 reference tissues: obturator internus (its
medial surface is the pelvic sidewall), levator ani (a sling behind the anorectal junction),
piriformis, iliopsoas, gluteal and rectus muscles. Sides: ``+1`` = patient's right (+x in RAS+),
``-1`` = left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.anatomy import PelvicLandmarks
from maerad.data.phantom.shapes import Capsule, Ellipsoid, Shape, Tube, rotation_from_axes

__all__ = ["CORTEX_MM", "Part", "Skeleton", "build_skeleton", "marrow_of"]

F64 = npt.NDArray[np.float64]
CORTEX_MM = 2.0
SIDES = {"right": 1.0, "left": -1.0}


@dataclass
class Part:
    """One painted primitive: a shape, its tissue and its label name (``None`` keeps the label)."""

    name: str
    shape: Shape
    tissue: str
    label: str | None
    only_in: tuple[str, ...] = ()  # paint only over these labels (e.g. bowel loops only in fat)


@dataclass
class Skeleton:
    """Body, bones, muscles and vessels in paint order, plus named shapes lesions refer to."""

    parts: list[Part] = field(default_factory=list)
    obturator: dict[str, Ellipsoid] = field(default_factory=dict)
    bones: list[Shape] = field(default_factory=list)
    stations: dict[str, dict[str, F64]] = field(default_factory=dict)  # station → side → point
    body: tuple[tuple[float, float], tuple[float, float]] = (
        (0.0, 0.0),
        (170.0, 120.0),
    )  # (centre, axes) in (x, y)


def _v(*xyz: float) -> F64:
    return np.array(xyz, dtype=np.float64)


def marrow_of(shape: Shape) -> Shape:
    """The marrow inside a bone shape: the same primitive shrunk by the cortical thickness."""
    if isinstance(shape, Tube):
        return Tube(
            shape.points,
            np.maximum(shape.radius_lat - CORTEX_MM, 0.5),
            np.maximum(shape.radius_ap - CORTEX_MM, 0.5),
            lateral=shape.lateral,
            cap=max(shape.cap - CORTEX_MM, 0.0),
        )
    if isinstance(shape, Ellipsoid):
        return Ellipsoid(shape.centre, np.maximum(np.asarray(shape.axes) - CORTEX_MM, 0.5), shape.rotation)
    if isinstance(shape, Capsule):
        return Capsule(shape.start, shape.end, max(shape.r0 - CORTEX_MM, 0.5), max(shape.r1 - CORTEX_MM, 0.5))
    raise TypeError(f"no marrow for {type(shape).__name__}")


def _tube(
    points: list[F64],
    lat: list[float],
    ap: list[float] | None = None,
    lateral: F64 | None = None,
    rough: float = 0.0,
    cap: float = 0.0,
) -> Tube:
    return Tube(
        np.array(points),
        np.array(lat, dtype=np.float64),
        np.array(ap if ap is not None else lat, dtype=np.float64),
        lateral=_v(1, 0, 0) if lateral is None else lateral,
        roughness=rough,
        cap=cap,
    )


def build_skeleton(lm: PelvicLandmarks) -> Skeleton:
    """Build the fixed frame around the rest-frame landmarks ``P`` and ``C``."""
    P, C = lm.P, lm.C
    yP, zP = float(P[1]), float(P[2])
    sk = Skeleton()
    add = sk.parts.append
    # body outline (fat inside, air outside): anterior skin ≈ 50 mm in front of P
    sk.body = ((0.0, yP - 80.0), (178.0, 130.0))
    # gluteal and anterior wall muscles
    for side, sx in SIDES.items():
        add(
            Part(
                f"gluteus_{side}",
                Ellipsoid(_v(sx * 84, yP - 128, zP + 45), _v(42, 34, 75), roughness=0.06),
                "muscle",
                "muscle_other",
            )
        )
        add(
            Part(
                f"rectus_{side}",
                _tube(
                    [
                        _v(sx * 22, yP + 36, zP + 30),
                        _v(sx * 28, yP + 40, zP + 90),
                        _v(sx * 32, yP + 42, zP + 170),
                    ],
                    [12, 30, 34],
                    [5, 7, 8],
                    rough=0.03,
                ),
                "muscle",
                "muscle_other",
            )
        )
        add(
            Part(
                f"iliopsoas_{side}",
                _tube(
                    [
                        _v(sx * 42, yP - 78, zP + 170),
                        _v(sx * 55, yP - 60, zP + 100),
                        _v(sx * 66, yP - 36, zP + 58),
                        _v(sx * 72, yP - 10, zP + 28),
                        _v(sx * 76, yP + 8, zP - 10),
                    ],
                    [14, 18, 20, 18, 16],
                    rough=0.05,
                ),
                "muscle",
                "iliopsoas",
            )
        )
        add(
            Part(
                f"piriformis_{side}",
                _tube(
                    [
                        _v(sx * 18, C[1] - 16, C[2] + 52),
                        _v(sx * 50, C[1] - 22, C[2] + 50),
                        _v(sx * 92, C[1] - 6, C[2] + 40),
                    ],
                    [9, 11, 10],
                    rough=0.05,
                ),
                "muscle",
                "piriformis",
            )
        )
        rot = rotation_from_axes(_v(1, 0, 0), _v(0, 1, 0.25))
        obt = Ellipsoid(_v(sx * 57, yP - 42, zP + 20), _v(8, 34, 25), rot, roughness=0.04)
        sk.obturator[side] = obt
        add(Part(f"obturator_internus_{side}", obt, "muscle", "obturator_internus"))
    # vessels (patient's left = −x): aorta, IVC, common / external / internal iliac arteries and veins
    bif_a = _v(-6, yP - 60, zP + 100)
    bif_v = _v(12, yP - 66, zP + 92)
    add(Part("aorta", _tube([_v(-9, yP - 56, zP + 220), bif_a], [8, 7]), "blood", "vessel"))
    add(Part("ivc", _tube([_v(15, yP - 62, zP + 220), bif_v], [10, 9]), "blood", "vessel"))
    for side, sx in SIDES.items():
        ci_a = _v(sx * 34, yP - 70, zP + 72)
        ci_v = _v(sx * 32, yP - 78, zP + 66)
        add(Part(f"common_iliac_artery_{side}", _tube([bif_a, ci_a], [5.0, 4.5]), "blood", "vessel"))
        add(Part(f"common_iliac_vein_{side}", _tube([bif_v, ci_v], [6.5, 6.0]), "blood", "vessel"))
        add(
            Part(
                f"external_iliac_artery_{side}",
                _tube(
                    [
                        ci_a,
                        _v(sx * 47, yP - 46, zP + 48),
                        _v(sx * 58, yP - 16, zP + 30),
                        _v(sx * 64, yP + 14, zP + 16),
                    ],
                    [4.5, 4.2, 4.0, 4.0],
                ),
                "blood",
                "vessel",
            )
        )
        add(
            Part(
                f"external_iliac_vein_{side}",
                _tube(
                    [
                        ci_v,
                        _v(sx * 44, yP - 54, zP + 44),
                        _v(sx * 54, yP - 24, zP + 26),
                        _v(sx * 60, yP + 6, zP + 12),
                    ],
                    [6.0, 6.0, 5.5, 5.5],
                ),
                "blood",
                "vessel",
            )
        )
        add(
            Part(
                f"internal_iliac_artery_{side}",
                _tube([ci_a, _v(sx * 42, yP - 84, zP + 50), _v(sx * 44, yP - 88, zP + 30)], [3.8, 3.2, 2.8]),
                "blood",
                "vessel",
            )
        )
        add(
            Part(
                f"internal_iliac_vein_{side}",
                _tube([ci_v, _v(sx * 38, yP - 94, zP + 46), _v(sx * 40, yP - 96, zP + 26)], [5.0, 4.5, 4.0]),
                "blood",
                "vessel",
            )
        )
    # node stations (SPEC §1.6 field 14/15): points where nodes are placed, per side
    for side, sx in SIDES.items():
        sk.stations.setdefault("external_iliac", {})[side] = _v(sx * 50, yP - 24, zP + 34)
        sk.stations.setdefault("obturator", {})[side] = _v(sx * 43, yP - 34, zP + 20)
        sk.stations.setdefault("internal_iliac", {})[side] = _v(sx * 34, yP - 84, zP + 48)
        sk.stations.setdefault("common_iliac", {})[side] = _v(sx * 22, yP - 68, zP + 84)
    sk.stations["paraaortic"] = {"left": _v(-24, yP - 56, zP + 98), "right": _v(28, yP - 58, zP + 98)}
    sk.stations["inguinal"] = {side: _v(sx * 70, yP + 30, zP - 5) for side, sx in SIDES.items()}
    _add_bones(sk, P, C)
    return sk


def _add_bones(sk: Skeleton, P: F64, C: F64) -> None:
    yP, zP = float(P[1]), float(P[2])
    bones: list[tuple[str, Shape, str]] = []
    # pubic symphysis: two pubic bodies meeting in the midline, long axis pointing up and forward;
    # their inferior margin is P (SPEC §4.1)
    axis = _v(0, 0.42, 0.91)
    for sx in (1.0, -1.0):
        centre = P + 19.0 * axis + _v(sx * 6.5, 0, 0)
        rot = rotation_from_axes(axis, _v(0, 1, 0))
        bones.append(
            ("pubis", Ellipsoid(centre, _v(19.5, 8.5, 8.5), rot, roughness=0.02), "bone_pelvic_ring")
        )
    for sx in (1.0, -1.0):
        bones.append(
            (
                "superior_ramus",
                _tube(
                    [
                        _v(sx * 8, yP + 10, zP + 28),
                        _v(sx * 34, yP + 8, zP + 30),
                        _v(sx * 60, yP - 16, zP + 27),
                        _v(sx * 76, yP - 44, zP + 24),
                    ],
                    [8, 8, 9.5, 12],
                    rough=0.02,
                ),
                "bone_pelvic_ring",
            )
        )
        bones.append(
            (
                "ischiopubic",
                _tube(
                    [
                        _v(sx * 8, yP + 2, zP + 6),
                        _v(sx * 28, yP - 14, zP - 8),
                        _v(sx * 48, yP - 44, zP - 16),
                        _v(sx * 56, yP - 70, zP - 12),
                        _v(sx * 63, yP - 74, zP + 8),
                        _v(sx * 74, yP - 58, zP + 24),
                    ],
                    [7, 8, 10, 13, 13, 14],
                    rough=0.02,
                ),
                "bone_pelvic_ring",
            )
        )
        bones.append(
            (
                "ilium",
                _tube(
                    [
                        _v(sx * 76, yP - 50, zP + 22),
                        _v(sx * 72, yP - 72, zP + 55),
                        _v(sx * 60, yP - 96, zP + 85),
                        _v(sx * 50, yP - 104, zP + 110),
                    ],
                    [16, 17, 18, 16],
                    rough=0.02,
                ),
                "bone_pelvic_ring",
            )
        )
        wing = rotation_from_axes(_v(1, sx * 0.45, 0), _v(0, 0, 1))  # plate facing antero-medially
        bones.append(
            (
                "iliac_wing",
                Ellipsoid(_v(sx * 96, yP - 66, zP + 100), _v(9, 36, 48), wing, roughness=0.02),
                "bone_pelvic_ring",
            )
        )
        bones.append(
            ("femoral_head", Ellipsoid(_v(sx * 94, yP - 46, zP + 22), _v(23, 23, 23)), "bone_pelvic_ring")
        )
        bones.append(
            (
                "femoral_neck",
                Capsule(_v(sx * 96, yP - 44, zP + 18), _v(sx * 130, yP - 40, zP - 5), 15, 16),
                "bone_pelvic_ring",
            )
        )
    # sacrum and coccyx along a curve through C; coccygeal tip below C
    down_fwd = _v(0, 0.55, -0.83)
    pts = [
        C + 11.0 * down_fwd,
        C,
        C + _v(0, -6, 18),
        C + _v(0, -15, 40),
        C + _v(0, -22, 64),
        C + _v(0, -24, 92),
        C + _v(0, -18, 125),
    ]
    lat = [6, 8, 15, 28, 40, 50, 54]
    ap = [4, 5, 7, 11, 14, 16, 16]
    bones.append(
        (
            "sacrum",
            Tube(
                np.array(pts),
                np.array(lat, float),
                np.array(ap, float),
                lateral=_v(1, 0, 0),
                cap=3.0,
                roughness=0.02,
            ),
            "bone_sacrum_coccyx",
        )
    )
    for _name, shape, label in bones:
        sk.parts.append(Part(_name, shape, "bone_cortex", label))
        sk.parts.append(Part(_name + "_marrow", marrow_of(shape), "bone_marrow", label))
        sk.bones.append(shape)
