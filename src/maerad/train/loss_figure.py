"""The training curve of a pre-training run as a PNG: loss (and learning rate) against step."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from maerad.atomic import atomic_path
from maerad.errors import InputError

__all__ = ["loss_figure", "read_training_log", "save_loss_figure"]


def read_training_log(path: str | os.PathLike[str]) -> list[dict[str, float]]:
    """The records of a ``log.jsonl`` written by ``maerad pretrain`` (``step``, ``loss``, ``lr``, …);
    ``loss`` is the mean of the step losses since the record before (``log_every`` steps), ``val_loss``
    the held-out loss at that step (runs with ``val_data``). A record holds one of them or both.

    Raises:
        InputError: the file is missing or a line is not a JSON object with a numeric ``step`` and a
            numeric ``loss`` or ``val_loss`` (the message names the line).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the training log ({exc.strerror})") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise InputError(f"{path}:{number}: not a JSON record") from None
        if not (isinstance(record, dict) and _is_number(record.get("step"))
                and any(k in record for k in ("loss", "val_loss"))
                and all(_is_number(record[k]) for k in ("loss", "val_loss") if k in record)):
            raise InputError(f"{path}:{number}: a record needs a numeric 'step' and a numeric 'loss' or "
                             "'val_loss'")
        records.append(record)
    return records


def loss_figure(records: Sequence[Mapping[str, float]], *, title: str = "MAE pre-training") -> Figure:
    """Loss against step, the held-out loss beside it (records with ``val_loss``), the learning rate on a
    second axis (when every training record has ``lr``).

    ``records`` are those of :func:`read_training_log`; each ``loss`` is the mean over the steps since the
    record before. Short logs get a marker on every point (a log of one record would otherwise draw
    nothing), and the step axis has whole-number ticks.
    """
    train = [r for r in records if "loss" in r]
    held_out = [r for r in records if "val_loss" in r]
    steps = [r["step"] for r in records]
    marker = "." if len(train) < 30 else None
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], color="tab:blue", marker=marker,
            label="training (mean since the last record)")
    if held_out:
        ax.plot([r["step"] for r in held_out], [r["val_loss"] for r in held_out], color="tab:green",
                marker="o", markersize=4, label="held-out (fixed masks)")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if steps and max(steps) - min(steps) < 2:  # the locator needs two whole steps in view to keep to them
        ax.set_xlim(min(steps) - 1, max(steps) + 1)
    ax.set_ylabel("masked reconstruction loss", color="tab:blue")
    ax.grid(alpha=0.3)
    if train and all("lr" in r for r in train):
        lr_axis = ax.twinx()
        lr_axis.plot([r["step"] for r in train], [r["lr"] for r in train], color="tab:orange", linewidth=1,
                     marker=marker)
        lr_axis.set_ylabel("learning rate", color="tab:orange")
    ax.set_title(title)
    return fig


def save_loss_figure(
    log_path: str | os.PathLike[str], path: str | os.PathLike[str], *, title: str = "MAE pre-training"
) -> Path:
    """Plot the training log ``log_path`` (:func:`loss_figure`) to a PNG, atomically."""
    fig = loss_figure(read_training_log(log_path), title=title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    return path


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
