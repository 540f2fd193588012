"""A PNG a person can look at: original | masked | reconstruction, one row per sequence."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from maerad.atomic import atomic_path

__all__ = ["reconstruction_figure", "save_reconstruction_figure"]


def reconstruction_figure(
    original: torch.Tensor,
    masked: torch.Tensor,
    reconstruction: torch.Tensor,
    sequences: Sequence[str],
    *,
    title: str = "",
    synthetic: bool = False,
) -> Figure:
    """Figure of one sample: rows = sequences; columns = original, masked input, reconstruction.

    Args:
        original, masked, reconstruction: ``(C, H, W)`` or ``(C, D, H, W)``; 3D volumes show their
            middle slice. Hidden voxels of ``masked`` are NaN (drawn grey).
        sequences: channel names for the row labels.
        title: the figure title.
        synthetic: the sample is synthetic (a phantom case): the title says so.
    """

    def plane(t: torch.Tensor) -> np.ndarray:
        a = t.detach().float().cpu().numpy()
        return a[:, a.shape[1] // 2] if a.ndim == 4 else a

    cols = {"original": plane(original), "masked": plane(masked), "reconstruction": plane(reconstruction)}
    n = len(sequences)
    fig = Figure(figsize=(7.5, 2.5 * n + 0.4), layout="constrained")
    axes = fig.subplots(n, 3, squeeze=False)
    for c, name in enumerate(sequences):
        ref = cols["original"][c]
        lo, hi = np.percentile(ref, [1, 99])
        for j, (label, arr) in enumerate(cols.items()):
            ax = axes[c, j]
            ax.set_facecolor("0.5")
            # origin="lower": rows run along +y (anterior) in maerad's RAS+ grids, so anterior is up
            ax.imshow(
                np.ma.masked_invalid(arr[c]),
                cmap="gray",
                vmin=lo,
                vmax=hi,
                interpolation="nearest",
                origin="lower",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_title(label)
            if j == 0:
                ax.set_ylabel(name)
    heading = f"{title} (synthetic data)".strip() if synthetic else title
    if heading:
        fig.suptitle(heading)
    return fig


def save_reconstruction_figure(
    path: str | os.PathLike[str],
    original: torch.Tensor,
    masked: torch.Tensor,
    reconstruction: torch.Tensor,
    sequences: Sequence[str],
    *,
    title: str = "",
    synthetic: bool = False,
) -> Path:
    """Render :func:`reconstruction_figure` to a PNG atomically."""
    fig = reconstruction_figure(original, masked, reconstruction, sequences, title=title, synthetic=synthetic)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    return path
