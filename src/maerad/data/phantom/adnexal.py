"""Adnexal cases with a target O-RADS MRI score (SPEC §3.1 lexicon, §3.2 procedure, §3.3 RMI).

For a target score an *archetype* consistent with the §3.2 procedure is drawn (e.g. score 2:
simple cyst, endometrioma, dermoid, fibroma-type solid lesion, hydrosalpinx with simple fluid,
para-ovarian cyst; score 4: solid tissue with an intermediate-risk curve; score 5: high-risk curve
or peritoneal disease), rendered (locularity, wall, fluid type, solid tissue and its enhancement
relative to the outer myometrium on ``t1c``), and described with the lexicon fields of the rule
engine's ``AdnexalLesion``. Malignancy is drawn from score-conditional rates (``config.
orads_malignancy_rates``: §3.2 PPV by default, or the Chinese-cohort rates), CA-125 from a
log-normal conditional on malignancy, and RMI I from MRI-derived features (an adaptation, §3.3).
Distributions are ``ASSUMPTION``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.adnexal_geometry import cyst_parts, solid_lesion_parts, solid_parts, tube_parts
from maerad.data.phantom.canvas import Canvas
from maerad.data.phantom.context import CaseContext, KindOutput
from maerad.data.phantom.labels import LABELS
from maerad.data.phantom.lesion_tools import (
    LesionPart,
    measure_mask,
    paint_parts,
    peritoneal_disease,
    union_mask,
)
from maerad.data.phantom.scene import Scene, build_scene
from maerad.data.phantom.shapes import Ellipsoid
from maerad.report.rules import AdnexalFindings, AdnexalLesion, orads_mri, rmi

__all__ = ["ARCHETYPES", "ORADS_TARGETS", "adnexal_case"]

F64 = npt.NDArray[np.float64]

ORADS_TARGETS: tuple[int, ...] = (1, 2, 3, 4, 5)

# SPEC §3.2 branches per score
ARCHETYPES: dict[int, tuple[str, ...]] = {
    1: ("no_lesion", "follicle", "corpus_luteum", "haemorrhagic_cyst"),
    2: (
        "simple_cyst",
        "endometrioma",
        "unilocular_nonsimple",
        "dermoid",
        "fibroma",
        "hydrosalpinx_simple",
        "paraovarian_cyst",
    ),
    3: ("multilocular_cyst", "unilocular_enhancing_proteinaceous", "solid_low_tic", "hydrosalpinx_complex"),
    4: ("solid_intermediate_tic", "solid_non_dce_low", "dermoid_with_solid"),
    5: ("solid_high_tic", "solid_non_dce_high", "peritoneal_disease"),
}
_LESION_NAMES = ("adnexal_lesion_fluid", "adnexal_lesion_solid", "adnexal_lesion_wall")
_TIC_TISSUE = {"low": "solid_low", "intermediate": "solid_intermediate", "high": "solid_high"}


def _lesion_fields(archetype: str, rng: np.random.Generator) -> dict[str, Any]:
    """Lexicon fields (AdnexalLesion names) of an archetype, without the size."""
    f: dict[str, Any] = {}
    if archetype in ("follicle", "corpus_luteum", "haemorrhagic_cyst"):
        f["physiologic_appearance"] = archetype
        f["fluid"] = "haemorrhagic" if archetype != "follicle" else "simple"
        f["wall_enhancement"] = archetype == "corpus_luteum"
        f["wall"] = "thick_smooth" if archetype == "corpus_luteum" else "thin_smooth"
    elif archetype == "simple_cyst":
        f.update(fluid="simple", wall_enhancement=bool(rng.uniform() < 0.5))
    elif archetype == "endometrioma":
        f.update(fluid="endometriotic", wall_enhancement=bool(rng.uniform() < 0.5))
    elif archetype == "unilocular_nonsimple":
        f.update(fluid=str(rng.choice(["haemorrhagic", "proteinaceous", "mucinous"])), wall_enhancement=False)
    elif archetype in ("dermoid", "dermoid_with_solid"):
        f.update(
            has_lipid=True,
            large_volume_enhancing_solid_tissue=archetype == "dermoid_with_solid",
            solid_tissue=archetype == "dermoid_with_solid",
        )
        if archetype == "dermoid_with_solid":
            f["tic"] = "intermediate"
    elif archetype == "fibroma":
        f.update(solid_tissue=True, all_solid_dark_T2_and_dark_DWI=True)
    elif archetype in ("hydrosalpinx_simple", "hydrosalpinx_complex"):
        f["is_dilated_tube"] = True
        if archetype == "hydrosalpinx_simple":
            f.update(fluid="simple", wall="thin_smooth")
        elif rng.uniform() < 0.5:
            f.update(fluid=str(rng.choice(["haemorrhagic", "proteinaceous"])), wall="thin_smooth")
        else:
            f.update(fluid="simple", wall="thick_smooth")
    elif archetype == "paraovarian_cyst":
        f.update(is_paraovarian_cyst=True, fluid="simple")
    elif archetype == "multilocular_cyst":
        f.update(
            locularity="multilocular",
            fluid=str(rng.choice(["simple", "proteinaceous", "mucinous"])),
            wall_enhancement=bool(rng.uniform() < 0.6),
        )
    elif archetype == "unilocular_enhancing_proteinaceous":
        f.update(fluid=str(rng.choice(["proteinaceous", "haemorrhagic", "mucinous"])), wall_enhancement=True)
    elif archetype.startswith("solid_") or archetype == "peritoneal_disease":
        f.update(
            solid_tissue=True,
            locularity=str(rng.choice(["unilocular", "multilocular"])),
            fluid=str(rng.choice(["simple", "proteinaceous"])),
            wall_enhancement=True,
        )
        if archetype == "solid_non_dce_low":
            f["enh_30_40s_le_outer_myometrium"] = True
        elif archetype == "solid_non_dce_high":
            f["enh_30_40s_le_outer_myometrium"] = False
        else:
            f["tic"] = {"solid_low_tic": "low", "solid_intermediate_tic": "intermediate"}.get(
                archetype, "high"
            )
    return f


def _size(archetype: str, rng: np.random.Generator) -> float:
    """Design greatest diameter (mm)."""
    if archetype in ("follicle", "corpus_luteum", "haemorrhagic_cyst"):
        return float(rng.uniform(14.0, 25.0))
    if archetype.startswith("hydrosalpinx"):
        return 0.0
    if archetype in ("paraovarian_cyst",):
        return float(rng.uniform(20.0, 45.0))
    return float(rng.uniform(32.0, 72.0))


# a growing adnexal mass displaces soft tissue but does not replace bone, muscle, bladder or uterus
_KEEP_OUT = (
    "bone_pelvic_ring",
    "bone_sacrum_coccyx",
    "obturator_internus",
    "levator_ani",
    "piriformis",
    "iliopsoas",
    "muscle_other",
    "bladder_wall",
    "bladder_lumen",
    "endometrium",
    "junctional_zone",
    "outer_myometrium",
    "cervical_stroma",
    "cervical_canal",
    "rectum_wall",
    "rectum_lumen",
)


# organs a mass must not engulf (it may touch them): used to choose its position
_CRITICAL = (
    "bladder_wall",
    "bladder_lumen",
    "outer_myometrium",
    "cervical_stroma",
    "rectum_wall",
    "rectum_lumen",
)


def _solid_tissue(fields: dict[str, Any]) -> str:
    """Tissue of the solid component: enhancement by TIC, or ≤ / > outer myometrium without DCE."""
    tic = fields.get("tic")
    if tic is not None:
        return _TIC_TISSUE[tic]
    return "solid_intermediate" if fields.get("enh_30_40s_le_outer_myometrium") else "solid_high"


def _placement(scene: Scene, side: str, diameter: float) -> F64:
    """Lesion centre: at the ovary, rising out of the true pelvis towards the midline as it grows."""
    ov = np.asarray(scene.organs.ovaries[side].centre, dtype=np.float64)
    r = diameter / 2.0
    sx = 1.0 if side == "right" else -1.0
    lift = max(0.0, r - 12.0)
    x = float(np.clip(abs(ov[0]) - 0.6 * lift, max(0.25 * r, 8.0), max(50.0 - r, 8.0)))
    return np.array([sx * x, ov[1] + 0.25 * lift, ov[2] + 1.1 * lift])


def _parts(
    archetype: str,
    fields: dict[str, Any],
    scene: Scene,
    side: str,
    diameter: float,
    rng: np.random.Generator,
    shift: F64,
) -> list[LesionPart]:
    if archetype == "no_lesion":
        return []
    centre = _placement(scene, side, diameter) + shift
    r = diameter / 2.0
    fluid = fields.get("fluid", "simple")
    if archetype.startswith("hydrosalpinx"):
        ov = np.asarray(scene.organs.ovaries[side].centre, dtype=np.float64)
        sx = 1.0 if side == "right" else -1.0
        return tube_parts(
            ov + np.array([sx * 4.0, 10.0, 6.0]) + shift,
            np.array([-sx * 0.6, 0.3, 0.75]),
            rng,
            fluid=fluid,
            wall_mm=3.0 if fields.get("wall") == "thick_smooth" else 1.2,
            radius=float(rng.uniform(6.0, 10.0)),
        )
    if archetype == "fibroma":
        return solid_lesion_parts(centre, r, "solid_dark", rng)
    if fields.get("_solid_lesion"):  # ≥ 80 % solid tissue (SPEC §3.1 "solid lesion")
        return solid_lesion_parts(centre, r, _solid_tissue(fields), rng)
    if archetype == "paraovarian_cyst":
        ovary = scene.organs.ovaries[side]
        sx = 1.0 if side == "right" else -1.0
        reach = float(np.max(ovary.axes)) + r + 2.0  # beside the ovary, antero-superiorly
        centre = np.asarray(ovary.centre) + reach * np.array([-0.2 * sx, 0.7, 0.68]) + shift
    locules = int(rng.integers(4, 8)) if fields.get("locularity") == "multilocular" else 1
    wall = 3.0 if fields.get("wall") == "thick_smooth" else float(rng.uniform(1.2, 2.0))
    parts, lumen = cyst_parts(
        centre,
        r,
        rng,
        fluid="lipid" if fields.get("has_lipid") else fluid,
        wall_mm=wall,
        wall_enhancing=bool(fields.get("wall_enhancement")),
        locules=locules,
        crenulated=archetype == "corpus_luteum",
    )
    if fields.get("has_lipid"):  # Rokitansky nodule: not solid tissue (SPEC §3.1), labelled as wall
        for part in solid_parts(lumen, "mural", "solid_low", rng):
            parts.append(LesionPart(part.shape, "solid_low", "adnexal_lesion_wall", part.only_in))
    if fields.get("solid_tissue") and archetype != "fibroma":
        tissue = _solid_tissue(fields)
        shape_kind = (
            "portion"
            if archetype == "dermoid_with_solid"
            else str(rng.choice(["papillary", "mural", "portion"]))
        )
        parts += solid_parts(lumen, shape_kind, tissue, rng)
    return parts


# candidate shifts (mm) tried in turn until the lesion is not hidden by organs it must not replace
_SHIFTS = [
    np.array(v, dtype=np.float64)
    for v in (
        (0, 0, 0),
        (0, 0, 10),
        (0, 0, -10),
        (0, 8, 18),
        (0, -8, 18),
        (0, 12, -12),
        (0, 0, 28),
        (0, 0, -22),
        (0, 15, 20),
        (0, 25, 10),
        (0, 20, 35),
        (0, 30, 25),
    )
]


def _placed_parts(
    archetype: str,
    fields: dict[str, Any],
    scene: Scene,
    side: str,
    diameter: float,
    rng: np.random.Generator,
    canvas: Canvas,
) -> list[LesionPart]:
    """Parts at the first candidate position where ≥ 90 % of the lesion's outer shape can be painted
    and it overlaps the bladder, uterus and rectum by ≤ 2 % (else the best-scoring candidate)."""
    keep_out = [LABELS[n] for n in _KEEP_OUT]
    critical = [LABELS[n] for n in _CRITICAL]
    vox = canvas.spacing[0] / canvas.k * canvas.spacing[1] * canvas.spacing[2]
    best: tuple[float, list[LesionPart]] = (-np.inf, [])
    for shift in _SHIFTS:
        parts = _parts(archetype, fields, scene, side, diameter, rng, shift)
        if not parts:
            return parts
        first = parts[0].shape
        outer = union_mask(canvas, [first])
        # expected voxels: analytic for an ellipsoid, so a lesion outside the field of view counts as lost
        total = float(outer.sum())
        if isinstance(first, Ellipsoid):
            total = 4.0 / 3.0 * np.pi * float(np.prod(first.axes)) / vox
        labels = canvas.label[outer]
        kept = float((~np.isin(labels, keep_out)).sum()) / max(total, 1.0)
        clash = float(np.isin(labels, critical).sum()) / max(total, 1.0)
        if kept >= 0.9 and clash <= 0.02:
            return parts
        score = kept - 3.0 * clash
        if score > best[0]:
            best = (score, parts)
    return best[1]


def adnexal_case(ctx: CaseContext, score: int, archetype: str | None = None) -> KindOutput:
    """Paint an adnexal case with target O-RADS MRI ``score`` (1–5) and return its ground truth."""
    rng, canvas, cfg = ctx.rng, ctx.canvas, ctx.config
    archetype = str(rng.choice(ARCHETYPES[score])) if archetype is None else archetype
    fields = _lesion_fields(archetype, rng)
    if archetype.startswith("solid_") and rng.uniform() < 0.3:  # rendered as a solid lesion: one "locule"
        fields.update(_solid_lesion=True, locularity="unilocular")
    side = str(rng.choice(["left", "right"]))
    scene = build_scene(ctx.params, ctx.lm, rng)
    scene.paint(canvas)
    organ_labels = canvas.output_labels().copy()
    diameter = _size(archetype, rng)
    parts = _placed_parts(archetype, fields, scene, side, diameter, rng, canvas)
    peritoneal = archetype == "peritoneal_disease"
    if peritoneal:
        parts += peritoneal_disease(scene, rng)
    parts = [
        LesionPart(p.shape, p.tissue, p.label, p.only_in, p.not_in or _KEEP_OUT)
        if p.label.startswith("adnexal")
        else p
        for p in parts
    ]
    painted = paint_parts(canvas, parts)
    if fields.get("solid_tissue") and not (canvas.output_labels() == LABELS["adnexal_lesion_solid"]).any():
        # the solid component fell between slices: add a larger solid portion so that the image shows it
        lumens = [
            p.shape for p in parts if p.label == "adnexal_lesion_fluid" and isinstance(p.shape, Ellipsoid)
        ]
        if lumens:
            extra = solid_parts(lumens[0], "portion", _solid_tissue(fields), rng)
            extra = [LesionPart(p.shape, p.tissue, p.label, p.only_in, _KEEP_OUT) for p in extra]
            painted |= paint_parts(canvas, extra)
    lesion_mask = np.isin(canvas.label, [LABELS[n] for n in _LESION_NAMES]) & painted
    measured = measure_mask(canvas, lesion_mask)
    lesion = None
    if archetype != "no_lesion":
        lexicon = {k: v for k, v in fields.items() if not k.startswith("_")}
        lesion = AdnexalLesion(max_diameter_mm=round(measured["max_diameter_mm"], 1), **lexicon)
    premenopausal = not ctx.params.postmenopausal
    malignant = bool(rng.uniform() < cfg.orads_malignancy_rates[score])
    ca125 = float(rng.lognormal(np.log(180.0), 0.9) if malignant else rng.lognormal(np.log(18.0), 0.6))
    findings = AdnexalFindings(
        lesion=lesion, premenopausal=premenopausal, peritoneal_disease=peritoneal, ca125_u_ml=round(ca125, 1)
    )
    result = orads_mri(findings)
    n_features = sum(
        (fields.get("locularity") == "multilocular", bool(fields.get("solid_tissue")), peritoneal, peritoneal)
    )  # multilocular, solid areas, metastases, ascites (SPEC §3.3)
    rmi_result = rmi(n_features, not premenopausal, round(ca125, 1), "I", features_from_mri=True)
    meta: dict[str, Any] = {
        "adnexal": {
            "archetype": archetype,
            "solid_lesion": bool(fields.get("_solid_lesion")),
            "side": side,
            "malignant": malignant,
            "lesion": {k: round(v, 3) for k, v in measured.items()} if lesion is not None else None,
            "rmi_features": {
                "multilocular_cyst": fields.get("locularity") == "multilocular",
                "solid_areas": bool(fields.get("solid_tissue")),
                "metastases": peritoneal,
                "ascites": peritoneal,
                "bilateral_lesions": False,
            },
        },
        "nodes": [n.summary() for n in scene.nodes],
    }
    return KindOutput(
        scene=scene,
        findings=findings,
        outputs={"orads": result, "rmi": rmi_result},
        target={"score": int(score)},
        metadata=meta,
        organ_labels=organ_labels,
    )
