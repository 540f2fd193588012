"""Checkpoints (safetensors + JSON, atomic) and the pre-training config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from maerad.errors import CheckpointError, ConfigError
from maerad.train.checkpoint import load_checkpoint, save_checkpoint
from maerad.train.config import apply_overrides, load_pretrain_config


def _trained_pair() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95))
    for _ in range(3):
        model(torch.randn(5, 4)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
    return model, opt


def test_checkpoint_round_trip_restores_training_exactly(tmp_path: Path) -> None:
    model, opt = _trained_pair()
    save_checkpoint(tmp_path / "ck", model, step=3, config={"a": 1}, optimizer=opt, extra={"kind": "t"})
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
    ]
    ck = load_checkpoint(tmp_path / "ck")
    assert ck.step == 3 and ck.config == {"a": 1} and ck.extra == {"kind": "t"}

    clone = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    clone.load_state_dict(ck.model_state)
    clone_opt = torch.optim.AdamW(clone.parameters(), lr=1e-2, betas=(0.9, 0.95))
    assert ck.optimizer_state is not None
    clone_opt.load_state_dict(ck.optimizer_state)
    batch = torch.randn(5, 4)
    for m, o in ((model, opt), (clone, clone_opt)):
        m(batch).pow(2).mean().backward()
        o.step()
    for a, b in zip(model.parameters(), clone.parameters(), strict=True):
        assert torch.equal(a, b)


def test_corrupt_checkpoints_raise_checkpoint_error(tmp_path: Path) -> None:
    model, opt = _trained_pair()
    with pytest.raises(CheckpointError, match=r"no state\.json"):
        load_checkpoint(tmp_path / "missing")
    save_checkpoint(tmp_path / "ck", model, step=1, config={}, optimizer=opt)
    weights = tmp_path / "ck" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        load_checkpoint(tmp_path / "ck")
    (tmp_path / "ck" / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path / "ck")


def test_config_file_fields_and_overrides(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"data": "d", "batch_size": 2, "model_kwargs": {"decoder_depth": 4}}))
    cfg = load_pretrain_config(
        cfg_file, ["mask_ratio=0.6", "model_kwargs.decoder_depth=1", "masking=block"], seed=3, batch_size=None
    )
    assert (cfg.data, cfg.batch_size, cfg.seed, cfg.mask_ratio, cfg.masking) == ("d", 2, 3, 0.6, "block")
    assert cfg.model_kwargs == {"decoder_depth": 1}


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["nonsense=1"], "nonsense"),
        (["mask_ratio=1.5"], "mask_ratio"),
        (["batch_size=0"], "batch_size"),
        (["novalue"], "key=value"),
    ],
)
def test_bad_config_is_one_clear_error(overrides: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_pretrain_config(None, overrides, data="d")


def test_bad_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_pretrain_config(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_pretrain_config(bad)
    with pytest.raises(ConfigError, match="a folder; a config is a JSON file"):
        load_pretrain_config(tmp_path)


def test_apply_overrides_keeps_strings() -> None:
    assert apply_overrides({}, ["out=runs/a", "bf16=true"]) == {"out": "runs/a", "bf16": True}


def test_apply_overrides_reads_shell_style_lists() -> None:
    # what a shell leaves of --set sequences=["t2w","adc"] without quoting: [t2w,adc]
    got = apply_overrides({}, ["sequences=[t2w, adc]", "roi_labels=[40,41]", "mixed=[a,2,true]", "empty=[]",
                               "json=[\"x\"]", "odd=[a,[b]]", "text=a,b"])
    assert got == {"sequences": ["t2w", "adc"], "roi_labels": [40, 41], "mixed": ["a", 2, True], "empty": [],
                   "json": ["x"], "odd": "[a,[b]]", "text": "a,b"}
    for bad in ("sequences=[t2w,,adc]", "sequences=[t2w,]"):
        with pytest.raises(ConfigError, match="empty item"):
            apply_overrides({}, [bad])
    config = load_pretrain_config(None, ["sequences=[t2w,adc]", "patch_size=[4,16,16]"], data="d", out="o")
    assert config.sequences == ["t2w", "adc"] and config.patch_size == [4, 16, 16]


def test_saved_configs_of_earlier_versions_move_config_keys_out_of_model_kwargs() -> None:
    # earlier versions let model_kwargs repeat top-level keys (and win): such runs must still load
    from maerad.train.config import PretrainConfig, saved_pretrain_config

    kwargs = {"depth": 2, "patch_size": [4, 8, 8], "mask_ratio": 0.6, "img_size": [8, 32, 32]}
    saved = {"model_kwargs": kwargs}
    config = PretrainConfig.model_validate(saved_pretrain_config(saved))
    assert config.patch_size == [4, 8, 8] and config.mask_ratio == 0.6
    assert config.model_kwargs == {"depth": 2}
    # the default patch size, recorded as null by earlier versions, becomes the mode's default
    assert saved_pretrain_config({"mode": "3d", "patch_size": None})["patch_size"] == [4, 16, 16]
    assert saved_pretrain_config({"mode": "2d", "patch_size": None})["patch_size"] == [16, 16]


def test_a_config_file_with_a_repeated_key_or_deep_nesting_is_one_config_error(tmp_path: Path) -> None:
    dup = tmp_path / "dup.json"
    dup.write_text('{"max_steps": 2, "max_steps": 3}')
    with pytest.raises(ConfigError, match=r"dup\.json: key 'max_steps' appears more than once"):
        load_pretrain_config(dup)
    deep = tmp_path / "deep.json"
    deep.write_text('{"model_kwargs": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}")
    with pytest.raises(ConfigError, match=r"deep\.json: JSON nested too deeply"):
        load_pretrain_config(deep)
    malformed = tmp_path / "bad.json"
    malformed.write_text('{"max_steps": }')
    with pytest.raises(ConfigError, match=r"bad\.json: malformed JSON at line 1"):
        load_pretrain_config(malformed)


@pytest.mark.parametrize("betas", ["[1.5, 0.95]", "[0.9, 1.0]", "[-0.1, 0.95]", "[NaN, 0.95]", "[0.9]"])
def test_betas_outside_zero_to_one_are_refused(tmp_path: Path, betas: str) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text('{"betas": ' + betas + "}")
    with pytest.raises(ConfigError, match="config field 'betas"):
        load_pretrain_config(cfg)


def test_betas_from_json_lists_and_overrides() -> None:
    assert load_pretrain_config(None, ["betas=[0, 0.999]"]).betas == (0.0, 0.999)
    assert load_pretrain_config(None, betas=[0.8, 0.9]).betas == (0.8, 0.9)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"max_steps": true}', "max_steps"),
        ('{"batch_size": "2"}', "batch_size"),
        ('{"bf16": "off"}', "bf16"),
        ('{"norm_pix_loss": 1}', "norm_pix_loss"),
        ('{"seed": 1.0}', "seed"),
        ('{"mask_ratio": "0.5"}', "mask_ratio"),
        ('{"base_lr": true}', "base_lr"),
        ('{"num_threads": true}', "num_threads"),
        ('{"patch_size": [4.0, 16, 16]}', "patch_size.0"),
        ('{"roi_labels": ["40"]}', "roi_labels.0"),
        ('{"betas": ["0.9", 0.95]}', "betas.0"),
    ],
)
def test_wrong_json_types_are_refused_not_converted(tmp_path: Path, text: str, field: str) -> None:
    _assert_field_refused(tmp_path, text, field)


def _assert_field_refused(tmp_path: Path, text: str, field: str) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=f"config field '{field}'"):
        load_pretrain_config(cfg)


def test_set_overrides_and_flags_keep_their_types() -> None:
    config = load_pretrain_config(
        None,
        ["max_steps=3", "bf16=true", "base_lr=1", "seed=2", "mask_ratio=0.5", "lr=1e-3", "patch_size=[4,8,8]",
         "num_threads=null", "min_lr=0"],
        batch_size=2,
        compile=None,
    )
    got = (config.max_steps, config.bf16, config.seed, config.mask_ratio, config.lr)
    assert got == (3, True, 2, 0.5, 1e-3)
    assert config.base_lr == 1.0 and isinstance(config.base_lr, float)  # an int is a fine float
    assert config.min_lr == 0.0 and isinstance(config.min_lr, float)
    assert config.patch_size == [4, 8, 8] and config.num_threads is None and config.batch_size == 2
    # numbers as typed in a shell, which JSON refuses, are still numbers
    typed = load_pretrain_config(None, ["mask_ratio=.75", "lr=1.", "max_steps=+5"])
    assert (typed.mask_ratio, typed.lr, typed.max_steps) == (0.75, 1.0, 5)
    with pytest.raises(ConfigError, match="base_lr"):
        load_pretrain_config(None, ["base_lr=nan"])


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"base_lr": Infinity}', "base_lr"),
        ('{"lr": NaN}', "lr"),
        ('{"min_lr": Infinity}', "min_lr"),
        ('{"weight_decay": Infinity}', "weight_decay"),
        ('{"mask_ratio": NaN}', "mask_ratio"),
        ('{"lr": 0.001, "min_lr": 0.002}', "min_lr"),
    ],
)
def test_infinite_rates_and_a_floor_above_the_peak_are_refused(tmp_path: Path, text: str, field: str) -> None:
    _assert_field_refused(tmp_path, text, field)
    # a floor equal to the peak is a constant rate after the warm-up: allowed
    assert load_pretrain_config(None, lr=1e-3, min_lr=1e-3).min_lr == 1e-3
