"""Fixes from the review of the pre-training engine: an honest reconstruction figure (norm-pix columns),
radiological display orientation, the figure's slice and titles, the loss log and figure, the
warm-up / epoch / resume schedule checks, the patch-depth message and errors under torchrun."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.lines import Line2D

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from helpers_models import TINY

from maerad.cli.main import main
from maerad.data import Study, save_study
from maerad.data.datasets import StudyDataset
from maerad.data.study import affine_from_spacing
from maerad.errors import ConfigError
from maerad.losses.reconstruction import normalize_patches
from maerad.train import pretrain as pretrain_module
from maerad.train.config import load_pretrain_config
from maerad.train.data_order import MicroBatchOrder
from maerad.train.loss_figure import loss_figure
from maerad.train.pretrain import pretrain
from maerad.train.recon_figure import RESCALED_NOTE, plane_display, reconstruction_figure
from maerad.train.schedule import cosine_lr

# a DICOM axial series as maerad reads it: rows run posterior, columns to the patient's left (SPL)
SPL = np.array([[0.0, 0.0, -1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [4.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studies")
    rng = np.random.default_rng(0)
    for i in range(4):
        save_study(Study({"t2w": rng.normal(size=(8, 32, 32)), "adc": rng.normal(size=(8, 32, 32))},
                         spacing=(4, 1, 1)), root / f"case-{i}")
    return root


def _config(studies: Path, out: Path, **kw: Any) -> Any:
    base: dict[str, Any] = {"data": str(studies), "out": str(out), "patch_size": [4, 8, 8],
                            "model_kwargs": TINY, "max_steps": 2, "batch_size": 2, "lr": 1e-3,
                            "warmup_steps": 1}
    base.update(kw)
    return load_pretrain_config(None, **base)


def _capture_figures(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The arguments of every reconstruction figure pretrain draws (the PNG is still written)."""
    calls: list[dict[str, Any]] = []
    real = pretrain_module.save_reconstruction_figure

    def spy(path: Path, original: torch.Tensor, masked: torch.Tensor, reconstruction: torch.Tensor,
            sequences: list[str], **kwargs: Any) -> Path:
        calls.append({"original": original, "masked": masked, "reconstruction": reconstruction, **kwargs})
        return real(path, original, masked, reconstruction, sequences, **kwargs)

    monkeypatch.setattr(pretrain_module, "save_reconstruction_figure", spy)
    return calls


# -- defect 2: the reconstruction borrows the original's patch statistics ----------------------------
def test_figure_shows_the_normalised_target_and_prediction_and_says_how_it_rescales() -> None:
    x = torch.rand(2, 16, 16)
    hidden = torch.full_like(x, float("nan"))
    hidden[:, 8:] = 0.5
    fig = reconstruction_figure(x, x, x, ["t2w", "adc"], norm_target=hidden, norm_prediction=hidden)
    titles = [ax.get_title() for ax in fig.axes[:5]]
    assert titles == ["original", "masked input", "reconstruction*", "target, normalised\n(hidden patches)",
                      "prediction, normalised\n(hidden patches)"]
    assert fig._supxlabel is not None and "original patch's own mean and std" in fig._supxlabel.get_text()
    assert "original patch's own mean and std" in RESCALED_NOTE
    plain = reconstruction_figure(x, x, x, ["t2w", "adc"])  # without norm-pix: the prediction itself
    assert [ax.get_title() for ax in plain.axes[:3]] == ["original", "masked input", "reconstruction"]
    with pytest.raises(ValueError, match="both"):
        reconstruction_figure(x, x, x, ["t2w", "adc"], norm_target=hidden)


