"""Checkpoints across versions: a unit-attention MAE-P records its stage heads (not in the weights),
older records are rebuilt with the heads they were trained with, optimizer states keep their group
layout under pre-training's single lr, and a state that does not fit is a CheckpointError."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from helpers_models import TINY

from maerad.data import Study, save_study
from maerad.errors import CheckpointError, ConfigError
from maerad.models import create_model, param_groups_lrd
from maerad.report.generation.encoder import pretrained_encoder
from maerad.train import pretrain as pretrain_module
from maerad.train.config import load_pretrain_config
from maerad.train.pretrain import pretrain
from maerad.train.pretrained import load_pretrained


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compat")
    rng = np.random.default_rng(0)
    for i in range(2):
        save_study(Study({"t2w": rng.normal(size=(8, 32, 32))}, spacing=(4, 1, 1)), root / f"case-{i}")
    return root


def _config(studies: Path, out: Path, **kw: Any) -> Any:
    base: dict[str, Any] = {"data": str(studies), "out": str(out), "patch_size": [4, 8, 8], "max_steps": 1,
                            "batch_size": 2, "lr": 1e-3, "warmup_steps": 0, "model": "maep_tiny",
                            "model_kwargs": {**TINY, "embed_dim": 64, "num_heads": 2,
                                             "stage_mixer": "unit_attention"}}
    return load_pretrain_config(None, **{**base, **kw})


def _heads(model: Any) -> tuple[int, int]:
    return tuple(model.patch_embed.stage_heads)  # type: ignore[no-any-return]


def _forget_heads(run: Path) -> None:
    """Make ``run`` look written before stage heads were recorded."""
    for path in (run / "config.json", run / "checkpoint" / "state.json"):
        data = json.loads(path.read_text())
        config = data if path.name == "config.json" else data["config"]
        del config["model_kwargs"]["stage_heads"]
        path.write_text(json.dumps(data))


def test_unit_attention_heads_are_recorded_and_older_records_rebuilt_as_trained(studies: Path,
                                                                                 tmp_path: Path) -> None:
    run = tmp_path / "run"
    pretrain(_config(studies, run), progress=False)
    saved = json.loads((run / "config.json").read_text())
    assert saved["model_kwargs"]["stage_heads"] == [1, 1]  # today's rule: one head per 64 channels
    assert _heads(load_pretrained(run)) == (1, 1)
    spec, _ = pretrained_encoder(run, (8, 32, 32))
    assert spec.model_kwargs["stage_heads"] == [1, 1]
    # a record without heads is from before: a maep_* stem with unit attention then had (1, 2)
    _forget_heads(run)
    assert _heads(load_pretrained(run)) == (1, 2)
    spec, _ = pretrained_encoder(run, (8, 32, 32))
    assert spec.model_kwargs["stage_heads"] == [1, 2]
    # resuming it under today's default is refused, naming the heads, instead of training other ones
    with pytest.raises(ConfigError, match=r"model_kwargs.*stage_heads"):
        pretrain(_config(studies, run, max_steps=2), resume=True, progress=False)
    resumed = pretrain(_config(studies, run, max_steps=2, model_kwargs={
        **TINY, "embed_dim": 64, "num_heads": 2, "stage_mixer": "unit_attention", "stage_heads": [1, 2]}),
        resume=True, progress=False)
    assert resumed.steps == 2


def test_pretraining_keeps_one_group_layout_for_maep() -> None:
    model = create_model("maep_tiny", img_size=32, in_chans=1, depth=2, decoder_depth=1)
    groups = param_groups_lrd(model, layer_decay=1.0)
    # one lr for all: as before the stem had depths of its own (two groups per depth: decay or not)
    assert sorted({g["layer_id"] for g in groups}) == [0, 1, 2, 3]
    assert all(g["lr_scale"] == 1.0 for g in groups)


def test_an_optimizer_state_that_does_not_fit_is_a_checkpoint_error(studies: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    pretrain(_config(studies, run, model="mae_vit_tiny", model_kwargs=TINY), progress=False)
    real = pretrain_module.param_groups_lrd

    def one_group(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        groups = real(*args, **kwargs)
        return [{**groups[0], "params": [p for g in groups for p in g["params"]]}]

    monkeypatch.setattr(pretrain_module, "param_groups_lrd", one_group)
    with pytest.raises(CheckpointError, match="optimizer state does not fit this model's parameter groups"):
        pretrain(_config(studies, run, model="mae_vit_tiny", model_kwargs=TINY, max_steps=2), resume=True,
                 progress=False)


def test_a_non_finite_held_out_loss_stops_the_run(studies: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    val = tmp_path / "val"
    save_study(Study({"t2w": np.ones((8, 32, 32))}, spacing=(4, 1, 1)), val / "case-v")
    monkeypatch.setattr(pretrain_module, "held_out_loss", lambda *args, **kwargs: float("nan"))
    config = _config(studies, tmp_path / "run", model="mae_vit_tiny", model_kwargs=TINY, val_data=str(val))
    with pytest.raises(ConfigError, match=r"held-out loss became nan at step 1"):
        pretrain(config, progress=False)


def test_a_run_resumes_with_the_config_it_was_started_with(studies: Path, tmp_path: Path) -> None:
    # the heads are recorded in the checkpoint; the caller's config, which leaves them out, still matches
    config = _config(studies, tmp_path / "run")
    pretrain(config, progress=False)
    assert pretrain(config.model_copy(update={"max_steps": 2}), resume=True, progress=False).steps == 2
