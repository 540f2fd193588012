"""`maerad demo`: bad options and outputs are refused before any work, Ctrl-C, --help (review D3-D7)."""

from __future__ import annotations

import errno
import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest

import maerad.train.pretrain as pretrain_module
from maerad.cli.main import main

TINY = ["--n-train", "2", "--n-val", "1", "--n-test", "2", "--pretrain-steps", "3", "--labels", "2",
        "--finetune-steps", "2", "--no-progress"]


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing started: not even the banner
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("maerad: error: "), captured.err
    return lines[0]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-5"])
def test_non_finite_or_non_positive_time_cap_is_refused_up_front(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused(["demo", "--out", str(tmp_path / "d"), f"--finetune-seconds={value}"], capsys)
    assert "--finetune-seconds" in line and "finite" in line
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(("option", "value"), [("--finetune-steps", "0"), ("--pretrain-steps", "0"),
                                               ("--labels", "-1"), ("--seed", "-1")])
def test_out_of_range_numbers_are_refused_up_front(
    option: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert option in _refused(["demo", "--out", str(tmp_path / "d"), f"{option}={value}"], capsys)


def test_output_under_or_at_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "demo"):
        assert "is a file" in _refused(["demo", "--out", str(out)], capsys)
    assert afile.read_text() == "x"


def test_read_only_output_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # as on a read-only mount, even for root
    line = _refused(["demo", "--out", str(tmp_path)], capsys)
    assert str(tmp_path) in line and os.strerror(errno.EROFS) in line


def test_unwritable_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    # a folder the user may not write (simulated: root, which runs these tests here, may write anywhere)
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    line = _refused(["demo", "--out", str(tmp_path)], capsys)
    assert str(tmp_path) in line and os.strerror(errno.EACCES) in line


def test_a_foreign_folder_with_an_output_name_is_not_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pretrain").mkdir()
    (tmp_path / "pretrain" / "my_thesis.tex").write_text("keep")
    assert "does not look like" in _refused(["demo", "--out", str(tmp_path)], capsys)
    assert (tmp_path / "pretrain" / "my_thesis.tex").read_text() == "keep"


def test_help_lists_every_stage_output_budget_and_the_replacement(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for needle in ("[1/4] phantom", "[2/4] MAE pre-training", "[3/4] report-generator fine-tuning",
                   "[4/4] evaluation", "metrics.json", "stage_confusion.png", "example_report_en.txt",
                   "summary.json", "preview.png", "An existing OUT is replaced", "--finetune-steps",
                   "--finetune-seconds", "wall-clock", "not comparable", "cannot resume",
                   "the val split is pre-training's held-out set", "fewer if the train split has fewer",
                   "Synthetic data only"):
        assert needle in text, needle


def test_ctrl_c_in_pretraining_says_there_is_no_resume_and_leaves_no_old_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    # results of an earlier run: they must not survive next to the new, interrupted one
    (out / "summary.json").write_text(json.dumps({"n_test": 16}))
    (out / "metrics.json").write_text("{}")
    (out / "stage_confusion.png").write_bytes(b"old")
    (out / "notes.txt").write_text("mine")  # not the demo's: kept
    real_lr = pretrain_module.cosine_lr

    def lr_then_sigint(step: int, **kwargs: Any) -> float:
        if step == 1:  # a real Ctrl-C while step 1 runs
            os.kill(os.getpid(), signal.SIGINT)
        return real_lr(step, **kwargs)

    monkeypatch.setattr(pretrain_module, "cosine_lr", lr_then_sigint)
    assert main(["demo", "--out", str(out), *TINY]) == 130
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert "--resume" not in printed.replace("has no --resume", "")
    assert "maerad demo has no --resume" in captured.out  # pretrain's stop line, with the demo's hint
    assert "run `maerad demo` again to start afresh" in captured.err
    assert captured.err.rstrip().endswith("maerad: interrupted")
    for name in ("summary.json", "metrics.json", "stage_confusion.png"):
        assert not (out / name).exists(), name
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "phantom" / "test" / "index.json").is_file()  # the new run's phantom


def test_pretrain_keeps_its_own_resume_advice() -> None:
    import inspect

    default = inspect.signature(pretrain_module.pretrain).parameters["stop_hint"].default
    assert default == "continue with --resume (resume=True from Python)"
