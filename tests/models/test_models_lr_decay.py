"""Layer-wise lr decay and the no-weight-decay rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from maerad.errors import ConfigError
from maerad.models import MAE, param_groups_lrd

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def _model() -> MAE:
    return MAE(
        img_size=16, patch_size=8, in_chans=1, embed_dim=16, depth=3, num_heads=2, decoder_embed_dim=8,
        decoder_depth=1, decoder_num_heads=2,
    )  # fmt: skip


def test_groups_follow_the_mae_recipe() -> None:
    model = _model()
    groups = param_groups_lrd(model, weight_decay=0.05, layer_decay=0.5, base_lr=1e-3)
    placed = {id(p): g for g in groups for p in g["params"]}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(placed) == len(trainable) == sum(len(g["params"]) for g in groups)
    named = dict(model.named_parameters())
    assert id(named["pos_embed"]) not in placed  # frozen sin-cos table
    # depth: embedding 0, blocks.i → i + 1, the rest → 4; scale = 0.5 ** (4 - depth)
    expectations = {
        "patch_embed.proj.weight": (0.5**4, 0.05),
        "cls_token": (0.5**4, 0.0),
        "blocks.0.attn.qkv.weight": (0.5**3, 0.05),
        "blocks.0.norm1.weight": (0.5**3, 0.0),
        "blocks.2.mlp.fc1.bias": (0.5**1, 0.0),
        "norm.weight": (1.0, 0.0),
        "decoder.mask_token": (1.0, 0.0),
        "decoder.decoder_pred.weight": (1.0, 0.05),
    }
    for name, (scale, wd) in expectations.items():
        group = placed[id(named[name])]
        assert group["lr_scale"] == pytest.approx(scale), name
        assert group["weight_decay"] == wd, name
        assert group["lr"] == pytest.approx(1e-3 * scale), name


def test_optimizer_accepts_groups_and_pretraining_rule() -> None:
    model = _model()
    groups = param_groups_lrd(model, layer_decay=1.0)
    assert {g["lr_scale"] for g in groups} == {1.0}
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95))
    model(torch.randn(2, 1, 16, 16)).loss.backward()
    opt.step()


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="layer_decay"):
        param_groups_lrd(_model(), layer_decay=0.0)
    with pytest.raises(ConfigError, match="weight_decay"):
        param_groups_lrd(_model(), weight_decay=-1.0)
    with pytest.raises(ConfigError, match="needs a model with a `blocks` ModuleList"):
        param_groups_lrd(torch.nn.Linear(2, 2), layer_decay=0.5)


def test_wrapped_models_keep_their_layer_decay() -> None:
    # torch.compile and DataParallel prefix every name ("_orig_mod." / "module."): depths must survive
    model = _model()
    plain = param_groups_lrd(model, layer_decay=0.5)
    for wrapped in (torch.compile(model), torch.nn.DataParallel(model)):
        groups = param_groups_lrd(wrapped, layer_decay=0.5)  # type: ignore[arg-type]
        assert [(g["lr_scale"], [id(p) for p in g["params"]]) for g in groups] == [
            (g["lr_scale"], [id(p) for p in g["params"]]) for g in plain
        ]


def test_timm_vit_blocks_in_a_sequential_get_layer_decay() -> None:
    vit = VisionTransformer(img_size=16, patch_size=8, embed_dim=16, depth=2, num_heads=2, num_classes=3)
    assert isinstance(vit.blocks, torch.nn.Sequential)
    groups = param_groups_lrd(vit, layer_decay=0.5)
    placed = {id(p): g for g in groups for p in g["params"]}
    named = dict(vit.named_parameters())
    # as MAE's util/lr_decay.py: embedding 0, blocks.i → i + 1, norm / head → N + 1 = 3
    for name, depth in [("cls_token", 0), ("pos_embed", 0), ("patch_embed.proj.weight", 0),
                        ("blocks.0.attn.qkv.weight", 1), ("blocks.1.mlp.fc2.weight", 2),
                        ("norm.weight", 3), ("head.weight", 3)]:  # fmt: skip
        assert placed[id(named[name])]["layer_id"] == depth, name
        assert placed[id(named[name])]["lr_scale"] == pytest.approx(0.5 ** (3 - depth)), name


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"no_weight_decay": "cls_token"}, "no_weight_decay must be a collection of names"),
        ({"no_weight_decay": None}, "no_weight_decay must be a collection of parameter names"),
        ({"no_weight_decay": [1]}, "no_weight_decay must be a collection of parameter names"),
        ({"layer_decay": "0.5"}, "layer_decay must be a finite number"),
        ({"layer_decay": 1.5}, "layer_decay must be in"),
        ({"weight_decay": "0.05"}, "weight_decay must be a finite number"),
        ({"weight_decay": float("nan")}, "weight_decay must be a finite number"),
        ({"base_lr": float("inf")}, "base_lr must be a finite number"),
    ],
)
def test_values_that_would_be_misread_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        param_groups_lrd(_model(), **kwargs)


def _mae_pretraining_decay(model: torch.nn.Module) -> dict[str, bool]:
    """MAE's main_pretrain.py: timm's add_weight_decay(model, wd) with no skip list."""
    return {
        name: not (p.ndim == 1 or name.endswith(".bias"))
        for name, p in model.named_parameters()
        if p.requires_grad
    }


def test_mae_pretraining_rule_is_no_weight_decay_empty_as_documented() -> None:
    model = _model()
    decayed = {
        name: group["weight_decay"] > 0
        for group in param_groups_lrd(model, layer_decay=1.0, no_weight_decay=())
        for name, p in model.named_parameters()
        for q in group["params"]
        if p is q
    }
    assert decayed == _mae_pretraining_decay(model)
    assert decayed["cls_token"] and decayed["decoder.mask_token"]
    # the default exempts the tokens, which MAE's pre-training does not: the docs must say so
    default = param_groups_lrd(model, layer_decay=1.0)
    assert all(g["weight_decay"] == 0.0 for g in default for p in g["params"] if p is model.cls_token)
    doc = " ".join(DOC.read_text(encoding="utf-8").split())
    docstring = " ".join((param_groups_lrd.__doc__ or "").split())
    assert "With `layer_decay=1.0` it is the MAE pre-training rule" not in doc
    assert "`no_weight_decay=()` reproduces" in doc and "``no_weight_decay=()`` gives" in docstring
