"""The small N-D U-Net and the LesionDetector provider (checkpoint round trip, token maps)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from maerad.cli.train_lesion import dice_bce_loss
from maerad.errors import CheckpointError, ConfigError, InputError
from maerad.masking.lesion_maps import LesionDetector, normalize_channels, pool_to_tokens
from maerad.masking.lesion_maps.detector import config_path
from maerad.models.unet import UNet


@pytest.mark.parametrize(("dims", "size"), [(2, (13, 22)), (3, (5, 9, 12))])
def test_unet_keeps_the_spatial_size_for_any_input(dims: int, size: tuple[int, ...]) -> None:
    net = UNet(dims, in_chans=3, out_chans=2, channels=(4, 8, 16))
    out = net(torch.randn(2, 3, *size))
    assert out.shape == (2, 2, *size)


def test_unet_decoder_concatenates_skip_connections() -> None:
    net = UNet(2, 1, 1, channels=(4, 8, 16))
    seen: list[tuple[int, int]] = []
    for block in net.decoders:
        block.register_forward_hook(lambda m, inp, out: seen.append((inp[0].shape[1], out.shape[1])))
    net(torch.randn(1, 1, 16, 16))
    assert seen == [(16, 8), (8, 4)]  # upsampled features + same-size encoder features


def test_unet_learns_a_toy_segmentation() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1, 16, 16, generator=g) * 0.3
    y = torch.zeros(8, 1, 16, 16)
    for i in range(8):
        r, c = (int(v) for v in torch.randint(0, 10, (2,), generator=g))
        y[i, 0, r:r + 5, c:c + 5] = 1.0
    x = x + y  # a bright square on noise
    net = UNet(2, 1, 1, channels=(8, 16))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(30):
        loss = dice_bce_loss(net(x), y)
        opt.zero_grad()
        torch.autograd.backward(loss)
        opt.step()
    pred = (net(x) > 0).float()
    dice = float(2 * (pred * y).sum() / (pred.sum() + y.sum()))
    assert dice > 0.9


def test_dice_bce_loss_is_lowest_for_the_right_answer() -> None:
    y = torch.zeros(1, 1, 4, 4)
    y[..., :2, :2] = 1
    good, bad = dice_bce_loss((y * 2 - 1) * 10, y), dice_bce_loss((1 - 2 * y) * 10, y)
    assert float(good) < 0.01 < 1.0 < float(bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"spatial_dims": 1}, "spatial_dims"), ({"channels": (8,)}, "channels"), ({"norm": "layer"}, "norm"),
     ({"in_chans": 0}, "in_chans"), ({"dropout": 1.0}, "dropout")],
)
def test_unet_rejects_bad_configuration(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"spatial_dims": 2, "in_chans": 1, "out_chans": 1, **kwargs}
    with pytest.raises(ConfigError, match=match):
        UNet(**args)  # type: ignore[arg-type]


def test_unet_rejects_wrong_input() -> None:
    with pytest.raises(InputError, match="expects"):
        UNet(2, 2, 1)(torch.zeros(1, 3, 8, 8))
    # 3 levels pad 4x4 to a multiple of 4, one voxel at the bottleneck: nothing to instance-normalise
    with pytest.raises(InputError, match="4x4 input to a single voxel"):
        UNet(2, 2, 1, channels=(2, 4, 8))(torch.zeros(2, 2, 4, 4))
    assert UNet(2, 2, 1, channels=(2, 4, 8))(torch.zeros(1, 2, 5, 4)).shape == (1, 1, 5, 4)  # 2x1 there
    assert UNet(2, 2, 1, channels=(2, 4, 8), norm="batch").eval()(torch.zeros(1, 2, 4, 4)).shape[2:] == (4, 4)


def detector(dims: int = 2) -> LesionDetector:
    torch.manual_seed(1)
    return LesionDetector(UNet(dims, 2, 1, channels=(4, 8), norm="batch"), spatial_dims=dims, in_chans=2,
                          sequences=("t2w", "adc"), config={"lesion_labels": [100]})


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    det = detector()
    path = det.save(tmp_path / "lesion.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesion.json", "lesion.safetensors"]
    config = json.loads(config_path(path).read_text())
    assert config["format"] == "maerad-lesion-detector" and config["unet"]["channels"] == [4, 8]
    loaded = LesionDetector.from_checkpoint(path)
    assert loaded.sequences == ("t2w", "adc") and loaded.config["lesion_labels"] == [100]
    vol = torch.randn(1, 2, 3, 16, 16)
    assert torch.allclose(loaded.probability(vol), det.probability(vol))
    config_path(path).unlink()  # the config is also in the safetensors metadata
    assert torch.allclose(LesionDetector.from_checkpoint(path).probability(vol), det.probability(vol))


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        LesionDetector.from_checkpoint(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable"):
        LesionDetector.from_checkpoint(bad)
    path = detector().save(tmp_path / "x.safetensors")
    config = json.loads(config_path(path).read_text())
    config["unet"]["channels"] = [4, 16]
    config_path(path).write_text(json.dumps(config))  # an edited JSON no longer matches the weights' own
    with pytest.raises(CheckpointError, match="does not match the config saved inside"):
        LesionDetector.from_checkpoint(path)
    config_path(path).unlink()
    _embed_config(path, config)  # the config the weights carry is what is checked against them
    with pytest.raises(CheckpointError, match="do not match"):
        LesionDetector.from_checkpoint(path)
    _embed_config(path, {"format": "something-else", "version": 1})
    with pytest.raises(CheckpointError, match="config"):
        LesionDetector.from_checkpoint(path)


def _embed_config(path: Path, config: dict[str, object]) -> None:
    from safetensors.torch import load_file, save_file

    from maerad.masking.lesion_maps.detector import _METADATA_KEY

    save_file(load_file(str(path)), str(path), metadata={_METADATA_KEY: json.dumps(config)})


def test_2d_detector_on_a_volume_is_slice_by_slice_after_volume_normalisation() -> None:
    det = detector(2)
    vol = torch.randn(2, 2, 4, 16, 16) * 3 + 1
    prob = det.probability(vol)
    assert prob.shape == (2, 4, 16, 16) and float(prob.min()) >= 0 and float(prob.max()) <= 1
    norm = normalize_channels(vol, 3)
    with torch.no_grad():
        by_slice = torch.stack([torch.sigmoid(det.net(norm[:, :, d]))[:, 0] for d in range(4)], dim=1)
    assert torch.allclose(prob, by_slice, atol=1e-6)


def test_token_map_is_the_mean_probability_per_patch() -> None:
    det = detector(3)
    vol = torch.randn(1, 2, 4, 32, 32)
    tokens = det.token_map(vol, (2, 16, 16))
    assert tokens.shape == (1, 2, 2, 2)
    prob = det.probability(vol)
    assert torch.allclose(tokens[0, 1, 0, 1], prob[0, 2:4, 0:16, 16:32].mean())
    assert torch.allclose(tokens, pool_to_tokens(prob, (2, 16, 16)))
    with pytest.raises(InputError, match="expects"):
        det.probability(torch.zeros(1, 3, 4, 8, 8))
    with pytest.raises(InputError, match="NaN"):
        det.probability(torch.full((1, 2, 4, 8, 8), float("nan")))
    with pytest.raises(InputError, match="empty"):
        det.token_map(torch.zeros(0, 2, 4, 32, 32), (2, 16, 16))
