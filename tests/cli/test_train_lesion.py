"""``maerad train-lesion`` on two tiny synthetic study folders (one epoch; seconds)."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from maerad.cli import train_lesion
from maerad.data.study import Study
from maerad.data.study_folder import save_study
from maerad.errors import CheckpointError, ConfigError, InputError
from maerad.masking.lesion_maps import LesionDetector
from maerad.models.unet import UNet


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny tensors: one intra-op thread avoids OpenMP contention on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="maerad")
    train_lesion.add_parser(parser.add_subparsers())
    return parser.parse_args(["train-lesion", *argv])


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studies")
    rng = np.random.default_rng(0)
    for i in range(2):
        labels = np.zeros((4, 16, 16), dtype=np.int16)
        labels[1:3, 4 + i:10, 5:11] = 100  # a phantom "tumour_cervix" label
        labels[0, :2, :2] = 30  # a non-lesion organ label
        t2w = rng.normal(0, 0.2, labels.shape).astype(np.float32) + (labels == 100)
        save_study(Study({"t2w": t2w, "adc": 1 - t2w}, spacing=(4.0, 1.0, 1.0), labels=labels),
                   root / f"case{i:03d}")
    return root


def test_trains_and_writes_a_loadable_detector(studies: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models" / "lesion.safetensors"
    args = parse("--data", str(studies), "--out", str(out), "--epochs", "1", "--channels", "4,8",
                 "--no-progress", "--lesion-labels", "100")
    assert args.func(args) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["lesion.json", "lesion.safetensors"]  # no temp
    config = json.loads(out.with_suffix(".json").read_text())
    assert config["sequences"] == ["t2w", "adc"] and config["lesion_labels"] == [100]
    assert config["training"]["epochs"] == 1 and config["training"]["studies"] == 2
    assert 0.0 <= config["training"]["train_dice"] <= 1.0
    det = LesionDetector.from_checkpoint(out)
    assert det.spatial_dims == 2 and det.sequences == ("t2w", "adc")
    tokens = det.token_map(torch.randn(1, 2, 4, 16, 16), (1, 4, 4))
    assert tokens.shape == (1, 4, 4, 4)
    assert "2 studies" in capsys.readouterr().out


def test_default_lesion_labels_come_from_the_phantom_table() -> None:
    from maerad.data.phantom.labels import LABELS

    defaults = train_lesion.default_lesion_labels()
    assert LABELS["tumour_cervix"] in defaults and LABELS["endometrium"] not in defaults
    assert parse("--data", "d", "--out", "o.safetensors").lesion_labels is None  # resolved at run time


def test_3d_training_and_seed_determinism(studies: Path, tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.safetensors"
        args = parse("--data", str(studies), "--out", str(out), "--epochs", "1", "--spatial-dims", "3",
                     "--channels", "2,4", "--seed", "3", "--no-progress")
        assert args.func(args) == 0
        outs.append(load_file(str(out)))
    assert outs[0].keys() == outs[1].keys()
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])
    assert LesionDetector.from_checkpoint(tmp_path / "a.safetensors").spatial_dims == 3


def test_user_errors(studies: Path, tmp_path: Path) -> None:
    base = ["--data", str(studies), "--epochs", "1", "--channels", "2,4", "--no-progress"]
    cases: list[tuple[list[str], type[Exception], str]] = [
        (["--out", str(tmp_path / "x.pt")], ConfigError, "safetensors"),
        (["--out", str(tmp_path / "x.safetensors"), "--epochs", "0"], ConfigError, "--epochs"),
        (["--out", str(tmp_path / "x.safetensors"), "--lesion-labels", "999"], InputError, "--lesion-labels"),
        (["--out", str(tmp_path / "x.safetensors"), "--sequences", "t1c"], InputError, r"case000.*t1c"),
        # found before training, not as a traceback when saving
        (["--out", str(tmp_path / "x.safetensors"), "--channels", "2,2,2,2,2"], ConfigError,
         r"--channels 2,2,2,2,2: .*single voxel"),
        (["--out", str(studies / "case000" / "t2w.nii.gz" / "x.safetensors")], ConfigError, "is a file"),
    ]
    for extra, error, match in cases:
        args = parse(*base, *extra)
        with pytest.raises(error, match=match):
            args.func(args)
    empty = tmp_path / "empty"
    empty.mkdir()
    args = parse("--data", str(empty), "--out", str(tmp_path / "x.safetensors"))
    with pytest.raises(InputError, match="holds no study folder"):
        args.func(args)
    unlabelled = tmp_path / "unlabelled"
    blank = np.zeros((2, 8, 8), dtype=np.float32)
    save_study(Study({"t2w": blank}, spacing=(1.0, 1.0, 1.0)), unlabelled / "case")
    args = parse("--data", str(unlabelled), "--out", str(tmp_path / "x.safetensors"))
    with pytest.raises(InputError, match="no label map"):
        args.func(args)
    assert not (tmp_path / "x.safetensors").exists()


def test_out_whose_json_name_is_a_folder_is_refused_before_training(studies: Path, tmp_path: Path) -> None:
    (tmp_path / "lesion.json").mkdir()
    for out in (tmp_path / "lesion.safetensors", tmp_path / "lesion.json"):
        args = parse("--data", str(studies), "--out", str(out.with_suffix(".safetensors")), "--epochs", "1",
                     "--channels", "2,4", "--no-progress")
        with pytest.raises(ConfigError, match="is a folder"):
            args.func(args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesion.json"]


def test_save_writes_both_files_or_neither(tmp_path: Path) -> None:
    det = LesionDetector(UNet(2, 1, 1, channels=(2, 4)), spatial_dims=2, in_chans=1)
    (tmp_path / "lesion.json").mkdir()
    with pytest.raises(CheckpointError, match="is a folder"):
        det.save(tmp_path / "lesion.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesion.json"]  # no weights, no temporaries


def test_the_config_inside_the_weights_wins_over_a_stale_json(studies: Path, tmp_path: Path) -> None:
    outs = {}
    for name, order in (("a", "t2w,adc"), ("b", "adc,t2w")):
        outs[name] = tmp_path / name / "lesion.safetensors"
        args = parse("--data", str(studies), "--out", str(outs[name]), "--epochs", "1", "--channels", "2,4",
                     "--sequences", order, "--no-progress")
        assert args.func(args) == 0
    assert LesionDetector.from_checkpoint(tmp_path / "a").sequences == ("t2w", "adc")  # the folder works
    shutil.copyfile(outs["b"], outs["a"])  # b's weights beside a's lesion.json (channels t2w, adc)
    with pytest.raises(CheckpointError, match="does not match the config saved inside"):
        LesionDetector.from_checkpoint(outs["a"])
    outs["a"].with_suffix(".json").unlink()  # without the stale JSON the weights' own config is used
    assert LesionDetector.from_checkpoint(outs["a"]).sequences == ("adc", "t2w")


def test_synthetic_studies_are_labelled_in_the_summary_and_config(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "phantom"
    labels = np.zeros((4, 16, 16), dtype=np.int16)
    labels[1:3, 4:10, 5:11] = 100
    for i, synthetic in enumerate((True, False)):
        study = Study({"t2w": np.random.default_rng(i).normal(size=labels.shape).astype(np.float32)},
                      spacing=(4.0, 1.0, 1.0), labels=labels, metadata={"synthetic": synthetic})
        save_study(study, root / f"case{i}")
    out = tmp_path / "det.safetensors"
    args = parse("--data", str(root), "--out", str(out), "--epochs", "1", "--channels", "2,4",
                 "--lesion-labels", "100", "--no-progress")
    assert args.func(args) == 0
    assert "(1 of 2 studies synthetic)" in capsys.readouterr().out
    training = json.loads(out.with_suffix(".json").read_text())["training"]
    assert training["synthetic_studies"] == 1 and Path(training["data"]).is_absolute()


def test_studies_with_different_sequences_need_sequences_named(studies: Path, tmp_path: Path) -> None:
    # a third study with one more sequence: the channels must not depend on which study comes first
    root = tmp_path / "mixed"
    shutil.copytree(studies, root)
    labels = np.zeros((4, 16, 16), dtype=np.int16)
    labels[1:3, 4:10, 5:11] = 100
    ones = np.ones(labels.shape, dtype=np.float32)
    save_study(Study({"t2w": ones, "adc": ones, "t1c": ones}, spacing=(4.0, 1.0, 1.0), labels=labels),
               root / "case002")
    base = ["--data", str(root), "--epochs", "1", "--channels", "2,4", "--no-progress",
            "--lesion-labels", "100"]
    args = parse(*base, "--out", str(tmp_path / "a.safetensors"))
    with pytest.raises(InputError, match=r"case002.*'t1c'.*--sequences t2w,adc"):
        args.func(args)
    args = parse(*base, "--out", str(tmp_path / "b.safetensors"), "--sequences", "t2w,adc")
    assert args.func(args) == 0
