"""Clear errors for malformed checkpoints and arguments: ``load_checkpoint`` / ``save_checkpoint`` and
``load_pretrained(img_size=...)``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from maerad.errors import CheckpointError, ConfigError
from maerad.train.checkpoint import load_checkpoint, save_checkpoint
from maerad.train.config import PretrainConfig
from maerad.train.pretrain import build_model
from maerad.train.pretrained import load_pretrained


def _saved(tmp_path: Path) -> Path:
    model = nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(3, 2)).sum().backward()
    opt.step()
    return save_checkpoint(tmp_path / "ck", model, step=1, config={"a": 1}, optimizer=opt)


def _edit_state(folder: Path, **changes: object) -> None:
    path = folder / "state.json"
    state = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            state.pop(key)
        else:
            state[key] = value
    path.write_text(json.dumps(state))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"step": None}, "no 'step' field"),
        ({"step": "3"}, "'step' must be an int >= 0, got '3'"),
        ({"step": 2.5}, "'step' must be an int >= 0"),
        ({"config": [1, 2]}, "'config' must be an object, got list"),
        ({"extra": "x"}, "'extra' must be an object, got str"),
        ({"optimizer": {"param_groups": []}}, "malformed 'optimizer' entry"),
        ({"optimizer": {"param_groups": [], "scalars": {"zero": {}}}}, "malformed 'optimizer' entry"),
        ({"optimizer": {"param_groups": {}, "scalars": {}}}, "'param_groups' must be a list"),
    ],
)
def test_a_malformed_state_json_raises_checkpoint_error(
    tmp_path: Path, changes: dict[str, object], match: str
) -> None:
    folder = _saved(tmp_path)
    _edit_state(folder, **changes)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(folder)


def test_a_malformed_optimizer_tensor_name_raises_checkpoint_error(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    folder = _saved(tmp_path)
    save_file({"state.exp_avg": torch.zeros(2)}, str(folder / "optimizer.safetensors"))
    with pytest.raises(CheckpointError, match=r"'state\.exp_avg' is not named"):
        load_checkpoint(folder)
    assert load_checkpoint(folder, with_optimizer=False).step == 1  # the weights still load


@pytest.mark.parametrize(
    ("config", "lr", "match"),
    [
        ({"out": Path("/runs/a")}, 1e-3, r"config\.out \(PosixPath\)"),
        ({"nested": {"sizes": [1, {2}]}}, 1e-3, r"config\.nested\.sizes\[1\] \(set\)"),
        ({}, torch.tensor(1e-3), r"optimizer\.param_groups\[0\]\.lr \(Tensor\)"),
    ],
)
def test_a_value_json_cannot_hold_is_named_on_save(
    tmp_path: Path, config: dict[str, object], lr: float | torch.Tensor, match: str
) -> None:
    model = nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    with pytest.raises(ConfigError, match=match):
        save_checkpoint(tmp_path / "ck", model, step=1, config=config, optimizer=opt)
    assert not (tmp_path / "ck").exists()


# -- load_pretrained(img_size=...) -------------------------------------------------------------------


def _pretrain_run(tmp_path: Path, *, record: bool) -> Path:
    """What ``maerad pretrain`` saves for a tiny 2D run on 32 x 32 slices (without training it)."""
    config = PretrainConfig(
        mode="2d", sequences=["t2w"], patch_size=[8, 8], model="mae_vit_tiny",
        model_kwargs={"depth": 1, "decoder_depth": 1, "decoder_embed_dim": 16, "decoder_num_heads": 2},
    )  # fmt: skip
    model = build_model(config, 1, (32, 32))
    extra: dict[str, object] = {"kind": "mae-pretrain"}
    if record:
        extra["img_size"] = [32, 32]
    return save_checkpoint(
        tmp_path / "checkpoint", model, step=1, config=config.model_dump(mode="json"), extra=extra
    )


@pytest.mark.parametrize("record", [True, False], ids=["recorded", "legacy"])
def test_an_int_img_size_is_that_size_on_every_axis(tmp_path: Path, record: bool) -> None:
    folder = _pretrain_run(tmp_path, record=record)
    assert load_pretrained(folder, img_size=32).geometry.img_size == (32, 32)
    if record:
        with pytest.raises(CheckpointError, match=r"trained on inputs of size \(32, 32\), not \(64, 64\)"):
            load_pretrained(folder, img_size=64)


@pytest.mark.parametrize("img_size", ["32", [32.9, 32.9], 32.0, True, [32, "32"], [0, 32]])
def test_a_bad_img_size_raises_config_error(tmp_path: Path, img_size: object) -> None:
    folder = _pretrain_run(tmp_path, record=True)
    with pytest.raises(ConfigError, match="img_size must be a positive int or a sequence of them"):
        load_pretrained(folder, img_size=img_size)  # type: ignore[arg-type]
