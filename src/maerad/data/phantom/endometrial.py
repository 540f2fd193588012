"""Endometrial-cancer cases with a target FIGO 2009 stage (SPEC §2.1 findings, §2.6 constraints).

Anatomy is drawn per §2.6: an intracavitary mass (5–40 mm) enlarging the cavity; myometrial
invasion built in the uterus's local coordinates so that the invasion depth divided by the full
myometrial thickness, measured perpendicular to the cavity at the footprint centre, equals the
sampled ratio (IA < 0.5 ≤ IB; §2.1); a tongue through the internal os into the cervical stroma
(stage II) that spares the outer stroma; a serosal breach with an exophytic bulge or an ovarian
deposit (IIIA); a vaginal deposit or parametrial extension (IIIB); enlarged nodes (IIIC); invasion
into the bladder or rectal lumen (IVA); a bone metastasis, an inguinal node or peritoneal deposits
with ascites (IVB). Histotype, grade, LVSI, molecular class and residual disease are sampled
independently of the image (§2.6) and the FIGO 2023 stage and ESGO 2020 risk group are derived by
the rule engines; a recurrence time is simulated (§7.2). Distributions are ``ASSUMPTION``.
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
    peritoneal_disease,
    suspicious_nodes,
)
from maerad.data.phantom.pathology import sample_pathology
from maerad.data.phantom.recurrence import simulate_recurrence
from maerad.data.phantom.scene import Scene, UterusOptions, build_scene
from maerad.data.phantom.shapes import Capsule, Ellipsoid, Points, TubeLocal
from maerad.errors import ConfigError
from maerad.report.rules import (
    EndometriumFindings,
    Esgo2020Input,
    Figo2023Findings,
    esgo2020_risk_group,
    figo2009_endometrium,
    figo2023_endometrium,
)

__all__ = [
    "ENDOMETRIUM_TARGETS",
    "EndometriumPlan",
    "endometrial_case",
    "normalise_endometrium_stage",
    "sample_endometrium_plan",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ENDOMETRIUM_TARGETS: tuple[str, ...] = ("IA", "IB", "II", "IIIA", "IIIB", "IIIC1", "IIIC2", "IVA", "IVB")
_LOCAL = ("IA", "IB", "II", "IIIA", "IIIB")
_PELVIC_STATIONS = ["obturator", "external_iliac", "internal_iliac", "common_iliac"]


def normalise_endometrium_stage(stage: str) -> str:
    """Canonical FIGO 2009 target; raises ConfigError for unknown stages."""
    s = str(stage).strip().upper()
    if s not in ENDOMETRIUM_TARGETS:
        raise ConfigError(
            f"endometrial target stage must be one of {', '.join(ENDOMETRIUM_TARGETS)}, got {stage!r}"
        )
    return s


@dataclass
class EndometriumPlan:
    """Sampled MRI-observable findings of one endometrial case."""

    target: str
    mi_ratio: float = 0.0
    cervical_stroma: bool = False
    serosa: bool = False
    adnexa_side: str | None = None
    vagina: bool = False
    parametrium_side: str | None = None
    pelvic_stations: list[str] = field(default_factory=list)
    paraaortic: bool = False
    bladder: bool = False
    bowel: bool = False
    distant: str | None = None  # "bone" | "inguinal" | "peritoneal"


def _local_features(level: str, plan: EndometriumPlan, rng: np.random.Generator) -> None:
    """SPEC §2.6 rows IA … IIIB: required features plus optional lower-stage ones."""
    side = str(rng.choice(["left", "right"]))
    if level == "IA":
        plan.mi_ratio = 0.0 if rng.uniform() < 0.35 else float(rng.uniform(0.05, 0.45))
    elif level == "IB":
        plan.mi_ratio = float(rng.uniform(0.55, 0.95))
    else:
        plan.mi_ratio = 0.0 if rng.uniform() < 0.15 else float(rng.uniform(0.05, 0.95))
    if level == "II":
        plan.cervical_stroma = True
    if level in ("IIIA", "IIIB"):
        plan.cervical_stroma = bool(rng.uniform() < 0.3)
    if level == "IIIA":
        pick = rng.uniform()
        plan.serosa = pick < 0.7
        if pick >= 0.4:
            plan.adnexa_side = side
    if level == "IIIB":
        pick = rng.uniform()
        plan.vagina = pick < 0.6
        if pick >= 0.4:
            plan.parametrium_side = side
        plan.serosa = bool(rng.uniform() < 0.2)
    if plan.serosa:
        plan.mi_ratio = 1.0  # a serosal breach is full-thickness invasion


def sample_endometrium_plan(target: str, rng: np.random.Generator) -> EndometriumPlan:
    """Draw findings satisfying exactly the ``target`` branch of the SPEC §2.1 procedure (§2.6)."""
    t = normalise_endometrium_stage(target)
    plan = EndometriumPlan(target=t)
    level = t if t in _LOCAL else str(rng.choice(_LOCAL))
    _local_features(level, plan, rng)
    if t == "IIIC1":
        plan.pelvic_stations = list(rng.choice(_PELVIC_STATIONS, size=int(rng.integers(1, 3)), replace=False))
    if t == "IIIC2":
        plan.paraaortic = True
        if rng.uniform() < 0.6:
            plan.pelvic_stations = [str(rng.choice(_PELVIC_STATIONS))]
    if t in ("IVA", "IVB") and rng.uniform() < 0.35:
        plan.pelvic_stations = [str(rng.choice(_PELVIC_STATIONS))]
    if t == "IVA":
        plan.bladder = bool(rng.uniform() < 0.5)
        plan.bowel = not plan.bladder
    if t == "IVB":
        plan.distant = str(rng.choice(["bone", "inguinal", "peritoneal"]))
    return plan


@dataclass
class _Mass:
    s: float
    axes: F64  # semi-axes along (s, u, v)
    side: float  # +1 anterior wall, −1 posterior wall (invasion side)
    footprint: tuple[float, float]
    bulge: float
    csi_depth: float
    csi_fraction: float


def _draw_mass(plan: EndometriumPlan, scene_params: Any, rng: np.random.Generator) -> _Mass:
    corpus = max(scene_params.uterine_length - scene_params.cervix_length, 12.0)
    lc = scene_params.cervix_length
    pos = rng.uniform(0.15, 0.35) if plan.cervical_stroma else rng.uniform(0.35, 0.6)
    size = float(rng.uniform(8.0, min(40.0, max(10.0, 0.75 * corpus))))
    half_w, half_t = scene_params.corpus_width / 2.0, scene_params.corpus_thickness / 2.0
    a_s = size / 2.0
    a_u = min(float(rng.uniform(0.5, 0.9)) * a_s, max(2.5, 0.75 * (half_w - 6.0)))
    a_v = min(float(rng.uniform(0.3, 0.6)) * a_s, max(1.5, half_t - scene_params.jz_thickness - 6.0))
    s_m = lc + pos * corpus
    side = 1.0 if rng.uniform() < 0.5 else -1.0
    return _Mass(
        s=s_m,
        axes=np.array([a_s, a_u, a_v]),
        side=side,
        footprint=(a_s * float(rng.uniform(0.6, 1.0)) + 3.0, a_u * float(rng.uniform(0.6, 1.0)) + 3.0),
        bulge=float(rng.uniform(5.0, 10.0)),
        csi_depth=float(rng.uniform(0.35, 0.7)) * lc,
        csi_fraction=float(rng.uniform(0.35, 0.65)),
    )


def _cavity_options(m: _Mass) -> UterusOptions:
    def need(s: F64) -> tuple[F64, F64]:
        f = np.sqrt(np.clip(1.0 - ((s - m.s) / m.axes[0]) ** 2, 0.0, 1.0))
        return m.axes[1] * f + 0.8 * (f > 0), m.axes[2] * f + 0.8 * (f > 0)

    return UterusOptions(cavity_min=need)


def _local_tumour(plan: EndometriumPlan, m: _Mass, scene: Scene, pts: Points, loc: TubeLocal) -> BoolArray:
    """Tumour voxels defined in the uterus's local coordinates (mass, invasion, cervical tongue)."""
    ut = scene.uterus
    inside = ut.level(loc, pts, "outer") < 0
    cavity = ut.level(loc, pts, "endometrium") < 0
    ds, du, dv = (loc.s - m.s) / m.axes[0], loc.u / m.axes[1], loc.v / m.axes[2]
    mass = (np.sqrt(ds * ds + du * du + dv * dv) - 1.0 + 0.05 * pts.n2) < 0
    tumour = mass & cavity
    if plan.mi_ratio > 0:
        q = ((loc.s - m.s) / m.footprint[0]) ** 2 + (loc.u / m.footprint[1]) ** 2
        taper = np.sqrt(np.clip(1.0 - q, 0.0, 1.0))
        v_side = m.side * loc.v
        v_e = ut.surface_ap(loc, pts, "endometrium")
        v_o = ut.surface_ap(loc, pts, "outer")
        front = v_e + min(plan.mi_ratio, 1.0) * taper * (v_o - v_e)
        invaded = (q < 1.0) & (v_side >= 0) & (v_side <= front) & (loc.s >= ut.cervix_length)
        tumour |= invaded & inside
        if plan.serosa:  # exophytic bulge through the serosa
            tumour |= (
                (q < 1.0) & (v_side >= 0) & (v_side <= v_o + m.bulge * taper) & (loc.s >= ut.cervix_length)
            )
    if plan.cervical_stroma:
        lc = ut.cervix_length
        c_lat = loc.profile(ut.canal[0])
        c_ap = loc.profile(ut.canal[1])
        o_lat = loc.profile(ut.outer[0])
        o_ap = loc.profile(ut.outer[1])
        r_lat = c_lat + m.csi_fraction * (o_lat - c_lat)
        r_ap = c_ap + m.csi_fraction * (o_ap - c_ap)
        tongue = (
            ((loc.u / np.maximum(r_lat, 0.5)) ** 2 + (loc.v / np.maximum(r_ap, 0.5)) ** 2 < 1.0)
            & (loc.s >= lc - m.csi_depth)
            & (loc.s <= lc + 2.0)
        )
        bridge = cavity & (loc.s >= lc - 1.0) & (loc.s <= m.s)
        tumour |= (tongue & inside) | bridge
    return np.asarray(tumour, dtype=bool)


