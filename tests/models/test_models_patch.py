"""Patch geometry, patchify / unpatchify layout and the visible-only patch embedding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from maerad.errors import ConfigError, InputError
from maerad.models import PatchEmbed, PatchGeometry, patchify, unpatchify
from maerad.models.patch import as_tuple


def test_patchify_2d_is_mae_channel_last_layout() -> None:
    # reference by explicit loops: token (i, j), patch pixel (u, v), channel c → (u * p + v) * C + c
    b, c, p, h, w = 2, 3, 4, 2, 3
    x = torch.randn(b, c, h * p, w * p)
    patches = patchify(x, (p, p))
    assert patches.shape == (b, h * w, p * p * c)
    for i in range(h):
        for j in range(w):
            for u in range(p):
                for v in range(p):
                    for ch in range(c):
                        assert patches[1, i * w + j, (u * p + v) * c + ch] == x[1, ch, i * p + u, j * p + v]


def test_patchify_3d_anisotropic_layout() -> None:
    ps = (2, 4, 3)
    grid = (2, 3, 2)
    x = torch.randn(1, 2, *(g * q for g, q in zip(grid, ps, strict=True)))
    patches = patchify(x, ps)
    assert patches.shape == (1, 12, 2 * 4 * 3 * 2)
    token = (1 * grid[1] + 2) * grid[2] + 1  # grid position (1, 2, 1), raster order
    a, b, c, ch = 1, 3, 2, 1
    flat = ((a * ps[1] + b) * ps[2] + c) * 2 + ch
    assert patches[0, token, flat] == x[0, ch, 1 * ps[0] + a, 2 * ps[1] + b, 1 * ps[2] + c]


@pytest.mark.parametrize(
    ("shape", "ps"),
    [((2, 3, 16, 24), (8, 4)), ((1, 2, 8, 12, 16), (4, 4, 8)), ((2, 1, 4, 16, 16), (4, 16, 16))],
)
def test_unpatchify_inverts_patchify(shape: tuple[int, ...], ps: tuple[int, ...]) -> None:
    x = torch.randn(shape)
    grid = tuple(s // q for s, q in zip(shape[2:], ps, strict=True))
    assert torch.equal(unpatchify(patchify(x, ps), ps, grid, shape[1]), x)


def test_patchify_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="not divisible"):
        patchify(torch.zeros(1, 1, 10, 16), (4, 4))
    with pytest.raises(InputError, match="spatial"):
        patchify(torch.zeros(1, 16, 16), (4, 4))
    with pytest.raises(InputError, match="expected patches"):
        unpatchify(torch.zeros(1, 4, 10), (4, 4), (2, 2), 1)


def test_geometry_validation() -> None:
    geo = PatchGeometry.create(3, (32, 128, 128), (4, 16, 16))
    assert geo.grid == (8, 8, 8) and geo.num_tokens == 512 and geo.patch_dim(2) == 2048
    with pytest.raises(ConfigError, match="axis 1"):
        PatchGeometry.create(2, (32, 30), 16)
    with pytest.raises(ConfigError, match="spatial_dims"):
        PatchGeometry.create(4, 32, 16)
    with pytest.raises(ConfigError, match="patch_size must have 3"):
        PatchGeometry.create(3, 32, (16, 16))
    with pytest.raises(ConfigError, match="positive"):
        PatchGeometry.create(2, 32, (0, 16))


@pytest.mark.parametrize(("img", "ps"), [((16, 24), (4, 8)), ((8, 16, 16), (4, 8, 4))])
def test_patch_embed_equals_strided_convolution(img: tuple[int, ...], ps: tuple[int, ...]) -> None:
    geo = PatchGeometry(img, ps)
    embed = PatchEmbed(geo, in_chans=3, embed_dim=10)
    x = torch.randn(2, 3, *img)
    conv = F.conv2d if len(img) == 2 else F.conv3d
    reference = conv(x, embed.proj.weight, embed.proj.bias, stride=ps).flatten(2).transpose(1, 2)
    torch.testing.assert_close(embed(x), reference, atol=1e-5, rtol=1e-5)
    ids = torch.tensor([[3, 0, 5], [1, 2, 4]])
    subset = embed(x, ids)
    torch.testing.assert_close(
        subset, torch.stack([reference[0, ids[0]], reference[1, ids[1]]]), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("88", "img_size must be a positive int or a sequence of 2 positive ints, got '88'"),
        (b"88", "img_size must be a positive int or a sequence"),
        (32.0, "img_size must be a positive int or a sequence of 2 positive ints, got 32.0"),
        (True, "img_size must be a positive int or a sequence"),
        ((32, 32.0), r"img_size entries must be positive ints, got \(32, 32.0\)"),
        ((32, "32"), "img_size entries must be positive ints"),
        ((32, False), "img_size entries must be positive ints"),
        ((32, 0), "img_size entries must be positive ints"),
        (None, "img_size must be a positive int or a sequence"),
    ],
)
def test_sizes_must_be_ints_not_strings_floats_or_bools(value: object, match: str) -> None:
    # a quoted "88" from a config used to build an 8 x 8 model
    with pytest.raises(ConfigError, match=match):
        as_tuple(value, 2, "img_size")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=match):
        PatchGeometry.create(2, value, 8)  # type: ignore[arg-type]


def test_sizes_accept_python_numpy_and_tensor_integers() -> None:
    assert as_tuple(32, 2, "img_size") == (32, 32)
    assert as_tuple(np.int64(16), 3, "patch_size") == (16, 16, 16)
    assert as_tuple([torch.tensor(8), np.int32(4)], 2, "patch_size") == (8, 4)
    assert all(type(v) is int for v in as_tuple((np.int64(8), torch.tensor(4)), 2, "patch_size"))
    # whole arrays and 1-D tensors of integers, as sizes often arrive from NumPy code
    assert as_tuple(np.array([32, 48]), 2, "img_size") == (32, 48)
    assert as_tuple(torch.tensor([4, 16, 16]), 3, "patch_size") == (4, 16, 16)
    with pytest.raises(ConfigError, match="positive ints"):
        as_tuple(np.array([32.0, 48.0]), 2, "img_size")


def test_patch_embed_refuses_non_integer_channels() -> None:
    geo = PatchGeometry((16, 16), (8, 8))
    with pytest.raises(ConfigError, match=r"in_chans and embed_dim must be positive ints, got 1\.5 and 8"):
        PatchEmbed(geo, 1.5, 8)  # type: ignore[arg-type]
    assert PatchEmbed(geo, np.int64(2), 8).proj.in_channels == 2
