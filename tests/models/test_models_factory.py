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
