"""Parity with Hugging Face ``transformers.ViTMAEForPreTraining`` (a dev dependency).

The HF model is built from a small config, every weight is overwritten with seeded random values (so
that a swapped q/k/v, a transposed weight or a wrong position table would show), saved with
``save_pretrained`` and read back with ``load_hf_vitmae``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import ViTMAEConfig, ViTMAEForPreTraining, ViTMAEModel

from maerad.errors import CheckpointError
from maerad.models import MAE, load_hf_vitmae, sincos_pos_embed

ATOL = 1e-5


def _hf_model(norm_pix_loss: bool, seed: int = 0) -> ViTMAEForPreTraining:
    config = ViTMAEConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        image_size=32,
        patch_size=8,
        num_channels=3,
        decoder_hidden_size=24,
        decoder_num_hidden_layers=2,
        decoder_num_attention_heads=3,
        decoder_intermediate_size=40,
        mask_ratio=0.75,
        norm_pix_loss=norm_pix_loss,
    )
    model = ViTMAEForPreTraining(config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            if name.endswith("weight") and param.ndim == 1:  # LayerNorm scale: around 1
                param.copy_(1.0 + 0.2 * noise)
            else:
                param.copy_(0.2 * noise)
    return model.eval()


@pytest.fixture(params=[False, True], ids=["pix", "norm_pix"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ViTMAEForPreTraining, MAE]:
    hf = _hf_model(norm_pix_loss=request.param)
    hf.save_pretrained(tmp_path)
    return hf, load_hf_vitmae(tmp_path).eval()


def test_loss_and_predictions_match_hf(pair: tuple[ViTMAEForPreTraining, MAE]) -> None:
    hf, ours = pair
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 3, 32, 32, generator=gen)
    noise = torch.rand(3, 16, generator=gen)
    with torch.no_grad():
        ref = hf(pixel_values=x, noise=noise)
        out = ours(x, noise=noise, return_full_pred=True)
        out_hidden_only = ours(x, noise=noise)
    hidden = ref.mask.bool()
    assert torch.equal(out.mask, hidden)
    assert torch.equal(out.ids_restore, ref.ids_restore)
    torch.testing.assert_close(out.loss, ref.loss, atol=ATOL, rtol=0)
    assert out.pred_full is not None
    torch.testing.assert_close(out.pred_full, ref.logits, atol=ATOL, rtol=0)
    # the default path computes the head on hidden tokens only: same loss, same values there
    torch.testing.assert_close(out_hidden_only.loss, ref.loss, atol=ATOL, rtol=0)
    torch.testing.assert_close(out_hidden_only.pred[hidden], ref.logits[hidden], atol=ATOL, rtol=0)
    assert torch.count_nonzero(out_hidden_only.pred[~hidden]) == 0


def test_gradients_match_hf(tmp_path: Path) -> None:
    hf = _hf_model(norm_pix_loss=True, seed=3)
    hf.save_pretrained(tmp_path)
    ours = load_hf_vitmae(tmp_path)
    hf.train()
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 32, 32, generator=gen)
    noise = torch.rand(2, 16, generator=gen)
    hf(pixel_values=x, noise=noise).loss.backward()
    ours(x, noise=noise).loss.backward()
    assert hf.vit.embeddings.patch_embeddings.projection.weight.grad is not None
    assert ours.patch_embed.proj.weight.grad is not None
    torch.testing.assert_close(
        ours.patch_embed.proj.weight.grad,
        hf.vit.embeddings.patch_embeddings.projection.weight.grad,
        atol=1e-5,
        rtol=1e-4,
    )
    assert hf.decoder.decoder_pred.weight.grad is not None
    assert ours.decoder.decoder_pred.weight.grad is not None
    torch.testing.assert_close(
        ours.decoder.decoder_pred.weight.grad, hf.decoder.decoder_pred.weight.grad, atol=1e-5, rtol=1e-4
    )


def test_config_details_are_carried(pair: tuple[ViTMAEForPreTraining, MAE]) -> None:
    hf, ours = pair
    assert ours.norm.eps == hf.config.layer_norm_eps == 1e-12  # HF's default, not timm's 1e-6
    assert ours.norm_pix_loss == hf.config.norm_pix_loss
    assert ours.norm_pix_mode == "joint"
    assert ours.mask_ratio == 0.75


def test_pytorch_model_bin_is_read_with_weights_only(tmp_path: Path) -> None:
    hf = _hf_model(norm_pix_loss=False, seed=5)
    hf.save_pretrained(tmp_path)
    from safetensors.torch import load_file

    state = load_file(str(tmp_path / "model.safetensors"))
    (tmp_path / "model.safetensors").unlink()
    torch.save(state, tmp_path / "pytorch_model.bin")
    ours = load_hf_vitmae(tmp_path).eval()
    x = torch.randn(2, 3, 32, 32)
    noise = torch.rand(2, 16)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, noise=noise).loss, hf(pixel_values=x, noise=noise).loss, atol=ATOL, rtol=0
        )


def test_sincos_table_matches_hf_layout() -> None:
    # HF ViTMAE's decoder builds MAE's 2D table (an independent implementation of the same layout)
    config = ViTMAEConfig(
        hidden_size=32,
        num_attention_heads=4,
        image_size=48,
        patch_size=8,
        decoder_hidden_size=40,
        decoder_num_attention_heads=4,
    )
    model = ViTMAEForPreTraining(config)
    model.decoder.initialize_weights(36)
    table = model.decoder.decoder_pos_embed[0].detach()
    assert torch.count_nonzero(table[1:]) > 0
    torch.testing.assert_close(sincos_pos_embed((6, 6), 40), table, atol=1e-6, rtol=0)


def test_bad_checkpoints_raise_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load_hf_vitmae(tmp_path)
    hf = _hf_model(norm_pix_loss=False)
    hf.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="cannot read the weights"):
        load_hf_vitmae(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(CheckpointError, match="model_type"):
        load_hf_vitmae(tmp_path)


def test_config_translation_errors() -> None:
    from maerad.models.hf_vitmae import mae_kwargs_from_hf_config

    with pytest.raises(CheckpointError, match="hidden_size"):
        mae_kwargs_from_hf_config({"image_size": 32, "patch_size": 8})
    config = _hf_model(norm_pix_loss=False).config.to_dict()
    kwargs = mae_kwargs_from_hf_config(config)
    assert (
        kwargs["mlp_ratio"] == 48 / 32
        and kwargs["decoder_mlp_ratio"] == 40 / 24
        and kwargs["norm_eps"] == 1e-12
    )
    config["hidden_act"] = "relu"
    with pytest.raises(CheckpointError, match="hidden_act"):
        mae_kwargs_from_hf_config(config)


@pytest.mark.parametrize("field", ["norm_pix_loss", "qkv_bias"])
def test_boolean_fields_must_be_json_booleans(field: str) -> None:
    from maerad.models.hf_vitmae import mae_kwargs_from_hf_config

    config = _hf_model(norm_pix_loss=False).config.to_dict()
    config[field] = "false"  # a hand-edited config: truthy, so it used to switch the option on
    with pytest.raises(CheckpointError, match=f"{field} must be true or false"):
        mae_kwargs_from_hf_config(config)


@pytest.mark.parametrize(("hidden", "inner"), [(88, 30), (56, 115)])
def test_any_mlp_width_hf_builds_loads(tmp_path: Path, hidden: int, inner: int) -> None:
    config = ViTMAEConfig(
        hidden_size=hidden, num_hidden_layers=1, num_attention_heads=4, intermediate_size=inner,
        image_size=32, patch_size=8, decoder_hidden_size=32, decoder_num_hidden_layers=1,
        decoder_num_attention_heads=4, decoder_intermediate_size=inner,
    )  # fmt: skip
    hf = ViTMAEForPreTraining(config).eval()
    with torch.no_grad():
        for param in hf.parameters():
            param.add_(0.1 * torch.randn_like(param))
    hf.save_pretrained(tmp_path)
    ours = load_hf_vitmae(tmp_path).eval()
    assert ours.blocks[0].mlp.fc1.out_features == inner  # type: ignore[union-attr]
    x = torch.randn(2, 3, 32, 32)
    noise = torch.rand(2, 16)
    with torch.no_grad():
        theirs = hf(pixel_values=x, noise=noise)
        out = ours(x, noise=noise, return_full_pred=True)
    torch.testing.assert_close(out.pred_full, theirs.logits, atol=ATOL, rtol=ATOL)


def test_an_encoder_only_checkpoint_is_named(tmp_path: Path) -> None:
    ViTMAEModel(_hf_model(norm_pix_loss=False).config).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="encoder-only ViTMAEModel checkpoint"):
        load_hf_vitmae(tmp_path)


def test_a_head_dim_other_than_width_over_heads_is_named() -> None:
    from maerad.models.hf_vitmae import mae_kwargs_from_hf_config

    config = _hf_model(norm_pix_loss=False).config.to_dict()
    config["head_dim"] = 16  # transformers would build 4 x 16 = 64-wide attention in a 32-wide model
    with pytest.raises(CheckpointError, match="head_dim=16 differs from hidden_size"):
        mae_kwargs_from_hf_config(config)
    config.update(head_dim=12, hidden_size=48)  # the encoder fits now (48 / 4), the decoder (24 / 3) not
    with pytest.raises(CheckpointError, match="head_dim=12 differs from decoder_hidden_size"):
        mae_kwargs_from_hf_config(config)
    for head_dim in (None, 8):  # unset (what transformers writes), or width / heads everywhere
        config.update(head_dim=head_dim, hidden_size=32)
        assert mae_kwargs_from_hf_config(config)["embed_dim"] == 32
