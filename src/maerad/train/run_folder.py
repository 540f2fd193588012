"""A pre-training run's output folder: is there an earlier run, what may be replaced, its log.

``<out>/checkpoint`` (and the aside copy an interrupted save can leave), ``<out>/log.jsonl`` and
``<out>/figures`` are maerad's; nothing else in ``<out>`` is touched.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from maerad.atomic import interrupted_swaps, write_text_atomic
from maerad.errors import ConfigError
from maerad.train.checkpoint import CHECKPOINT_FORMAT

__all__ = ["append_log", "check_only_maerad_outputs", "earlier_run", "remove_run_outputs", "trim_log"]


def earlier_run(out: Path) -> str | None:
    """A description of the earlier run in ``out`` (checkpoint, aside copy or log), or ``None``."""
    ckpt = out / "checkpoint"
    state = ckpt / "state.json"
    if state.is_file():
        try:
            step = json.loads(state.read_text(encoding="utf-8")).get("step")
        except (OSError, ValueError, AttributeError):
            step = None
        return f"a checkpoint at step {step}" if isinstance(step, int) else "a checkpoint"
    if ckpt.exists():
        return "a checkpoint folder"
    if interrupted_swaps(ckpt):
        return "the previous checkpoint of an interrupted save"
    if (out / "log.jsonl").is_file():
        return "a training log"
    return None


def check_only_maerad_outputs(out: Path) -> None:
    """``overwrite`` replaces maerad's own outputs only: refuse a ``checkpoint`` folder of something else."""
    ckpt = out / "checkpoint"
    if not ckpt.is_dir() or not any(ckpt.iterdir()):
        return
    try:
        state = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    if not (isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT):
        raise ConfigError(f"{ckpt} is not a maerad checkpoint; --overwrite replaces only maerad's own "
                          "outputs, so move it away or choose another --out")


def trim_log(path: Path, step: int) -> None:
    """Keep the records of steps up to ``step`` (the resumed checkpoint): steps logged after it by the
    interrupted run are run again, and a line cut short by a crash would break the log."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
            kept.append(line + "\n")
    write_text_atomic(path, "".join(kept))


def remove_run_outputs(out: Path) -> None:
    """Remove the checkpoint, log and figures of an earlier run in ``out`` (nothing else)."""
    shutil.rmtree(out / "checkpoint", ignore_errors=True)
    for aside in interrupted_swaps(out / "checkpoint"):
        shutil.rmtree(aside, ignore_errors=True)
    (out / "log.jsonl").unlink(missing_ok=True)
    for pattern in ("reconstruction-step*.png", "reconstruction-heldout-step*.png"):
        for figure in (out / "figures").glob(pattern):
            figure.unlink()
    (out / "figures" / "loss.png").unlink(missing_ok=True)


def append_log(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON record (a line) to the training log."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
