"""timm ViT → maerad encoder: identical features."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from timm.layers import resample_abs_pos_embed
from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import ResPostBlock, VisionTransformer

from maerad.errors import CheckpointError
from maerad.models import MAE, load_timm_vit

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def _vit(**kw: object) -> VisionTransformer:
    torch.manual_seed(0)
    args: dict[str, object] = {
        "img_size": 32,
        "patch_size": 8,
        "in_chans": 3,
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 4,
        "num_classes": 5,
        "qkv_bias": True,
    }
    args.update(kw)
    vit = VisionTransformer(**args)  # type: ignore[arg-type]
    with torch.no_grad():  # random everything, including norms and the (learned) position table
        for p in vit.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return vit.eval()


def _mae(img: int = 32) -> MAE:
    return MAE(
        img_size=img, patch_size=8, in_chans=3, embed_dim=32, depth=2, num_heads=4, decoder_embed_dim=16,
        decoder_depth=1, decoder_num_heads=2,
    ).eval()  # fmt: skip


def test_features_equal_timm() -> None:
    vit, mae = _vit(), _mae()
    loaded = load_timm_vit(vit, model=mae)
    assert not any(k.startswith("head") for k in loaded)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(mae.forward_tokens(x), vit.forward_features(x), atol=1e-5, rtol=1e-5)
        pooled = vit.forward_head(vit.forward_features(x), pre_logits=True)  # class token
        torch.testing.assert_close(mae.forward_features(x, pool="cls"), pooled, atol=1e-5, rtol=1e-5)


def test_state_dict_source_and_no_embed_class() -> None:
    vit, mae = _vit(no_embed_class=True), _mae()
    load_timm_vit(vit.state_dict(), model=mae)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(mae.forward_tokens(x), vit.forward_features(x), atol=1e-5, rtol=1e-5)


def test_resampled_into_a_larger_grid() -> None:
    vit, mae = _vit(), _mae(img=48)
    load_timm_vit(vit, model=mae)
    assert mae.pos_embed.shape == (1, 1 + 36, 32)
    assert torch.equal(mae.cls_token, vit.cls_token)


def test_unsupported_features_are_refused() -> None:
    with pytest.raises(CheckpointError, match="reg_token"):
        load_timm_vit(_vit(reg_tokens=2))
    with pytest.raises(CheckpointError, match="ls1"):
        load_timm_vit(_vit(init_values=0.1))
    with pytest.raises(CheckpointError, match="final norm"):
        load_timm_vit(_vit(global_pool="avg"))


def test_a_pretrained_encoder_loads_into_timm_strictly() -> None:
    # the other way: maerad's encoder_state_dict() is a timm ViT state dict (without the head), so a
    # pre-trained encoder goes into timm / the MAE fine-tuning code as it is
    mae = _mae()
    with torch.no_grad():
        for p in mae.parameters():
            p.add_(0.1 * torch.randn_like(p))
    vit = _vit(num_classes=0)
    vit.load_state_dict(mae.encoder_state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(vit.forward_features(x), mae.forward_tokens(x), rtol=1e-5, atol=1e-5)


def _mae_for(img: tuple[int, int]) -> MAE:
    return MAE(
        img_size=img, patch_size=8, in_chans=3, embed_dim=32, depth=2, num_heads=4, decoder_embed_dim=16,
        decoder_depth=1, decoder_num_heads=2,
    ).eval()  # fmt: skip


def _assert_same_features(mae: MAE, vit: torch.nn.Module, img_size: tuple[int, int]) -> None:
    x = torch.randn(2, 3, *img_size)
    with torch.no_grad():
        torch.testing.assert_close(mae.forward_tokens(x), vit.forward_features(x), atol=1e-5, rtol=1e-5)


def test_a_non_square_state_dict_whose_row_count_is_square_loads_into_its_model() -> None:
    # grid 4 x 6 with a class row: 25 rows, also a 5 x 5 grid without one; the model's grid decides
    vit, mae = _vit(img_size=(32, 48)), _mae_for((32, 48))
    assert vit.pos_embed.shape[1] == 25
    load_timm_vit(vit.state_dict(), model=mae)
    _assert_same_features(mae, vit, (32, 48))


def test_an_ambiguous_state_dict_without_its_grid_asks_for_source_grid() -> None:
    vit = _vit(img_size=(32, 48))  # 25 rows: 24 is not a square, so no square grid with a class row fits
    with pytest.raises(CheckpointError, match="source_grid"):
        load_timm_vit(vit.state_dict())
    with pytest.raises(CheckpointError, match="source_grid"):
        load_timm_vit(vit.state_dict(), model=_mae_for((48, 48)))  # a 6 x 6 model: 37 rows
    # with the grid named it loads, unchanged, and is resampled into another model's grid
    assert torch.equal(load_timm_vit(vit.state_dict(), source_grid=(4, 6))["pos_embed"], vit.pos_embed)
    other = _mae_for((48, 48))
    load_timm_vit(vit.state_dict(), model=other, source_grid=(4, 6))
    torch.testing.assert_close(other.pos_embed[:, :1], vit.pos_embed[:, :1])  # class row kept
    assert other.pos_embed.shape == (1, 37, 32)


def test_no_embed_class_table_of_the_models_grid_loads_when_rows_minus_one_is_square() -> None:
    # grid 2 x 5 without a class row: 10 rows, and 10 - 1 = 9 = 3 x 3 with one
    vit, mae = _vit(img_size=(16, 40), no_embed_class=True), _mae_for((16, 40))
    assert vit.pos_embed.shape[1] == 10
    load_timm_vit(vit.state_dict(), model=mae)
    _assert_same_features(mae, vit, (16, 40))


def test_a_square_state_dict_is_still_resampled_into_another_grid() -> None:
    vit = _vit()  # 4 x 4 with a class row: 17 rows
    from_module, from_state = _mae(img=48), _mae(img=48)
    load_timm_vit(vit, model=from_module)
    load_timm_vit(vit.state_dict(), model=from_state)
    assert torch.equal(from_state.pos_embed, from_module.pos_embed)
    assert from_state.pos_embed.shape == (1, 37, 32)


# -- settings the weights do not show (activation, eps, block type) -----------------------------------


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"act_layer": "quick_gelu"}, "QuickGELU"),
        ({"norm_layer": functools.partial(torch.nn.LayerNorm, eps=1e-5)}, "eps 1e-05"),
        ({"block_fn": ResPostBlock}, "ResPostBlock"),
        ({"act_layer": "gelu_tanh"}, "act='gelu_tanh'"),
    ],
    ids=["quick_gelu", "eps", "post_norm", "gelu_tanh"],
)
def test_a_module_with_other_hidden_settings_is_refused(kw: dict[str, object], match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        load_timm_vit(_vit(**kw), model=_mae())


def test_a_module_with_other_settings_loads_into_a_model_built_with_them() -> None:
    vit = _vit(act_layer="gelu_tanh", norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-5))
    mae = MAE(
        img_size=32, patch_size=8, in_chans=3, embed_dim=32, depth=2, num_heads=4, decoder_embed_dim=16,
        decoder_depth=1, decoder_num_heads=2, act="gelu_tanh", norm_eps=1e-5,
    ).eval()  # fmt: skip
    load_timm_vit(vit, model=mae)
    _assert_same_features(mae, vit, (32, 32))


# -- resampling as timm does -----------------------------------------------------------------------------


@pytest.mark.parametrize("img", [(96, 96), (32, 32), (48, 80)], ids=["up", "down", "non_square"])
def test_a_resampled_table_gives_the_features_of_timm_at_that_size(img: tuple[int, int]) -> None:
    vit = _vit(img_size=64, dynamic_img_size=True)  # timm resamples its 8 x 8 table per input size
    mae = _mae_for(img)
    load_timm_vit(vit, model=mae)
    _assert_same_features(mae, vit, img)
    expected = resample_abs_pos_embed(vit.pos_embed, [img[0] // 8, img[1] // 8], [8, 8], num_prefix_tokens=1)
    torch.testing.assert_close(mae.pos_embed, expected, atol=1e-6, rtol=0.0)


# -- sources it does not handle ----------------------------------------------------------------------


def test_a_3d_model_is_refused_as_such() -> None:
    mae3d = MAE(
        spatial_dims=3, img_size=32, patch_size=8, in_chans=3, embed_dim=32, depth=2, num_heads=4,
        decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2,
    )  # fmt: skip
    with pytest.raises(CheckpointError, match="timm ViTs are 2D and the model is 3D"):
        load_timm_vit(_vit(), model=mae3d)


@pytest.mark.parametrize(
    ("source", "match"),
    [({"cls_token": 1}, "entry 'cls_token' has type int"), ("vit.safetensors", "read the file first"),
     (42, "got int")],
    ids=["non_tensor_value", "path", "int"],
)
def test_sources_that_are_not_a_module_or_state_dict_are_refused(source: object, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        load_timm_vit(source)  # type: ignore[arg-type]


def test_other_timm_classes_and_distillation_tokens_are_refused_by_name() -> None:
    torch.manual_seed(0)
    deit = VisionTransformerDistilled(
        img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4, num_classes=0
    )
    with pytest.raises(CheckpointError, match="VisionTransformerDistilled"):
        load_timm_vit(deit, model=_mae())
    with pytest.raises(CheckpointError, match="dist_token"):
        load_timm_vit(deit.state_dict(), model=_mae())


# -- docs: exporting to timm keeps the features only with timm's default activation and eps -------------


def test_export_to_timm_needs_timm_defaults_as_the_docs_say() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert 'act="gelu"' in text and "norm_eps=1e-6" in text and "norm_layer" in text
    mae = MAE(
        img_size=32, patch_size=8, in_chans=3, embed_dim=32, depth=2, num_heads=4, decoder_embed_dim=16,
        decoder_depth=1, decoder_num_heads=2, norm_eps=1e-12, act="gelu_tanh",
    ).eval()  # fmt: skip
    with torch.no_grad():
        for p in mae.parameters():
            p.add_(0.5 * torch.randn_like(p))
    x = torch.randn(2, 3, 32, 32)
    default = _vit(num_classes=0)
    default.load_state_dict(mae.encoder_state_dict(), strict=True)  # loads, yet computes otherwise
    hf_like = functools.partial(torch.nn.LayerNorm, eps=1e-12)
    matching = _vit(num_classes=0, act_layer="gelu_tanh", norm_layer=hf_like)
    matching.load_state_dict(mae.encoder_state_dict(), strict=True)
    with torch.no_grad():
        tokens = mae.forward_tokens(x)
        assert (default.forward_features(x) - tokens).abs().max() > 1e-3
        torch.testing.assert_close(matching.forward_features(x), tokens, atol=1e-4, rtol=1e-4)
