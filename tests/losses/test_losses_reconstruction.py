"""Masked reconstruction loss, per-channel norm-pix and foreground weights."""

from __future__ import annotations

import pytest
import torch

from maerad.errors import ConfigError, InputError
from maerad.losses import (
    denormalize_patches,
    foreground_token_weights,
    intensity_foreground,
    masked_reconstruction_loss,
    normalize_patches,
)
from maerad.models import patchify


def test_per_channel_norm_pix_normalises_each_sequence_separately() -> None:
    voxels, chans = 16, 3
    patches = torch.randn(2, 5, voxels * chans) * 4 + 2
    out = normalize_patches(patches, chans).reshape(2, 5, voxels, chans)
    torch.testing.assert_close(out.mean(2), torch.zeros(2, 5, chans), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(2), torch.ones(2, 5, chans), atol=1e-3, rtol=0)


def test_per_channel_never_mixes_channels_but_joint_does() -> None:
    patches = torch.randn(1, 4, 8 * 2)
    scaled = patches.clone().reshape(1, 4, 8, 2)
    scaled[..., 1] = scaled[..., 1] * 100 + 50  # a much brighter second sequence
    scaled = scaled.reshape(1, 4, 16)
    first = (slice(None), slice(None), slice(0, None, 2))  # channel 0 values
    per_a, per_b = normalize_patches(patches, 2), normalize_patches(scaled, 2)
    torch.testing.assert_close(per_a[first], per_b[first])
    joint_a, joint_b = normalize_patches(patches, 2, "joint"), normalize_patches(scaled, 2, "joint")
    assert not torch.allclose(joint_a[first], joint_b[first], atol=1e-2)


def test_joint_mode_is_the_original_mae_formula_and_modes_agree_for_one_channel() -> None:
    patches = torch.randn(3, 7, 12)
    expected = (patches - patches.mean(-1, keepdim=True)) / (patches.var(-1, keepdim=True) + 1e-6) ** 0.5
    torch.testing.assert_close(normalize_patches(patches, 3, "joint"), expected)
    torch.testing.assert_close(normalize_patches(patches, 1, "joint"), normalize_patches(patches, 1))


@pytest.mark.parametrize("mode", ["per_channel", "joint"])
def test_denormalize_inverts_normalize(mode: str) -> None:
    patches = torch.randn(2, 3, 32) * 5 + 1
    back = denormalize_patches(normalize_patches(patches, 4, mode), patches, 4, mode)  # type: ignore[arg-type]
    torch.testing.assert_close(back, patches, atol=1e-4, rtol=1e-4)


def test_norm_pix_argument_errors() -> None:
    with pytest.raises(InputError, match="multiple"):
        normalize_patches(torch.zeros(1, 2, 10), 3)
    with pytest.raises(ConfigError, match="mode"):
        normalize_patches(torch.zeros(1, 2, 12), 3, "spatial")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="at least 2"):
        normalize_patches(torch.zeros(1, 2, 3), 3)


def test_masked_loss_matches_hand_computation() -> None:
    pred = torch.tensor([[[1.0, 2.0], [0.0, 0.0], [3.0, 3.0]]])
    target = torch.tensor([[[0.0, 0.0], [5.0, 5.0], [1.0, 3.0]]])
    mask = torch.tensor([[True, False, True]])
    # token errors (l2): (1 + 4) / 2 = 2.5 and (4 + 0) / 2 = 2 → mean 2.25; the middle token is visible
    assert float(masked_reconstruction_loss(pred, target, mask)) == pytest.approx(2.25)
    # l1: (1 + 2) / 2 = 1.5 and (2 + 0) / 2 = 1 → 1.25
    assert float(masked_reconstruction_loss(pred, target, mask, kind="l1")) == pytest.approx(1.25)
    # token weights 3 and 1 → (3 * 2.5 + 2) / 4
    weights = torch.tensor([[3.0, 7.0, 1.0]])
    value = masked_reconstruction_loss(pred, target, mask, token_weights=weights)
    assert float(value) == pytest.approx((3 * 2.5 + 2) / 4)
    # element weights: only the first value of each token counts → (1 + 4) / 2
    elements = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])
    assert float(masked_reconstruction_loss(pred, target, mask, element_weights=elements)) == pytest.approx(
        2.5
    )
    # no mask: all three tokens
    assert float(masked_reconstruction_loss(pred, target)) == pytest.approx((2.5 + 25 + 2) / 3)


def test_masked_loss_shape_errors() -> None:
    a = torch.zeros(1, 3, 2)
    with pytest.raises(InputError, match="pred and target"):
        masked_reconstruction_loss(a, torch.zeros(1, 3, 3))
    with pytest.raises(InputError, match="mask"):
        masked_reconstruction_loss(a, a, torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ConfigError, match="kind"):
        masked_reconstruction_loss(a, a, kind="huber")  # type: ignore[arg-type]


def test_foreground_token_weights_are_foreground_fractions() -> None:
    fg = torch.zeros(1, 8, 8)
    fg[0, :4, :4] = 1  # token 0 full
    fg[0, :2, 4:8] = 1  # token 1 half
    fg[0, 4, 0] = 1  # token 2: 1 of 16
    weights = foreground_token_weights(fg, (4, 4), min_weight=0.0)
    torch.testing.assert_close(weights, torch.tensor([[1.0, 0.5, 1 / 16, 0.0]]))
    floor = foreground_token_weights(fg, (4, 4), min_weight=0.2)
    torch.testing.assert_close(floor, 0.2 + 0.8 * weights)
    # same raster order as patchify, also in 3D with anisotropic patches
    fg3 = (torch.rand(2, 1, 8, 16, 16) > 0.7).float()
    torch.testing.assert_close(
        foreground_token_weights(fg3, (4, 8, 4), min_weight=0.0), patchify(fg3, (4, 8, 4)).mean(-1)
    )


def test_intensity_foreground() -> None:
    image = torch.zeros(1, 2, 4, 4)
    image[0, 1, 0, 0] = 10.0
    image[0, 0, 1, 1] = 1.0
    image[0, 0, 2, 2] = 0.2
    image[0, 0, 3, 3] = 0.01
    fg = intensity_foreground(image, relative_threshold=0.05)
    assert fg.shape == (1, 4, 4)
    # each channel against its own maximum (1.0 and 10.0): 0.2 counts, 0.01 does not
    assert fg[0, 0, 0] and fg[0, 1, 1] and fg[0, 2, 2] and not fg[0, 3, 3] and int(fg.sum()) == 3


def test_intensity_foreground_judges_each_sequence_on_its_own_scale() -> None:
    # raw T2W (0-1000) beside an ADC map (0-0.004): the ADC-only voxel is foreground too
    image = torch.zeros(1, 2, 1, 3)
    image[0, 0, 0, 0] = 1000.0
    image[0, 1, 0, 1] = 0.003
    fg = intensity_foreground(image, relative_threshold=0.05)
    assert fg[0, 0].tolist() == [True, True, False]
