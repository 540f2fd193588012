"""Confusion matrix in an explicit clinical order, and its figure (Agg, no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest

from maerad.errors import ConfigError, InputError
from maerad.eval import confusion_matrix, confusion_matrix_figure
from maerad.report.rules import CERVIX_STAGE_ORDER

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # only to check that the figure function leaves pyplot untouched


def test_counts_follow_the_given_label_order() -> None:
    labels = ["IB1", "IB2", "IB3"]
    cm = confusion_matrix(["IB3", "IB1", "IB2", "IB2"], ["IB2", "IB1", "IB2", "IB3"], labels)
    # rows = truth, columns = prediction, in the order of `labels` (not alphabetical, not by frequency)
    assert cm.labels == ("IB1", "IB2", "IB3")
    assert cm.counts.tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 0]]
    assert cm.n == 4
    reordered = confusion_matrix(["IB3", "IB1", "IB2", "IB2"], ["IB2", "IB1", "IB2", "IB3"], labels[::-1])
    assert reordered.counts.tolist() == [[0, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_row_normalisation_and_empty_rows() -> None:
    cm = confusion_matrix(["a", "a", "a", "b"], ["a", "b", "b", "b"], ["a", "b", "c"])
    assert cm.normalized().tolist() == [[1 / 3, 2 / 3, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert cm.to_dict() == {"labels": ["a", "b", "c"], "counts": [[1, 2, 0], [0, 1, 0], [0, 0, 0]]}


def test_trace_over_n_is_the_accuracy() -> None:
    rng = np.random.default_rng(3)
    truth = rng.choice(CERVIX_STAGE_ORDER, 200).tolist()
    pred = [t if rng.random() < 0.7 else rng.choice(CERVIX_STAGE_ORDER) for t in truth]
    cm = confusion_matrix(truth, pred, CERVIX_STAGE_ORDER)
    assert cm.counts.shape == (15, 15)
    hits = [t == p for t, p in zip(truth, pred, strict=True)]
    assert np.trace(cm.counts) / cm.n == pytest.approx(np.mean(hits))
    assert cm.counts.sum(axis=1).tolist() == [truth.count(s) for s in CERVIX_STAGE_ORDER]


@pytest.mark.parametrize(
    ("truth", "pred", "labels", "message"),
    [
        (["a"], ["z"], ["a", "b"], r"pred\[0\]: label 'z' is not one of labels"),
        (["z"], ["a"], ["a", "b"], r"truth\[0\]: label 'z'"),
        (["a"], [None], ["a", "b"], r"pred\[0\]: label None .*missing"),
        (["a"], ["a"], [], "at least one class"),
        (["a"], ["a"], ["a", "a"], "listed once"),
        (["a", "a"], ["a"], ["a"], "one value per case"),
    ],
)
def test_values_outside_the_labels_are_errors(
    truth: list[str], pred: list[str | None], labels: list[str], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        confusion_matrix(truth, pred, labels)


def _stage_matrix() -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(0)
    k = len(CERVIX_STAGE_ORDER)
    t = rng.integers(0, k, 600)
    p = np.clip(t + rng.choice([-1, 0, 0, 0, 1], 600), 0, k - 1)
    return [CERVIX_STAGE_ORDER[i] for i in t], [CERVIX_STAGE_ORDER[i] for i in p]


def _cell(xy: tuple[float, float]) -> tuple[int, int]:
    """(row, column) of an annotation placed at (x = column, y = row)."""
    return round(xy[1]), round(xy[0])


def test_figure_keeps_clinical_order_and_writes_no_pyplot_state(tmp_path: Path) -> None:
    before = plt.get_fignums()
    truth, pred = _stage_matrix()
    cm = confusion_matrix(truth, pred, CERVIX_STAGE_ORDER)
    fig = confusion_matrix_figure(cm, title="FIGO 2018 stage")
    assert plt.get_fignums() == before  # built without pyplot
    assert type(fig.canvas).__name__ == "FigureCanvasAgg"
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["counts", "row-normalised (% of true class)"]
    for ax in panels:
        assert [t.get_text() for t in ax.get_xticklabels()] == list(CERVIX_STAGE_ORDER)
        rows = [t.get_text() for t in ax.get_yticklabels()]
        assert rows == [f"{s} (n={truth.count(s)})" for s in CERVIX_STAGE_ORDER]
        # one annotation per non-zero cell, at a readable size
        assert len(ax.texts) == int(np.count_nonzero(cm.counts))
        assert min(float(t.get_fontsize()) for t in ax.texts) >= 7
    counts_texts = {_cell(t.get_position()): t.get_text() for t in panels[0].texts}
    assert counts_texts[(0, 0)] == str(cm.counts[0, 0])
    assert counts_texts[(14, 14)] == str(cm.counts[14, 14])
    pct = {_cell(t.get_position()): t.get_text() for t in panels[1].texts}
    assert pct[(0, 0)] == f"{100 * cm.counts[0, 0] / cm.counts[0].sum():.0f}"
    # at 15 x 15 each cell gets about half an inch: large enough to read
    width, height = fig.get_size_inches()
    assert height / 15 >= 0.45 and width / 30 >= 0.45
    out = tmp_path / "cm.png"
    fig.savefig(out, dpi=80)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figure_single_panels_and_display_names() -> None:
    cm = confusion_matrix(["MR:S1", "MR:S2"], ["MR:S1", "MR:S1"], ["MR:S1", "MR:S2"])
    fig = confusion_matrix_figure(cm, panels="normalized", display_labels={"MR:S1": "IB1"})
    (ax,) = [a for a in fig.axes if a.get_title()]
    assert ax.get_title().startswith("row-normalised")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["IB1", "MR:S2"]  # unmapped label shown as is
    assert sorted(t.get_text() for t in ax.texts) == ["100", "100"]
    fig = confusion_matrix_figure(cm, panels="counts")
    assert [a.get_title() for a in fig.axes if a.get_title()] == ["counts"]
    with pytest.raises(ConfigError, match="panels"):
        confusion_matrix_figure(cm, panels="all")  # type: ignore[arg-type]
