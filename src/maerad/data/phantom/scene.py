"""`Scene`: one case's normal anatomy assembled from the sampled parameters, ready to paint.

Order of painting (later wins): body fat → muscles, vessels, bones (:mod:`.skeleton`) → normal
nodes → ureters, bladder, urethra, levator ani, rectum, vagina, ovaries (:mod:`.organs`) →
uterus (:mod:`.uterus`). Lesions are painted afterwards by the kind-specific modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.anatomy import AnatomyParams, PelvicLandmarks
from maerad.data.phantom.canvas import Canvas
from maerad.data.phantom.organs import Node, Organs, build_organs, sample_benign_nodes
from maerad.data.phantom.shapes import Points, TubeLocal
from maerad.data.phantom.skeleton import Skeleton, build_skeleton
from maerad.data.phantom.uterus import RadiusFn, UterusModel, build_uterus

__all__ = ["Scene", "UterusOptions", "build_scene"]

F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class UterusOptions:
    """Lesion-driven changes to the uterus (see :func:`.uterus.build_uterus`)."""

    cervix_length: float | None = None
    cervix_min: RadiusFn | None = None
    cavity_min: RadiusFn | None = None


@dataclass
class Scene:
    """Shapes of one anatomy (anatomy-space landmarks ``lm``) and the benign nodes."""

    params: AnatomyParams
    lm: PelvicLandmarks
    skeleton: Skeleton
    uterus: UterusModel
    organs: Organs
    nodes: list[Node] = field(default_factory=list)
    uterus_crop: tuple[tuple[slice, slice, slice], Points, TubeLocal] | None = None

    def paint(self, canvas: Canvas) -> None:
        """Paint the normal anatomy onto ``canvas`` (keeps the uterus's local coordinates)."""
        canvas.fill_body(*self.skeleton.body, "fat", "fat")
        for part in self.skeleton.parts:
            canvas.paint(part.shape, part.tissue, part.label)
        for node in self.nodes:
            canvas.paint(node.shape(), "lymph_node", "lymph_node")
        for part in self.organs.parts:
            canvas.paint(part.shape, part.tissue, part.label, within=_over(canvas, part.only_in))
        self.uterus_crop = self.uterus.paint(canvas)


def _over(
    canvas: Canvas, names: tuple[str, ...]
) -> Callable[[Points, tuple[slice, slice, slice]], BoolArray] | None:
    """A ``within`` test for :meth:`Canvas.paint`: voxels labelled ``names`` (``None``: anywhere)."""
    if not names:
        return None

    def test(_: Points, sl: tuple[slice, slice, slice]) -> BoolArray:
        return canvas.label_mask(sl, *names)

    return test


def build_scene(
    params: AnatomyParams,
    lm: PelvicLandmarks,
    rng: np.random.Generator,
    *,
    uterus: UterusOptions | None = None,
    hydroureter: tuple[str, ...] = (),
    n_benign_nodes: int | None = None,
    skeleton: Skeleton | None = None,
) -> Scene:
    """Assemble the anatomy around anatomy-space landmarks ``lm``.

    Args:
        params: sampled anatomy.
        lm: SPEC §4.1 landmarks in anatomy space.
        rng: the case's generator (ovary placement, follicles, nodes).
        uterus: lesion-driven uterus changes.
        hydroureter: sides with a dilated ureter (hydronephrosis, SPEC §1.2).
        n_benign_nodes: number of normal nodes (default 2–5).
        skeleton: reuse a fixed frame (the strain frame of a pelvic-floor case).
    """
    opts = uterus or UterusOptions()
    sk = skeleton if skeleton is not None else build_skeleton(lm)
    ut = build_uterus(
        params,
        lm.Cx,
        cervix_length=opts.cervix_length,
        cervix_min=opts.cervix_min,
        cavity_min=opts.cavity_min,
    )
    organs = build_organs(params, lm, ut, sk, rng, hydroureter=hydroureter)
    n = int(rng.integers(2, 6)) if n_benign_nodes is None else n_benign_nodes
    nodes = sample_benign_nodes(sk, rng, n)
    return Scene(params=params, lm=lm, skeleton=sk, uterus=ut, organs=organs, nodes=nodes)
