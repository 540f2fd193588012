"""Box counts, dilation and erosion on token grids: torch and NumPy agree with a brute-force loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.masking import lesion_classes, lesion_hide_weights
from maerad.masking.token_morphology import (
    box_count,
    dilate_tokens,
    erode_tokens,
    padded_box_sums_numpy,
    padded_grid_numpy,
)


def brute_force_count(mask: np.ndarray, radius: int) -> np.ndarray:
    out = np.zeros(mask.shape, dtype=np.int64)
    grid = mask.shape[1:]
    for b in range(mask.shape[0]):
        for tok in itertools.product(*(range(g) for g in grid)):
            box = tuple(slice(max(t - radius, 0), t + radius + 1) for t in tok)
            index = (b, *tok)
            out[index] = int(mask[b][box].sum())
    return out


maps = st.tuples(
    st.lists(st.integers(1, 6), min_size=1, max_size=4),
    st.integers(1, 3),
    st.integers(0, 2**31 - 1),
    st.floats(0.0, 1.0),
)


@settings(max_examples=60, deadline=None)
@given(case=maps)
def test_box_counts_match_a_brute_force_loop(case: tuple[list[int], int, int, float]) -> None:
    grid, radius, seed, density = case
    rng = np.random.default_rng(seed)
    # one sample too: then the padding that the flat passes leave aside lies in the only sample
    mask = rng.random((1 + seed % 3, *grid)) < density
    expected = brute_force_count(mask, radius)
    assert np.array_equal(box_count(torch.from_numpy(mask), radius).long().numpy(), expected)
    full = np.ones((1, *grid), dtype=bool)
    in_grid = brute_force_count(full, radius)
    # NumPy: a fill value in the padding adds `fill` per box cell outside the grid (0: plain counts)
    for fill in (0, 1 + seed % 5):
        padded, inner = padded_grid_numpy(mask.shape, radius, fill=fill, dtype=np.int32)
        padded[inner] = mask
        outside = (2 * radius + 1) ** len(grid) - in_grid
        assert np.array_equal(padded_box_sums_numpy(padded, radius)[inner], expected + fill * outside)
    assert np.array_equal(dilate_tokens(torch.from_numpy(mask), radius).numpy(), expected > 0)
    assert np.array_equal(erode_tokens(torch.from_numpy(mask), radius).numpy(), expected == in_grid)


@settings(max_examples=30, deadline=None)
@given(case=maps)
def test_torch_and_numpy_routes_give_the_same_classes_and_weights(case: tuple[list[int], int, int, float]
                                                                  ) -> None:
    """CPU float maps go through NumPy, bfloat16 maps through torch; probabilities that bfloat16
    represents exactly must give identical results."""
    grid, radius, seed, density = case
    rng = np.random.default_rng(seed)
    prob = torch.from_numpy(rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=(3, int(np.prod(grid))),
                                       p=[1 - density / 2, density / 8, density / 8, density / 8,
                                          density / 8]))
    via_numpy = lesion_classes(prob.float(), grid, threshold=0.5, boundary_width=radius)
    via_torch = lesion_classes(prob.bfloat16(), grid, threshold=0.5, boundary_width=radius)
    assert torch.equal(via_numpy, via_torch)
    w_np, w_t = (lesion_hide_weights(p, grid, core_weight=3.0, boundary_weight=0.5, background_weight=1.5,
                                     threshold=0.5, boundary_width=radius)
                 for p in (prob.float(), prob.bfloat16()))
    assert w_np.dtype == w_t.dtype == torch.float32 and torch.equal(w_np, w_t)


def test_radius_below_one_gives_the_mask_and_cached_maps_are_protected() -> None:
    from maerad.masking.lesion_weights import _class_table, _weight_table
    from maerad.masking.token_morphology import in_grid_count

    mask = np.array([[True, False, True]])
    for radius in (0, -2):
        padded, inner = padded_grid_numpy(mask.shape, radius, fill=0, dtype=np.uint8)
        padded[inner] = mask
        assert np.array_equal(padded_box_sums_numpy(padded, radius)[inner], mask.astype(np.uint8))
        assert torch.equal(box_count(torch.from_numpy(mask), radius), torch.from_numpy(mask).to(torch.uint8))
    for table in (_class_table(2, 1), _weight_table(2, 1, (1.0, 0.2, 2.0))):
        assert not table.flags.writeable and table.base is None  # owns its memory: no writable base
    # index = count + 10 * outside in 2D, radius 1: a corner token (5 box cells outside) with all 4
    # in-grid cells lesion is core, with 1 of 4 boundary, with none background
    assert [int(_class_table(2, 1)[c + 10 * 5]) for c in (4, 1, 0)] == [2, 1, 0]
    first = in_grid_count((3, 4), 1, torch.device("cpu"))
    first.zero_()  # a caller's copy: the cache behind it is untouched
    assert int(in_grid_count((3, 4), 1, torch.device("cpu"))[0, 1, 1]) == 9


def test_an_empty_batch_gives_empty_classes_and_weights() -> None:
    for dtype in (torch.float32, torch.bfloat16):  # the NumPy and the torch route
        prob = torch.zeros(0, 9, dtype=dtype)
        assert lesion_classes(prob, (3, 3)).shape == (0, 9)
        assert lesion_hide_weights(prob.view(0, 3, 3), (3, 3)).shape == (0, 9)


def brute_force_classes(lesion: np.ndarray, radius: int) -> np.ndarray:
    """Background 0 / boundary 1 / core 2 by their definition, token by token."""
    count = brute_force_count(lesion, radius)
    in_grid = brute_force_count(np.ones_like(lesion), radius)
    return (count > 0).astype(np.int64) + (count == in_grid).astype(np.int64)


@pytest.mark.parametrize(("grid", "radius"), [
    ((40,), 7),          # box 15: the largest uint8 table
    ((30,), 8),          # box 17: uint16
    ((5, 6, 7), 2),      # box 125
    ((20, 20), 7),       # box 225
    ((3, 4, 5, 6), 1),   # box 81, four axes
    ((4, 5, 6), 3),      # box 343: past the table limit, the torch route
    ((1, 9), 4),         # a size-1 axis, a radius wider than the grid
])
def test_classes_match_their_definition_at_the_table_limits(grid: tuple[int, ...], radius: int) -> None:
    rng = np.random.default_rng(len(grid) * 100 + radius)
    for density in (0.1, 0.5, 0.95):
        prob = rng.random((2, *grid)).astype(np.float32) * (density / 0.5)
        expected = brute_force_classes(prob >= 0.5, radius).reshape(2, -1)
        got = lesion_classes(torch.from_numpy(prob), grid, threshold=0.5, boundary_width=radius)
        assert np.array_equal(got.numpy(), expected)
