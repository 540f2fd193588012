"""The per-sequence token layout: each sequence's patch is its own token (SequenceTokenMAE)."""

from __future__ import annotations

import pytest
import torch
from helpers_models import TINY

from maerad.errors import ConfigError
from maerad.masking import create_masking
from maerad.models import MAE, SequenceTokenMAE, create_model, param_groups_lrd, patchify
from maerad.models.sequence_tokens import sequence_patchify, sequence_unpatchify


def tiny(spatial_dims: int = 2, **kw: object) -> MAE:
    size: object = 32 if spatial_dims == 2 else (8, 32, 32)
    patch: object = 8 if spatial_dims == 2 else (4, 8, 8)
    torch.manual_seed(0)
    args: dict[str, object] = {
        "spatial_dims": spatial_dims,
        "img_size": size,
        "patch_size": patch,
        "in_chans": 3,
    }
    args.update(TINY)
    args.update(kw)
    return create_model("mae_vit_tiny", token_layout="per_sequence", **args)  # type: ignore[no-any-return]


def test_token_order_is_sequence_major_and_patchify_inverts() -> None:
    x = torch.randn(2, 3, 8, 16, 16)
    patches = sequence_patchify(x, (4, 8, 8))
    assert patches.shape == (2, 3 * 8, 4 * 8 * 8)
    positions = 8
    for s in range(3):  # token s·P + p is position p of sequence s
        own = patchify(x[:, s : s + 1], (4, 8, 8))
        assert torch.equal(patches[:, s * positions : (s + 1) * positions], own)
    assert torch.equal(sequence_unpatchify(patches, (4, 8, 8), (2, 2, 2), 3), x)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_shapes_grid_and_loss(spatial_dims: int) -> None:
    model = tiny(spatial_dims)
    assert isinstance(model, SequenceTokenMAE)
    grid = model.grid
    assert model.mask_grid == (3, *grid) and model.num_tokens == 3 * len(torch.zeros(grid).flatten())
    x = torch.randn(2, 3, *((32, 32) if spatial_dims == 2 else (8, 32, 32)))
    out = model(x)
    volume = 64 if spatial_dims == 2 else 256
    hidden = model.num_tokens - int(model.num_tokens * 0.25)
    assert out.pred_hidden.shape == (2, hidden, volume) and out.mask.shape == (2, model.num_tokens)
    assert torch.isfinite(out.loss)


def test_norm_pix_target_is_each_sequences_own_patch() -> None:
    model = tiny(norm_pix_loss=True).eval()
    x = torch.randn(2, 3, 32, 32) * torch.tensor([1.0, 10.0, 100.0])[:, None, None]
    with torch.no_grad():
        out = model(x, noise=torch.rand(2, 48))
    target = sequence_patchify(x, (8, 8)).gather(1, out.ids_hidden[..., None].expand(-1, -1, 64))
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    expected = ((out.pred_hidden - target) ** 2).mean()
    torch.testing.assert_close(out.loss, expected, atol=1e-5, rtol=1e-5)


def test_drop_sequence_hides_a_whole_sequence_from_the_encoder() -> None:
    model = tiny().eval()
    spec = create_masking("drop_sequence", drop=2)(
        2, model.mask_grid, generator=torch.Generator().manual_seed(0)
    )
    x = torch.randn(2, 3, 32, 32)
    changed = x.clone()
    changed[:, 2] = torch.randn(2, 32, 32)  # every voxel of the dropped sequence
    with torch.no_grad():
        a, b = model(x, mask=spec), model(changed, mask=spec)
    assert torch.equal(a.latent, b.latent) and torch.equal(a.pred_hidden, b.pred_hidden)
    assert not torch.equal(a.loss, b.loss)  # the dropped sequence is the target
    assert bool(spec.mask.view(2, 3, 16)[:, 2].all())


