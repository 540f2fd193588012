"""Cervical-cancer cases with a target FIGO 2018 stage (SPEC §1.2 findings, §1.7 constraints).

The sampler draws findings that satisfy exactly the target branch of the §1.3 decision procedure and
none of the higher ones; the geometry then renders them: a lobulated tumour in an enlarged cervix
with a residual stromal ring (intact > 3 mm, thinned ≤ 3 mm, §1.5), a cuff along the vagina to the
sampled depth (upper two-thirds / lower third measured along the vaginal centre line), spiculated
parametrial extension through the ring, extension reaching the obturator internus (pelvic sidewall,
U4 ASSUMPTION), a dilated distal ureter for hydronephrosis (the kidneys are outside the field of
view), round nodes above the short-axis threshold, invasion through the bladder or rectal wall into
the lumen, and a bone metastasis. The tumour's greatest dimension is measured on the rendered mask
and must fall in the target's size band (IB1/IB2/IB3, IIA1/IIA2) or the geometry is redrawn.
Distributions are ``ASSUMPTION``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.context import CaseContext, KindOutput
from maerad.data.phantom.lesion_tools import (
    LesionPart,
    bone_metastasis,
    measure_mask,
    measure_nodes,
    node_parts,
    paint_parts,
    suspicious_nodes,
    union_mask,
)
from maerad.data.phantom.scene import Scene, UterusOptions, build_scene
from maerad.data.phantom.shapes import Capsule, Ellipsoid, Shape, Tube
from maerad.errors import ConfigError
from maerad.report.rules import CervixFindings, figo2018_cervix

__all__ = ["CERVIX_TARGETS", "CervixPlan", "cervical_case", "normalise_cervix_stage", "sample_cervix_plan"]

F64 = npt.NDArray[np.float64]

CERVIX_TARGETS: tuple[str, ...] = (
    "IA1",
    "IA2",
    "IB1",
    "IB2",
    "IB3",
    "IIA1",
    "IIA2",
    "IIB",
    "IIIA",
    "IIIB",
    "IIIC1r",
    "IIIC2r",
    "IVA",
    "IVB",
)
_T_LEVELS = ("IB1", "IB2", "IB3", "IIA1", "IIA2", "IIB", "IIIA", "IIIB")
# measured greatest dimension (mm) allowed for each local extent; margins keep away from 20 / 40 mm
_SIZE_BAND = {
    "IB1": (6.0, 19.6),
    "IB2": (20.4, 39.6),
    "IB3": (40.4, 85.0),
    "IIA1": (8.0, 39.6),
    "IIA2": (40.4, 85.0),
}
_DESIGN_D = {
    "IB1": (9.0, 18.0),
    "IB2": (22.0, 38.0),
    "IB3": (42.0, 60.0),
    "IIA1": (14.0, 25.0),
    "IIA2": (40.5, 52.0),
    "IIB": (24.0, 50.0),
    "IIIA": (24.0, 50.0),
    "IIIB": (26.0, 55.0),
}
_PELVIC_STATIONS = ["obturator", "external_iliac", "internal_iliac", "common_iliac"]
SIDEWALL_GAP_MM = 9.0  # ASSUMPTION (U4): IIB extension stays at least this far from the obturator internus


def normalise_cervix_stage(stage: str) -> str:
    """Canonical target label (``"IIIC1"`` → ``"IIIC1r"``); raises ConfigError for unknown stages."""
    text = str(stage).strip()
    core = text[:-1] if text.upper().startswith("IIIC") and text.lower().endswith("r") else text
    core = core.upper()
    if core in ("IIIC1", "IIIC2"):
        return core + "r"
    if core not in CERVIX_TARGETS:
        raise ConfigError(f"cervical target stage must be one of {', '.join(CERVIX_TARGETS)}, got {stage!r}")
    return core


@dataclass
class CervixPlan:
    """Sampled findings of one cervical case (before geometry)."""

    target: str
    t_level: str  # IA1 / IA2 or the local extent (IB1 … IIIB)
    ring: str
    parametrium_sides: tuple[str, ...] = ()
    sidewall_side: str | None = None
    hydronephrosis: str = "none"
    vagina: str = "none"
    pelvic_stations: list[str] = field(default_factory=list)
    paraaortic: bool = False
    bladder_mucosa: bool = False
    rectal_mucosa: bool = False
    distant: bool = False
    path_depth_mm: float | None = None


def sample_cervix_plan(target: str, rng: np.random.Generator) -> CervixPlan:
    """Draw findings satisfying exactly the ``target`` branch of SPEC §1.3 (constraints of §1.7)."""
    t = normalise_cervix_stage(target)
    if t in ("IA1", "IA2"):  # not visible on MRI; the ground truth carries the pathology label (§1.7)
        depth = float(rng.uniform(0.5, 2.9) if t == "IA1" else rng.uniform(3.1, 4.9))
        return CervixPlan(target=t, t_level=t, ring="intact", path_depth_mm=depth)
    if t in _T_LEVELS:
        level = t
    elif t in ("IVA",):
        level = str(rng.choice(["IB3", "IIB", "IIB", "IIIA", "IIIB"]))
    else:
        level = str(rng.choice(_T_LEVELS))
    plan = CervixPlan(target=t, t_level=level, ring=str(rng.choice(["intact", "intact", "thinned"])))
    side = str(rng.choice(["left", "right"]))
    if level in ("IIA1", "IIA2"):
        plan.vagina = "upper_two_thirds"
    if level == "IIB":
        plan.ring = "full_thickness_disruption"
        plan.parametrium_sides = (side,) if rng.uniform() < 0.7 else ("left", "right")
        plan.vagina = str(rng.choice(["none", "upper_two_thirds"]))
    if level == "IIIA":
        plan.vagina = "lower_third"
        if rng.uniform() < 0.5:
            plan.ring = "full_thickness_disruption"
            plan.parametrium_sides = (side,)
    if level == "IIIB":
        mode = rng.uniform()
        if mode < 0.65:  # sidewall extension (± hydronephrosis on that side)
            plan.ring = "full_thickness_disruption"
            plan.parametrium_sides = (side,)
            plan.sidewall_side = side
            plan.hydronephrosis = side if rng.uniform() < 0.4 else "none"
        else:  # hydronephrosis without sidewall extension (other cause not known)
            plan.hydronephrosis = str(rng.choice(["left", "right", "bilateral"]))
            if rng.uniform() < 0.6:
                plan.ring = "full_thickness_disruption"
                plan.parametrium_sides = (side,)
        plan.vagina = str(rng.choice(["none", "upper_two_thirds", "lower_third"]))
    if t == "IIIC1r":
        plan.pelvic_stations = list(rng.choice(_PELVIC_STATIONS, size=int(rng.integers(1, 3)), replace=False))
    if t == "IIIC2r":
        plan.paraaortic = True
        if rng.uniform() < 0.6:
            plan.pelvic_stations = [str(rng.choice(_PELVIC_STATIONS))]
    if t in ("IVA", "IVB"):
        if rng.uniform() < 0.4:
            plan.pelvic_stations = [str(rng.choice(_PELVIC_STATIONS))]
        plan.paraaortic = bool(rng.uniform() < 0.15)
    if t == "IVA":
        if rng.uniform() < 0.6:
            plan.bladder_mucosa = True
        else:
            plan.rectal_mucosa = True
    if t == "IVB":
        plan.distant = True
    return plan


@dataclass
class _Geometry:
    d: float
    axes: F64  # semi-axes (lat, ap, cc)
    s_t: float
    offset: tuple[float, float]
    ring_mm: float
    vagina_depth_frac: float  # mm below the fornix (upper two-thirds) or fraction of the length (lower third)
    extension_mm: float


def _draw_geometry(plan: CervixPlan, rng: np.random.Generator) -> _Geometry:
    d = float(rng.uniform(*_DESIGN_D[plan.t_level]))
    others = rng.uniform(0.55, 0.85, size=2) * d
    axis = rng.uniform()
    if axis < 0.3:  # long axis cranio-caudal
        lat, ap, cc = max(others), min(others), d
    elif axis < 0.5:  # long axis antero-posterior
        lat, ap, cc = max(others), d, min(others)
    else:  # long axis lateral
        lat, ap, cc = d, min(others), max(others)
    ring = {"intact": rng.uniform(3.6, 7.0), "thinned": rng.uniform(1.3, 2.6)}.get(
        plan.ring, rng.uniform(2.0, 4.0)
    )
    a = np.array([lat, ap, cc]) / 2.0
    s_t = (a[2] - 2.0) if plan.vagina != "none" else (ring + 1.5 + a[2])
    off = (float(rng.uniform(-0.12, 0.12) * a[0]), float(rng.uniform(-0.12, 0.12) * a[1]))
    if plan.vagina == "upper_two_thirds":  # SPEC §1.7 5–25 mm below the fornix (8–25 here, IIA1 8–14)
        frac = float(rng.uniform(8.0, 14.0 if plan.t_level == "IIA1" else 25.0))
    else:
        frac = float(rng.uniform(0.72, 0.95))
    return _Geometry(d, a, float(s_t), off, float(ring), frac, float(rng.uniform(6.0, 14.0)))


def _uterus_options(g: _Geometry, base_length: float) -> UterusOptions:
    a_lat, a_ap, a_cc = g.axes
    grow = 1.06

    def need(s: F64) -> tuple[F64, F64]:
        f = np.sqrt(np.clip(1.0 - ((s - g.s_t) / a_cc) ** 2, 0.0, 1.0))
        inside = f > 0
        lat = np.where(inside, (abs(g.offset[0]) + a_lat * f) * grow + g.ring_mm + 1.0, 0.0)
        ap = np.where(inside, (abs(g.offset[1]) + a_ap * f) * grow + g.ring_mm + 1.0, 0.0)
        return lat, ap

    length = max(base_length, g.s_t + a_cc * grow + max(g.ring_mm, 3.0) + 4.0)
    return UterusOptions(cervix_length=length, cervix_min=need)


def _tumour_parts(plan: CervixPlan, g: _Geometry, scene: Scene, rng: np.random.Generator) -> list[Shape]:
    ut = scene.uterus
    t, b, n = ut.tube.frame_at(g.s_t)
    centre = ut.point(g.s_t, g.offset[0], g.offset[1])
    shapes: list[Shape] = [Ellipsoid(centre, g.axes.copy(), np.stack([b, n, t], axis=1), lobulation=0.035)]
    vag = scene.organs.vagina
    if plan.vagina != "none":
        length = scene.organs.vagina_length
        grid = np.linspace(0.0, length, 60)
        along = np.array([vag.point_at(x) for x in grid])
        s_os = float(grid[int(np.argmin(((along - ut.external_os) ** 2).sum(axis=1)))])
        if plan.vagina == "upper_two_thirds":  # depth below the fornix, i.e. the level of the os
            depth = min(s_os + g.vagina_depth_frac, 2.0 / 3.0 * length - 4.0)
        else:
            depth = max(g.vagina_depth_frac * length, 2.0 / 3.0 * length + 4.0)
        # one wall (anterior or posterior) of the vagina replaced down to `depth` along its centre line
        wall = 1.0 if g.offset[1] >= 0 else -1.0
        s = np.linspace(0.0, depth, 8)
        pts, lat, ap = [], [], []
        for x in s:
            _, _, nv = vag.frame_at(x)
            r_lat, r_ap = vag.radii_at(x)
            pts.append(vag.point_at(x) + wall * 0.5 * r_ap * nv)
            lat.append(0.6 * r_lat + 1.0)
            ap.append(0.5 * r_ap + 2.0)
        shapes.append(
            Tube(np.array(pts), np.array(lat), np.array(ap), cap=0.0, roughness=0.04, lobulation=0.05)
        )
    r_lat = ut.tube.radii_at(g.s_t)[0]
    for side in plan.parametrium_sides:
        sgn = 1.0 if side == "right" else -1.0
        start = centre + sgn * 0.4 * g.axes[0] * b
        if side == plan.sidewall_side:
            obt = scene.skeleton.obturator[side]
            surf = _nearest_surface_point(obt, start)
            end = surf + 3.0 * (surf - start) / max(float(np.linalg.norm(surf - start)), 1e-6)
        else:
            end = ut.point(g.s_t, sgn * (r_lat + g.extension_mm), g.offset[1] + float(rng.uniform(-3, 3)))
            wall = abs(float(scene.skeleton.obturator[side].centre[0])) - float(
                scene.skeleton.obturator[side].axes[0]
            )
            limit = wall - SIDEWALL_GAP_MM - 4.0
            if abs(end[0]) > limit:
                end[0] = sgn * limit
        r0 = max(5.0, 0.45 * min(g.axes[0], g.axes[1]))
        shapes.append(Capsule(start, end, r0, 3.5, roughness=0.05, lobulation=0.12))
    if plan.bladder_mucosa:
        lumen = scene.organs.bladder_lumen
        target = _inside_ellipsoid_towards(lumen, centre, depth=6.0)
        shapes.append(Capsule(centre, target, 7.0, 6.0, lobulation=0.1))
    if plan.rectal_mucosa:
        rect = scene.organs.rectum
        ss = np.linspace(0.0, rect.length, 80)
        samples = np.array([rect.point_at(x) for x in ss])
        near = samples[int(np.argmin(((samples - centre) ** 2).sum(axis=1)))]
        target = near + 2.0 * (centre - near) / max(float(np.linalg.norm(centre - near)), 1e-6)
        shapes.append(Capsule(centre, target, 7.0, 6.0, lobulation=0.1))
    return shapes


def _nearest_surface_point(e: Ellipsoid, p: F64) -> F64:
    u = np.random.default_rng(0).normal(size=(600, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    surf = e.centre + (u * e.axes) @ e.rotation.T
    return np.asarray(surf[int(np.argmin(((surf - p) ** 2).sum(axis=1)))], dtype=np.float64)


def _inside_ellipsoid_towards(e: Ellipsoid, p: F64, depth: float) -> F64:
    d = np.asarray(p, dtype=np.float64) - e.centre
    local = e.rotation.T @ d
    r = 1.0 / float(np.sqrt(((local / np.linalg.norm(d) / e.axes) ** 2).sum()))
    return np.asarray(e.centre + d / np.linalg.norm(d) * max(r - depth, 0.0), dtype=np.float64)


def cervical_case(ctx: CaseContext, stage: str) -> KindOutput:
    """Paint a cervical-cancer case with target FIGO 2018 ``stage`` and return its ground truth."""
    rng, canvas = ctx.rng, ctx.canvas
    plan = sample_cervix_plan(stage, rng)
    visible = plan.t_level not in ("IA1", "IA2")
    hydro = (
        ("left", "right")
        if plan.hydronephrosis == "bilateral"
        else (() if plan.hydronephrosis == "none" else (plan.hydronephrosis,))
    )
    geometry: _Geometry | None = None
    shapes: list[Shape] = []
    measured: dict[str, float] = {}
    scene: Scene | None = None
    for _attempt in range(25):
        if not visible:
            scene = build_scene(ctx.params, ctx.lm, rng, hydroureter=hydro)
            break
        geometry = _draw_geometry(plan, rng)
        scene = build_scene(
            ctx.params,
            ctx.lm,
            rng,
            uterus=_uterus_options(geometry, ctx.params.cervix_length),
            hydroureter=hydro,
        )
        shapes = _tumour_parts(plan, geometry, scene, rng)
        measured = measure_mask(canvas, union_mask(canvas, shapes))
        lo, hi = _SIZE_BAND.get(plan.t_level, (8.0, 120.0))
        if lo <= measured["max_diameter_mm"] <= hi:
            break
    else:  # pragma: no cover - the design ranges make this practically unreachable
        raise RuntimeError(f"could not render a cervical tumour within the size band of {plan.t_level}")
    assert scene is not None
    scene.paint(canvas)
    organ_labels = canvas.output_labels().copy()
    nodes_p = suspicious_nodes(scene.skeleton, rng, plan.pelvic_stations, ctx.config.node_short_axis_mm)
    nodes_pa = (
        suspicious_nodes(scene.skeleton, rng, ["paraaortic"], ctx.config.node_short_axis_mm)
        if plan.paraaortic
        else []
    )
    parts = [LesionPart(s, "cervical_carcinoma", "tumour_cervix") for s in shapes]
    parts += node_parts(nodes_p + nodes_pa)
    if plan.distant:
        parts.append(bone_metastasis(canvas, scene.skeleton, rng))
    paint_parts(canvas, parts)
    findings = _findings(plan, geometry, scene, measured)
    result = figo2018_cervix(findings, boundaries=ctx.config.figo2018_boundaries)
    meta: dict[str, Any] = {
        "tumour": {k: round(v, 3) for k, v in measured.items()} if visible else None,
        "stromal_ring_residual_mm": round(geometry.ring_mm, 2) if geometry is not None else None,
        "nodes": measure_nodes(canvas, nodes_p + nodes_pa) + [n.summary() for n in scene.nodes],
        "notes": [
            "hydronephrosis is a findings flag: the kidneys are outside the field of view; the dilated "
            "distal ureter is rendered"
        ]
        if plan.hydronephrosis != "none"
        else [],
    }
    if not visible:
        meta["notes"] = ["stage IA is microscopic: no tumour is rendered (SPEC §1.4); pathology label only"]
    return KindOutput(
        scene=scene,
        findings=findings,
        outputs={"figo2018": result},
        target={"stage": plan.target},
        metadata=meta,
        organ_labels=organ_labels,
    )


def _findings(
    plan: CervixPlan, g: _Geometry | None, scene: Scene, measured: dict[str, float]
) -> CervixFindings:
    if g is None:
        return CervixFindings(
            tumour_visible=False,
            path_stage_IA=plan.t_level,
            path_depth_mm=plan.path_depth_mm,
        )
    d = round(measured["max_diameter_mm"], 1)
    dims = (
        round(min(2.0 * g.axes[2], d), 1),
        round(min(2.0 * g.axes[1], d), 1),
        round(min(2.0 * g.axes[0], d), 1),
    )  # (cc, ap, lr) of the primary tumour, capped at d
    side = None
    if plan.parametrium_sides:
        side = "bilateral" if len(plan.parametrium_sides) == 2 else plan.parametrium_sides[0]
    return CervixFindings(
        tumour_visible=True,
        max_diameter_mm=d,
        dims_mm=dims,
        stromal_ring=plan.ring,
        parametrial_invasion="present" if plan.parametrium_sides else "absent",
        parametrial_side=side,
        vaginal_involvement=plan.vagina,
        pelvic_sidewall=plan.sidewall_side is not None,
        hydronephrosis=plan.hydronephrosis,
        nodes_pelvic_positive=bool(plan.pelvic_stations),
        nodes_pelvic_stations=tuple(dict.fromkeys(plan.pelvic_stations)),
        nodes_paraaortic_positive=plan.paraaortic,
        bladder_mucosa="biopsy_proven" if plan.bladder_mucosa else "absent",
        rectal_mucosa="biopsy_proven" if plan.rectal_mucosa else "absent",
        distant_mets=plan.distant,
        distant_sites=("bone",) if plan.distant else (),
        dist_tumour_to_internal_os_mm=round(max(scene.uterus.cervix_length - (g.s_t + g.axes[2]), 0.0), 1),
    )
