"""MAE-P review fixes: one rule for the Hiera stage heads however the stem is built, the stem's stage
blocks and merges as layers for lr decay (HiViT), refused stage_heads for MLP stages, the stem's own
input checks, and one dtype for the pyramid levels under autocast."""

from __future__ import annotations

import pytest
import torch

from maerad.errors import ConfigError, InputError
from maerad.models import create_model, param_groups_lrd
from maerad.models.maep import MAEP, PyramidStem, default_stage_heads
from maerad.models.patch import PatchGeometry

_SMALL = {"img_size": 32, "in_chans": 1, "depth": 2, "decoder_depth": 1, "decoder_embed_dim": 16,
          "decoder_num_heads": 2}


def test_a_hiera_encoder_moves_between_the_factory_and_the_class_with_the_same_features() -> None:
    torch.manual_seed(0)
    source = create_model("maep_hiera_tiny", **_SMALL).eval()
    target = MAEP(stage_mixer="unit_attention", embed_dim=192, num_heads=3, **_SMALL).eval()
    assert target.patch_embed.stage_heads == source.patch_embed.stage_heads == (1, 1)  # type: ignore[union-attr]
    target.load_encoder_state_dict(source.encoder_state_dict())
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        for a, b in zip(source.forward_pyramid(x), target.forward_pyramid(x), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [default_stage_heads(w) for w in (48, 96, 200, 400, 512)] == [1, 1, 2, 5, 8]


def test_stage_heads_with_mlp_stages_is_refused() -> None:
    for heads in ((3, 3), "x", 0):
        with pytest.raises(ConfigError, match=r"stage_heads=.* is for stage_mixer='unit_attention'"):
            create_model("maep_tiny", stage_heads=heads, **_SMALL)


def test_the_stem_checks_its_own_arguments_and_input() -> None:
    geometry = PatchGeometry((32, 32), (16, 16))
    with pytest.raises(ConfigError, match="in_chans"):
        PyramidStem(geometry, 0, 16)
    with pytest.raises(ConfigError, match="in_chans"):
        PyramidStem(geometry, "1", 16)  # type: ignore[arg-type]
    stem = PyramidStem(geometry, 1, 16)
    with pytest.raises(InputError, match=r"expects input \(B, 1, 32, 32\), got \(1, 1, 30, 32\)"):
        stem(torch.zeros(1, 1, 30, 32))
    with pytest.raises(InputError, match="expects input"):
        stem(torch.zeros(1, 2, 32, 32))
    assert stem(torch.zeros(2, 1, 32, 32)).shape == (2, 4, 16)


@pytest.mark.parametrize("name", ["maep_tiny", "maep_hiera_tiny"])
def test_the_stem_layers_get_their_own_depths_for_lr_decay(name: str) -> None:
    model = create_model(name, stage_depths=(2, 1), **_SMALL)
    groups = param_groups_lrd(model, layer_decay=0.5)
    placed = {id(p): g["layer_id"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    # stem 0, stage 1 blocks 1-2, merge 1 → 3, stage 2 block 4, merge 2 → 5, blocks 6-7, rest 8
    expected = {"patch_embed.stem.": 0, "cls_token": 0, "patch_embed.stage1.0.": 1,
                "patch_embed.stage1.1.": 2, "patch_embed.merge1.": 3, "patch_embed.stage2.0.": 4,
                "patch_embed.merge2.": 5, "blocks.0.": 6, "blocks.1.": 7, "norm.": 8, "decoder.": 8}
    if name == "maep_hiera_tiny":
        expected["patch_embed.cell_pos"] = 0
    for prefix, depth in expected.items():
        params = [p for n, p in named.items() if n.startswith(prefix) and p.requires_grad]
        assert params, prefix
        assert {placed[id(p)] for p in params} == {depth}, prefix
    scales = {g["layer_id"]: g["lr_scale"] for g in groups}
    assert scales[0] == pytest.approx(0.5**8) and scales[3] == pytest.approx(0.5**5)
    assert len(placed) == sum(1 for p in model.parameters() if p.requires_grad)  # each exactly once


@pytest.mark.parametrize("name", ["maep_tiny", "maep_hiera_tiny"])
def test_pyramid_levels_share_one_dtype_under_autocast(name: str) -> None:
    model = create_model(name, **_SMALL).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        maps = model.forward_pyramid(torch.randn(1, 1, 32, 32))
    assert len({m.dtype for m in maps}) == 1