def endometrial_case(ctx: CaseContext, stage: str) -> KindOutput:
    """Paint an endometrial-cancer case with target FIGO 2009 ``stage``; return its ground truth."""
    rng, canvas, cfg = ctx.rng, ctx.canvas, ctx.config
    plan = sample_endometrium_plan(stage, rng)
    mass = _draw_mass(plan, ctx.params, rng)
    scene = build_scene(ctx.params, ctx.lm, rng, uterus=_cavity_options(mass))
    scene.paint(canvas)
    organ_labels = canvas.output_labels().copy()
    tumour = np.zeros(canvas.label.shape, dtype=bool)
    assert scene.uterus_crop is not None
    sl, pts, loc = scene.uterus_crop
    local = _local_tumour(plan, mass, scene, pts, loc)
    canvas.set(sl, local, "endometrial_carcinoma", "tumour_endometrium")
    tumour[sl] |= local
    parts = _extra_parts(plan, mass, scene, rng)
    tumour |= paint_parts(canvas, parts)
    nodes = suspicious_nodes(scene.skeleton, rng, plan.pelvic_stations, cfg.node_short_axis_mm)
    nodes += (
        suspicious_nodes(scene.skeleton, rng, ["paraaortic"], cfg.node_short_axis_mm)
        if plan.paraaortic
        else []
    )
    if plan.distant == "inguinal":
        nodes += suspicious_nodes(scene.skeleton, rng, ["inguinal"], cfg.node_short_axis_mm)
    distant_parts = node_parts(nodes)
    if plan.distant == "bone":
        distant_parts.append(bone_metastasis(canvas, scene.skeleton, rng))
    if plan.distant == "peritoneal":
        distant_parts += peritoneal_disease(scene, rng)
    paint_parts(canvas, distant_parts)
    measured = measure_mask(canvas, tumour)
    findings = EndometriumFindings(
        myometrial_invasion_ratio=round(plan.mi_ratio, 4),
        cervical_stromal_invasion=plan.cervical_stroma,
        serosa=plan.serosa,
        adnexa=plan.adnexa_side is not None,
        vagina=plan.vagina,
        parametrium=plan.parametrium_side is not None,
        nodes_pelvic=bool(plan.pelvic_stations),
        nodes_paraaortic=plan.paraaortic,
        bladder_mucosa=plan.bladder,
        bowel_mucosa=plan.bowel,
        distant_mets=plan.distant == "bone",
        inguinal_nodes=plan.distant == "inguinal",
        intraabdominal_mets=plan.distant == "peritoneal",
    )
    fig09 = figo2009_endometrium(findings)
    path = sample_pathology(rng, fig09.stage)
    f23 = Figo2023Findings(
        myometrial_invasion_ratio=findings.myometrial_invasion_ratio,
        cervical_stromal_invasion=findings.cervical_stromal_invasion,
        subserosa_or_serosa=findings.serosa,
        ovary=findings.adnexa,
        vagina=findings.vagina,
        parametrium=findings.parametrium,
        nodes_pelvic=findings.nodes_pelvic,
        nodes_paraaortic=findings.nodes_paraaortic,
        bladder_mucosa=findings.bladder_mucosa,
        bowel_mucosa=findings.bowel_mucosa,
        abdominal_peritoneal_mets=findings.intraabdominal_mets,
        inguinal_nodes=findings.inguinal_nodes,
        distant_mets=findings.distant_mets,
        histotype=path["histotype"],
        grade=path["grade"],
        lvsi=path["lvsi"],
        nodal_metastasis_size="macro" if (findings.nodes_pelvic or findings.nodes_paraaortic) else None,
        ovarian_ia3_criteria=False if findings.adnexa else None,
        molecular=path["molecular"],
    )
    fig23 = figo2023_endometrium(f23)
    esgo = esgo2020_risk_group(
        Esgo2020Input(
            figo2009_stage=fig09.stage,
            histotype=path["histotype"],
            grade=path["grade"],
            lvsi=path["lvsi"],
            myometrial_invasion=plan.mi_ratio > 0,
            residual_disease=path["residual_disease"],
            molecular=path["molecular"],
        )
    )
    recurrence = None
    if esgo.risk_group is not None:
        recurrence = simulate_recurrence(
            esgo.risk_group,
            rng,
            cfg.recurrence,
            tumour_volume_ml=measured["volume_ml"],
            mi_ratio=plan.mi_ratio,
        )
    meta: dict[str, Any] = {
        "tumour": {k: round(v, 3) for k, v in measured.items()},
        "pathology": path,
        "figo2023_findings": f23.model_dump(mode="json"),
        "recurrence": recurrence,
        "nodes": measure_nodes(canvas, nodes) + [n.summary() for n in scene.nodes],
        "invasion_wall": "anterior" if mass.side > 0 else "posterior",
    }
    return KindOutput(
        scene=scene,
        findings=findings,
        outputs={"figo2009": fig09, "figo2023": fig23, "esgo2020": esgo},
        target={"stage": plan.target},
        metadata=meta,
        organ_labels=organ_labels,
    )