def test_pretrain_figure_draws_the_models_normalised_prediction(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _capture_figures(monkeypatch)
    pretrain(_config(studies, tmp_path / "run", max_steps=1, warmup_steps=0), progress=False)
    (call,) = calls
    hidden = torch.isnan(call["masked"])
    target, prediction = call["norm_target"], call["norm_prediction"]
    assert hidden.any() and (~hidden).any()
    # both are drawn on the hidden patches only
    assert torch.equal(torch.isfinite(target), hidden) and torch.equal(torch.isfinite(prediction), hidden)
    # the target is the per-patch, per-channel normalised original (patches of 4 x 8 x 8 voxels)
    d, h, w = next((d, h, w) for d in (0, 4) for h in range(0, 32, 8) for w in range(0, 32, 8)
                   if bool(hidden[0, d, h, w]))
    for c in range(2):
        patch = call["original"][c, d:d + 4, h:h + 8, w:w + 8]
        expected = normalize_patches(patch.reshape(1, -1), 1).reshape(patch.shape)
        assert torch.allclose(target[c, d:d + 4, h:h + 8, w:w + 8], expected, atol=1e-5)
    # the prediction is not the rescaled reconstruction (which takes the original's mean and std)
    assert not torch.allclose(prediction[hidden], call["reconstruction"][hidden])


# -- defect 3: radiological orientation from the study's affine ----------------------------------------
def test_plane_display_follows_the_radiological_convention() -> None:
    ras = plane_display(affine_from_spacing((4, 1, 1)))  # maerad's NIfTI / phantom grids: SAR
    assert (ras.transpose, ras.flip_rows, ras.flip_cols) == (False, True, True)
    assert ras.letters == ("A", "P", "R", "L")
    dicom = plane_display(SPL)
    assert (dicom.transpose, dicom.flip_rows, dicom.flip_cols, dicom.letters) == (False, False, False,
                                                                                  ("A", "P", "R", "L"))
    # a sagittal grid (slices along x, rows along +z, columns along +y): superior up, anterior left
    sagittal = np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
    sag = plane_display(sagittal)
    assert (sag.transpose, sag.flip_rows, sag.flip_cols) == (False, True, True)
    assert sag.letters == ("S", "I", "A", "P")
    # an axial grid stored with rows along x and columns along y: transposed first
    swapped = np.array([[0, 1.0, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    assert plane_display(swapped).transpose


def test_the_same_anatomy_draws_the_same_from_nifti_and_dicom_grids() -> None:
    rng = np.random.default_rng(0)
    ras = torch.from_numpy(rng.normal(size=(1, 4, 8, 8)).astype(np.float32))
    dicom = ras.flip(2, 3)  # the same world anatomy on an SPL grid: rows and columns reversed
    drawn = []
    for image, affine in ((ras, affine_from_spacing((4, 1, 1))), (dicom, SPL)):
        fig = reconstruction_figure(image, image, image, ["t2w"], affine=affine)
        drawn.append(np.asarray(fig.axes[0].images[0].get_array()))
        letters = sorted(t.get_text() for t in fig.axes[0].texts)
        assert letters == ["A", "L", "P", "R"]
    assert np.array_equal(drawn[0], drawn[1])
    # patient right on the viewer's left, anterior up: the RAS grid's last column, last row at the top left
    assert drawn[0][0, 0] == ras[0, 2, -1, -1]


def test_pretrain_draws_with_the_studys_affine(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _capture_figures(monkeypatch)
    pretrain(_config(studies, tmp_path / "run", max_steps=1, warmup_steps=0), progress=False)
    assert np.allclose(calls[0]["affine"], StudyDataset(studies).study(0).affine)


# -- defect 4: a warm-up as long as the run ------------------------------------------------------------
@pytest.mark.parametrize(("warmup", "what"), [(100, "never reach its peak"), (4, "never decay")])
def test_a_warm_up_as_long_as_the_run_is_refused_before_anything_is_written(
    studies: Path, tmp_path: Path, warmup: int, what: str
) -> None:
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=f"warmup_steps {warmup} >= the run's 4 steps: .*{what}.*"
                                          "set warmup_steps below 4"):
        pretrain(_config(studies, out, max_steps=4, warmup_steps=warmup), progress=False)
    assert not out.exists()


# -- defect 5: extending a finished run stretches the schedule, and says so --------------------------
def test_resume_to_a_later_end_says_how_the_lr_jumps(studies: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    pretrain(_config(studies, out, max_steps=4, warmup_steps=0, log_every=1), progress=False)
    messages: list[str] = []
    pretrain(_config(studies, out, max_steps=8, warmup_steps=0, log_every=1), resume=True, progress=False,
             log=messages.append)
    before = cosine_lr(3, peak_lr=1e-3, total_steps=4, warmup_steps=0)
    after = cosine_lr(4, peak_lr=1e-3, total_steps=8, warmup_steps=0)
    assert after == pytest.approx(5e-4) and before == pytest.approx(1.46e-4, rel=1e-2)
    line = next(m for m in messages if m.startswith("resuming from"))
    assert "now ends at step 8, not 4" in line
    assert f"from {before:.3g} (step 4) to {after:.3g} (step 5)" in line
    lrs = [json.loads(line)["lr"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert lrs[3] == pytest.approx(before) and lrs[4] == pytest.approx(after)
    # a resume to the same end (after a crash) continues the schedule: nothing to add
    assert pretrain_module._schedule_change(2, 4, 4, 1e-3, 0, 0.0) == ""
    assert pretrain_module._schedule_change(2, None, 4, 1e-3, 0, 0.0) == ""


# -- defect 6: epochs with gradient accumulation -------------------------------------------------------
def test_epochs_round_up_to_whole_optimizer_steps(studies: Path, tmp_path: Path) -> None:
    # 4 studies, a batch of 1, 3 micro-batches a step: one epoch (4 micro-batches) needs 2 steps
    config = _config(studies, tmp_path / "run", max_steps=None, epochs=1, batch_size=1, accum_steps=3,
                     warmup_steps=0)
    result = pretrain(config, progress=False)
    assert result.steps == 2
    order = MicroBatchOrder(4, 1, seed=0)
    assert {i for m in range(2 * 3) for i in order.indices(m)} == {0, 1, 2, 3}  # every study is read
    assert pretrain_module._total_steps(None, 1, 3, 2) == 2  # 6 studies, batch 2, accum 2
    assert pretrain_module._total_steps(None, 3, 3, 2) == 5
    assert pretrain_module._total_steps(7, 3, 3, 2) == 7


# -- defect 7: a patch deeper than the studies ---------------------------------------------------------
def test_a_patch_deeper_than_the_studies_names_the_remedies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    for i in range(2):
        thin = Study({"t2w": rng.normal(size=(2, 32, 32))}, spacing=(4, 1, 1))
        save_study(thin, tmp_path / "thin" / f"t{i}")
    out = tmp_path / "run"
    argv = ["pretrain", "--data", str(tmp_path / "thin"), "--out", str(out), "--max-steps", "1",
            "--batch-size", "1", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("maerad: error: the studies' grid (2, 32, 32) has 2 slices")
    assert "the 3D patch depth must divide the slice count" in err[0]
    assert "--set patch_size=[2,16,16]" in err[0] and "--mode 2d" in err[0] and "resample" in err[0]
    assert "img_size" not in err[0]
    assert not out.exists()
    config = load_pretrain_config(None, data="x")
    with pytest.raises(ConfigError, match=r"patch_size=\[3,16,16\]"):  # 30 slices: a depth of 3 divides them
        pretrain_module._check_patch_fits_grid(config, (30, 64, 64))
    with pytest.raises(ConfigError, match=r"40 rows.*patch_size=\[10,10\]"):
        pretrain_module._check_patch_fits_grid(config.model_copy(update={"mode": "2d"}), (40, 40))


# -- defect 8: which slice, titles, the loss log and figure ---------------------------------------------
@pytest.mark.parametrize("mode", ["2d", "3d"])
def test_figures_show_the_middle_slice_and_name_it(
    studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    calls = _capture_figures(monkeypatch)
    patch = [8, 8] if mode == "2d" else [4, 8, 8]
    pretrain(_config(studies, tmp_path / "run", max_steps=1, warmup_steps=0, mode=mode, patch_size=patch),
             progress=False)
    (call,) = calls
    assert call["title"] == "MAE reconstruction, step 1: training study case-0, slice 4 (middle of 8)"
    dataset = StudyDataset(studies, mode=mode)
    if mode == "2d":
        assert torch.equal(call["original"], dataset[4]["image"]) and dataset.item_source(4) == (0, 4)
    else:
        assert torch.equal(call["original"], dataset[0]["image"])


def test_the_log_holds_the_mean_loss_of_its_window(studies: Path, tmp_path: Path) -> None:
    result = pretrain(_config(studies, tmp_path / "run", max_steps=3, log_every=2), progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 3]
    assert log[0]["loss"] == pytest.approx(sum(result.losses[:2]) / 2)
    assert log[1]["loss"] == pytest.approx(result.losses[2])


def test_a_one_record_loss_log_draws_its_points_on_whole_steps() -> None:
    fig = loss_figure([{"step": 2, "loss": 1.03, "lr": 1.2e-6}])
    loss_axis, lr_axis = fig.axes
    lines: list[Line2D] = [*loss_axis.get_lines(), *lr_axis.get_lines()]
    assert len(lines) == 2 and all(line.get_marker() not in (None, "None", "") for line in lines)
    fig.canvas.draw()
    ticks = loss_axis.get_xticks()
    assert len(ticks) and all(float(t).is_integer() for t in ticks)


# -- defect 9: one error line under torchrun -----------------------------------------------------------
@pytest.mark.parametrize(("rank", "printed"), [("0", 1), ("1", 0)])
def test_only_rank_0_prints_the_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], rank: str, printed: int
) -> None:
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["pretrain", "--data", "x", "--set", "mask_ratio=2", "--no-progress"]) == 2
    assert capsys.readouterr().err.count("maerad: error:") == printed


@pytest.mark.slow  # two processes start torch (half a minute on 2 cores); the unit test above covers it
def test_torchrun_prints_one_error_line(studies: Path, tmp_path: Path) -> None:
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(port), "-m", "maerad.cli.main", "pretrain", "--data", str(studies), "--out",
         str(tmp_path / "run"), "--batch-size", "3", "--no-progress"],
        capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False,
    )
    assert proc.returncode != 0
    assert proc.stderr.count("maerad: error: batch size 3 x 2 process(es) exceeds the dataset size 4") == 1
    assert not (tmp_path / "run").exists()


def test_the_warm_up_check_leaves_one_step_runs_alone() -> None:
    pretrain_module._check_warmup_fits(1, 1)  # a one-step run takes the peak whether the warm-up is 0 or 1
    pretrain_module._check_warmup_fits(3, 4)
    with pytest.raises(ConfigError, match="warmup_steps 2 >= the run's 1 steps"):
        pretrain_module._check_warmup_fits(2, 1)
    assert math.isclose(cosine_lr(0, peak_lr=1.0, total_steps=1, warmup_steps=1), 1.0)