def test_mask_tokens_know_their_sequence() -> None:
    # joint masking hides the same positions in every sequence, and hidden tokens come in grid order
    # (sequence-major): without the decoder's sequence embedding the mask tokens of one position would
    # be identical in the three sequences, and so would their predictions
    model = tiny().eval()
    spec = create_masking("joint")(1, model.mask_grid, generator=torch.Generator().manual_seed(1))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        per_sequence = model(x, mask=spec).pred_hidden.view(3, -1, 64)
        assert not torch.allclose(per_sequence[0], per_sequence[1], atol=1e-4)
        model.decoder.decoder_sequence_embed.zero_()
        same = model(x, mask=spec).pred_hidden.view(3, -1, 64)
    torch.testing.assert_close(same[0], same[1])
    torch.testing.assert_close(same[0], same[2])


def test_reconstruct_keeps_visible_voxels_per_sequence() -> None:
    model = tiny(norm_pix_loss=True).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model(x)
    recon = model.reconstruct(x, out)
    assert recon.shape == x.shape
    visible = ~out.mask.view(2, 3, 4, 4).repeat_interleave(8, 2).repeat_interleave(8, 3)
    assert torch.equal(recon[visible], x[visible])


def test_sequence_embeddings_are_trained_without_weight_decay() -> None:
    model = tiny()
    model(torch.randn(2, 3, 32, 32)).loss.backward()
    for param in (model.patch_embed.sequence_embed, model.decoder.decoder_sequence_embed):
        assert param.grad is not None and torch.count_nonzero(param.grad) > 0
    no_decay = [
        p for g in param_groups_lrd(model, weight_decay=0.05) if g["weight_decay"] == 0 for p in g["params"]
    ]
    assert any(p is model.patch_embed.sequence_embed for p in no_decay)
    assert any(p is model.decoder.decoder_sequence_embed for p in no_decay)


def test_layout_errors() -> None:
    with pytest.raises(ConfigError, match="token_layout"):
        create_model("mae_vit_tiny", token_layout="interleaved")
    with pytest.raises(ConfigError, match="per-sequence"):
        create_model("maep_tiny", token_layout="per_sequence")
    with pytest.raises(ConfigError, match="model 'mae_vit_tiny' does not accept"):
        create_model("mae_vit_tiny", token_layouts="per_sequence")
    plain = create_model("mae_vit_tiny", img_size=32, patch_size=8, **TINY)
    assert type(plain) is MAE and plain.mask_grid == (4, 4)


def test_forward_rejects_arguments_that_would_be_ignored() -> None:
    model = tiny()
    x = torch.randn(2, 3, 32, 32)
    spec = create_masking("random")(2, model.mask_grid)
    with pytest.raises(ConfigError, match="mask_ratio"):
        model(x, mask=spec, mask_ratio=0.5)
    with pytest.raises(ConfigError, match="generator"):
        model(x, noise=torch.rand(2, 48), generator=torch.Generator())


def test_encoder_weights_load_into_another_image_size() -> None:
    small = tiny(img_size=16)
    large = tiny(img_size=32)
    large.load_encoder_state_dict(small.encoder_state_dict(), source_grid=small.grid)
    torch.testing.assert_close(large.patch_embed.sequence_embed, small.patch_embed.sequence_embed)
    torch.testing.assert_close(large.blocks[0].attn.qkv.weight, small.blocks[0].attn.qkv.weight)
    assert large.pos_embed.shape == (1, 1 + 3 * 16, 32)  # this grid's table, per sequence
    torch.testing.assert_close(large.pos_embed[0, 1:17], large.pos_embed[0, 17:33])


def test_encoder_weights_from_a_transposed_grid_get_this_grids_table() -> None:
    # (6, 4) and (4, 6) give tables of one shape: the (6, 4) table used to be copied verbatim
    source, target = tiny(img_size=(48, 32)), tiny(img_size=(32, 48))
    assert (source.grid, target.grid) == ((6, 4), (4, 6))
    own = target.pos_embed.detach().clone()
    assert own.shape == source.pos_embed.shape and not torch.equal(own, source.pos_embed)
    target.load_encoder_state_dict(source.encoder_state_dict(), source_grid=source.grid)
    assert torch.equal(target.pos_embed, own)
    torch.testing.assert_close(target.patch_embed.sequence_embed, source.patch_embed.sequence_embed)
    with pytest.raises(ConfigError, match="source_grid"):
        target.load_encoder_state_dict(source.encoder_state_dict(), source_grid="6x4")  # type: ignore[arg-type]
