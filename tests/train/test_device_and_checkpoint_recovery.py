"""An unusable ``--device`` is a ConfigError (exit 2), and a crash while swapping checkpoints is
recoverable: the old checkpoint left aside is put back on load, and leftovers go on the next save."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist

from maerad.atomic import aside_name, atomic_directory, interrupted_swaps
from maerad.cli.main import main
from maerad.data import Study, save_study
from maerad.errors import CheckpointError, ConfigError
from maerad.train.checkpoint import load_checkpoint, save_checkpoint
from maerad.train.distributed import check_device, init_distributed

# -- device validation -----------------------------------------------------------------------------------


@pytest.fixture
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> list[torch.device]:
    """Pretend one GPU is visible; record the devices ``set_device`` is asked for."""
    chosen: list[torch.device] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    return chosen


@pytest.fixture
def fake_process_group(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the backend ``init_process_group`` is asked for instead of starting one."""
    backends: list[str] = []
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend: backends.append(backend))
    return backends


@pytest.mark.usefixtures("single_process", "no_cuda")
def test_cuda_without_cuda_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"device 'cuda' is not available: torch\.cuda\.is_available\(\) is False"
    ):
        init_distributed("cuda")
    with pytest.raises(ConfigError, match="device 'cuda:1' is not available"):
        init_distributed("cuda:1")


@pytest.mark.usefixtures("single_process")
@pytest.mark.parametrize("device", ["foo", "cuda:x", "", "gpu"])
def test_unknown_device_is_a_config_error(device: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"device '{device}' is not a torch device \(cpu, cuda, cuda:N, mps"
    ):
        init_distributed(device)


@pytest.mark.usefixtures("single_process")
def test_devices_that_cannot_train_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="device 'meta' cannot be trained on"):
        check_device("meta")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"device 'mps' is not available: torch\.backends\.mps"):
        check_device("mps")


@pytest.mark.usefixtures("single_process")
def test_cpu_runs_alone_without_a_process_group(fake_process_group: list[str]) -> None:
    info = init_distributed("cpu")
    assert (info.rank, info.world_size, info.device, info.is_main) == (0, 1, torch.device("cpu"), True)
    assert fake_process_group == []


def test_cpu_under_torchrun_still_uses_gloo(
    monkeypatch: pytest.MonkeyPatch, fake_process_group: list[str]
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info = init_distributed("cpu")
    assert fake_process_group == ["gloo"]
    assert (info.rank, info.world_size, info.local_rank, info.device) == (1, 2, 1, torch.device("cpu"))
    assert not info.is_main


@pytest.mark.usefixtures("single_process")
def test_cuda_index_must_exist(fake_cuda: list[torch.device], fake_process_group: list[str]) -> None:
    info = init_distributed("cuda")
    assert info.device == torch.device("cuda", 0) and fake_cuda == [torch.device("cuda", 0)]
    assert init_distributed("cuda:0").device == torch.device("cuda", 0)
    with pytest.raises(
        ConfigError, match=r"device 'cuda:3' is not available: only 1 CUDA device\(s\) visible"
    ):
        init_distributed("cuda:3")
    assert fake_process_group == []


def test_cuda_under_torchrun_uses_local_rank_and_nccl(
    monkeypatch: pytest.MonkeyPatch, fake_cuda: list[torch.device], fake_process_group: list[str]
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert init_distributed("cuda").device == torch.device("cuda", 0)
    assert fake_process_group == ["nccl"]
    monkeypatch.setenv("LOCAL_RANK", "1")  # a second process on a one-GPU node
    with pytest.raises(ConfigError, match="local rank 1 has no GPU"):
        init_distributed("cuda")
    assert fake_process_group == ["nccl"]  # validated before joining the group


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studies")
    rng = np.random.default_rng(0)
    for i in range(2):
        save_study(Study({"t2w": rng.normal(size=(8, 32, 32))}, spacing=(4, 1, 1)), root / f"case-{i}")
    return root


@pytest.mark.usefixtures("single_process", "no_cuda")
@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("cuda", "device 'cuda' is not available: torch.cuda.is_available() is False"),
        ("foo", "device 'foo' is not a torch device (cpu, cuda, cuda:N, mps…)"),
    ],
)
def test_cli_bad_device_exits_2_with_one_line(
    studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], device: str, message: str
) -> None:
    argv = [
        "pretrain",
        "--data",
        str(studies),
        "--out",
        str(tmp_path / "run"),
        "--max-steps",
        "1",
        "--batch-size",
        "1",
        "--no-progress",
        "--device",
        device,
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"maerad: error: {message}"]
    assert not (tmp_path / "run" / "checkpoint").exists()


# -- atomic folder swaps -----------------------------------------------------------------------------------


