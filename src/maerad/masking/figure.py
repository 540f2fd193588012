"""A gallery of every masking strategy on a 14×14 token grid (the figure in ``docs/masking.md``).

Regenerate the documentation figure with::

    python -m maerad.masking.figure docs/img/masking-strategies.png
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch

from maerad.atomic import atomic_path
from maerad.masking.lesion_weights import BOUNDARY, CORE, lesion_classes
from maerad.masking.registry import create_masking

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["save_strategy_gallery", "strategy_gallery"]

SIDE = 14
_GAP = np.nan  # blank columns between slices / sequences


def _tile(masks: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    """Concatenate 2D panels horizontally with one blank column between them."""
    gap = np.full((masks[0].shape[0], 2), _GAP)
    parts: list[npt.NDArray[np.float64]] = []
    for i, m in enumerate(masks):
        parts += [gap, m] if i else [m]
    return np.concatenate(parts, axis=1)


def _hidden(spec_mask: torch.Tensor, shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
    return spec_mask[0].reshape(shape).double().numpy()


def strategy_gallery(seed: int = 0) -> Figure:
    """A matplotlib figure with one example mask per strategy (dark = hidden, light = visible)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    g = torch.Generator().manual_seed(seed)
    grid2 = (SIDE, SIDE)
    panels: list[tuple[str, npt.NDArray[np.float64], str]] = []
    panels.append(("random (MAE), 75 %", _hidden(create_masking("random")(1, grid2, generator=g).mask, grid2),
                   "mask"))
    beit = create_masking("block", mask_ratio=0.5)(1, grid2, generator=g).mask
    panels.append(("block, BEiT style, 50 %", _hidden(beit, grid2), "mask"))
    simmim = create_masking("block", style="simmim")(1, grid2, generator=g).mask
    panels.append(("block, SimMIM style (2×2 cells), 75 %", _hidden(simmim, grid2), "mask"))
    panels.append(("grid, stride 2, random phase",
                   _hidden(create_masking("grid")(1, grid2, generator=g).mask, grid2), "mask"))

    roi = torch.zeros(1, SIDE, SIDE, dtype=torch.bool)
    roi[0, 9:12, 3:6] = True  # e.g. an ovary
    roi[0, 2, 10] = True  # e.g. a landmark point
    roi_mask = _hidden(create_masking("roi_prior")(1, grid2, roi=roi.flatten(1), generator=g).mask, grid2)
    roi_view = np.where(roi[0].numpy() & (roi_mask == 0), 2.0, roi_mask)
    panels.append(("roi_prior: ROI (green) always visible", roi_view, "roi"))

    prob = torch.zeros(1, SIDE, SIDE)
    prob[0, 4:10, 5:11] = 0.9
    classes = lesion_classes(prob, grid2)[0].view(grid2).numpy().astype(np.float64)
    panels.append(("lesion classes: core / boundary / background", classes, "classes"))
    lesion = create_masking("lesion_aware")
    panels.append(("lesion_aware, one draw",
                   _hidden(lesion(1, grid2, weights=prob.flatten(1), generator=g).mask, grid2), "mask"))
    many = lesion(4000, grid2, weights=prob.flatten(1).expand(4000, -1), generator=g).mask
    frequency = many.double().mean(0).view(grid2).numpy()
    panels.append(("lesion_aware, P(hidden) over 4000 draws", frequency, "prob"))

    tube = create_masking("tube")(1, (3, SIDE, SIDE), generator=g).mask[0].view(3, SIDE, SIDE)
    panels.append(("tube: slices 1-3 of a 3×14×14 grid", _tile([t.double().numpy() for t in tube]), "mask"))
    for name, title in (("joint", "joint: 3 sequences, same positions"),
                        ("independent", "independent: 3 sequences"),
                        ("drop_sequence", "drop_sequence: sequence 3 fully hidden")):
        kw = {"drop": 2} if name == "drop_sequence" else {}
        m = create_masking(name, mask_ratio=0.75 if name != "drop_sequence" else 0.5, **kw)(
            1, (3, SIDE, SIDE), generator=g).mask[0].view(3, SIDE, SIDE)
        panels.append((title, _tile([s.double().numpy() for s in m]), "mask"))

    # visible, hidden; white for the blank columns between slices / sequences
    mask_cmap = ListedColormap(["#e8d9a8", "#3b3b4f"]).with_extremes(bad="#ffffff")
    roi_cmap = ListedColormap(["#e8d9a8", "#3b3b4f", "#3fa34d"])
    class_cmap = ListedColormap(["#c9c9c9", "#f4a259", "#c0392b"])
    fig = plt.figure(figsize=(16, 9.6), layout="constrained")
    layout = fig.add_gridspec(3, 4, height_ratios=[1.0, 1.0, 0.42])
    axes = [fig.add_subplot(layout[row, col]) for row in range(3) for col in range(4)]
    for ax, (title, image, kind) in zip(axes, panels, strict=True):
        if kind == "mask":
            ax.imshow(np.ma.masked_invalid(image), cmap=mask_cmap, vmin=0, vmax=1, interpolation="nearest")
        elif kind == "roi":
            ax.imshow(image, cmap=roi_cmap, vmin=0, vmax=2, interpolation="nearest")
        elif kind == "classes":
            ax.imshow(image, cmap=class_cmap, vmin=0, vmax=CORE, interpolation="nearest")
        else:
            im = ax.imshow(image, cmap="magma", vmin=0, vmax=1, interpolation="nearest")
            fig.colorbar(im, ax=ax, shrink=0.8)
        if kind in ("classes", "prob") or "lesion_aware" in title:
            ax.contour(classes >= BOUNDARY, levels=[0.5], colors="#2e86de", linewidths=1.0)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("maerad masking strategies (dark = hidden, light = visible; blue line = boundary band)",
                 fontsize=12)
    return fig


def save_strategy_gallery(path: str | os.PathLike[str], seed: int = 0) -> None:
    """Write :func:`strategy_gallery` as a PNG, atomically."""
    import matplotlib.pyplot as plt

    fig = strategy_gallery(seed)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


if __name__ == "__main__":  # pragma: no cover
    save_strategy_gallery(sys.argv[1] if len(sys.argv) > 1 else "masking-strategies.png")
