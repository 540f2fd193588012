"""What a pre-training run reports: the log's throughput is that of the steps it sums up (not a running
average since the start), and the progress bar does not redraw every step when stderr is a file."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from helpers_models import TINY

from maerad.data import Study, save_study
from maerad.progress import NON_INTERACTIVE_INTERVAL_S, progress_bar
from maerad.train import pretrain as pretrain_module
from maerad.train.config import load_pretrain_config
from maerad.train.loss_figure import read_training_log
from maerad.train.pretrain import pretrain


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logging")
    rng = np.random.default_rng(0)
    for i in range(2):
        save_study(Study({"t2w": rng.normal(size=(8, 32, 32))}, spacing=(4, 1, 1)), root / f"case-{i}")
    return root


def _config(studies: Path, out: Path, **kw: Any) -> Any:
    base: dict[str, Any] = {"data": str(studies), "out": str(out), "patch_size": [4, 8, 8],
                            "model_kwargs": TINY, "batch_size": 2, "lr": 1e-3, "warmup_steps": 0}
    return load_pretrain_config(None, **{**base, **kw})


def test_the_logged_throughput_is_that_of_the_logged_steps(studies: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pause = 1.5
    real = pretrain_module._micro_batch

    def slow_from_step_3(*args: Any, **kwargs: Any) -> Any:
        if args[6] >= 2:  # micro-batch index: steps 3 and 4
            time.sleep(pause)
        return real(*args, **kwargs)

    monkeypatch.setattr(pretrain_module, "_micro_batch", slow_from_step_3)
    pretrain(_config(studies, tmp_path, max_steps=4, log_every=2), progress=False)
    first, second = read_training_log(tmp_path / "log.jsonl")
    # steps 3 and 4 took more than `pause` each: their rate is below 2 samples per `pause` seconds,
    # which a running average over all four steps exceeds unless steps 1-2 took `pause` too
    assert second["samples_per_second"] < 2 / pause
    assert first["samples_per_second"] > second["samples_per_second"]


def test_the_progress_bar_is_throttled_when_stderr_is_a_file(studies: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    pretrain(_config(studies, tmp_path, max_steps=12, log_every=100), progress=True)
    err = capsys.readouterr().err
    bar_lines = [part for part in err.replace("\r", "\n").splitlines() if part.startswith("pretrain")]
    # drawn at the start and at the close, not once per step (12 redraws before the throttle)
    assert 1 <= len(bar_lines) <= 4, bar_lines
    assert "12/12" in bar_lines[-1] and "loss=" in bar_lines[-1]
    assert progress_bar(3, desc="x", unit="step", enabled=False).disable
    assert NON_INTERACTIVE_INTERVAL_S >= 10


def test_a_configuration_error_with_a_held_out_set_reads_no_study(studies: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from maerad.data import datasets
    from maerad.errors import ConfigError

    val = tmp_path / "val"
    save_study(Study({"t2w": np.ones((8, 32, 32))}, spacing=(4, 1, 1)), val / "case-v")
    loaded: list[Path] = []
    real = datasets.load_study_folder

    def counting(folder: Path) -> Any:
        loaded.append(folder)
        return real(folder)

    monkeypatch.setattr(datasets, "load_study_folder", counting)
    with pytest.raises(ConfigError, match="per-sequence token layout"):  # joint needs that layout
        pretrain(_config(studies, tmp_path / "run", masking="joint", val_data=str(val), max_steps=1),
                 progress=False)
    assert loaded == []


def test_the_bar_is_not_redrawn_by_tqdms_monitor_either() -> None:
    bar = progress_bar(3, desc="x", unit="step")  # pytest's stderr is not a terminal
    assert bar.mininterval == bar.maxinterval == NON_INTERACTIVE_INTERVAL_S
    bar.close()


def test_item_bars_are_throttled_too() -> None:
    from maerad.progress import progress_iter

    bar = progress_iter(range(3), desc="x", unit="item")
    assert list(bar) == [0, 1, 2]
    inner = progress_iter([1], desc="x", unit="item")
    assert inner.mininterval == inner.maxinterval == NON_INTERACTIVE_INTERVAL_S
