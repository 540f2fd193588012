"""MAE-P: pyramid stem inside tokens, masked pre-training and multi-scale features."""

from __future__ import annotations

import pytest
import torch

from maerad.errors import ConfigError
from maerad.models import MAEP, create_model, param_groups_lrd


def small(**kw: object) -> MAEP:
    args: dict[str, object] = {
        "img_size": 32,
        "patch_size": 16,
        "in_chans": 2,
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 4,
        "decoder_embed_dim": 16,
        "decoder_depth": 1,
        "decoder_num_heads": 2,
        "stage_depths": (1, 1),
    }
    args.update(kw)
    torch.manual_seed(0)
    return MAEP(**args)  # type: ignore[arg-type]


def test_masked_forward_2d_and_3d() -> None:
    model = small(img_size=64)
    out = model(torch.randn(2, 2, 64, 64))
    assert out.pred.shape == (2, 16, 16 * 16 * 2) and (out.mask.sum(1) == 12).all()
    out.loss.backward()
    assert model.patch_embed.stem.weight.grad is not None
    model3 = small(spatial_dims=3, img_size=(8, 32, 32), patch_size=(4, 16, 16), in_chans=1)
    out3 = model3(torch.randn(1, 1, 8, 32, 32))
    assert out3.pred.shape == (1, 8, 4 * 16 * 16) and torch.isfinite(out3.loss)


def test_whole_tokens_are_masked() -> None:
    # the stages never mix tokens: changing only hidden tokens' voxels leaves the encoder output alone
    model = small().eval()
    x = torch.randn(1, 2, 32, 32)
    mask = torch.tensor([[False, True, True, True]])  # token 0 (top-left 16x16) visible
    changed = x.clone()
    changed[:, :, 16:] = torch.randn_like(changed[:, :, 16:])
    changed[:, :, :16, 16:] = 0.0
    with torch.no_grad():
        assert torch.equal(model(x, mask=mask).latent, model(changed, mask=mask).latent)
        visible_change = x.clone()
        visible_change[:, :, :16, :16] += 1.0
        assert not torch.equal(model(x, mask=mask).latent, model(visible_change, mask=mask).latent)


def test_pyramid_shapes_2d_and_anisotropic_3d() -> None:
    model = small(img_size=(32, 48))
    maps = model.forward_pyramid(torch.randn(2, 2, 32, 48))
    assert [tuple(m.shape) for m in maps] == [(2, 8, 8, 12), (2, 16, 4, 6), (2, 32, 2, 3)]
    model3 = small(
        spatial_dims=3, img_size=(8, 32, 32), patch_size=(4, 16, 16), in_chans=1, stage_dims=(6, 10)
    )
    maps3 = model3.forward_pyramid(torch.randn(1, 1, 8, 32, 32))
    assert [tuple(m.shape) for m in maps3] == [(1, 6, 8, 8, 8), (1, 10, 4, 4, 4), (1, 32, 2, 2, 2)]


def test_pyramid_stage_maps_are_local_to_their_token() -> None:
    model = small().eval()
    x = torch.randn(1, 2, 32, 32)
    changed = x.clone()
    changed[:, :, 16:, 16:] += 1.0  # token 3 (bottom-right)
    with torch.no_grad():
        a, b = model.forward_pyramid(x), model.forward_pyramid(changed)
    for level, size in ((0, 4), (1, 2)):  # cells per token side at stride 4 and 8
        diff = (a[level] - b[level]).abs().sum(1)[0]
        assert diff.shape == (2 * size, 2 * size)
        assert torch.count_nonzero(diff[:size, :]) == 0 and torch.count_nonzero(diff[:, :size]) == 0
        assert torch.count_nonzero(diff[size:, size:]) == size * size
    # the transformer level mixes tokens (attention), so every token may change there
    assert torch.count_nonzero((a[2] - b[2]).abs()) > 0


def test_stem_on_visible_tokens_equals_the_full_stem_gathered() -> None:
    model = small().eval()
    x = torch.randn(1, 2, 32, 32)
    stem = model.patch_embed
    ids = torch.tensor([[2, 0]])
    with torch.no_grad():
        all_tokens = stem(x)
        subset = stem(x, ids)
    torch.testing.assert_close(subset, all_tokens[:, [2, 0]])


def test_factory_and_validation() -> None:
    model = create_model("maep_tiny", img_size=32, patch_size=16, in_chans=1, depth=1, decoder_depth=1)
    assert isinstance(model, MAEP) and model.embed_dim == 192
    assert model.patch_embed.stage_dims == (48, 96)
    with pytest.raises(ConfigError, match="divisible by 4"):
        small(patch_size=6, img_size=36)
    with pytest.raises(ConfigError, match="stage_dims"):
        small(stage_dims=(8,))


# --- Hiera-style mask-unit variant (stage_mixer="unit_attention") ---------------------------------


def hiera(**kw: object) -> MAEP:
    args: dict[str, object] = {"stage_mixer": "unit_attention", "stage_dims": (8, 16), "stage_heads": (2, 2)}
    return small(**{**args, **kw})


