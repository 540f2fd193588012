"""Helpers shared by the lesion modules: lesion parts, union masks, measurement, painting, nodes
and bone metastases.

A lesion is a list of :class:`LesionPart` (shape + tissue + label, optionally restricted to some
existing labels). Its mask is computed on the canvas *before* painting so that its rendered size can
be measured and checked against the sampled target (and the geometry redrawn if needed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.canvas import Canvas
from maerad.data.phantom.measure import max_diameter_mm, min_width_mm
from maerad.data.phantom.organs import Node
from maerad.data.phantom.scene import Scene
from maerad.data.phantom.shapes import Ellipsoid, Shape, Tube
from maerad.data.phantom.skeleton import Skeleton

__all__ = [
    "LesionPart",
    "bone_metastasis",
    "canvas_voxel_xyz",
    "measure_mask",
    "paint_parts",
    "peritoneal_disease",
    "suspicious_nodes",
    "union_mask",
]

BoolArray = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]


@dataclass
class LesionPart:
    """One primitive of a lesion; ``only_in`` restricts it to voxels currently holding those labels and
    ``not_in`` keeps it out of voxels holding those labels (e.g. bone)."""

    shape: Shape
    tissue: str
    label: str
    only_in: tuple[str, ...] = ()
    not_in: tuple[str, ...] = ()


def union_mask(canvas: Canvas, shapes: list[Shape]) -> BoolArray:
    """Full supersampled-grid mask of the union of ``shapes`` (no restriction, nothing painted)."""
    mask = np.zeros(canvas.label.shape, dtype=bool)
    for shape in shapes:
        sl = canvas.crop(*shape.bbox())
        if sl is None:
            continue
        mask[sl] |= shape.level(canvas.points(sl)) < 0
    return mask


def paint_parts(canvas: Canvas, parts: list[LesionPart]) -> BoolArray:
    """Paint parts in order; returns the supersampled mask of everything painted."""
    painted = np.zeros(canvas.label.shape, dtype=bool)
    for part in parts:
        sl = canvas.crop(*part.shape.bbox())
        if sl is None:
            continue
        inside = part.shape.level(canvas.points(sl)) < 0
        if part.only_in:
            inside &= canvas.label_mask(sl, *part.only_in)
        if part.not_in:
            inside &= ~canvas.label_mask(sl, *part.not_in)
        canvas.set(sl, inside, part.tissue, part.label)
        painted[sl] |= inside
    return painted


def canvas_voxel_xyz(canvas: Canvas) -> tuple[float, float, float]:
    """Supersampled voxel size along (x, y, z) in mm."""
    return canvas.spacing[2], canvas.spacing[1], canvas.spacing[0] / canvas.k


def measure_mask(canvas: Canvas, mask: BoolArray) -> dict[str, float]:
    """Greatest dimension (mm), smallest width (mm) and volume (mL) of a supersampled mask.

    Widths are extreme projections, attained on the surface, so only boundary voxels are used.
    """
    vox = canvas_voxel_xyz(canvas)
    volume = float(mask.sum()) * vox[0] * vox[1] * vox[2] / 1000.0
    if volume == 0.0:
        return {"max_diameter_mm": 0.0, "min_width_mm": 0.0, "volume_ml": 0.0}
    box = tuple(
        slice(int(np.nonzero(mask.any(axis=other))[0][0]), int(np.nonzero(mask.any(axis=other))[0][-1]) + 1)
        for other in ((1, 2), (0, 2), (0, 1))
    )
    m = np.pad(mask[box], 1)
    inner = (
        m[1:-1, 1:-1, 1:-1]
        & m[:-2, 1:-1, 1:-1]
        & m[2:, 1:-1, 1:-1]
        & m[1:-1, :-2, 1:-1]
        & m[1:-1, 2:, 1:-1]
        & m[1:-1, 1:-1, :-2]
        & m[1:-1, 1:-1, 2:]
    )
    boundary = np.zeros_like(mask)
    boundary[box] = mask[box] & ~inner
    pts = canvas.voxel_centres_mm(boundary)
    return {
        "max_diameter_mm": max_diameter_mm(pts, vox),
        "min_width_mm": min_width_mm(pts, vox),
        "volume_ml": volume,
    }


def suspicious_nodes(
    skeleton: Skeleton,
    rng: np.random.Generator,
    stations: list[str],
    threshold_mm: float,
) -> list[Node]:
    """Round nodes with short axis ≥ threshold + 1 mm (SPEC §1.5: size and round shape), one per station."""
    nodes = []
    for station in stations:
        side = str(rng.choice(["left", "right"]))
        short = float(rng.uniform(threshold_mm + 1.5, threshold_mm + 9.0))
        centre = skeleton.stations[station][side] + rng.uniform(-3, 3, size=3)
        nodes.append(
            Node(
                station,
                side,
                centre,
                short,
                short * float(rng.uniform(1.0, 1.3)),
                True,
                direction=np.array([0.0, 0.5, 0.85]),
            )
        )
    return nodes


def node_parts(nodes: list[Node]) -> list[LesionPart]:
    """Lesion parts of suspicious nodes."""
    return [LesionPart(n.shape(), "node_metastatic", "node_suspicious") for n in nodes]


def measure_nodes(canvas: Canvas, nodes: list[Node]) -> list[dict[str, object]]:
    """Node summaries with their rendered short axis (smallest width) and long axis."""
    out = []
    for node in nodes:
        m = measure_mask(canvas, union_mask(canvas, [node.shape()]))
        summary = node.summary()
        summary["rendered_short_axis_mm"] = round(m["min_width_mm"], 2)
        summary["rendered_long_axis_mm"] = round(m["max_diameter_mm"], 2)
        out.append(summary)
    return out


def bone_metastasis(canvas: Canvas, skeleton: Skeleton, rng: np.random.Generator) -> LesionPart:
    """A marrow-replacing lesion (radius 7–13 mm) in a pelvic bone inside the field of view."""
    lo = np.array([canvas.x_axis[0], canvas.y_axis[0], canvas.z_axis[0]]) + 12.0
    hi = np.array([canvas.x_axis[-1], canvas.y_axis[-1], canvas.z_axis[-1]]) - 12.0
    centre = None
    for _ in range(50):
        bone = skeleton.bones[int(rng.integers(len(skeleton.bones)))]
        if isinstance(bone, Tube):
            s = rng.uniform(0.15, 0.85) * bone.length
            cand = bone.point_at(s)
        elif isinstance(bone, Ellipsoid):
            cand = np.asarray(bone.centre, dtype=np.float64)
        else:
            continue
        if np.all(cand > lo) and np.all(cand < hi):
            centre = cand
            break
    if centre is None:  # fall back to the sacrum, always in view
        sacrum = skeleton.bones[-1]
        assert isinstance(sacrum, Tube)
        centre = sacrum.point_at(0.3 * sacrum.length)
    r = float(rng.uniform(7.0, 13.0))
    shape = Ellipsoid(centre, np.array([r, r * 0.9, r * 1.1]), lobulation=0.05)
    return LesionPart(
        shape, "bone_metastasis", "bone_metastasis", only_in=("bone_pelvic_ring", "bone_sacrum_coccyx")
    )


def peritoneal_disease(scene: Scene, rng: np.random.Generator) -> list[LesionPart]:
    """Ascites in the pouch of Douglas and above the fundus plus peritoneal deposits (fat only)."""
    ut = scene.uterus
    parts: list[LesionPart] = []
    douglas = 0.5 * (ut.point(ut.cervix_length) + scene.lm.A) + np.array([0.0, 0.0, 12.0])
    parts.append(
        LesionPart(
            Ellipsoid(douglas, np.array([28.0, 12.0, 16.0]), roughness=0.2),
            "urine",
            "free_fluid",
            only_in=("fat",),
        )
    )
    parts.append(
        LesionPart(
            Ellipsoid(ut.fundus + np.array([0.0, 0.0, 15.0]), np.array([45.0, 25.0, 14.0]), roughness=0.2),
            "urine",
            "free_fluid",
            only_in=("fat",),
        )
    )
    for _ in range(int(rng.integers(2, 5))):
        c = douglas + rng.uniform(-20, 20, size=3) * np.array([1.0, 0.4, 0.6])
        r = float(rng.uniform(4.0, 8.0))
        parts.append(
            LesionPart(
                Ellipsoid(c, np.array([r, r, r]), lobulation=0.08),
                "solid_high",
                "peritoneal_implant",
                only_in=("fat", "free_fluid"),
            )
        )
    return parts
