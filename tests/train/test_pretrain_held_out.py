"""Pre-training with a held-out set (``val_data``): a loss on studies not trained on, with fixed masks,
that changes nothing in training, and is refused when the set is not held out or does not fit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers_models import TINY
from helpers_studies import pretrain_until_crash, tiny_pretrain_config, write_lesion_studies

from maerad.cli.main import main
from maerad.data import Study, save_study
from maerad.data.datasets import StudyDataset
from maerad.errors import ConfigError, InputError
from maerad.masking import create_masking
from maerad.train.held_out import held_out_loss, held_out_seed
from maerad.train.loss_figure import loss_figure, read_training_log
from maerad.train.pretrain import pretrain
from maerad.train.pretrained import load_pretrained


@pytest.fixture
def data(train_and_held_out: tuple[Path, Path]) -> tuple[Path, Path]:
    return train_and_held_out


def _config(train: Path, out: Path, **kw: Any) -> Any:
    return tiny_pretrain_config(train, out, **kw)


def test_the_held_out_loss_is_logged_and_is_the_loss_of_the_saved_weights(data: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    train, val = data
    result = pretrain(_config(train, tmp_path, val_data=str(val), val_every=2, log_every=1), progress=False)
    assert [step for step, _ in result.val_losses] == [2, 4]
    records = read_training_log(tmp_path / "log.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert [r["val_loss"] for r in records if "val_loss" in r] == [v for _, v in result.val_losses]
    assert all("loss" in r for r in records)  # evaluated at a logged step: one record holds both

    # recomputed independently from the final checkpoint: the same items, masks drawn with the documented
    # seeds, the model in eval mode, the batch losses weighted by their item counts
    model = load_pretrained(tmp_path / "checkpoint").eval()
    held = StudyDataset(val, sequences=["t2w", "adc"])
    masking = create_masking("random", mask_ratio=0.75)
    total = 0.0
    with torch.no_grad():
        for start in (0, 2):
            indices = list(range(start, min(start + 2, len(held))))
            x = torch.stack([held[i]["image"] for i in indices])
            spec = masking(len(indices), model.mask_grid,
                           generator=torch.Generator().manual_seed(held_out_seed(0, start)))
            total += float(model(x, mask=spec).loss) * len(indices)
    assert result.val_losses[-1][1] == pytest.approx(total / len(held), rel=1e-6)

    figures = {p.name for p in result.figures}
    assert {"reconstruction-step000004.png", "reconstruction-heldout-step000004.png"} <= figures
    fig = loss_figure(records)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][1].startswith("held-out")


def test_validation_changes_nothing_in_training_and_resumes_exactly(
    data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, val = data
    drop = {**TINY, "depth": 2, "drop_path_rate": 0.3}  # stochastic depth: the global generator matters
    plain = pretrain(_config(train, tmp_path / "plain", model_kwargs=drop), progress=False)
    checked = pretrain(_config(train, tmp_path / "checked", model_kwargs=drop, val_data=str(val),
                               val_every=1), progress=False)
    assert checked.losses == plain.losses
    a = load_file(str(tmp_path / "plain" / "checkpoint" / "model.safetensors"))
    b = load_file(str(tmp_path / "checked" / "checkpoint" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)

    # interrupted after step 2's checkpoint and resumed: the same held-out losses at the same steps
    cfg = _config(train, tmp_path / "resumed", model_kwargs=drop, val_data=str(val), val_every=1,
                  save_every=2)
    pretrain_until_crash(cfg, 2, monkeypatch)
    resumed = pretrain(cfg, resume=True, progress=False)
    assert resumed.val_losses == checked.val_losses[2:]
    log = read_training_log(tmp_path / "resumed" / "log.jsonl")
    assert [(r["step"], r["val_loss"]) for r in log] == checked.val_losses


def test_a_held_out_set_must_be_held_out_and_fit_the_training_data(data: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    train, _ = data
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"val_data shares 4 of its 4 studies with data .*not trained on"):
        pretrain(_config(train, out, val_data=str(train)), progress=False)
    odd_grid = write_lesion_studies(tmp_path / "odd", range(20, 21), shape=(8, 32, 24))
    with pytest.raises(InputError, match=r"val_data .*grid \(8, 32, 24\) differs from the training data's "
                                         r"\(8, 32, 32\)"):
        pretrain(_config(train, out, val_data=str(odd_grid)), progress=False)
    # in 2D only the slice size must agree
    with pytest.raises(InputError, match=r"slice size \(32, 24\) differs"):
        pretrain(_config(train, out, val_data=str(odd_grid), mode="2d", patch_size=[8, 8]), progress=False)
    one_sequence = tmp_path / "t2w_only" / "case"
    save_study(Study({"t2w": np.ones((8, 32, 32))}, spacing=(4, 1, 1)), one_sequence)
    with pytest.raises(InputError, match=r"case: study has no sequence 'adc'"):
        pretrain(_config(train, out, val_data=str(one_sequence.parent)), progress=False)
    no_labels = tmp_path / "unlabelled" / "case"
    save_study(Study({"t2w": np.ones((8, 32, 32)), "adc": np.ones((8, 32, 32))}, spacing=(4, 1, 1)),
               no_labels)
    with pytest.raises(InputError, match=r"val_data: .*case: has no label map .*held-out studies too"):
        pretrain(_config(train, out, val_data=str(no_labels.parent), masking="lesion_aware"), progress=False)
    with pytest.raises(ConfigError, match="val_every needs val_data"):
        _config(train, out, val_every=5)
    assert not out.exists()  # every refusal came before anything was written


def test_held_out_loss_restores_the_mode_and_leaves_the_global_generator_alone() -> None:
    model = torch.nn.Linear(1, 1)

    class Output:
        loss = torch.tensor(2.0)

    def inputs(indices: Any, generator: torch.Generator) -> Any:
        return torch.zeros(len(indices), 1), None, None

    calls: list[int] = []

    class Model(torch.nn.Module):
        def forward(self, x: torch.Tensor, mask: Any, voxel_weights: Any) -> Output:
            calls.append(x.shape[0])
            assert not self.training
            return Output()

    model = Model().train()
    state = torch.random.get_rng_state()
    assert held_out_loss(model, 5, 2, inputs, seed=0) == 2.0
    assert calls == [2, 2, 1] and model.training
    assert torch.equal(torch.random.get_rng_state(), state)
    assert held_out_seed(0, 0) != held_out_seed(0, 2) != held_out_seed(1, 2)
    assert held_out_seed(-3, 0) == held_out_seed(-3, 0) < 2**63
    with pytest.raises(InputError, match="at least one held-out item"):
        held_out_loss(model, 0, 2, inputs, seed=0)


def test_log_records_need_a_loss_or_a_held_out_loss(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    records = [{"step": 1, "loss": 1.0, "lr": 0.1}, {"step": 2, "val_loss": 0.9}]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert [sorted(r) for r in read_training_log(log)] == [["loss", "lr", "step"], ["step", "val_loss"]]
    fig = loss_figure(read_training_log(log))
    assert len(fig.axes) == 2  # the learning rate is drawn from the training records alone
    log.write_text(json.dumps({"step": 1, "lr": 0.1}) + "\n")
    with pytest.raises(InputError, match=r"log.jsonl:1: a record needs a numeric 'step' and a numeric"):
        read_training_log(log)
    log.write_text(json.dumps({"step": 1, "val_loss": "low"}) + "\n")
    with pytest.raises(InputError, match=r"log.jsonl:1"):
        read_training_log(log)


def test_cli_val_data_flag(data: tuple[Path, Path], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    train, val = data
    code = main(["pretrain", "--data", str(train), "--val-data", str(val), "--out", str(tmp_path / "cli"),
                 "--max-steps", "2", "--batch-size", "2", "--set", "patch_size=[4,8,8]",
                 "--set", f"model_kwargs={json.dumps(TINY)}", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "held-out loss" in out
    # the run's outline: encoder and decoder sizes, and the studies held in memory (4 training + 3 held out)
    outline = next(line for line in out.splitlines() if line.startswith("model: encoder"))
    assert "decoder" in outline and "over all 32 tokens" in outline
    assert "7 studies in memory, 0.4 MiB" in outline
    assert json.loads((tmp_path / "cli" / "config.json").read_text())["val_data"] == str(val.resolve())
