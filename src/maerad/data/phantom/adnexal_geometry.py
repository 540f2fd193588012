"""Shapes of adnexal lesions for the O-RADS lexicon (SPEC §3.1): cysts, septa, solid tissue, tubes.

* unilocular cyst: an ellipsoidal wall (thin 1–2 mm / thick 3–4 mm, enhancing or not) around fluid;
* multilocular cyst: smooth septa where two Voronoi cells of random seeds meet (:class:`Septa`);
* solid tissue: papillary projections (small, on the inner wall), a mural nodule, or a larger solid
  portion; a solid lesion (≥ 80 % solid) is a lobulated solid ellipsoid with small cystic spaces;
* dilated tube: a tortuous fluid-filled :class:`~.shapes.Tube` with a wall.

Every builder returns :class:`~.lesion_tools.LesionPart` lists in paint order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.lesion_tools import LesionPart
from maerad.data.phantom.shapes import Ellipsoid, Points, Shape, Tube, rotation_from_axes

__all__ = ["FLUID_TISSUE", "Septa", "cyst_parts", "solid_lesion_parts", "solid_parts", "tube_parts"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

# O-RADS fluid type → tissue (SPEC §3.1 "simple / non-simple fluid"); simple fluid uses the follicle
# values of [A9] as the fluid proxy (SPEC §5.2).
FLUID_TISSUE = {
    "simple": "follicle",
    "haemorrhagic": "haemorrhagic_fluid",
    "endometriotic": "endometriotic_fluid",
    "proteinaceous": "proteinaceous_fluid",
    "mucinous": "proteinaceous_fluid",
    "lipid": "lipid",
}
_LESION_LABELS = ("adnexal_lesion_fluid", "adnexal_lesion_wall", "adnexal_lesion_solid")


@dataclass
class Septa(Shape):
    """Septa of width ``thickness`` where the two nearest ``seeds`` are equidistant, inside ``bound``."""

    seeds: F64
    thickness: float
    bound: Shape

    def bbox(self) -> tuple[F64, F64]:
        return self.bound.bbox()

    def level(self, p: Points) -> F32:
        d2 = np.stack(
            [(p.x - s[0]) ** 2 + (p.y - s[1]) ** 2 + (p.z - s[2]) ** 2 for s in self.seeds.astype(np.float32)]
        )
        order = np.argsort(d2, axis=0)[:2]
        i1, i2 = order[0], order[1]
        d1 = np.take_along_axis(d2, order[:1], axis=0)[0]
        dd = np.take_along_axis(d2, order[1:2], axis=0)[0]
        sep = np.linalg.norm(self.seeds[:, None, :] - self.seeds[None, :, :], axis=2).astype(np.float32)
        sep = np.maximum(sep, 1e-3)
        bisector = (dd - d1) / (2.0 * sep[i1, i2])
        septum = (bisector - self.thickness / 2.0) / self.thickness
        return np.asarray(np.maximum(septum, self.bound.level(p)), dtype=np.float32)


def _random_rotation(rng: np.random.Generator) -> F64:
    a = rng.normal(size=3)
    b = rng.normal(size=3)
    return rotation_from_axes(a, b)


def cyst_parts(
    centre: F64,
    radius: float,
    rng: np.random.Generator,
    *,
    fluid: str,
    wall_mm: float,
    wall_enhancing: bool,
    locules: int = 1,
    crenulated: bool = False,
) -> tuple[list[LesionPart], Ellipsoid]:
    """Wall + fluid (+ septa) of a cyst of greatest semi-axis ``radius``; returns the parts and the lumen."""
    axes = radius * np.array([1.0, rng.uniform(0.75, 0.95), rng.uniform(0.7, 0.9)])
    rot = _random_rotation(rng)
    lob = 0.12 if crenulated else 0.0
    outer = Ellipsoid(centre, axes, rot, roughness=0.03, lobulation=lob)
    lumen = Ellipsoid(centre, np.maximum(axes - wall_mm, 1.0), rot, roughness=0.03, lobulation=lob)
    wall_tissue = "cyst_wall_enhancing" if wall_enhancing else "cyst_wall"
    parts = [
        LesionPart(outer, wall_tissue, "adnexal_lesion_wall"),
        LesionPart(lumen, FLUID_TISSUE[fluid], "adnexal_lesion_fluid"),
    ]
    if locules > 1:
        seeds = centre + (_spread_seeds(locules, rng) * 0.55 * axes) @ rot.T
        parts.append(LesionPart(Septa(seeds, max(wall_mm, 2.0), lumen), wall_tissue, "adnexal_lesion_wall"))
        if rng.uniform() < 0.5:  # locules of different fluid types (SPEC §6.3 E-FLUIDTYPE)
            other = Ellipsoid(seeds[0], np.full(3, 0.35 * radius), roughness=0.05)
            parts.append(
                LesionPart(
                    other,
                    FLUID_TISSUE["proteinaceous"],
                    "adnexal_lesion_fluid",
                    only_in=("adnexal_lesion_fluid",),
                )
            )
    return parts, lumen


def _spread_seeds(n: int, rng: np.random.Generator) -> F64:
    """``n`` well-separated points in the unit ball (greedy farthest-point choice among candidates)."""
    cand = rng.uniform(-1.0, 1.0, size=(60, 3))
    cand = cand[(cand**2).sum(axis=1) <= 1.0]
    chosen = [cand[0]]
    for _ in range(n - 1):
        dist = np.min([((cand - c) ** 2).sum(axis=1) for c in chosen], axis=0)
        chosen.append(cand[int(np.argmax(dist))])
    return np.array(chosen)


def _wall_points(lumen: Ellipsoid, n: int, rng: np.random.Generator) -> F64:
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return np.asarray(lumen.centre + (u * lumen.axes) @ lumen.rotation.T, dtype=np.float64)


def solid_parts(lumen: Ellipsoid, kind: str, tissue: str, rng: np.random.Generator) -> list[LesionPart]:
    """Solid tissue inside a cyst: ``papillary`` projections, a ``mural`` nodule, a ``portion``."""
    radius = float(np.max(lumen.axes))
    parts: list[LesionPart] = []
    if kind == "papillary":
        for p in _wall_points(lumen, int(rng.integers(2, 5)), rng):
            r = float(rng.uniform(4.0, 7.0))
            parts.append(
                LesionPart(
                    Ellipsoid(p, np.array([r, r, r * 1.4]), _random_rotation(rng), lobulation=0.15),
                    tissue,
                    "adnexal_lesion_solid",
                    only_in=_LESION_LABELS,
                )
            )
    elif kind == "mural":
        p = _wall_points(lumen, 1, rng)[0]
        r = float(rng.uniform(7.0, max(8.0, min(15.0, 0.4 * radius))))
        parts.append(
            LesionPart(
                Ellipsoid(p, np.array([r, r * 0.9, r * 0.8]), lobulation=0.06),
                tissue,
                "adnexal_lesion_solid",
                only_in=_LESION_LABELS,
            )
        )
    else:  # larger solid portion
        p = lumen.centre + (lumen.rotation @ (lumen.axes * np.array([0.35, 0.0, 0.0])))
        parts.append(
            LesionPart(
                Ellipsoid(p, lumen.axes * rng.uniform(0.5, 0.7), lumen.rotation, lobulation=0.1),
                tissue,
                "adnexal_lesion_solid",
                only_in=_LESION_LABELS,
            )
        )
    return parts


def solid_lesion_parts(centre: F64, radius: float, tissue: str, rng: np.random.Generator) -> list[LesionPart]:
    """A mostly solid lesion (≥ 80 % solid tissue, SPEC §3.1) with small cystic spaces."""
    axes = radius * np.array([1.0, rng.uniform(0.75, 0.95), rng.uniform(0.7, 0.9)])
    rot = _random_rotation(rng)
    body = Ellipsoid(centre, axes, rot, roughness=0.04, lobulation=0.08)
    parts = [LesionPart(body, tissue, "adnexal_lesion_solid")]
    for _ in range(int(rng.integers(0, 3))):
        c = centre + (rng.uniform(-0.5, 0.5, size=3) * axes) @ rot.T
        r = float(rng.uniform(0.1, 0.2)) * radius
        parts.append(
            LesionPart(
                Ellipsoid(c, np.full(3, r)),
                "proteinaceous_fluid",
                "adnexal_lesion_fluid",
                only_in=("adnexal_lesion_solid",),
            )
        )
    return parts


def tube_parts(
    start: F64, direction: F64, rng: np.random.Generator, *, fluid: str, wall_mm: float, radius: float
) -> list[LesionPart]:
    """A tortuous dilated tube (hydrosalpinx) from ``start`` along ``direction``."""
    d = np.asarray(direction, dtype=np.float64)
    d /= np.linalg.norm(d)
    side = np.cross(d, np.array([0.0, 0.0, 1.0]))
    if np.linalg.norm(side) < 1e-6:
        side = np.array([1.0, 0.0, 0.0])
    side /= np.linalg.norm(side)
    up = np.cross(side, d)
    t = np.linspace(0.0, 1.0, 14)
    length = float(rng.uniform(55.0, 80.0))
    wiggle = radius * 1.6
    phase = rng.uniform(0, 2 * math.pi)
    pts = (
        start[None, :]
        + np.outer(t * length, d)
        + np.outer(wiggle * np.sin(3 * math.pi * t + phase), side)
        + np.outer(0.6 * wiggle * np.cos(2 * math.pi * t + phase), up)
    )
    r = np.full(len(t), radius)
    r[0] = r[-1] = radius * 0.6
    outer = Tube(pts, r, r, cap=radius * 0.6, roughness=0.03)
    lumen = Tube(
        pts, np.maximum(r - wall_mm, 1.0), np.maximum(r - wall_mm, 1.0), cap=max(radius * 0.6 - wall_mm, 0.5)
    )
    return [
        LesionPart(outer, "cyst_wall_enhancing" if wall_mm >= 2.5 else "cyst_wall", "adnexal_lesion_wall"),
        LesionPart(lumen, FLUID_TISSUE[fluid], "adnexal_lesion_fluid"),
    ]
