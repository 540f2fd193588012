"""`maerad demo` outputs at a tiny size (review D1, D2, D3, D15): one run, with a wall-clock cap that
stops fine-tuning early, into a folder holding an earlier run's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maerad.cli.main import build_parser, main


def test_defaults_are_step_budgets() -> None:
    args = build_parser().parse_args(["demo"])
    assert args.finetune_steps == 500 and args.finetune_seconds is None  # no wall-clock budget by default


def test_tiny_demo_over_an_earlier_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    (out / "finetune").mkdir(parents=True)
    (out / "finetune" / "config.json").write_text("{}")
    (out / "finetune" / "old-only.txt").write_text("from an earlier run")
    (out / "stage_confusion.png").write_bytes(b"an earlier run's matrix")
    (out / "example_report_zh.txt").write_text("old")
    argv = ["demo", "--out", str(out), "--n-train", "2", "--n-val", "1", "--n-test", "3",
            "--pretrain-steps", "2", "--labels", "2", "--finetune-steps", "40", "--finetune-seconds", "0.001",
            "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))

    # D3: this run has no cervical case to score, so no confusion matrix; the old one is gone too
    assert summary["evaluation"]["confusion_matrix"] is None
    assert not (out / "stage_confusion.png").exists()
    assert not (out / "finetune" / "old-only.txt").exists()

    # D1: the cap stopped fine-tuning early: loudly, in the console and in summary.json
    ft = summary["finetune"]
    assert ft["stopped_early"] is True and ft["planned_steps"] == 40 and ft["steps"] < 40
    assert ft["time_cap_s"] == 0.001
    assert f"after {ft['steps']} of 40 planned steps" in summary["warning"]
    assert "not comparable" in summary["warning"] and printed.count("WARNING: fine-tuning was stopped") == 2

    # D2: the example says it is synthetic and model-made, names the case, its truth and the output
    example = summary["evaluation"]["example"]
    assert example["case"].startswith("test/case-") and example["true_template"] == example["model_template"]
    assert example["case"] != "test/case-0000"  # cervical: the generator has no cervical template here
    en = (out / "example_report_en.txt").read_text(encoding="utf-8")
    zh = (out / "example_report_zh.txt").read_text(encoding="utf-8")
    head = en.splitlines()[:3]
    assert head[0].startswith(f"maerad demo: SYNTHETIC phantom case {example['case']}")
    assert "not for clinical use" in head[0]
    assert head[1].startswith("Ground truth (phantom metadata): ") and example["true_template"] in head[1]
    assert head[2].startswith(f"Model output: template {example['model_template']} (matches the ground")
    assert all(f"    {line}\n" in printed for line in head)  # the console shows the same header
    assert f"合成体模病例 {example['case']}" in zh and "不可用于临床" in zh and "真实标注" in zh
    assert en.splitlines()[-1].startswith("Impression:") and zh.splitlines()[-1].startswith("印象：")

    # D15: every accuracy with its n (and what it covers); key-field and template accuracy included
    acc = summary["evaluation"]["accuracies"]
    assert set(acc) >= {"stage_accuracy", "template_accuracy", "key_field_accuracy", "orads_score_accuracy"}
    assert acc["stage_accuracy"]["value"] is None and acc["stage_accuracy"]["n"] == 0
    assert acc["template_accuracy"]["n"] == summary["evaluation"]["n_test"]
    assert acc["key_field_accuracy"]["n"] >= acc["key_field_accuracy"]["n_cases"] >= 1
    assert acc["orads_score_accuracy"]["ci_method"] == "wilson"
    assert "val: pre-training's held-out loss only" in printed