def test_unit_attention_masked_forward_2d_and_3d() -> None:
    model = hiera(img_size=64)
    out = model(torch.randn(2, 2, 64, 64))
    assert out.pred.shape == (2, 16, 16 * 16 * 2) and (out.mask.sum(1) == 12).all()
    out.loss.backward()
    stem = model.patch_embed
    assert stem.cell_pos is not None and stem.cell_pos.grad is not None
    assert stem.stage1[0].block.attn.qkv.weight.grad is not None
    model3 = hiera(spatial_dims=3, img_size=(8, 32, 32), patch_size=(4, 16, 16), in_chans=1)
    out3 = model3(torch.randn(1, 1, 8, 32, 32))
    assert out3.pred.shape == (1, 8, 4 * 16 * 16) and torch.isfinite(out3.loss)
    maps3 = model3.forward_pyramid(torch.randn(1, 1, 8, 32, 32))
    assert [tuple(m.shape) for m in maps3] == [(1, 8, 8, 8, 8), (1, 16, 4, 4, 4), (1, 32, 2, 2, 2)]


def test_unit_attention_mixes_cells_within_a_token_and_never_across() -> None:
    x = torch.randn(1, 2, 32, 32)
    changed = x.clone()
    changed[:, :, 28:, 28:] += 1.0  # one stage-1 cell: the last of token 3 (bottom-right)
    results = {}
    for mixer, model in (("mlp", small().eval()), ("unit_attention", hiera().eval())):
        with torch.no_grad():
            a, b = model.forward_pyramid(x)[0], model.forward_pyramid(changed)[0]
        diff = (a - b).abs().sum(1)[0]  # (8, 8) stride-4 cells
        assert torch.count_nonzero(diff[:4, :]) == 0 and torch.count_nonzero(diff[:, :4]) == 0
        results[mixer] = int(torch.count_nonzero(diff[4:, 4:]))
    assert results["mlp"] == 1  # per-cell MLPs: only the changed cell moves
    assert results["unit_attention"] == 16  # mask-unit attention: every cell of that token moves


def test_unit_attention_cells_know_their_position() -> None:
    # reorder whole 4x4 cells of a 16x16 token along the width: attention alone is order-blind, so
    # stage 1 would only be reordered the same way; the cell position embedding breaks that
    model = hiera(img_size=16).eval()
    x = torch.randn(1, 2, 16, 16)
    order = torch.tensor([2, 0, 3, 1])
    moved = x.reshape(1, 2, 16, 4, 4)[:, :, :, order].reshape(1, 2, 16, 16)
    stem = model.patch_embed
    assert stem.cell_pos is not None

    def stage1_reordered() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return model.forward_pyramid(x)[0][..., order], model.forward_pyramid(moved)[0]

    assert not torch.allclose(*stage1_reordered(), atol=1e-4)
    with torch.no_grad():
        stem.cell_pos.zero_()
    torch.testing.assert_close(*stage1_reordered())


def test_unit_attention_masking_drops_whole_tokens() -> None:
    model = hiera().eval()
    x = torch.randn(1, 2, 32, 32)
    mask = torch.tensor([[True, False, True, True]])  # token 1 (top-right 16x16) visible
    changed = x.clone()
    changed[:, :, 16:] = torch.randn_like(changed[:, :, 16:])
    changed[:, :, :16, :16] = 0.0
    with torch.no_grad():
        assert torch.equal(model(x, mask=mask).latent, model(changed, mask=mask).latent)
        ids = torch.tensor([[3, 1]])
        torch.testing.assert_close(model.patch_embed(x, ids), model.patch_embed(x)[:, [3, 1]])


def test_unit_attention_factories_validation_and_weight_decay() -> None:
    base = create_model("maep_hiera_base", img_size=32, in_chans=1, depth=1, decoder_depth=1)
    assert isinstance(base, MAEP)
    stem = base.patch_embed
    assert stem.stage_mixer == "unit_attention" and stem.stage_dims == (192, 384)
    assert [blk.block.attn.num_heads for blk in (stem.stage1[0], stem.stage2[0])] == [3, 6]
    tiny = create_model("maep_hiera_tiny", img_size=32, in_chans=1, depth=1, decoder_depth=1)
    tiny_stem = tiny.patch_embed
    assert [blk.block.attn.num_heads for blk in (tiny_stem.stage1[0], tiny_stem.stage2[0])] == [1, 1]
    assert small().patch_embed.cell_pos is None  # the HiViT stem is unchanged (old checkpoints load)
    groups = param_groups_lrd(base, weight_decay=0.05, layer_decay=1.0)
    no_decay = {id(p) for g in groups if g["weight_decay"] == 0.0 for p in g["params"]}
    assert id(stem.cell_pos) in no_decay
    with pytest.raises(ConfigError, match="stage 1"):
        hiera(stage_heads=(3, 2))
    with pytest.raises(ConfigError, match="stage_heads"):
        hiera(stage_heads=(2,))
    with pytest.raises(ConfigError, match="stage_mixer"):
        small(stage_mixer="conv")
