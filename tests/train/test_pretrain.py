"""The pre-training engine end to end on tiny synthetic studies: masking strategies, figures,
bit-exact resume after a crash, gradient accumulation, and two processes under torchrun."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from helpers_models import TINY

from maerad.cli.main import main
from maerad.data import Study, save_study
from maerad.data.datasets import StudyDataset, find_study_folders
from maerad.errors import CheckpointError, ConfigError, InputError
from maerad.models import SequenceTokenMAE
from maerad.report.generation.encoder import ImageEncoder, pretrained_encoder
from maerad.train import pretrain as pretrain_module
from maerad.train.config import load_pretrain_config
from maerad.train.distributed import DistInfo
from maerad.train.pretrain import pretrain
from maerad.train.pretrained import load_pretrained


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studies")
    rng = np.random.default_rng(0)
    for i in range(4):
        labels = np.zeros((8, 32, 32), np.int16)
        labels[2:6, 8 + i : 20 + i, 8:20] = 100  # a "lesion"
        labels[0:2, 0:8, 0:8] = 40  # an "ovary" for roi_prior
        t2w = rng.normal(size=labels.shape) + (labels == 100) * 2.0
        save_study(
            Study({"t2w": t2w, "adc": rng.normal(size=labels.shape)}, spacing=(4, 1, 1), labels=labels),
            root / f"case-{i}",
        )
    return root


def _config(studies: Path, out: Path, **kw: Any) -> Any:
    base: dict[str, Any] = {
        "data": str(studies),
        "out": str(out),
        "patch_size": [4, 8, 8],
        "model_kwargs": TINY,
        "max_steps": 3,
        "batch_size": 2,
        "lr": 1e-3,
        "warmup_steps": 1,
    }
    base.update(kw)
    return load_pretrain_config(None, **base)


@pytest.mark.parametrize(
    ("masking", "extra"),
    [("random", {}), ("lesion_aware", {}), ("tube", {}), ("roi_prior", {"roi_labels": [40]}), ("block", {})],
)
def test_each_masking_strategy_trains_and_writes_outputs(
    studies: Path, tmp_path: Path, masking: str, extra: dict[str, Any]
) -> None:
    result = pretrain(_config(studies, tmp_path, masking=masking, **extra), progress=False)
    assert result.steps == 3 and len(result.losses) == 3 and all(np.isfinite(result.losses))
    assert (tmp_path / "checkpoint" / "model.safetensors").is_file()
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["step"] == 3 and state["config"]["masking"] == masking
    assert state["config"]["sequences"] == ["t2w", "adc"]
    # the studies' orientation and voxel size (spacing (4, 1, 1), axis-aligned RAS+ grid) are recorded
    assert state["extra"]["orientation"] == ["S", "A", "R"] and state["extra"]["spacing"] == [4.0, 1.0, 1.0]
    assert result.figures and result.figures[-1].read_bytes()[:4] == b"\x89PNG"
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 3


@pytest.mark.parametrize(
    ("mode", "patch", "layout", "where", "count", "keep", "tokens"),
    [
        ("3d", [4, 8, 8], "channels", "case-0 has", 8, 3, 32),
        ("2d", [8, 8], "channels", "case-0, slice 2 has", 4, 1, 16),
        ("3d", [4, 8, 8], "per_sequence", "case-0 has", 16, 6, 64),  # the map is repeated per sequence
    ],
)
def test_roi_prior_overflow_is_found_before_the_first_step(
    studies: Path,
    tmp_path: Path,
    mode: str,
    patch: list[int],
    layout: str,
    where: str,
    count: int,
    keep: int,
    tokens: int,
) -> None:
    # the lesion (label 100) covers 2×2×2 tokens of a 4×8×8 patch grid; at mask ratio 0.9 only K
    # tokens may stay visible, so the default overflow="raise" would stop the run at the first batch
    # that holds such an item; the engine finds it up front and writes nothing
    config = _config(studies, tmp_path / "run", masking="roi_prior", roi_labels=[100], mask_ratio=0.9,
                     mode=mode, patch_size=patch, model_kwargs={**TINY, "token_layout": layout})
    message = rf"{where} {count} tokens .* K={keep} of {tokens} .*overflow=sample"
    with pytest.raises(ConfigError, match=message):
        pretrain(config, progress=False)
    assert not (tmp_path / "run").exists()
    sampled = config.model_copy(update={"masking_kwargs": {"overflow": "sample"}, "max_steps": 1})
    assert pretrain(sampled, progress=False).steps == 1
    # at mask ratio 0.75, K = tokens / 4 = count: exactly K ROI tokens fit, and the run trains
    fits = config.model_copy(update={"mask_ratio": 0.75, "max_steps": 1, "out": str(tmp_path / "fits")})
    assert pretrain(fits, progress=False).steps == 1


def test_an_unreadable_study_stops_the_run_before_the_first_step(studies: Path, tmp_path: Path) -> None:
    # the dataset is built from case.json alone; the cut-short voxel file shows when case-3 is loaded,
    # which pretrain does for every study before its first step (not when a batch first draws case-3)
    data = tmp_path / "data"
    shutil.copytree(studies, data)
    victim = data / "case-3" / "t2w.nii.gz"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(InputError, match=r"case-3/t2w\.nii\.gz"):
        pretrain(_config(data, tmp_path / "run", max_steps=1), progress=False)
    assert not (tmp_path / "run").exists()
    # checks that need no voxels come first: a config mistake is reported before any study is loaded
    with pytest.raises(ConfigError, match="unknown masking"):
        pretrain(_config(data, tmp_path / "run", masking="nope"), progress=False)
    with pytest.raises(ConfigError, match="needs roi_labels"):
        pretrain(_config(data, tmp_path / "run", masking="roi_prior"), progress=False)


def test_roi_prior_without_roi_labels_is_refused_up_front(studies: Path, tmp_path: Path) -> None:
    for overflow in ("raise", "sample"):
        config = _config(studies, tmp_path / "run", masking="roi_prior",
                         masking_kwargs={"overflow": overflow})
        with pytest.raises(ConfigError, match="needs roi_labels"):
            pretrain(config, progress=False)
        assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("model", ["maep_tiny", "maep_hiera_tiny"])
def test_pyramid_models_pretrain_and_reload(studies: Path, tmp_path: Path, model: str) -> None:
    config = _config(studies, tmp_path, model=model)
    result = pretrain(config, progress=False)
    assert result.steps == 3 and all(np.isfinite(result.losses))
    rebuilt = pretrain_module.build_model(config, in_chans=2, img_size=(8, 32, 32))
    rebuilt.load_state_dict(load_file(tmp_path / "checkpoint" / "model.safetensors"))
    assert (rebuilt.patch_embed.cell_pos is not None) == (model == "maep_hiera_tiny")


@pytest.mark.parametrize("masking", ["drop_sequence", "joint", "independent", "lesion_aware", "random"])
def test_per_sequence_layout_pretrains(studies: Path, tmp_path: Path, masking: str) -> None:
    kwargs = {**TINY, "token_layout": "per_sequence"}
    result = pretrain(
        _config(studies, tmp_path, masking=masking, model_kwargs=kwargs, max_steps=2), progress=False
    )
    assert result.steps == 2 and all(np.isfinite(result.losses))
    state = load_file(str(tmp_path / "checkpoint" / "model.safetensors"))
    assert state["patch_embed.sequence_embed"].shape == (2, 32)  # t2w, adc
    assert result.figures and result.figures[-1].read_bytes()[:4] == b"\x89PNG"
    rebuilt = load_pretrained(tmp_path)
    assert isinstance(rebuilt, SequenceTokenMAE) and torch.equal(
        rebuilt.patch_embed.sequence_embed, state["patch_embed.sequence_embed"])
    # the report generator's encoder takes the per-sequence checkpoint as pre-trained: the same tokens
    spec, weights = pretrained_encoder(tmp_path, (8, 32, 32))
    encoder = ImageEncoder(spec).eval()
    encoder.load_pretrained(weights)
    x = torch.randn(1, 2, 8, 32, 32)
    with torch.no_grad():
        tokens, _ = encoder(x)
        torch.testing.assert_close(tokens, rebuilt.eval().forward_tokens(x)[:, 1:])
    assert tokens.shape[1] == 2 * 32  # every sequence's tokens: 2 sequences × a 2 × 4 × 4 grid


@pytest.mark.parametrize(
    ("masking", "layout", "message"),
    [
        ("drop_sequence", "channels", "needs the per-sequence token layout"),
        ("joint", "channels", "needs the per-sequence token layout"),
        ("block", "per_sequence", "sequence axis"),
        ("tube", "per_sequence", "sequence axis"),
        ("scores", "channels", "per-token scores"),
        ("tube", "channels-2d", "slice axis"),  # 2D slices have no slice axis to repeat along
    ],
)
def test_masking_that_does_not_fit_the_layout_is_refused(
    studies: Path, tmp_path: Path, masking: str, layout: str, message: str
) -> None:
    layout, _, mode = layout.partition("-")
    extra: dict[str, Any] = {"mode": "2d", "patch_size": [8, 8]} if mode == "2d" else {}
    kwargs = {**TINY, "token_layout": layout}
    cfg = _config(studies, tmp_path, masking=masking, model_kwargs=kwargs, max_steps=1, **extra)
    with pytest.raises(ConfigError, match=message):
        pretrain(cfg, progress=False)
    assert not (tmp_path / "checkpoint").exists()


def test_lesion_aware_masking_from_a_trained_detector_needs_no_labels(
    tmp_path: Path, detector_calls: list[tuple[int, ...]]
) -> None:
    from maerad.masking.lesion_maps import LesionDetector
    from maerad.models.unet import UNet

    unlabelled = tmp_path / "unlabelled"
    rng = np.random.default_rng(1)
    for i in range(2):
        arrays = {name: rng.normal(size=(8, 32, 32)) for name in ("t2w", "adc")}
        save_study(Study(arrays, spacing=(4, 1, 1)), unlabelled / f"case-{i}")
    torch.manual_seed(0)
    detector = LesionDetector(
        UNet(2, 2, 1, channels=(4, 8)), spatial_dims=2, in_chans=2, sequences=("t2w", "adc")
    )
    checkpoint = detector.save(tmp_path / "detector.safetensors")
    cfg = _config(
        unlabelled, tmp_path / "run", masking="lesion_aware", lesion_detector=str(checkpoint), max_steps=2
    )
    result = pretrain(cfg, progress=False)
    assert result.steps == 2 and all(np.isfinite(result.losses))
    # the weights came from the images: one detector pass per study, kept for later micro-batches
    assert detector_calls == [(1, 2, 8, 32, 32)] * 2
    # without the detector the labels are needed, and the message says why
    needed = "has no label map .* reads the lesion / ROI labels of every study, or give a lesion_detector"
    with pytest.raises(InputError, match=needed):
        pretrain(_config(unlabelled, tmp_path / "run2", masking="lesion_aware", max_steps=1), progress=False)
    with pytest.raises(ConfigError, match="lesion_aware"):
        pretrain(
            _config(unlabelled, tmp_path / "run3", lesion_detector=str(checkpoint), max_steps=1),
            progress=False,
        )
    with pytest.raises(ConfigError, match="sequences"):
        pretrain(
            _config(
                unlabelled,
                tmp_path / "run4",
                masking="lesion_aware",
                lesion_detector=str(checkpoint),
                sequences=["adc", "t2w"],
                max_steps=1,
            ),
            progress=False,
        )
    # a detector saved without sequence names: its channel count is still checked, before any output
    one_channel = LesionDetector(UNet(2, 1, 1, channels=(4, 8)), spatial_dims=2, in_chans=1)
    unnamed = one_channel.save(tmp_path / "unnamed" / "detector.safetensors")
    with pytest.raises(ConfigError, match=r"takes 1 channel\(s\), the data gives 2 \(t2w, adc\)"):
        pretrain(_config(unlabelled, tmp_path / "run5", masking="lesion_aware", lesion_detector=str(unnamed),
                         max_steps=1), progress=False)
    assert not (tmp_path / "run5").exists()


def test_2d_slices_with_bf16_autocast(studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # on a CPU that only emulates bfloat16 the run still works, and says it will be slow
    monkeypatch.setattr("maerad.train.precision.bf16_is_native", lambda device: False)
    lines: list[str] = []
    result = pretrain(
        _config(
            studies, tmp_path, mode="2d", patch_size=[8, 8], bf16=True, masking="lesion_aware", max_steps=2
        ),
        progress=False, log=lines.append,
    )
    assert any("no native bfloat16" in line for line in lines)
    assert result.steps == 2 and all(np.isfinite(result.losses))
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["config"]["mode"] == "2d" and state["config"]["bf16"] is True
    weights = load_file(str(tmp_path / "checkpoint" / "model.safetensors"))
    assert weights["patch_embed.proj.weight"].shape == (32, 2, 8, 8)  # a 2D patch projection, fp32 weights
    assert weights["patch_embed.proj.weight"].dtype == torch.float32


def test_default_warm_up_is_five_percent_of_the_run(studies: Path, tmp_path: Path) -> None:
    cfg = _config(studies, tmp_path, max_steps=40, batch_size=1, warmup_steps=None, log_every=1)
    assert cfg.warmup_steps is None
    pretrain(cfg, progress=False)
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(lrs) == 40
    # 2 warm-up steps (5 % of 40): half the peak, the peak, then the cosine from the peak down
    assert lrs[0] == pytest.approx(0.5e-3) and lrs[1] == pytest.approx(1e-3) == lrs[2]
    assert lrs[3] < lrs[2] and lrs[-1] < 1e-5


def test_training_reduces_the_loss(studies: Path, tmp_path: Path) -> None:
    result = pretrain(_config(studies, tmp_path, max_steps=30, lr=3e-3), progress=False)
    assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5])


@pytest.mark.parametrize(
    ("compiled", "drop_path_rate"),
    [(False, 0.0), (False, 0.5), pytest.param(True, 0.0, marks=pytest.mark.slow)],
    ids=["eager", "stochastic-depth", "compiled"],
)
def test_resume_after_a_crash_is_bit_exact(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: bool, drop_path_rate: float
) -> None:
    # stochastic depth draws from torch's global generator: resume must reproduce those draws too
    # (two blocks: the first block's rate is always 0)
    model_kwargs = {**TINY, "depth": 2, "drop_path_rate": drop_path_rate} if drop_path_rate else TINY
    full = pretrain(
        _config(studies, tmp_path / "full", max_steps=4, accum_steps=2, batch_size=1, compile=compiled,
                model_kwargs=model_kwargs),
        progress=False,
    )
    assert full.steps == 4

    real_save = pretrain_module.save_checkpoint

    def save_then_crash(*args: Any, **kwargs: Any) -> Path:
        path = real_save(*args, **kwargs)
        if kwargs["step"] == 2:
            raise KeyboardInterrupt  # the machine goes down right after the step-2 checkpoint
        return path

    monkeypatch.setattr(pretrain_module, "save_checkpoint", save_then_crash)
    cfg = _config(
        studies,
        tmp_path / "resumed",
        max_steps=4,
        accum_steps=2,
        batch_size=1,
        save_every=2,
        compile=compiled,
        model_kwargs=model_kwargs,
    )
    torch.manual_seed(1234)  # whatever the caller did to the global generator in between
    with pytest.raises(KeyboardInterrupt):
        pretrain(cfg, progress=False)
    monkeypatch.setattr(pretrain_module, "save_checkpoint", real_save)
    resumed = pretrain(cfg, resume=True, progress=False)
    assert resumed.steps == 4 and resumed.losses == full.losses[2:]
    a = load_file(str(tmp_path / "full" / "checkpoint" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    oa = load_file(str(tmp_path / "full" / "checkpoint" / "optimizer.safetensors"))
    ob = load_file(str(tmp_path / "resumed" / "checkpoint" / "optimizer.safetensors"))
    assert all(torch.equal(oa[k], ob[k]) for k in oa)


def test_ctrl_c_finishes_the_step_saves_and_resumes_bit_exactly(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = pretrain(_config(studies, tmp_path / "full", max_steps=4, accum_steps=2, batch_size=1),
                    progress=False)
    real_lr = pretrain_module.cosine_lr

    def lr_then_sigint(step: int, **kwargs: Any) -> float:
        if step == 1:  # a real Ctrl-C, delivered while step 1 is under way
            os.kill(os.getpid(), signal.SIGINT)
        return real_lr(step, **kwargs)

    monkeypatch.setattr(pretrain_module, "cosine_lr", lr_then_sigint)
    messages: list[str] = []
    cfg = _config(studies, tmp_path / "stopped", max_steps=4, accum_steps=2, batch_size=1)  # save_every 0
    with pytest.raises(KeyboardInterrupt):
        pretrain(cfg, progress=False, log=messages.append)
    checkpoint = tmp_path / "stopped" / "checkpoint"
    assert messages[0].startswith("model: encoder")  # the run's outline, before the first step
    assert messages[1:] == [f"interrupted: checkpoint of step 2/4 saved in {checkpoint}; "
                            "continue with --resume (resume=True from Python)"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    monkeypatch.setattr(pretrain_module, "cosine_lr", real_lr)
    resumed = pretrain(cfg, resume=True, progress=False)
    assert resumed.losses == full.losses[2:]
    a = load_file(str(tmp_path / "full" / "checkpoint" / "model.safetensors"))
    b = load_file(str(tmp_path / "stopped" / "checkpoint" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("mode", "patch", "grid"), [("3d", [4, 8, 8], (8, 32, 32)), ("2d", [8, 8], (32, 32))]
)
def test_load_pretrained_rebuilds_the_trained_model(
    studies: Path, tmp_path: Path, mode: str, patch: list[int], grid: tuple[int, ...]
) -> None:
    out = tmp_path / "run"
    pretrain(_config(studies, out, max_steps=1, mode=mode, patch_size=patch), progress=False)
    mae = load_pretrained(out)  # the run folder or its checkpoint folder
    saved = load_file(str(out / "checkpoint" / "model.safetensors"))
    assert mae.state_dict().keys() == saved.keys()
    assert all(torch.equal(mae.state_dict()[k], saved[k]) for k in saved)
    assert not mae.training and mae.geometry.img_size == grid and mae.patch_embed.proj.in_channels == 2
    x = torch.randn(1, 2, *grid)
    assert load_pretrained(out / "checkpoint", img_size=grid).forward_features(x).shape == (1, 32)
    with pytest.raises(CheckpointError, match="trained on inputs of size"):
        load_pretrained(out, img_size=tuple(2 * n for n in grid))


def test_resume_trims_the_log_to_the_checkpoint(studies: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    pretrain(_config(studies, out, max_steps=2, log_every=1), progress=False)
    log = out / "log.jsonl"
    # what a run killed after step 3 (its checkpoint still at step 2) and mid-write of step 4 leaves
    with log.open("a") as fh:
        fh.write(json.dumps({"step": 3, "loss": 9.0, "lr": 1e-3}) + "\n" + '{"step": 4, "lo')
    messages: list[str] = []
    resumed = _config(studies, out, max_steps=4, log_every=1)
    pretrain(resumed, resume=True, progress=False, log=messages.append)
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == [1, 2, 3, 4] and not any("warning" in m for m in messages)
    assert (out / "figures" / "loss.png").is_file()
    log.write_text("{not json\n")  # a log edited by hand: the figure is skipped with a warning
    pretrain_module._draw_loss(log, out / "figures" / "loss.png", StudyDataset(studies), messages.append)
    assert messages[-1].startswith("warning: loss figure not drawn:")


def test_overwrite_replaces_only_maerad_outputs(studies: Path, tmp_path: Path) -> None:
    out = tmp_path / "project"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "resnet50.pt").write_bytes(b"weights of something else")
    with pytest.raises(ConfigError, match="already holds a pre-training run \\(a checkpoint folder\\)"):
        pretrain(_config(studies, out, max_steps=1), progress=False)
    with pytest.raises(ConfigError, match="not a maerad checkpoint"):
        pretrain(_config(studies, out, max_steps=1), overwrite=True, progress=False)
    assert (out / "checkpoint" / "resnet50.pt").is_file()
    with pytest.raises(ConfigError, match="exclude each other"):
        pretrain(_config(studies, out, max_steps=1), resume=True, overwrite=True, progress=False)
    # only the aside copy of an interrupted save is left: that is a run too, and --overwrite removes it
    shutil.rmtree(out / "checkpoint")
    (out / ".checkpoint.old-4242").mkdir()
    with pytest.raises(ConfigError, match="interrupted save"):
        pretrain(_config(studies, out, max_steps=1), progress=False)
    pretrain(_config(studies, out, max_steps=1), overwrite=True, progress=False)
    assert not (out / ".checkpoint.old-4242").exists() and (out / "checkpoint" / "state.json").is_file()


def test_load_pretrained_errors(studies: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    pretrain(_config(studies, out, max_steps=1), progress=False)
    state_path = out / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text())
    del state["extra"]["img_size"]  # as written before the grid was recorded
    state_path.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="pass img_size="):
        load_pretrained(out)
    assert load_pretrained(out, img_size=(8, 32, 32)).geometry.img_size == (8, 32, 32)
    with pytest.raises(CheckpointError, match="cannot rebuild"):
        load_pretrained(out, img_size=(32, 32))  # a 2D size for a 3D run
    state["extra"]["kind"] = "lesion-detector"
    state_path.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="expected a `maerad pretrain` one"):
        load_pretrained(out)
    with pytest.raises(CheckpointError):
        load_pretrained(tmp_path / "nothing-here")
    # the weights file instead of its folder: a natural slip, answered with what to give instead
    with pytest.raises(CheckpointError, match="a file; give the checkpoint folder"):
        load_pretrained(out / "checkpoint" / "model.safetensors")
    # and an MAE's weights where a lesion detector is expected
    from maerad.masking.lesion_maps import LesionDetector

    with pytest.raises(CheckpointError, match="not a lesion detector"):
        LesionDetector.from_checkpoint(out / "checkpoint" / "model.safetensors")


def test_compiled_training_matches_eager(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled_modules: list[torch.nn.Module] = []
    real_compile = torch.compile

    def spy(module: Any, *args: Any, **kwargs: Any) -> Any:
        compiled_modules.append(module)
        return real_compile(module, *args, **kwargs)

    monkeypatch.setattr(torch, "compile", spy)
    eager = pretrain(_config(studies, tmp_path / "eager", max_steps=2), progress=False)
    assert not compiled_modules
    compiled = pretrain(_config(studies, tmp_path / "compiled", max_steps=2, compile=True), progress=False)
    assert len(compiled_modules) == 1
    # the same step up to rounding (inductor fuses element-wise ops), from the same masks and data
    np.testing.assert_allclose(compiled.losses, eager.losses, rtol=1e-4)
    a = load_file(str(tmp_path / "eager" / "checkpoint" / "model.safetensors"))
    b = load_file(str(tmp_path / "compiled" / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys()  # the plain module's names, no torch.compile wrapper prefix
    # Adam moves every weight by up to lr = 1e-3 per step whatever the gradient's size, so rounding
    # in a near-zero gradient can move a weight differently by a fraction of a step: allow 10 % of one
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-4, rtol=0)
    state = json.loads((tmp_path / "compiled" / "checkpoint" / "state.json").read_text())
    assert state["config"]["compile"] is True


def test_compile_without_a_cpp_compiler_is_a_config_error(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(pretrain_module.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="C\\+\\+ compiler"):
        pretrain(_config(studies, tmp_path, max_steps=1, compile=True), progress=False)
    assert not (tmp_path / "checkpoint").exists()


def test_resume_of_a_checkpoint_from_an_older_config(studies: Path, tmp_path: Path) -> None:
    # a checkpoint written before `compile`, `lesion_detector` and the default warm-up existed
    pretrain(_config(studies, tmp_path, max_steps=2, warmup_steps=0), progress=False)
    state_path = tmp_path / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text())
    for key in ("compile", "lesion_detector"):
        del state["config"][key]
    state_path.write_text(json.dumps(state))
    resumed = pretrain(
        _config(studies, tmp_path, max_steps=40, warmup_steps=None, log_every=1), resume=True, progress=False
    )
    assert resumed.steps == 40
    saved = json.loads(state_path.read_text())["config"]
    assert saved["warmup_steps"] == 0 and saved["compile"] is False  # the run kept its own warm-up
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    lr_at = {r["step"]: r["lr"] for r in records}  # "step" counts completed steps: step 3 ran at index 2
    assert lr_at[3] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 2 / 40)))  # no new warm-up


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"model_kwargs": {**TINY, "patch_size": [4, 4, 4]}}, "set 'patch_size' as a top-level key"),
        ({"model_kwargs": {**TINY, "img_size": [8, 32, 32]}}, "'img_size' is taken from the data"),
        ({"masking_kwargs": {"mask_ratio": 0.5}}, "set 'mask_ratio' as a top-level key"),
    ],
)
def test_keys_the_config_sets_itself_are_refused_in_kwargs(
    studies: Path, tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(studies, tmp_path, **settings)


def test_a_mask_that_hides_nothing_is_refused_before_any_data_is_read(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_loading(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("studies were loaded before the masking was checked")

    monkeypatch.setattr(StudyDataset, "preload", no_loading)
    with pytest.raises(ConfigError, match="hides no token of the model's 32-token grid"):
        pretrain(_config(studies, tmp_path / "run", mask_ratio=0.0), progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"masking": "drop_sequence", "masking_kwargs": {"drop": [7]},
             "model_kwargs": {**TINY, "token_layout": "per_sequence"}},
            r"names a sequence index >= the 2 sequences",
        ),
        ({"masking": "block", "masking_kwargs": {"style": "simmim", "cell": [1, 2]}}, "has 2 values"),
    ],
)
def test_masking_options_that_do_not_fit_the_grid_fail_before_overwrite_removes_anything(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], message: str
) -> None:
    run = tmp_path / "run"
    pretrain(_config(studies, run, max_steps=1), progress=False)
    before = sorted(p.relative_to(run) for p in run.rglob("*"))

    def no_loading(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("studies were loaded before the masking options were checked")

    monkeypatch.setattr(StudyDataset, "preload", no_loading)
    with pytest.raises(ConfigError, match=message):
        pretrain(_config(studies, run, max_steps=1, **settings), overwrite=True, progress=False)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before  # the finished run is untouched


def test_lesion_aware_without_any_lesion_label_in_the_data_is_refused(studies: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no voxel of the 4 studies carries a lesion label in \[999\]"):
        pretrain(_config(studies, tmp_path / "run", masking="lesion_aware", lesion_labels=[999]),
                 progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="lesion_labels"):
        _config(studies, tmp_path / "run", masking="lesion_aware", lesion_labels=[])
    present = _config(studies, tmp_path / "ok", masking="lesion_aware", lesion_labels=[7, 100], max_steps=1)
    assert pretrain(present, progress=False).steps == 1


def test_throughput_leaves_out_figures_and_checkpoints(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = pretrain_module.save_checkpoint

    def slow_save(*args: Any, **kwargs: Any) -> Path:
        time.sleep(1.0)  # a checkpoint on a slow disk
        return real_save(*args, **kwargs)

    monkeypatch.setattr(pretrain_module, "save_checkpoint", slow_save)
    result = pretrain(_config(studies, tmp_path / "run", max_steps=2), progress=False)
    samples = 2 * 2  # steps x batch
    assert result.seconds > 1.0
    assert result.samples_per_second > samples / (result.seconds - 1.0)


def test_an_out_that_is_a_file_is_refused_up_front(studies: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    for out in (tmp_path / "taken", tmp_path / "taken" / "run"):
        with pytest.raises(ConfigError, match="is a file, not a folder"):
            pretrain(_config(studies, out), progress=False)


def test_micro_batch_seeds_differ_for_every_micro_batch_and_rank() -> None:
    for world_size in (1, 2, 300):
        seeds = {
            pretrain_module._micro_batch_seed(7, m, DistInfo(r, world_size, r, torch.device("cpu")))
            for m in range(40)
            for r in range(world_size)
        }
        assert len(seeds) == 40 * world_size


def test_resume_rejects_a_changed_config(studies: Path, tmp_path: Path) -> None:
    pretrain(_config(studies, tmp_path, max_steps=1), progress=False)
    with pytest.raises(ConfigError, match="mask_ratio"):
        pretrain(_config(studies, tmp_path, max_steps=2, mask_ratio=0.5), resume=True, progress=False)
    with pytest.raises(ConfigError, match="already at step 1"):
        pretrain(_config(studies, tmp_path, max_steps=1), resume=True, progress=False)


def test_cli_pretrain_and_its_errors(
    studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"patch_size": [4, 8, 8], "model_kwargs": TINY, "batch_size": 2}))
    argv = [
        "pretrain",
        "--config",
        str(cfg),
        "--data",
        str(studies),
        "--out",
        str(tmp_path / "run"),
        "--max-steps",
        "2",
        "--masking",
        "grid",
        "--no-progress",
        "--set",
        "warmup_steps=1",
    ]
    assert main(argv) == 0
    assert "2 steps" in capsys.readouterr().out
    assert main([*argv[:-2], "--set", "mask_ratio=2"]) == 2
    assert main(["pretrain", "--data", str(tmp_path / "missing"), "--no-progress"]) == 2
    assert main([*argv, "--set", "masking=no_such_strategy", "--overwrite"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("maerad: error:") for line in err)
    assert "no_such_strategy" in err[-1]
    # the same --out again: refused without --resume / --overwrite; the failed --overwrite above left
    # the earlier run alone, and a valid one replaces it (checkpoint, log and figures)
    run = tmp_path / "run"
    assert (run / "checkpoint" / "state.json").is_file()
    assert main(argv) == 2
    assert "already holds a pre-training run (a checkpoint at step 2)" in capsys.readouterr().err
    again = [*argv, "--set", "log_every=1", "--max-steps", "1", "--overwrite"]
    assert main(again) == 0
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1]
    assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == 1
    figures = sorted(p.name for p in (run / "figures").iterdir())
    assert figures == ["loss.png", "reconstruction-step000001.png"]
    # --resume takes the run's settings from OUT/config.json: only what changes needs a flag
    capsys.readouterr()
    assert main(["pretrain", "--out", str(run), "--max-steps", "2", "--resume", "--no-progress"]) == 0
    assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == 2
    assert main(["pretrain", "--out", str(run), "--max-steps", "3", "--resume", "--no-progress",
                 "--masking", "random"]) == 2
    assert "config differs in masking (masking: checkpoint 'grid', now 'random')" in capsys.readouterr().err
    # --resume with an --out given as a number through --set (JSON 2024): a config error, no traceback
    assert main(["pretrain", "--resume", "--set", "out=2024", "--data", str(studies), "--no-progress"]) == 2
    assert "config field 'out'" in capsys.readouterr().err
    # a log without a checkpoint (a run that failed at its first step) cannot be resumed: not offered
    shutil.rmtree(run / "checkpoint")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "(a training log); choose another --out, or start it again with --overwrite" in err
    assert "--resume" not in err


def test_two_processes_under_torchrun(studies: Path, tmp_path: Path) -> None:
    # with a held-out set evaluated every step: rank 0 evaluates, the other waits for its value; with a
    # study cache on disk that both processes build at once
    rng = np.random.default_rng(7)
    save_study(Study({"t2w": rng.normal(size=(8, 32, 32)), "adc": rng.normal(size=(8, 32, 32))},
                     spacing=(4, 1, 1)), tmp_path / "val" / "case-v")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(
        json.dumps(
            {
                "patch_size": [4, 8, 8],
                "model_kwargs": TINY,
                "batch_size": 1,
                "max_steps": 2,
                "data": str(studies),
                "out": str(tmp_path / "ddp"),
                "val_data": str(tmp_path / "val"),
                "val_every": 1,
                "cache_dir": str(tmp_path / "cache"),
            }
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as s:  # a free port for the rendezvous (port 0 makes torchrun wait forever)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(port),
            "-m",
            "maerad.cli.main",
            "pretrain",
            "--config",
            str(cfg),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("pretrain: 2 steps") == 1  # only rank 0 reports
    # a batch of one hands DDP the cls token's gradient as a slice of a bigger one: laid out anew
    assert "Grad strides do not match bucket view strides" not in proc.stderr
    state = json.loads((tmp_path / "ddp" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2
    log = [json.loads(line) for line in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 2
    assert [r["step"] for r in log if "val_loss" in r] == [1, 2] and "held-out loss" in proc.stdout
    # one entry per study (training and held out), whichever process wrote it first, no temporary left
    entries = [p.name for p in (tmp_path / "cache").iterdir()]
    assert len(entries) == len(find_study_folders(studies)) + 1
    assert not any(e.startswith(".") for e in entries)
    assert f"memory-mapped from {tmp_path / 'cache'}" in proc.stdout


def test_gradient_accumulation_skips_the_all_reduce_under_compile_too() -> None:
    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        ddp = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
        for wrapped in (ddp, torch.compile(ddp)):  # compiling is lazy: nothing is compiled here
            with pretrain_module._no_sync(wrapped, True):
                assert ddp.require_backward_grad_sync is False
            assert ddp.require_backward_grad_sync is True
            with pretrain_module._no_sync(wrapped, False):
                assert ddp.require_backward_grad_sync is True
    finally:
        dist.destroy_process_group()


def test_resume_from_another_folder_finds_the_same_data_and_refuses_other_data(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    shutil.copytree(studies, work / "data")
    shutil.copytree(studies, elsewhere / "data")  # another dataset that happens to have the same name
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"patch_size": [4, 8, 8], "model_kwargs": TINY, "batch_size": 2, "lr": 1e-3}))
    run = tmp_path / "run"
    resume = ["pretrain", "--out", str(run), "--resume", "--no-progress"]
    monkeypatch.chdir(work)
    assert main(["pretrain", "--config", str(cfg), "--data", "data", "--out", str(run), "--max-steps", "1",
                 "--no-progress"]) == 0
    absolute = str((work / "data").resolve())
    assert json.loads((run / "config.json").read_text())["data"] == absolute
    state_path = run / "checkpoint" / "state.json"
    assert json.loads(state_path.read_text())["config"]["data"] == absolute

    monkeypatch.chdir(elsewhere)
    assert main([*resume, "--max-steps", "2"]) == 0  # the settings in config.json name the data absolutely
    assert json.loads(state_path.read_text())["step"] == 2
    capsys.readouterr()
    assert main([*resume, "--max-steps", "3", "--data", "data"]) == 2  # elsewhere/data: not the run's data
    err = capsys.readouterr().err
    other = str((elsewhere / "data").resolve())
    assert f"config differs in data (data: checkpoint {absolute!r}, now {other!r})" in err
    assert json.loads(state_path.read_text())["step"] == 2
    assert main([*resume, "--max-steps", "3", "--data", str(work / "data")]) == 0  # the same folder
    assert json.loads(state_path.read_text())["step"] == 3

    # a run recorded by an earlier version, with the data path as typed, still resumes from where it began
    state = json.loads(state_path.read_text())
    state["config"]["data"] = "data"
    state_path.write_text(json.dumps(state))
    saved = json.loads((run / "config.json").read_text())
    saved["data"] = "data"
    (run / "config.json").write_text(json.dumps(saved))
    monkeypatch.chdir(work)
    assert main([*resume, "--max-steps", "4"]) == 0
    assert json.loads(state_path.read_text())["config"]["data"] == absolute


def test_resume_where_there_is_no_run_says_so(
    studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "does_not_exist"
    assert main(["pretrain", "--out", str(missing), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: no such folder, so there is no run to resume" in err and "training data" not in err
    assert not missing.exists()
    run = tmp_path / "run"
    pretrain(_config(studies, run, max_steps=1), progress=False)
    (run / "config.json").unlink()
    assert main(["pretrain", "--out", str(run), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{run}: no config.json to take the run's settings from" in err and "training data" not in err
    shutil.rmtree(run / "checkpoint")
    assert main(["pretrain", "--out", str(run), "--resume", "--no-progress"]) == 2
    assert f"{run} holds no run to resume (no config.json, no checkpoint)" in capsys.readouterr().err


def test_a_floor_above_the_batch_scaled_peak_is_refused_before_anything_is_written(
    studies: Path, tmp_path: Path
) -> None:
    # base_lr 1e-3 at an effective batch of 2 peaks at 1e-3 * 2 / 256: a floor above it, and the
    # cosine "decay" would climb
    peak = 1e-3 * 2 / 256
    with pytest.raises(ConfigError, match=f"min_lr {2 * peak:g} is above the peak learning rate {peak:g}"):
        pretrain(_config(studies, tmp_path / "run", lr=None, base_lr=1e-3, min_lr=2 * peak), progress=False)
    assert not (tmp_path / "run").exists()
    ok = pretrain(_config(studies, tmp_path / "ok", lr=None, base_lr=1e-3, min_lr=peak / 2, max_steps=1),
                  progress=False)
    assert ok.steps == 1


def test_a_misspelled_model_setting_lists_only_keys_model_kwargs_may_set(
    studies: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="does not accept depht") as info:
        pretrain(_config(studies, tmp_path / "run", model_kwargs={**TINY, "depht": 1}), progress=False)
    found = re.search(r"accepted in model_kwargs: ([^(;]*)", str(info.value))
    assert found is not None, str(info.value)
    listed = {key.strip() for key in found.group(1).split(",")}
    assert {"depth", "decoder_depth", "embed_dim", "token_layout"} <= listed
    refused = {"patch_size", "mask_ratio", "norm_pix_loss", "img_size", "in_chans", "spatial_dims"}
    assert not listed & refused
    for key in sorted(listed & {"depth", "embed_dim"}):  # what the hint offers, the config takes
        _config(studies, tmp_path / "run", model_kwargs={key: 1})
    assert not (tmp_path / "run").exists()


def test_background_weight_weighs_the_loss_by_foreground(studies: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from maerad.train import pretrain as engine

    x = torch.zeros(1, 2, 2, 2, 2)
    x[0, 0, 0, 0, 0] = 1.0  # a T2W-only voxel
    x[0, 1, 1, 1, 1] = 0.01  # an ADC-only voxel: foreground on its own scale
    weights = engine._voxel_weights(x, _config(studies, tmp_path / "w", background_weight=0.25))
    assert weights is not None and weights.shape == (1, 1, 2, 2, 2)
    assert sorted(set(weights.flatten().tolist())) == [0.25, 1.0]
    assert float(weights.sum()) == 2 * 1.0 + 6 * 0.25
    assert engine._voxel_weights(x, _config(studies, tmp_path / "w")) is None  # 1.0: MAE's unweighted loss

    seen: list[torch.Tensor | None] = []
    original = engine._voxel_weights
    monkeypatch.setattr(engine, "_voxel_weights", lambda x, c: seen.append(original(x, c)) or seen[-1])
    plain = pretrain(_config(studies, tmp_path / "plain", max_steps=2), progress=False)
    weighted = pretrain(_config(studies, tmp_path / "weighted", max_steps=2, background_weight=0.1),
                        progress=False)
    assert seen[0] is None and seen[-1] is not None and float(seen[-1].min()) == pytest.approx(0.1)
    assert weighted.losses != plain.losses
    saved = json.loads((tmp_path / "weighted" / "config.json").read_text(encoding="utf-8"))
    assert saved["background_weight"] == 0.1 and saved["foreground_threshold"] == 0.05
    with pytest.raises(ConfigError, match="background_weight"):
        _config(studies, tmp_path / "bad", background_weight=1.5)
