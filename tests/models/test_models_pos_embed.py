"""Sin-cos position tables (MAE layout, N-D, non-square) and their interpolation."""

from __future__ import annotations

import math

import pytest
import torch
from timm.layers import resample_abs_pos_embed

from maerad.errors import ConfigError
from maerad.models import interpolate_pos_embed, sincos_pos_embed


def _omega(k: int, half: int) -> float:
    return 1.0 / 10000.0 ** (k / half)


def test_2d_layout_column_block_first() -> None:
    # MAE's get_2d_sincos_pos_embed: [sin(col·ω) | cos(col·ω) | sin(row·ω) | cos(row·ω)], ω over D/4
    dim, grid = 16, (3, 5)
    table = sincos_pos_embed(grid, dim)
    assert table.shape == (1 + 15, dim)
    assert torch.count_nonzero(table[0]) == 0  # class-token row
    q = dim // 4
    for row in range(grid[0]):
        for col in range(grid[1]):
            vec = table[1 + row * grid[1] + col]
            for k in range(q):
                w = _omega(k, q)
                assert math.isclose(vec[k], math.sin(col * w), abs_tol=1e-6)
                assert math.isclose(vec[q + k], math.cos(col * w), abs_tol=1e-6)
                assert math.isclose(vec[2 * q + k], math.sin(row * w), abs_tol=1e-6)
                assert math.isclose(vec[3 * q + k], math.cos(row * w), abs_tol=1e-6)


def test_3d_blocks_w_h_d_and_zero_padding() -> None:
    grid = (2, 3, 4)
    dim = 28  # 2 * (28 // 6) = 8 channels per axis, 4 zero channels
    table = sincos_pos_embed(grid, dim, cls_token=False)
    assert table.shape == (24, dim)
    d, h, w = 1, 2, 3
    vec = table[(d * grid[1] + h) * grid[2] + w]
    for block, pos in enumerate((w, h, d)):
        for k in range(4):
            assert math.isclose(vec[block * 8 + k], math.sin(pos * _omega(k, 4)), abs_tol=1e-6)
            assert math.isclose(vec[block * 8 + 4 + k], math.cos(pos * _omega(k, 4)), abs_tol=1e-6)
    assert torch.count_nonzero(table[:, 24:]) == 0


def test_tables_are_distinct_per_position() -> None:
    table = sincos_pos_embed((4, 6, 5), 48, cls_token=False)
    distances = torch.cdist(table, table)
    assert bool((distances + torch.eye(len(table)) > 1e-3).all())


def test_too_small_dim_raises() -> None:
    with pytest.raises(ConfigError):
        sincos_pos_embed((4, 4, 4), 4)


def test_interpolate_keeps_prefix_and_resizes_non_square() -> None:
    table = torch.randn(1, 1 + 4 * 6, 8)
    out = interpolate_pos_embed(table, (4, 6), (8, 3))
    assert out.shape == (1, 1 + 24, 8)
    assert torch.equal(out[:, 0], table[:, 0])
    assert interpolate_pos_embed(table, (4, 6), (4, 6)) is table


def test_interpolate_constant_table_stays_constant_2d_and_3d() -> None:
    row = torch.randn(8)
    for old, new in (((4, 6), (7, 5)), ((2, 4, 4), (4, 8, 6))):
        n = math.prod(old)
        table = torch.cat([torch.zeros(1, 8), row.expand(n, 8)]).unsqueeze(0)
        out = interpolate_pos_embed(table, old, new)
        assert out.shape == (1, 1 + math.prod(new), 8)
        torch.testing.assert_close(out[0, 1:], row.expand(math.prod(new), 8), atol=1e-5, rtol=0)


def test_interpolate_approximates_the_sincos_table_of_the_new_grid() -> None:
    # a smooth table resampled from 16x16 to 8x8 samples positions (2i + 0.5): compare in-between
    dim = 32
    fine = sincos_pos_embed((16, 16), dim)
    coarse = interpolate_pos_embed(fine, (16, 16), (8, 8))
    # low-frequency channels (k = 7, the slowest) vary slowly: interpolation is close to the value
    # of the table at the scaled position 2i + 0.5
    q = dim // 4
    k = q - 1
    col = torch.arange(8).repeat(8).float() * 2 + 0.5
    expected = torch.sin(col * _omega(k, q))
    torch.testing.assert_close(coarse[1:, k], expected, atol=2e-3, rtol=0)


def test_interpolate_rejects_wrong_rows() -> None:
    with pytest.raises(ConfigError, match="rows"):
        interpolate_pos_embed(torch.zeros(1, 10, 4), (3, 3), (4, 4), num_prefix_tokens=0)


@pytest.mark.parametrize(
    ("old", "new", "prefix", "match"),
    [
        ((4, 6), (0, 3), 1, "new_grid must be a non-empty sequence of positive ints"),
        ((4, 6), (4, 6.0), 1, "new_grid must be"),
        ((4, "6"), (4, 6), 1, "old_grid must be"),
        ((4, 6), (4, 6), -1, "num_prefix_tokens must be an int >= 0, got -1"),
        ((4, 6), (4, 6), 1.0, "num_prefix_tokens must be an int >= 0"),
    ],
)
def test_interpolate_rejects_bad_grids(old: object, new: object, prefix: object, match: str) -> None:
    table = torch.zeros(1, 25, 8)
    with pytest.raises(ConfigError, match=match):
        interpolate_pos_embed(table, old, new, num_prefix_tokens=prefix)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"torch\.Tensor"):
        interpolate_pos_embed(table.numpy(), (4, 6), (2, 3))  # type: ignore[arg-type]


@pytest.mark.parametrize(("old", "new"), [((8, 8), (12, 12)), ((8, 8), (4, 4)), ((4, 6), (6, 10))])
def test_antialias_is_timms_resampling_and_the_default_is_maes(
    old: tuple[int, int], new: tuple[int, int]
) -> None:
    table = torch.randn(1, 1 + math.prod(old), 16, generator=torch.Generator().manual_seed(0))
    timm_table = resample_abs_pos_embed(table, list(new), list(old), num_prefix_tokens=1)
    mae_table = resample_abs_pos_embed(table, list(new), list(old), num_prefix_tokens=1, antialias=False)
    torch.testing.assert_close(interpolate_pos_embed(table, old, new, antialias=True), timm_table)
    torch.testing.assert_close(interpolate_pos_embed(table, old, new), mae_table)


def test_antialias_is_refused_for_3d_grids() -> None:
    table = torch.zeros(1, 1 + 8, 6)
    with pytest.raises(ConfigError, match="2D grids only"):
        interpolate_pos_embed(table, (2, 2, 2), (4, 4, 4), antialias=True)
    assert interpolate_pos_embed(table, (2, 2, 2), (4, 4, 4)).shape == (1, 65, 6)  # 3D still works
