"""Layer-wise lr decay and the no-weight-decay rule."""

from __future__ import annotations

import pytest
import torch

from maerad.errors import ConfigError
from maerad.models import MAE, param_groups_lrd


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
