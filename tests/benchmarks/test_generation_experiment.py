"""The pre-training experiment script: its summary statistics and its majority baseline."""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report" / "generation"))
from helpers_generation import write_tiny_phantom

import bench_generation_experiment as experiment
from maerad.report.generation.cases import labelled_cases, split_study_folders


def _run(arm: str, seed: int, stage: float | None, key: float) -> dict[str, object]:
    return {"arm": arm, "seed": seed, "stage_accuracy": stage, "key_field_accuracy": key, "size_mae_mm": None,
            "train_stage_accuracy": 0.5, "train_key_field_accuracy": 0.9, "pretrain_s": 10.0,
            "finetune_s": 20.0}


def test_summary_is_mean_and_sample_sd_over_seeds() -> None:
    runs = [_run("random", 0, 0.25, 0.8), _run("random", 1, 0.5, 0.9), _run("random", 2, 0.0, 0.7),
            _run("scratch", 0, None, 0.6)]
    summary = experiment.summarise(runs, ["random", "scratch"])
    row = summary["random"]
    assert row["n_seeds"] == 3
    assert row["stage_accuracy"]["mean"] == pytest.approx(0.25)
    assert row["stage_accuracy"]["sd"] == pytest.approx(statistics.stdev([0.25, 0.5, 0.0]))
    assert row["key_field_accuracy"]["mean"] == pytest.approx(0.8)
    assert summary["scratch"]["stage_accuracy"] == {"mean": None, "sd": None}  # no value: not a zero
    assert summary["scratch"]["key_field_accuracy"] == {"mean": 0.6, "sd": 0.0}
    text = experiment.table(summary)
    assert "0.250 ± 0.250" in text and text.splitlines()[2].split()[2] == "-"


def test_paired_differences_compare_arms_with_scratch_within_a_seed() -> None:
    runs = [_run("scratch", 0, 0.25, 0.8), _run("scratch", 1, 0.5, 0.9), _run("scratch", 2, 0.5, 0.9),
            _run("random", 0, 0.5, 0.8), _run("random", 1, 0.25, 0.95),  # seed 2 not run yet
            _run("maep", 2, None, 0.8)]
    paired = experiment.paired_differences(runs, ["scratch", "random", "maep"])
    assert set(paired) == {"random", "maep"}
    random = paired["random"]
    assert random["seeds"] == [0, 1]
    assert random["stage_accuracy"]["mean"] == pytest.approx(0.0)
    assert random["stage_accuracy"]["sd"] == pytest.approx(statistics.stdev([0.25, -0.25]))
    assert (random["stage_accuracy"]["ahead"], random["stage_accuracy"]["behind"]) == (1, 1)
    assert random["key_field_accuracy"]["mean"] == pytest.approx(0.025)
    assert (random["key_field_accuracy"]["ahead"], random["key_field_accuracy"]["level"]) == (1, 1)
    assert paired["maep"]["stage_accuracy"]["mean"] is None  # no stage value: nothing to compare
    assert paired["maep"]["key_field_accuracy"]["mean"] == pytest.approx(-0.1)


def test_field_summary_averages_each_key_field_over_seeds() -> None:
    keys = experiment.key_fields()
    assert "vaginal_involvement" in keys and "stromal_ring" in keys and "figo2018_stage" not in keys
    runs = []
    for seed, value in enumerate((0.5, 1.0)):
        run = _run("random", seed, 0.5, 0.9)
        run["field_accuracy"] = {key: value for key in keys}
        run["field_accuracy"]["stromal_ring"] = None  # a field a run could not score
        runs.append(run)
    fields = experiment.field_summary(runs, ["random", "scratch"])
    assert fields["vaginal_involvement"] == {"random": pytest.approx(0.75), "scratch": None}
    assert fields["stromal_ring"]["random"] is None
    text = experiment.field_table(fields, ["random", "scratch"])
    assert text.splitlines()[0].split() == ["key", "field", "random", "scratch"]
    assert any(line.split() == ["vaginal_involvement", "0.750", "-"] for line in text.splitlines())