def _crash_replace(monkeypatch: pytest.MonkeyPatch, *, from_call: int, until_call: int = 10**9) -> list[str]:
    """Make ``os.replace`` raise OSError on calls ``from_call``..``until_call`` (1-based), like a crash."""
    real: Callable[..., None] = os.replace
    calls: list[str] = []

    def replace(src: Any, dst: Any) -> None:
        calls.append(f"{Path(src).name} -> {Path(dst).name}")
        if from_call <= len(calls) <= until_call:
            raise OSError(f"simulated crash at os.replace call {len(calls)}")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def test_atomic_directory_fsyncs_before_the_swap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("old")
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b").write_text("new")
        (tmp / "a").write_text("new")
    first_replace = events.index("replace")
    assert events[:first_replace].count("fsync") >= 4  # two files, sub/ and the new folder itself
    assert events.count("replace") == 2
    assert (target / "sub" / "b").read_text() == "new"


def test_failed_move_in_puts_the_old_folder_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("old")
    calls = _crash_replace(monkeypatch, from_call=2, until_call=2)
    with pytest.raises(OSError, match="call 2"), atomic_directory(target, overwrite=True) as tmp:
        (tmp / "a").write_text("new")
    assert len(calls) == 3  # aside, (failed) in, back
    assert (target / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_leftovers_of_interrupted_swaps_go_on_the_next_success(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("1")
    for stale in (aside_name(target, 999999), tmp_path / ".out.abcd_123.tmp"):
        stale.mkdir()
        (stale / "a").write_text("stale")
    aside_name(target).mkdir()  # this very pid's name, e.g. after pid reuse: must not block the swap
    others = [tmp_path / ".out.b.abcd_123.tmp", tmp_path / ".out2.old-1", tmp_path / "keep.txt"]
    for other in others[:2]:
        other.mkdir()
    others[2].write_text("x")
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "a").write_text("2")
    assert (target / "a").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", *(p.name for p in others)])
    assert interrupted_swaps(target) == []


# -- checkpoints after a crash between the two renames ----------------------------------------------------


def _model_and_optimizer(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    return model, opt


def _crash_mid_save(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Save a step-2 checkpoint over ``folder`` and die after the old one has been moved aside."""
    model, opt = _model_and_optimizer(2)
    with monkeypatch.context() as m:
        _crash_replace(m, from_call=2)  # the move-in and the attempt to move the old copy back both fail
        with pytest.raises(OSError, match="simulated crash"):
            save_checkpoint(folder, model, step=2, config={"run": 2}, optimizer=opt)


def test_load_recovers_the_checkpoint_left_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "checkpoint"
    model, opt = _model_and_optimizer(1)
    save_checkpoint(folder, model, step=1, config={"run": 1}, optimizer=opt)
    _crash_mid_save(folder, monkeypatch)
    assert not folder.exists()
    assert [p.name for p in tmp_path.iterdir()] == [f".checkpoint.old-{os.getpid()}"]

    ck = load_checkpoint(folder)
    assert ck.step == 1 and ck.config == {"run": 1} and ck.optimizer_state is not None
    for name, value in model.state_dict().items():
        assert torch.equal(ck.model_state[name], value)
    # read in place, never moved: a reader must not race the writer (or other ranks) for the name
    assert [p.name for p in tmp_path.iterdir()] == [f".checkpoint.old-{os.getpid()}"]
    assert load_checkpoint(folder).step == 1


def test_a_reader_during_a_save_does_not_break_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a reader that loads while the writer sits between its two renames (only the aside copy exists)
    folder = tmp_path / "checkpoint"
    model, opt = _model_and_optimizer(1)
    save_checkpoint(folder, model, step=1, config={}, optimizer=opt)
    real_replace = os.replace
    seen: list[int] = []

    def replace_with_a_reader(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        if Path(dst).name.startswith(".checkpoint.old-"):  # old moved aside, new not yet in place
            seen.append(load_checkpoint(folder).step)

    monkeypatch.setattr(os, "replace", replace_with_a_reader)
    model2, opt2 = _model_and_optimizer(2)
    save_checkpoint(folder, model2, step=2, config={}, optimizer=opt2)
    monkeypatch.setattr(os, "replace", real_replace)
    assert seen == [1] and load_checkpoint(folder).step == 2
    assert interrupted_swaps(folder) == []


def test_missing_checkpoint_without_a_complete_aside_copy(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    with pytest.raises(
        CheckpointError, match=r"not a maerad checkpoint \(no state\.json; the folder does not"
    ):
        load_checkpoint(folder)
    (tmp_path / ".checkpoint.old-123").mkdir()  # aside copy that lost its files
    with pytest.raises(CheckpointError, match=r"interrupted save left aside, \.checkpoint\.old-123, hold no"):
        load_checkpoint(folder)


def test_next_save_after_a_crash_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "checkpoint"
    model, opt = _model_and_optimizer(1)
    save_checkpoint(folder, model, step=1, config={}, optimizer=opt)
    _crash_mid_save(folder, monkeypatch)
    (tmp_path / ".checkpoint.zzzzzzzz.tmp").mkdir()  # a save killed while writing
    model3, opt3 = _model_and_optimizer(3)
    save_checkpoint(folder, model3, step=3, config={}, optimizer=opt3)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]
    assert load_checkpoint(folder).step == 3
