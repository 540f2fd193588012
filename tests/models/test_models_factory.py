"""Model registry and factories by name."""

from __future__ import annotations

import pytest
import torch

from maerad.errors import ConfigError
from maerad.models import MAE, MAEP, MODELS, create_mae, create_model


def test_all_names_are_registered() -> None:
    names = set(MODELS.names())
    for size in ("tiny", "small", "base", "large"):
        assert f"mae_vit_{size}" in names and f"maep_{size}" in names


@pytest.mark.parametrize(
    ("name", "dim", "heads", "depth"),
    [
        ("mae_vit_tiny", 192, 3, 12),
        ("mae_vit_small", 384, 6, 12),
        ("mae_vit_base", 768, 12, 12),
        ("mae_vit_large", 1024, 16, 24),
    ],
)
def test_sizes(name: str, dim: int, heads: int, depth: int) -> None:
    # built with one block to stay fast; the registered depth is checked on the factory defaults
    model = create_mae(name, img_size=32, patch_size=16, depth=1, decoder_depth=0)
    assert model.embed_dim == dim
    assert model.blocks[0].attn.num_heads == heads
    from maerad.models import VIT_SIZES

    assert VIT_SIZES[name.rsplit("_", 1)[1]]["depth"] == depth


def test_mae_kwargs_are_honoured() -> None:
    model = create_model(
        "mae_vit_tiny",
        spatial_dims=3,
        in_chans=2,
        img_size=(8, 32, 32),
        patch_size=(4, 8, 8),
        mask_ratio=0.5,
        norm_pix_loss=True,
        decoder_embed_dim=24,
        decoder_depth=1,
        decoder_num_heads=3,
        depth=1,
    )
    assert isinstance(model, MAE) and not isinstance(model, MAEP)
    assert model.grid == (2, 4, 4) and model.in_chans == 2 and model.mask_ratio == 0.5 and model.norm_pix_loss
    assert model.decoder.decoder_embed.out_features == 24 and len(model.decoder.decoder_blocks) == 1
    assert model.decoder.decoder_blocks[0].attn.num_heads == 3
    out = model(torch.randn(1, 2, 8, 32, 32))
    assert (out.mask.sum(1) == 16).all()


def test_unknown_names_and_kwargs() -> None:
    with pytest.raises(ConfigError, match="mae_vit_tiny"):
        create_model("mae_vit_tin")
    with pytest.raises(ConfigError, match="dropout"):
        create_model("mae_vit_tiny", dropout=0.1)


_SMALL = {"img_size": 32, "patch_size": 8, "depth": 1, "decoder_depth": 1}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 2.5}, "depth must be an int"),
        ({"depth": "2"}, "depth must be an int"),
        ({"depth": True}, "depth must be an int"),
        ({"decoder_depth": 1.5}, "decoder_depth must be an int"),
        ({"num_heads": 3.0}, "number of heads 3.0"),
        ({"embed_dim": "192"}, "width '192'"),
        ({"mlp_ratio": "4"}, "mlp_ratio must be a finite number"),
        ({"mlp_ratio": float("nan")}, "mlp_ratio must be a finite number"),
        ({"decoder_mlp_ratio": -1.0}, "decoder_mlp_ratio must be a finite number"),
        ({"norm_eps": "x"}, "norm_eps must be a finite number"),
        ({"norm_eps": -1.0}, "norm_eps must be a finite number >= 0"),
        ({"decoder": 42}, "decoder must be an nn.Module"),
        ({"norm_pix_loss": "false"}, "norm_pix_loss must be True or False"),
        ({"qkv_bias": "no"}, "qkv_bias must be True or False"),
        ({"drop_path_rate": "0.1"}, "drop_path_rate must be a finite number"),
    ],
)
def test_bad_argument_types_raise_config_error_naming_them(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        create_model("mae_vit_tiny", **{**_SMALL, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"stage_dims": 8}, "stage_dims must be two ints"),
        ({"stage_dims": (8.5, 16)}, "stage_dims must be two ints"),
        ({"stage_dims": ("8", 16)}, "stage_dims must be two ints"),
        ({"stage_depths": 2}, "stage_depths must be two ints"),
        ({"stage_mlp_ratio": 0}, "stage_mlp_ratio must be a finite number > 0"),
        ({"stage_mlp_ratio": float("inf")}, "stage_mlp_ratio must be a finite number > 0"),
    ],
)
def test_bad_maep_stage_arguments_raise_config_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        create_model("maep_tiny", **{**_SMALL, **kwargs})


def _stage_heads(model: MAE) -> list[int]:
    stem = model.patch_embed
    return [int(stage[0].block.attn.num_heads) for stage in (stem.stage1, stem.stage2)]  # type: ignore[union-attr, index]


@pytest.mark.parametrize(
    ("name", "kwargs", "heads"),
    [
        ("maep_hiera_tiny", {}, [1, 1]),
        ("maep_hiera_small", {}, [1, 3]),
        ("maep_hiera_base", {}, [3, 6]),
        ("maep_hiera_large", {"depth": 1}, [4, 8]),
        ("maep_hiera_base", {"embed_dim": 64, "num_heads": 4}, [1, 1]),
        ("maep_hiera_tiny", {"embed_dim": 512, "num_heads": 8}, [2, 4]),
        ("maep_hiera_base", {"stage_dims": (200, 400)}, [2, 5]),  # 3 and 6 lowered to divisors
        ("maep_hiera_base", {"stage_heads": (2, 4)}, [2, 4]),
    ],
)
def test_hiera_stage_heads_follow_the_widths_actually_used(
    name: str, kwargs: dict[str, object], heads: list[int]
) -> None:
    model = create_model(name, **{**_SMALL, "stage_depths": (1, 1), **kwargs})
    assert _stage_heads(model) == heads
