"""Pre-training figures: the reconstruction and the loss curve say "synthetic data" for phantom studies,
and only for them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from maerad.data import Study, save_study
from maerad.data.datasets import StudyDataset
from maerad.data.phantom import PhantomConfig, write_phantom_dataset
from maerad.errors import InputError
from maerad.train.config import load_pretrain_config
from maerad.train.loss_figure import read_training_log, save_loss_figure
from maerad.train.pretrain import _loss_title, pretrain
from maerad.train.recon_figure import reconstruction_figure, save_reconstruction_figure


def _title(synthetic: bool, title: str = "MAE reconstruction, step 3") -> str:
    x = torch.rand(2, 4, 16, 16)
    masked = x.clone()
    masked[:, :, :8] = float("nan")
    fig = reconstruction_figure(x, masked, x, ["t2w", "adc"], title=title, synthetic=synthetic)
    return fig._suptitle.get_text() if fig._suptitle is not None else ""


def test_title_names_synthetic_data_only_when_it_is() -> None:
    assert _title(True) == "MAE reconstruction, step 3 (synthetic data)"
    assert _title(False) == "MAE reconstruction, step 3"
    assert _title(True, title="") == "(synthetic data)" and _title(False, title="") == ""


def test_datasets_know_which_studies_are_synthetic(tmp_path: Path) -> None:
    small = PhantomConfig(size=(4, 32, 32))
    write_phantom_dataset(tmp_path / "phantom", 2, seed=0, config=small, progress=False)
    rng = np.random.default_rng(0)
    real = Study({s: rng.normal(size=(4, 32, 32)) for s in ("t2w", "adc")}, spacing=(4, 1, 1),
                 metadata={"source": "scanner export"})
    save_study(real, tmp_path / "mixed" / "a-real")
    save_study(Study({s: rng.normal(size=(4, 32, 32)) for s in ("t2w", "adc")}, spacing=(4, 1, 1),
                     metadata={"synthetic": True}), tmp_path / "mixed" / "b-synthetic")
    assert [StudyDataset(tmp_path / "phantom").is_synthetic(i) for i in range(2)] == [True, True]
    mixed = StudyDataset(tmp_path / "mixed", mode="2d")
    assert [mixed.is_synthetic(i) for i in (0, 3, 4, 7)] == [False, False, True, True]
    assert _loss_title(mixed) == "MAE pre-training (partly synthetic data)"
    assert _loss_title(StudyDataset([tmp_path / "mixed" / "a-real"])) == "MAE pre-training"
    path = save_reconstruction_figure(tmp_path / "fig.png", torch.rand(1, 8, 8), torch.rand(1, 8, 8),
                                      torch.rand(1, 8, 8), ["t2w"], title="t", synthetic=False)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_loss_figure_and_its_log_errors(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps({"step": s, "loss": 1.0 / s, "lr": 1e-3}) for s in (1, 2, 3)) + "\n")
    assert [r["step"] for r in read_training_log(log)] == [1, 2, 3]
    png = save_loss_figure(log, tmp_path / "figures" / "loss.png", title="MAE pre-training (synthetic data)")
    assert png.read_bytes()[:4] == b"\x89PNG"
    for bad, message in (("{not json", "log.jsonl:2: not a JSON record"),
                         ('{"step": 2}',
                          "log.jsonl:2: a record needs a numeric 'step' and a numeric 'loss' or 'val_loss'"),
                         ('{"step": true, "loss": 1}', "numeric")):
        log.write_text(json.dumps({"step": 1, "loss": 1.0}) + "\n" + bad + "\n")
        with pytest.raises(InputError, match=message):
            read_training_log(log)
    with pytest.raises(InputError, match="cannot read"):
        read_training_log(tmp_path / "missing.jsonl")


def test_pretrain_draws_the_loss_curve_and_labels_synthetic_data(tmp_path: Path) -> None:
    small = PhantomConfig(size=(4, 32, 32))
    write_phantom_dataset(tmp_path / "phantom", 2, seed=0, config=small, progress=False)
    config = load_pretrain_config(None, data=str(tmp_path / "phantom"), out=str(tmp_path / "run"),
                                  max_steps=2, batch_size=2, log_every=1,
                                  model_kwargs={"depth": 1, "decoder_depth": 1})
    pretrain(config, progress=False)
    assert (tmp_path / "run" / "figures" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert _loss_title(StudyDataset(tmp_path / "phantom")) == "MAE pre-training (synthetic data)"
