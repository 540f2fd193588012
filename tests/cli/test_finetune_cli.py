"""``maerad finetune`` on the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report" / "generation"))
from helpers_generation import write_tiny_phantom

import maerad.cli.main as cli_main
from maerad.cli.main import main


@pytest.fixture(autouse=True)
def _wired(monkeypatch: pytest.MonkeyPatch) -> None:
    if "finetune" not in cli_main._COMMAND_MODULES:
        monkeypatch.setattr(cli_main, "_COMMAND_MODULES", (*cli_main._COMMAND_MODULES, "finetune"))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_phantom(tmp_path_factory.mktemp("cli-ft") / "phantom", 8, seed=5)


def test_finetune_writes_a_checkpoint(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "ft.json"
    config.write_text(json.dumps({"model_kwargs": {"depth": 1, "embed_dim": 48, "num_heads": 3},
                                  "d_model": 32, "term_dim": 32, "buckets": 512, "align_dim": 16,
                                  "batch_size": 2}), encoding="utf-8")
    out = tmp_path / "ft"
    status = main(["finetune", "--config", str(config), "--data", str(data), "--labels", "3",
                   "--out", str(out), "--max-steps", "2", "--seed", "7", "--freeze-encoder", "--bf16",
                   "--num-threads", "1", "--balance", "0.5", "--set", "lr=0.002", "--tissue-supervision",
                   "--tissue-summary", "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "finetune: 2 steps on 3 labelled studies" in printed and str(out / "checkpoint") in printed
    state = json.loads((out / "checkpoint" / "state.json").read_text(encoding="utf-8"))
    settings = state["extra"]["finetune"]
    assert settings["lr"] == 0.002 and settings["seed"] == 7 and settings["freeze_encoder"] is True
    assert settings["bf16"] is True and settings["labels"] == 3 and settings["balance"] == 0.5
    assert settings["tissue_supervision"] is True and settings["tissue_summary"] is True
    assert state["config"]["tissue_summary"] is True and "tumour_cervix" in state["config"]["tissue_groups"]
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["max_steps"] == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["--labels", "0"], "labels"),
    (["--set", "no_such_key=1"], "no_such_key"),
    (["--balance", "1.5"], "balance"),
    (["--tissue-supervision", "--set", 'tissue_groups={"a": [100], "b": [100]}'], "tissue groups"),
    (["--pretrained", "/no/such/checkpoint"], "checkpoint"),
    (["--tissue-segmenter", "--segmenter-steps", "0"], "segmenter_steps"),
    (["--tissue-segmenter", "--set", "segmenter={\"cell\": [3, 8, 8]}"], "must divide the study grid"),
    # wrong JSON types are refused, not converted (true is no step count, "off" no boolean)
    (["--set", "max_steps=true"], "'max_steps'"),
    (["--set", 'bf16="off"'], "'bf16'"),
    (["--set", "seed=1.0"], "'seed'"),
    (["--set", "lr=Infinity"], "'lr'"),
    (["--set", 'segmenter_bf16="yes"'], "'segmenter_bf16'"),
    # a floor above the peak would make the cosine climb
    (["--set", "lr=0.001", "--set", "min_lr=0.002"], "min_lr 0.002 is above lr 0.001"),
])
def test_user_errors_are_one_line_exit_2(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         argv: list[str], message: str) -> None:
    status = main(["finetune", "--data", str(data), "--out", str(tmp_path / "o"), "--no-progress", *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("maerad: error:") and "\n" not in err and message in err


def test_missing_data_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finetune", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "--data" in capsys.readouterr().err


def test_tissue_segmenter_flags(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seg"
    status = main(["finetune", "--data", str(data), "--labels", "3", "--out", str(out), "--max-steps", "1",
                   "--batch-size", "2", "--num-threads", "1", "--tissue-segmenter", "--segmenter-steps", "2",
                   "--set", "model_kwargs={\"depth\": 1, \"embed_dim\": 48, \"num_heads\": 3}",
                   "--set", "segmenter={\"channels\": [4, 8]}", "--no-progress"])
    assert status == 0, capsys.readouterr().err
    state = json.loads((out / "checkpoint" / "state.json").read_text(encoding="utf-8"))
    assert state["extra"]["finetune"]["tissue_segmenter"] is True
    assert state["config"]["tissue_segmenter"]["channels"] == [4, 8] and state["config"]["tissue_summary"]
    assert len((out / "segmenter_log.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_finetune_config_keeps_its_legitimate_forms() -> None:
    from maerad.train.config import apply_overrides, validate_config
    from maerad.train.finetune import FinetuneConfig

    overrides = ["segmenter_bf16=auto", "lr=1", "time_budget_s=60", "bf16=true", "max_steps=3",
                 'loss_weights={"pointer": 2}']
    config = validate_config(FinetuneConfig, apply_overrides({}, overrides))
    assert config.segmenter_bf16 is None  # "auto", the docs' word for null
    assert config.lr == 1.0 and config.time_budget_s == 60.0 and config.bf16 is True and config.max_steps == 3
    assert config.loss_weights == {"pointer": 2.0}
    assert validate_config(FinetuneConfig, apply_overrides({}, ["lr=0.001", "min_lr=0.001"])).min_lr == 0.001
