"""A PNG a person can look at: original | masked | reconstruction (| the hidden patches in the per-patch
normalised space the loss compares), one row per sequence.

Slices are drawn in the radiological display convention when the study's affine is given: axial and
coronal slices with the patient's right on the viewer's left, axial slices anterior up, coronal and
sagittal slices superior up (sagittal: anterior on the left), with orientation letters on the panels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from maerad.atomic import atomic_path

__all__ = ["RESCALED_NOTE", "PlaneDisplay", "plane_display", "reconstruction_figure",
           "save_reconstruction_figure", "shown_slice"]

RESCALED_NOTE = (
    "* hidden patches: the prediction rescaled with the original patch's own mean and std (norm_pix_loss), "
    "so contrast comes from the original; the normalised columns show what the model predicts"
)
"""The footnote of a figure whose reconstruction is rescaled with the original's patch statistics."""

_OPPOSITE = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}


def shown_slice(depth: int) -> int:
    """The slice a figure shows of a volume of ``depth`` slices: the middle one (edge slices of a real
    field of view are mostly empty)."""
    return depth // 2


@dataclass(frozen=True)
class PlaneDisplay:
    """How to draw an ``(H, W)`` slice (row 0 at the top) so that it reads in the radiological convention.

    Attributes:
        transpose: swap rows and columns first (the in-plane axes run the other way round).
        flip_rows, flip_cols: then reverse the rows / the columns.
        letters: the patient directions at the panel's ``(top, bottom, left, right)`` edges.
    """

    transpose: bool
    flip_rows: bool
    flip_cols: bool
    letters: tuple[str, str, str, str]

    def apply(self, plane: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``plane`` ``(H, W)`` as it is to be drawn (row 0 at the top)."""
        out = plane.T if self.transpose else plane
        if self.flip_rows:
            out = out[::-1]
        if self.flip_cols:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)


def plane_display(affine: npt.ArrayLike) -> PlaneDisplay:
    """The display of an ``(h, w)`` slice of a ``(d, h, w)`` grid with voxel-to-RAS+ ``affine``.

    The slice axis ``d`` decides the plane (``nibabel.aff2axcodes``, the nearest patient axis for
    oblique grids): axial (``d`` along S/I) is drawn anterior up, coronal (A/P) and sagittal (R/L)
    superior up; axial and coronal put the patient's right on the viewer's left, sagittal anterior.
    """
    codes = nib.aff2axcodes(np.asarray(affine, dtype=np.float64))  # type: ignore[no-untyped-call]
    slice_code, row_code, col_code = (str(c) for c in codes)
    if slice_code in "SI":
        up, left = "A", "R"
    elif slice_code in "AP":
        up, left = "S", "R"
    else:
        up, left = "S", "A"
    transpose = col_code in (up, _OPPOSITE[up])  # the vertical direction runs along the columns
    if transpose:
        row_code, col_code = col_code, row_code
    # a code names where the index grows to: rows grow downwards, columns to the right
    return PlaneDisplay(transpose=transpose, flip_rows=row_code == up, flip_cols=col_code == left,
                        letters=(up, _OPPOSITE[up], left, _OPPOSITE[left]))


def reconstruction_figure(
    original: torch.Tensor,
    masked: torch.Tensor,
    reconstruction: torch.Tensor,
    sequences: Sequence[str],
    *,
    title: str = "",
    synthetic: bool = False,
    norm_target: torch.Tensor | None = None,
    norm_prediction: torch.Tensor | None = None,
    affine: npt.ArrayLike | None = None,
    hidden_whole: Sequence[str] = (),
) -> Figure:
    """Figure of one sample: rows = sequences; columns = original, masked input, reconstruction, and with
    ``norm_target`` / ``norm_prediction`` the hidden patches in the per-patch normalised space.

    With norm-pix targets, the reconstruction's hidden patches are the prediction mapped back with the
    **original** patch's mean and std, so they take the original's contrast whatever the model predicts:
    the column is then titled ``reconstruction*`` with a footnote saying so, and the two normalised
    columns (on a scale of their own) show what the model actually predicts against its target.

    Args:
        original, masked, reconstruction: ``(C, H, W)`` or ``(C, D, H, W)``; 3D volumes show their
            middle slice (:func:`shown_slice`). Hidden voxels of ``masked`` are NaN (drawn grey).
        sequences: channel names for the row labels.
        title: the figure title.
        synthetic: the sample is synthetic (a phantom case): the title says so.
        norm_target, norm_prediction: the same shape, the norm-pix target and the model's prediction of
            the hidden patches, NaN elsewhere; both or neither.
        affine: the study's 4x4 voxel ``(d, h, w)`` to RAS+ matrix: slices are drawn in the radiological
            convention (:func:`plane_display`) with orientation letters. Without it they are drawn as
            stored (row 0 at the top) and carry no letters.
        hidden_whole: sequences hidden whole in this sample (per-sequence token layout): the footnote
            says they are synthesised and rescaled with their whole image's mean and std, not per patch.

    Raises:
        ValueError: only one of ``norm_target`` and ``norm_prediction`` is given.
    """
    if (norm_target is None) != (norm_prediction is None):
        raise ValueError("give both norm_target and norm_prediction, or neither")
    display = None if affine is None else plane_display(affine)

    def plane(t: torch.Tensor) -> npt.NDArray[np.float32]:
        a: npt.NDArray[np.float32] = t.detach().float().cpu().numpy()
        a = a[:, shown_slice(a.shape[1])] if a.ndim == 4 else a
        return a if display is None else np.stack([display.apply(p) for p in a])

    # (title, panels, drawn on the normalised scale)
    columns = [("original", plane(original), False), ("masked input", plane(masked), False)]
    rescaled = norm_target is not None and norm_prediction is not None
    columns.append(("reconstruction*" if rescaled else "reconstruction", plane(reconstruction), False))
    if norm_target is not None and norm_prediction is not None:
        columns.append(("target, normalised\n(hidden patches)", plane(norm_target), True))
        columns.append(("prediction, normalised\n(hidden patches)", plane(norm_prediction), True))
    n = len(sequences)
    fig = Figure(figsize=(2.5 * len(columns), 2.5 * n + (1.0 if rescaled else 0.4)), layout="constrained")
    axes = fig.subplots(n, len(columns), squeeze=False)
    for c, name in enumerate(sequences):
        # one grey scale per space: intensities from the original, norm-pix values from the target
        intensity = _limits(columns[0][1][c])
        scales = {False: intensity, True: _limits(columns[3][1][c]) if rescaled else intensity}
        for j, (label, arr, normalised) in enumerate(columns):
            ax = axes[c, j]
            ax.set_facecolor("0.5")
            lo, hi = scales[normalised]
            ax.imshow(np.ma.masked_invalid(arr[c]), cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if display is not None:
                _orientation_letters(ax, display.letters)
            if c == 0:
                ax.set_title(label, fontsize=9)
            if j == 0:
                ax.set_ylabel(name)
    heading = f"{title} (synthetic data)".strip() if synthetic else title
    if heading:
        fig.suptitle(heading)
    if rescaled:
        note = RESCALED_NOTE.replace(", so", ",\nso")
        if hidden_whole:
            note += (f"; {', '.join(hidden_whole)} hidden whole: synthesised, rescaled with its whole "
                     "image's mean and std only")
        fig.supxlabel(note, fontsize=8)
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
    norm_target: torch.Tensor | None = None,
    norm_prediction: torch.Tensor | None = None,
    affine: npt.ArrayLike | None = None,
    hidden_whole: Sequence[str] = (),
) -> Path:
    """Render :func:`reconstruction_figure` to a PNG atomically."""
    fig = reconstruction_figure(original, masked, reconstruction, sequences, title=title, synthetic=synthetic,
                                norm_target=norm_target, norm_prediction=norm_prediction, affine=affine,
                                hidden_whole=hidden_whole)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    return path


def _limits(values: npt.NDArray[np.float32]) -> tuple[float, float]:
    """The grey scale of a panel: the 1st to 99th percentile of its finite values (0, 1 if none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [1, 99])
    return float(lo), float(hi)


def _orientation_letters(ax: Axes, letters: tuple[str, str, str, str]) -> None:
    top, bottom, left, right = letters
    for x, y, letter, ha, va in ((0.5, 0.98, top, "center", "top"), (0.5, 0.02, bottom, "center", "bottom"),
                                 (0.02, 0.5, left, "left", "center"), (0.98, 0.5, right, "right", "center")):
        ax.text(x, y, letter, ha=ha, va=va, transform=ax.transAxes, color="yellow", fontsize=8,
                fontweight="bold")
