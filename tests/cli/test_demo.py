"""`maerad demo` end to end at a tiny size (the full-size run is what the README's main command does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maerad.cli.main import main


def test_tiny_demo_writes_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--n-train", "2", "--n-val", "1", "--n-test", "2",
            "--pretrain-steps", "2", "--labels", "2", "--finetune-steps", "3", "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "not clinical validation" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["synthetic_data"] is True and summary["pretrain"]["steps"] == 2
    for split, n in (("train", 2), ("val", 1), ("test", 2)):
        assert len(list((out / "phantom" / split).glob("case-*/case.json"))) == n
    assert (out / "preview.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "pretrain" / "checkpoint" / "model.safetensors").is_file()
    assert all(Path(p).is_file() for p in summary["pretrain"]["figures"])
    # the val split is pre-training's held-out set: its loss at the end, and a figure of a val study
    assert [r["step"] for r in summary["pretrain"]["held_out_losses"]] == [1, 2]
    assert any("heldout" in Path(p).name for p in summary["pretrain"]["figures"])
    assert "held-out loss on the val split" in text
    assert (out / "finetune").is_dir() and summary["finetune"]["n_labelled"] >= 1
    # a step budget, not a wall-clock one: the run does what was planned on any machine
    assert summary["finetune"]["steps"] == summary["finetune"]["planned_steps"] == 3
    assert summary["finetune"]["stopped_early"] is False and "warning" not in summary
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] >= 1 and "stage_accuracy" in metrics
    en = (out / "example_report_en.txt").read_text(encoding="utf-8")
    zh = (out / "example_report_zh.txt").read_text(encoding="utf-8")
    assert en.splitlines()[-1].startswith("Impression:") and zh.splitlines()[-1].startswith("印象：")
    # disjoint seeds: the test split is not a copy of the training split
    train0 = json.loads((out / "phantom" / "train" / "case-0000" / "case.json").read_text())
    test0 = json.loads((out / "phantom" / "test" / "case-0000" / "case.json").read_text())
    assert train0["metadata"] != test0["metadata"]
    # a second demo into the same folder starts its pre-training afresh (it does not resume or refuse)
    again = list(argv)
    again[again.index("--pretrain-steps") + 1] = "1"
    assert main(again) == 0
    assert json.loads((out / "summary.json").read_text())["pretrain"]["steps"] == 1


def test_demo_rejects_empty_splits(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--out", str(tmp_path), "--n-test", "0"]) == 2
    assert "--n-test" in capsys.readouterr().err
