"""MAE-P: pyramid stem inside tokens, masked pre-training and multi-scale features."""

from __future__ import annotations

import pytest
import torch

from maerad.errors import ConfigError
from maerad.models import MAEP, create_model


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