def _extra_parts(plan: EndometriumPlan, m: _Mass, scene: Scene, rng: np.random.Generator) -> list[LesionPart]:
    """Tumour outside the uterus: ovarian deposit, vaginal deposit, parametrium, bladder / rectum."""
    ut, org = scene.uterus, scene.organs
    parts: list[LesionPart] = []
    centre = ut.point(m.s)
    if plan.adnexa_side is not None:
        ov = org.ovaries[plan.adnexa_side]
        r = float(rng.uniform(6.0, 11.0))
        parts.append(
            LesionPart(
                Ellipsoid(np.asarray(ov.centre), np.array([r, r * 0.9, r]), lobulation=0.06),
                "endometrial_carcinoma",
                "tumour_endometrium",
            )
        )
    if plan.vagina:
        vag = org.vagina
        s_v = float(rng.uniform(0.3, 0.75)) * org.vagina_length
        _, _, nv = vag.frame_at(s_v)
        wall = 1.0 if rng.uniform() < 0.5 else -1.0
        r = float(rng.uniform(5.0, 9.0))
        c = vag.point_at(s_v) + wall * 0.8 * vag.radii_at(s_v)[1] * nv
        parts.append(
            LesionPart(
                Ellipsoid(c, np.array([r, r, r * 1.2]), lobulation=0.08),
                "endometrial_carcinoma",
                "tumour_endometrium",
            )
        )
    if plan.parametrium_side is not None:
        sgn = 1.0 if plan.parametrium_side == "right" else -1.0
        s0 = ut.cervix_length + 4.0
        r_lat = ut.tube.radii_at(s0)[0]
        start = ut.point(s0, sgn * 0.5 * r_lat)
        end = ut.point(s0, sgn * (r_lat + float(rng.uniform(8.0, 16.0))))
        parts.append(
            LesionPart(
                Capsule(start, end, 5.0, 3.0, roughness=0.05, lobulation=0.12),
                "endometrial_carcinoma",
                "tumour_endometrium",
            )
        )
    if plan.bladder:
        lumen = org.bladder_lumen
        d = centre - lumen.centre
        dist = float(np.linalg.norm(d))
        local = lumen.rotation.T @ (d / dist)
        r_surf = 1.0 / float(np.sqrt(((local / lumen.axes) ** 2).sum()))
        target = lumen.centre + d / dist * max(r_surf - 6.0, 0.0)
        parts.append(
            LesionPart(
                Capsule(centre, target, 6.5, 6.0, lobulation=0.1),
                "endometrial_carcinoma",
                "tumour_endometrium",
            )
        )
    if plan.bowel:
        rect = org.rectum
        ss = np.linspace(0.0, rect.length, 80)
        pts = np.array([rect.point_at(x) for x in ss])
        near = pts[int(np.argmin(((pts - centre) ** 2).sum(axis=1)))]
        target = near + 2.0 * (centre - near) / max(float(np.linalg.norm(centre - near)), 1e-6)
        parts.append(
            LesionPart(
                Capsule(centre, target, 6.5, 6.0, lobulation=0.1),
                "endometrial_carcinoma",
                "tumour_endometrium",
            )
        )
    return parts