def test_field_accuracy_reads_an_evaluation_document() -> None:
    keys = experiment.key_fields()
    metrics = {"fields": {experiment.TEMPLATE: {f"{keys[0]}/accuracy": 0.75, f"{keys[0]}/macro_f1": 0.5}}}
    accuracy = experiment.field_accuracy(metrics)
    assert accuracy[keys[0]] == 0.75 and accuracy[keys[1]] is None and list(accuracy) == keys


def test_summary_only_reads_finished_runs_and_trains_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(experiment, "make_data", lambda work, n_train, n_test: work / "data")
    monkeypatch.setattr(experiment, "majority_baseline",
                        lambda data, labels: {"stage_accuracy": 0.0, "key_field_accuracy": 0.5})

    def no_training(*args: object) -> None:
        raise AssertionError("--summary-only must not train")

    monkeypatch.setattr(experiment, "pretrain_arm", no_training)
    monkeypatch.setattr(experiment, "finetune_arm", no_training)
    for arm, stage in (("scratch", 0.5), ("random", 0.25)):
        run = _run(arm, 0, stage, 0.9)
        run["field_accuracy"] = dict.fromkeys(experiment.key_fields(), 0.75)
        folder = tmp_path / "runs" / f"{arm}-s0"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(run), encoding="utf-8")
    out = tmp_path / "summary.json"
    argv = ["--work", str(tmp_path), "--summary-only", "--arms", "scratch", "random", "--seeds", "0", "1",
            "--out", str(out)]
    assert experiment.main(argv) == 0
    assert "not finished (left out): scratch seed 1, random seed 1" in capsys.readouterr().out
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert [r["arm"] for r in payload["runs"]] == ["scratch", "random"]
    assert payload["summary"]["random"]["n_seeds"] == 1
    assert payload["paired_vs_scratch"]["random"]["stage_accuracy"]["mean"] == pytest.approx(-0.25)
    assert payload["fields"]["vaginal_involvement"] == {"scratch": 0.75, "random": 0.75}


def test_majority_baseline_scores_the_most_frequent_labelled_values(tmp_path: Path) -> None:
    write_tiny_phantom(tmp_path / "train", 6, kind="cervical", seed=1)
    write_tiny_phantom(tmp_path / "test", 5, kind="cervical", seed=2)
    base = experiment.majority_baseline(tmp_path, labels=4)
    train = labelled_cases(split_study_folders(tmp_path, "train"), limit=4)
    test = labelled_cases(split_study_folders(tmp_path, "test"))
    stage = Counter(c.targets.headline for c in train).most_common(1)[0][0]
    assert base["majority_stage"] == stage and base["n_test"] == 5
    assert base["stage_accuracy"] == sum(c.targets.headline == stage for c in test) / 5
    assert 0.0 <= base["key_field_accuracy"] <= 1.0


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path: Path) -> None:
    argv = ["--work", str(tmp_path), "--quick", "--arms", "scratch", "random", "--threads", "1"]
    assert experiment.main(argv) == 0
    result = (tmp_path / "runs" / "random-s0" / "result.json")
    assert result.exists() and (tmp_path / "runs" / "random-s0" / "pretrain_seconds.json").exists()


@pytest.mark.slow
def test_quick_run_with_the_tissue_segmenter(tmp_path: Path) -> None:
    argv = ["--work", str(tmp_path), "--quick", "--arms", "scratch", "random", "--threads", "1",
            "--tissue-segmenter"]
    assert experiment.main(argv) == 0
    first = tmp_path / "runs" / "scratch-s0" / "finetune"
    assert len((first / "segmenter_log.jsonl").read_text(encoding="utf-8").splitlines()) == 2
    assert '"tissue_segmenter": true' in (first / "config.json").read_text(encoding="utf-8")
    # the second arm of the seed reads the first arm's segmenter instead of training its own
    second_config = tmp_path / "runs" / "random-s0" / "finetune" / "config.json"
    second = json.loads(second_config.read_text(encoding="utf-8"))
    assert second["segmenter_from"] == str(first / "checkpoint")
