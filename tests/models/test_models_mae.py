"""The MAE model: masking inputs, loss, hidden-only head, encoder isolation, export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers_models import TINY
from timm.models.vision_transformer import Block

from maerad.errors import CheckpointError, ConfigError, InputError
from maerad.losses import normalize_patches
from maerad.masking import MaskSpec
from maerad.models import MAE, MAEOutput, create_model, interpolate_pos_embed, sincos_pos_embed
from maerad.models.decoder import MAEDecoder, block_for_queries


def tiny(**kw: object) -> MAE:
    args: dict[str, object] = {
        "img_size": 32,
        "patch_size": 8,
        "in_chans": 2,
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 4,
        "decoder_embed_dim": 16,
        "decoder_depth": 2,
        "decoder_num_heads": 2,
    }
    args.update(kw)
    torch.manual_seed(0)
    return MAE(**args)  # type: ignore[arg-type]


def test_shapes_and_visible_count_2d_and_3d() -> None:
    model = tiny(mask_ratio=0.6)
    out = model(torch.randn(3, 2, 32, 32))
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert out.pred.shape == (3, 16, 64 * 2)
    keep = int(16 * (1 - 0.6))
    assert out.ids_keep.shape == (3, keep) and out.pred_hidden.shape == (3, 16 - keep, 128)
    assert (out.mask.sum(1) == 16 - keep).all()
    assert out.latent.shape == (3, 1 + keep, 32)
    model3 = tiny(spatial_dims=3, img_size=(8, 32, 32), patch_size=(4, 16, 16), in_chans=1)
    out3 = model3(torch.randn(2, 1, 8, 32, 32))
    assert model3.grid == (2, 2, 2) and out3.pred.shape == (2, 8, 4 * 16 * 16)
    assert (out3.mask.sum(1) == 6).all()


def test_noise_decides_the_mask_like_hf() -> None:
    model = tiny()
    noise = torch.rand(2, 16)
    out = model(torch.randn(2, 2, 32, 32), noise=noise)
    keep = 4
    lowest = noise.argsort(dim=1)[:, :keep]
    expected_visible = torch.zeros(2, 16, dtype=torch.bool).scatter(1, lowest, True)
    assert torch.equal(~out.mask, expected_visible)
    assert torch.equal(torch.sort(out.ids_keep, 1).values, torch.sort(lowest, 1).values)


def test_bool_mask_and_maskspec_inputs() -> None:
    model = tiny()
    x = torch.randn(2, 2, 32, 32)
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[0, 5:] = True
    mask[1, :11] = True
    out = model(x, mask=mask)
    assert torch.equal(out.mask, mask)
    assert torch.equal(out.ids_keep[0], torch.arange(5))
    assert torch.equal(out.ids_keep[1], torch.arange(11, 16))
    spec = MaskSpec.from_scores(torch.rand(2, 16), 3, (4, 4))
    out_spec = model(x, mask=spec)
    assert torch.equal(out_spec.mask, spec.mask)
    assert torch.equal(out_spec.ids_keep, spec.ids_keep)


def test_mask_input_errors() -> None:
    model = tiny()
    x = torch.randn(2, 2, 32, 32)
    uneven = torch.zeros(2, 16, dtype=torch.bool)
    uneven[0, :4] = True
    uneven[1, :5] = True
    with pytest.raises(InputError, match="same number"):
        model(x, mask=uneven)
    with pytest.raises(InputError, match="bool"):
        model(x, mask=torch.zeros(2, 15, dtype=torch.bool))
    with pytest.raises(InputError, match="between 1"):
        model(x, mask=torch.zeros(2, 16, dtype=torch.bool))
    with pytest.raises(ConfigError, match="not both"):
        model(x, noise=torch.rand(2, 16), mask=uneven)
    with pytest.raises(InputError, match="grid"):
        model(x, mask=MaskSpec.from_scores(torch.rand(2, 16), 3, (2, 8)))
    with pytest.raises(InputError, match="noise"):
        model(x, noise=torch.rand(2, 15))
    with pytest.raises(InputError, match="expected input"):
        model(torch.randn(2, 3, 32, 32))
    with pytest.raises(InputError, match="floating"):
        model(torch.zeros(2, 2, 32, 32, dtype=torch.int64))
    with pytest.raises(InputError, match="noise holds NaN"):
        model(x, noise=torch.full((2, 16), float("nan")))


def test_a_maskspec_whose_fields_disagree_is_refused() -> None:
    # a custom strategy's spec: a mask that does not match ids_keep would leak visible tokens into the loss
    model = tiny()
    x = torch.randn(2, 2, 32, 32)
    good = MaskSpec.from_scores(torch.rand(2, 16, generator=torch.Generator().manual_seed(0)), 4, (4, 4))
    repeated = good.ids_keep.clone()
    repeated[:, 1] = repeated[:, 0]
    swapped = good.ids_restore.clone()  # a visible and a hidden token trade shuffled positions
    for row in range(2):
        visible, hidden = int(good.ids_keep[row, 0]), int(good.mask[row].nonzero()[0])
        swapped[row, [visible, hidden]] = swapped[row, [hidden, visible]]
    bad = {
        "does not hide exactly": MaskSpec(good.ids_keep, good.ids_restore, good.mask.roll(1, 1), (4, 4)),
        "outside": MaskSpec(good.ids_keep + 100, good.ids_restore, good.mask, (4, 4)),
        "repeats a token": MaskSpec(repeated, good.ids_restore, good.mask, (4, 4)),
        "inverse of the shuffle": MaskSpec(good.ids_keep, swapped, good.mask, (4, 4)),
    }
    for message, spec in bad.items():
        with pytest.raises(InputError, match=message):
            model(x, mask=spec)
    good.check()
    assert good.consistent and good.to("cpu").consistent  # from_scores specs skip the per-forward check
    assert torch.equal(model(x, mask=good).mask, good.mask)


def test_float64_and_half_inputs_run_in_the_weights_dtype() -> None:
    model = tiny().eval()
    x = torch.randn(2, 2, 32, 32)
    noise = torch.rand(2, 16)
    reference = model(x, noise=noise).loss
    torch.testing.assert_close(model(x.double(), noise=noise).loss, reference)
    assert torch.isfinite(model(x.bfloat16(), noise=noise).loss)
    assert model.forward_features(x.double()).dtype == torch.float32


def test_generator_reproducibility_and_ratio_override() -> None:
    model = tiny()
    x = torch.randn(2, 2, 32, 32)
    a = model(x, generator=torch.Generator().manual_seed(7))
    b = model(x, generator=torch.Generator().manual_seed(7))
    c = model(x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a.mask, b.mask) and torch.equal(a.loss, b.loss)
    assert not torch.equal(a.mask, c.mask)
    assert (model(x, mask_ratio=0.5).mask.sum(1) == 8).all()


@pytest.mark.parametrize("mode", ["per_channel", "joint"])
def test_loss_equals_independent_computation(mode: str) -> None:
    model = tiny(norm_pix_loss=True, norm_pix_mode=mode).eval()
    x = torch.randn(2, 2, 32, 32) * torch.tensor([1.0, 50.0]).view(1, 2, 1, 1)
    noise = torch.rand(2, 16)
    out = model(x, noise=noise, return_full_pred=True)
    assert out.pred_full is not None
    target = model.patchify(x)
    if mode == "per_channel":  # normalise the 64 voxels of each channel separately
        t = target.reshape(2, 16, 64, 2)
        t = (t - t.mean(2, keepdim=True)) / (t.var(2, keepdim=True) + 1e-6).sqrt()
        target = t.reshape(2, 16, 128)
    else:
        target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    per_token = ((out.pred_full - target) ** 2).mean(-1)
    expected = per_token[out.mask].mean()
    torch.testing.assert_close(out.loss, expected, atol=1e-5, rtol=1e-5)


def test_hidden_only_head_equals_full_head() -> None:
    model = tiny().eval()
    x, noise = torch.randn(2, 2, 32, 32), torch.rand(2, 16)
    with torch.no_grad():
        fast = model(x, noise=noise)
        full = model(x, noise=noise, return_full_pred=True)
    assert full.pred_full is not None
    torch.testing.assert_close(fast.pred[fast.mask], full.pred_full[full.mask], atol=1e-5, rtol=1e-5)
    assert torch.count_nonzero(fast.pred[~fast.mask]) == 0
    torch.testing.assert_close(fast.loss, full.loss, atol=1e-6, rtol=1e-6)


def test_block_for_queries_equals_full_block_then_gather() -> None:
    torch.manual_seed(0)
    block = Block(16, 4, qkv_bias=True)
    seq = torch.randn(3, 9, 16)
    rows = torch.tensor([[1, 4, 8], [0, 2, 3], [8, 7, 6]])
    full = block(seq)
    torch.testing.assert_close(
        block_for_queries(block, seq, rows), torch.gather(full, 1, rows[..., None].expand(-1, -1, 16))
    )


def _plain_decoder(dec: MAEDecoder, latent: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
    """The decoder written out plainly: every block on the whole sequence, the head on every token."""
    h = dec.decoder_embed(latent)
    batch, width = h.shape[0], h.shape[-1]
    seq = dec.mask_token.expand(batch, dec.decoder_pos_embed.shape[1] - 1, width).clone()
    seq[torch.arange(batch)[:, None], ids_keep] = h[:, 1:]
    seq = torch.cat([h[:, :1], seq], dim=1) + dec.decoder_pos_embed
    for block in dec.decoder_blocks:
        seq = block(seq)
    return dec.decoder_pred(dec.decoder_norm(seq[:, 1:]))  # type: ignore[no-any-return]


@pytest.mark.parametrize("depth", [0, 1, 3])
@pytest.mark.parametrize("hidden_only", [False, True])
def test_decoder_equals_the_plain_decoder_with_gradients(depth: int, hidden_only: bool) -> None:
    # the hidden-only path runs the last block on the hidden rows only: outputs and every gradient
    # (latent, mask token, all weights) must match the plain computation
    torch.manual_seed(0)
    dec = MAEDecoder(
        grid=(4, 4),
        embed_dim=24,
        patch_dim=12,
        decoder_embed_dim=16,
        decoder_depth=depth,
        decoder_num_heads=2,
    )
    torch.nn.init.normal_(dec.mask_token, std=0.5)
    latent = torch.randn(3, 1 + 5, 24, requires_grad=True)
    order = torch.stack([torch.randperm(16) for _ in range(3)])
    ids_keep, ids_hidden = order[:, :5], order[:, 5:]
    weights = torch.randn(3, 16, 12)  # a loss that weighs every output differently
    expected = _plain_decoder(dec, latent, ids_keep)
    if hidden_only:
        got = dec(latent, ids_keep, ids_hidden)
        expected = torch.gather(expected, 1, ids_hidden[..., None].expand(-1, -1, 12))
        weights = torch.gather(weights, 1, ids_hidden[..., None].expand(-1, -1, 12))
    else:
        got = dec(latent, ids_keep, None)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    params = [latent, *(p for p in dec.parameters() if p.requires_grad)]
    grads_got = torch.autograd.grad((got * weights).sum(), params)
    grads_expected = torch.autograd.grad((expected * weights).sum(), params)
    for g, e in zip(grads_got, grads_expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)
    mask_token_grad = next(g for g, p in zip(grads_got, params, strict=True) if p is dec.mask_token)
    assert torch.count_nonzero(mask_token_grad) > 0


def test_encoder_never_sees_hidden_tokens() -> None:
    model = tiny().eval()
    x = torch.randn(1, 2, 32, 32)
    mask = torch.zeros(1, 16, dtype=torch.bool)
    mask[0, 4:] = True  # tokens 0..3 = the first row of 8-pixel patches stay visible
    changed = x.clone()
    changed[:, :, 8:] = torch.randn_like(changed[:, :, 8:])  # every hidden token's pixels
    with torch.no_grad():
        a, b = model(x, mask=mask), model(changed, mask=mask)
    assert torch.equal(a.latent, b.latent)
    assert torch.equal(a.pred_hidden, b.pred_hidden)
    assert not torch.equal(a.loss, b.loss)


def test_gradients_reach_encoder_and_decoder_but_not_fixed_tables() -> None:
    model = tiny()
    model(torch.randn(2, 2, 32, 32)).loss.backward()
    assert model.pos_embed.grad is None and model.decoder.decoder_pos_embed.grad is None
    for name in ("patch_embed.proj.weight", "cls_token", "blocks.0.attn.qkv.weight", "decoder.mask_token"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and torch.count_nonzero(grad) > 0, name


def test_token_and_voxel_weights() -> None:
    model = tiny().eval()
    x, noise = torch.randn(2, 2, 32, 32), torch.rand(2, 16)
    with torch.no_grad():
        base = model(x, noise=noise, return_full_pred=True)
        ones = model(x, noise=noise, voxel_weights=torch.ones(2, 1, 32, 32))
        torch.testing.assert_close(ones.loss, base.loss)
        # weight a single hidden token per sample: the loss is the mean error of those two tokens
        chosen = base.ids_hidden[:, 0]
        weights = torch.zeros(2, 16).scatter(1, chosen[:, None], 1.0)
        single = model(x, noise=noise, token_weights=weights)
    assert base.pred_full is not None
    err = ((base.pred_full - model.patchify(x)) ** 2).mean(-1)
    expected = err.gather(1, chosen[:, None]).mean()
    torch.testing.assert_close(single.loss, expected, atol=1e-6, rtol=1e-5)
    with pytest.raises(InputError, match="voxel_weights"):
        model(x, voxel_weights=torch.ones(2, 3, 32, 32))
    with pytest.raises(InputError, match="token_weights"):
        model(x, token_weights=torch.ones(2, 15))


def test_reconstruct_keeps_visible_voxels_and_inverts_norm_pix() -> None:
    model = tiny(norm_pix_loss=True)
    x = torch.randn(2, 2, 32, 32) * 3 + 1
    out = model(x)
    recon = model.reconstruct(x, out)
    visible = ~out.mask
    assert torch.equal(model.patchify(recon)[visible], model.patchify(x)[visible])
    # a perfect prediction (the normalised true patches) reconstructs the image
    true_hidden = torch.gather(model.patchify(x), 1, out.ids_hidden[..., None].expand(-1, -1, 128))
    out.pred_hidden = normalize_patches(true_hidden, 2)
    torch.testing.assert_close(model.reconstruct(x, out), x, atol=1e-4, rtol=1e-4)


def test_init_follows_mae() -> None:
    model = tiny()
    torch.testing.assert_close(model.pos_embed[0], sincos_pos_embed((4, 4), 32))
    torch.testing.assert_close(model.decoder.decoder_pos_embed[0], sincos_pos_embed((4, 4), 16))
    assert not model.pos_embed.requires_grad
    weight = model.patch_embed.proj.weight.detach().view(32, -1)
    assert float(weight.abs().max()) <= math.sqrt(6.0 / (weight.shape[0] + weight.shape[1])) + 1e-6
    qkv = model.blocks[0].attn.qkv.requires_grad_(False)
    assert torch.count_nonzero(qkv.bias) == 0
    assert float(qkv.weight.abs().max()) <= math.sqrt(6.0 / (32 + 96)) + 1e-6
    assert 0.0 < float(model.cls_token.detach().std()) < 0.05


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="not divisible"):
        tiny(img_size=30)
    with pytest.raises(ConfigError, match="heads"):
        tiny(num_heads=5)
    with pytest.raises(ConfigError, match="decoder"):
        tiny(decoder_num_heads=3)
    with pytest.raises(ConfigError, match="mask_ratio"):
        tiny(mask_ratio=1.0)
    with pytest.raises(ConfigError, match="norm_pix_mode"):
        tiny(norm_pix_mode="global")
    with pytest.raises(ConfigError, match="in_chans"):
        tiny(in_chans=0)


def test_features_and_encoder_export_roundtrip() -> None:
    model = tiny().eval()
    x = torch.randn(2, 2, 32, 32)
    tokens = model.forward_tokens(x)
    assert tokens.shape == (2, 17, 32)
    torch.testing.assert_close(model.forward_features(x, pool="cls"), tokens[:, 0])
    torch.testing.assert_close(model.forward_features(x), tokens[:, 1:].mean(1))
    state = model.encoder_state_dict()
    assert state and not any(k.startswith("decoder.") for k in state)
    other = tiny(decoder_embed_dim=8, decoder_num_heads=1)
    torch.nn.init.normal_(other.cls_token)
    other.load_encoder_state_dict(state)
    torch.testing.assert_close(other.eval().forward_tokens(x), tokens)
    del state["norm.weight"]
    with pytest.raises(CheckpointError, match=r"norm\.weight"):
        other.load_encoder_state_dict(state)


def test_encoder_state_dict_into_a_larger_grid() -> None:
    small = tiny()
    big = tiny(img_size=48)
    fixed = big.pos_embed.detach().clone()
    big.load_encoder_state_dict(small.encoder_state_dict(), source_grid=small.grid)
    assert big.forward_tokens(torch.randn(1, 2, 48, 48)).shape == (1, 37, 32)
    # a fixed sin-cos table becomes the new grid's exact table, not a resampled approximation
    torch.testing.assert_close(big.pos_embed, fixed, rtol=0, atol=0)
    # a learned table (timm) is resampled
    learned = small.encoder_state_dict()
    learned["pos_embed"] = torch.randn_like(learned["pos_embed"])
    big.load_encoder_state_dict(learned, source_grid=small.grid)
    torch.testing.assert_close(big.pos_embed[:, :1], learned["pos_embed"][:, :1])  # class-token row kept
    assert not torch.allclose(big.pos_embed, fixed)
    # a fixed table stored in bf16 is still recognised (and rebuilt exactly)
    half = small.encoder_state_dict()
    half["pos_embed"] = half["pos_embed"].bfloat16()
    big.load_encoder_state_dict(half, source_grid=small.grid)
    torch.testing.assert_close(big.pos_embed, fixed, rtol=0, atol=0)


def test_bf16_autocast_forward() -> None:
    model = tiny(norm_pix_loss=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(2, 2, 32, 32))
    out.loss.backward()
    assert torch.isfinite(out.loss)


class _LinearDecoder(torch.nn.Module):
    """A minimal replacement decoder: a linear map of the mean visible latent to every patch."""

    def __init__(self, dim: int, patch_dim: int, num_tokens: int) -> None:
        super().__init__()
        self.head = torch.nn.Linear(dim, patch_dim)
        self.num_tokens = num_tokens

    def forward(
        self, latent: torch.Tensor, ids_keep: torch.Tensor, ids_hidden: torch.Tensor | None
    ) -> torch.Tensor:
        count = self.num_tokens if ids_hidden is None else ids_hidden.shape[1]
        return self.head(latent.mean(1, keepdim=True)).expand(-1, count, -1)


def test_pluggable_decoder() -> None:
    decoder = _LinearDecoder(32, 128, 16)
    model = tiny(decoder=decoder)
    assert model.decoder is decoder
    out = model(torch.randn(2, 2, 32, 32))
    assert out.pred_hidden.shape == (2, 12, 128)
    out.loss.backward()
    assert decoder.head.weight.grad is not None


def test_reconstruct_refuses_an_output_of_another_batch_or_grid() -> None:
    model = tiny().eval()
    x = torch.randn(2, 2, 32, 32)
    with torch.no_grad():
        single = model(x[:1])
        with pytest.raises(InputError, match="batch of 1 samples but x holds 2"):
            model.reconstruct(x, single)  # used to return sample 1 unreconstructed
        other_grid = tiny(img_size=64).eval()(torch.randn(2, 2, 64, 64))
        with pytest.raises(InputError, match=r"output\.mask must be \(2, 16\)"):
            model.reconstruct(x, other_grid)  # used to raise a raw index error
        out = model(x)
        assert model.reconstruct(x, out).shape == x.shape
        short = MAEOutput(**{**vars(out), "pred_hidden": out.pred_hidden[..., :-1]})
        with pytest.raises(InputError, match=r"output\.pred_hidden must be \(2, 12, 128\)"):
            model.reconstruct(x, short)
        shifted = MAEOutput(**{**vars(out), "ids_hidden": out.ids_hidden + 16})
        with pytest.raises(InputError, match=r"outside \[0, 16\)"):
            model.reconstruct(x, shifted)
        with pytest.raises(InputError, match="MAEOutput"):
            model.reconstruct(x, out.pred)  # type: ignore[arg-type]


def test_encoder_weights_of_a_transposed_grid_are_adapted() -> None:
    # (6, 4) and (4, 6) have as many tokens: the table used to be copied in the wrong raster order
    source, target = tiny(img_size=(48, 32)), tiny(img_size=(32, 48))
    assert (source.grid, target.grid) == ((6, 4), (4, 6))
    learned = source.encoder_state_dict()
    learned["pos_embed"] = torch.randn_like(learned["pos_embed"])
    target.load_encoder_state_dict(learned, source_grid=source.grid)
    expected = interpolate_pos_embed(learned["pos_embed"], (6, 4), (4, 6))
    torch.testing.assert_close(target.pos_embed, expected, rtol=0, atol=0)
    assert not torch.allclose(target.pos_embed, learned["pos_embed"])
    # a fixed sin-cos table becomes the target grid's exact table
    target.load_encoder_state_dict(source.encoder_state_dict(), source_grid=source.grid)
    torch.testing.assert_close(target.pos_embed[0], sincos_pos_embed((4, 6), 32), rtol=0, atol=0)
    # the same grid (or none) loads the table as it is
    same = target.encoder_state_dict()
    same["pos_embed"] = torch.randn_like(same["pos_embed"])
    target.load_encoder_state_dict(same, source_grid=(4, 6))
    assert torch.equal(target.pos_embed, same["pos_embed"])
    with pytest.raises(ConfigError, match="source_grid"):
        target.load_encoder_state_dict(same, source_grid=(0, 24))


def test_forward_encoder_checks_its_inputs() -> None:
    model = tiny().eval()
    x = torch.randn(2, 2, 32, 32)
    with pytest.raises(InputError, match=r"expected input of shape \(B, 2, 32, 32\)"):
        model.forward_encoder(torch.randn(2, 3, 32, 32))  # used to fail inside a matrix product
    with pytest.raises(InputError, match=r"ids_keep must be an int64 tensor of shape \(2, n\)"):
        model.forward_encoder(x, torch.zeros(1, 4, dtype=torch.int64))
    with pytest.raises(InputError, match="ids_keep must be an int64"):
        model.forward_encoder(x, torch.zeros(2, 4, dtype=torch.int32))
    with pytest.raises(InputError, match=r"ids_keep holds token indices outside \[0, 16\)"):
        model.forward_encoder(x, torch.full((2, 4), 16))
    with torch.no_grad():
        torch.testing.assert_close(model.forward_encoder(x), model.forward_tokens(x))
        ids = torch.tensor([[0, 5, 9], [15, 2, 3]])
        out = model(x, mask=torch.ones(2, 16, dtype=torch.bool).scatter(1, ids, False))
        torch.testing.assert_close(model.forward_encoder(x, out.ids_keep), out.latent)


def test_empty_batches_and_non_tensor_inputs_raise_input_errors() -> None:
    model = tiny()
    x = torch.randn(2, 2, 32, 32)
    hidden = torch.zeros(2, 16, dtype=torch.bool)
    hidden[:, :12] = True
    cases: list[tuple[dict[str, object], str]] = [
        ({"x": torch.randn(0, 2, 32, 32)}, "at least one sample"),
        ({"x": x.numpy()}, "torch.Tensor.*ndarray"),
        ({"mask": hidden.tolist()}, "mask must be a MaskSpec or a bool torch.Tensor.*list"),
        ({"mask": hidden.numpy()}, "mask must be a MaskSpec or a bool torch.Tensor.*ndarray"),
        ({"noise": np.random.rand(2, 16)}, "noise must be a float torch.Tensor.*ndarray"),
        ({"token_weights": [[1.0] * 16] * 2}, r"token_weights must be a tensor of shape \(2, 16\).*list"),
        ({"voxel_weights": np.ones((2, 1, 32, 32))}, r"voxel_weights must be \(B, 1 or 2, 32, 32\).*ndarray"),
    ]
    for kwargs, match in cases:
        args = {"x": x, **kwargs}
        with pytest.raises(InputError, match=match):
            model(**args)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="at least one sample"):
        model.forward_features(torch.randn(0, 2, 32, 32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mask_ratio": "0.5"}, "mask_ratio must be a number in \\[0, 1\\), got '0.5'"),
        ({"mask_ratio": True}, "mask_ratio must be a number"),
        ({"in_chans": 1.5}, "in_chans must be a positive int, got 1.5"),
        ({"in_chans": "2"}, "in_chans must be a positive int"),
        ({"img_size": 32.0}, "img_size must be a positive int or a sequence of 2 positive ints, got 32.0"),
        ({"img_size": "88"}, "img_size must be a positive int or a sequence"),
        ({"patch_size": (8, 8.0)}, "patch_size entries must be positive ints"),
    ],
)
def test_config_values_of_the_wrong_type_raise_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        create_model("mae_vit_tiny", **{"img_size": 32, "patch_size": 8, **TINY, **kwargs})


def test_a_bad_pool_is_refused_before_the_encoder_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    model = MAE(img_size=16, patch_size=8, in_chans=1, **TINY)

    def not_called(x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the encoder ran before pool was checked")

    monkeypatch.setattr(model, "forward_tokens", not_called)
    with pytest.raises(ConfigError, match="pool must be 'avg' or 'cls'"):
        model.forward_features(torch.randn(1, 1, 16, 16), pool="max")  # type: ignore[arg-type]
