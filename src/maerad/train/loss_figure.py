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
    ``loss`` is the mean of the step losses since the record before (``log_every`` steps).

    Raises:
        InputError: the file is missing or a line is not a JSON object with a numeric ``step`` and
            ``loss`` (the message names the line).
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
        if not (isinstance(record, dict) and all(_is_number(record.get(k)) for k in ("step", "loss"))):
            raise InputError(f"{path}:{number}: a record needs numeric 'step' and 'loss'")
        records.append(record)
    return records


def loss_figure(records: Sequence[Mapping[str, float]], *, title: str = "MAE pre-training") -> Figure:
    """Loss against step, the learning rate on a second axis (when every record has ``lr``).

    ``records`` are those of :func:`read_training_log`; each ``loss`` is the mean over the steps since the
    record before. Short logs get a marker on every point (a log of one record would otherwise draw
    nothing), and the step axis has whole-number ticks.
    """
    steps = [r["step"] for r in records]
    marker = "." if len(records) < 30 else None
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(steps, [r["loss"] for r in records], color="tab:blue", marker=marker)
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if steps and max(steps) - min(steps) < 2:  # the locator needs two whole steps in view to keep to them
        ax.set_xlim(min(steps) - 1, max(steps) + 1)
    ax.set_ylabel("masked reconstruction loss", color="tab:blue")
    ax.grid(alpha=0.3)
    if records and all("lr" in r for r in records):
        lr_axis = ax.twinx()
        lr_axis.plot(steps, [r["lr"] for r in records], color="tab:orange", linewidth=1, marker=marker)
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
