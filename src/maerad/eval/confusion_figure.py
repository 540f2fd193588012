"""A matplotlib figure of a confusion matrix: counts and row-normalised panels, labels in clinical order.

The figure is built with the object-oriented API on an Agg canvas (no ``pyplot``, so no global figure
state and no display needed); save it with ``fig.savefig(path)``. The layout grows with the number of
classes so that a 15 × 15 FIGO stage matrix stays readable: fixed cell size, annotation font scaled to
the cell, rotated column labels, ``n`` per true class on the row labels, zero cells left blank.

The colour bars use the cells' own unit: whole numbers on the counts panel, 0–100 % on the
row-normalised panel. A true class without cases (n = 0) is greyed out and marked "no cases" on
both panels, so that it does not read as 0 %.

Examples::

    >>> from maerad.eval.confusion import confusion_matrix
    >>> from maerad.eval.confusion_figure import confusion_matrix_figure
    >>> cm = confusion_matrix(["IB1", "IB2", "IB2"], ["IB1", "IB1", "IB2"], labels=["IB1", "IB2", "IB3"])
    >>> fig = confusion_matrix_figure(cm, title="FIGO 2018 stage")
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['counts', 'row-normalised (% of true class)']
    >>> [ax.get_ylabel() for ax in fig.axes if not ax.get_title()]  # the colour bars
    ['cases', '% of true class']
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


_EMPTY_ROW = "no cases"


def _draw(
    ax: Axes, values: npt.NDArray[np.float64], text: list[list[str]], vmax: float,
    row_names: list[str], col_names: list[str], title: str, fontsize: float, *,
    empty_rows: npt.NDArray[np.bool_], bar_label: str, integer_bar: bool,
) -> None:
    import matplotlib as mpl
    from matplotlib.ticker import MaxNLocator

    k = values.shape[0]
    cmap = mpl.colormaps["Blues"].with_extremes(bad="0.88")  # masked (empty) rows: light grey
    shown = np.ma.masked_array(values, mask=np.repeat(empty_rows[:, None], k, axis=1))
    image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label(bar_label)
    if integer_bar:  # counts are whole numbers: no 0.25 ticks
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    for i in range(k):
        if empty_rows[i]:
            ax.text((k - 1) / 2, i, _EMPTY_ROW, ha="center", va="center", fontsize=fontsize * 0.8,
                    color="0.35", style="italic")
            continue
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
    """Draw ``cm`` as heat maps with the count (or row percentage) written in every non-zero cell;
    rows of classes without true cases are greyed out and marked "no cases".

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
    empty = rows == 0
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
            _draw(ax, values, text, max(float(values.max()), 1.0), row_names, names, "counts", fontsize,
                  empty_rows=empty, bar_label="cases", integer_bar=True)
        else:
            values = 100.0 * cm.normalized()  # percent, as the cells and the colour bar say
            text = [[f"{v:.0f}" if c else "" for v, c in zip(vr, cr, strict=True)]
                    for vr, cr in zip(values, cm.counts, strict=True)]
            _draw(ax, values, text, 100.0, row_names, names, "row-normalised (% of true class)", fontsize,
                  empty_rows=empty, bar_label="% of true class", integer_bar=False)
    if title:
        fig.suptitle(title)
    return fig
