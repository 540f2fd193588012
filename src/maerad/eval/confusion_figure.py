"""A matplotlib figure of a confusion matrix: counts and row-normalised panels, labels in clinical order.

The figure is built with the object-oriented API on an Agg canvas (no ``pyplot``, so no global figure
state and no display needed); save it with ``fig.savefig(path)``. The layout grows with the number of
classes so that a 15 × 15 FIGO stage matrix stays readable: fixed cell size, annotation font scaled to
the cell, rotated column labels, ``n`` per true class on the row labels, zero cells left blank.

Examples::

    >>> from maerad.eval.confusion import confusion_matrix
    >>> from maerad.eval.confusion_figure import confusion_matrix_figure
    >>> cm = confusion_matrix(["IB1", "IB2", "IB2"], ["IB1", "IB1", "IB2"], labels=["IB1", "IB2", "IB3"])
    >>> fig = confusion_matrix_figure(cm, title="FIGO 2018 stage")
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['counts', 'row-normalised (% of true class)']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from maerad.errors import ConfigError
from maerad.eval.confusion import ConfusionMatrix
from maerad.eval.inputs import Label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Panels", "confusion_matrix_figure"]

Panels = Literal["both", "counts", "normalized"]

_CELL_IN = 0.48  # inches per matrix cell
_MARGIN_IN = 2.0  # room for tick labels and axis labels
_COLORBAR_IN = 1.0


def _draw(
    ax: Axes, values: npt.NDArray[np.float64], text: list[list[str]], vmax: float,
    row_names: list[str], col_names: list[str], title: str, fontsize: float,
) -> None:
    k = values.shape[0]
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    for i in range(k):
        for j in range(k):
            if text[i][j]:
                dark = values[i, j] > 0.55 * vmax
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize=fontsize,
                        color="white" if dark else "black")
    ax.set_xticks(range(k), col_names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), row_names)
    ax.set_xticks(np.arange(k + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(k + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)


def confusion_matrix_figure(
    cm: ConfusionMatrix,
    *,
    panels: Panels = "both",
    display_labels: Mapping[Label, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw ``cm`` as heat maps with the count (or row percentage) written in every non-zero cell.

    Args:
        cm: the confusion matrix; its ``labels`` order (e.g. FIGO stage order) is kept on both axes.
        panels: ``"both"`` (counts left, row-normalised right), ``"counts"`` or ``"normalized"``.
        display_labels: optional names to show instead of the labels (e.g. concept id → ``"IB2"``);
            labels missing from the mapping are shown as they are.
        title: optional figure title.

    Returns:
        A :class:`matplotlib.figure.Figure` on an Agg canvas (axes: one image + one colour bar per panel).

    Raises:
        ConfigError: ``panels`` is not one of the three values.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if panels not in ("both", "counts", "normalized"):
        raise ConfigError(f"panels: expected 'both', 'counts' or 'normalized', got {panels!r}")
    names = [display_labels.get(c, str(c)) if display_labels else str(c) for c in cm.labels]
    rows = cm.counts.sum(axis=1)
    row_names = [f"{name} (n={int(n)})" for name, n in zip(names, rows, strict=True)]
    k = len(names)
    fontsize = float(np.clip(13.0 - 0.25 * k, 7.0, 11.0))
    chosen = ["counts", "normalized"] if panels == "both" else [panels]

    side = _CELL_IN * k + _MARGIN_IN
    fig = Figure(figsize=((side + _COLORBAR_IN) * len(chosen), side + (0.4 if title else 0.0)),
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(chosen), squeeze=False)[0]
    for ax, kind in zip(axes, chosen, strict=True):
        if kind == "counts":
            values = cm.counts.astype(np.float64)
            text = [[str(int(v)) if v else "" for v in row] for row in cm.counts]
            _draw(ax, values, text, max(float(values.max()), 1.0), row_names, names, "counts", fontsize)
        else:
            values = cm.normalized()
            text = [[f"{100 * v:.0f}" if c else "" for v, c in zip(vr, cr, strict=True)]
                    for vr, cr in zip(values, cm.counts, strict=True)]
            _draw(ax, values, text, 1.0, row_names, names, "row-normalised (% of true class)", fontsize)
    if title:
        fig.suptitle(title)
    return fig
