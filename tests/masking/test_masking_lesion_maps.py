"""Lesion-map providers from label maps and landmark points: pooling to N-D token grids."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from maerad.errors import ConfigError, InputError
from maerad.masking import create_masking
from maerad.masking.lesion_maps import (
    label_fraction,
    label_token_fraction,
    pool_to_tokens,
    roi_from_labels,
    roi_from_points,
    token_grid,
)


def reference_fraction(labels: np.ndarray, ids: set[int], patch: tuple[int, ...]) -> np.ndarray:
    """Loop over every token and count its lesion voxels: slow and obvious."""
    grid = tuple(s // p for s, p in zip(labels.shape, patch, strict=True))
    out = np.zeros(grid)
    for tok in itertools.product(*(range(g) for g in grid)):
        box = tuple(slice(t * p, (t + 1) * p) for t, p in zip(tok, patch, strict=True))
        block = labels[box]
        out[tok] = np.isin(block, list(ids)).sum() / block.size
    return out


@pytest.mark.parametrize(("shape", "patch"),
                         [((6, 12, 8), (2, 3, 4)), ((12, 10), (4, 5)), ((8, 8, 8), (8, 2, 1))])
def test_label_fraction_matches_a_loop_reference(shape: tuple[int, ...], patch: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    labels = rng.choice([0, 1, 30, 100, 103], size=shape).astype(np.int16)
    got = label_fraction(labels, [100, 103], patch)
    assert got.shape == (1, *(s // p for s, p in zip(shape, patch, strict=True)))
    np.testing.assert_allclose(got[0].numpy(), reference_fraction(labels, {100, 103}, patch), atol=1e-6)
    batched = label_fraction(torch.from_numpy(np.stack([labels, labels])), [100, 103], patch)
    assert batched.shape[0] == 2 and torch.equal(batched[0], batched[1])


def test_label_token_fraction_is_flat_and_batched() -> None:
    labels = torch.zeros(3, 4, 32, 32, dtype=torch.int16)
    labels[1, :2, :16, 16:] = 102
    flat = label_token_fraction(labels, (2, 16, 16), [102, 103])
    assert flat.shape == (3, 8)
    assert flat[1].tolist() == [0, 1, 0, 0, 0, 0, 0, 0] and not flat[[0, 2]].any()
    assert torch.equal(flat, label_fraction(labels, [102, 103], (2, 16, 16), spatial_dims=3).flatten(1))


def test_label_fraction_feeds_lesion_aware_masking() -> None:
    labels = np.zeros((8, 64, 64), dtype=np.int16)
    labels[2:6, 16:48, 16:48] = 101
    frac = label_fraction(labels, [101], (2, 8, 8))  # grid (4, 8, 8)
    assert frac.shape == (1, 4, 8, 8) and float(frac.max()) == 1.0
    spec = create_masking("lesion_aware", mask_ratio=0.5)(1, (4, 8, 8), weights=frac.flatten(1))
    assert spec.num_visible == 128


def test_crop_and_divisibility() -> None:
    assert token_grid((10, 33), (4, 16), crop=True) == (2, 2)
    with pytest.raises(InputError, match="not divisible"):
        token_grid((10, 33), (4, 16))
    with pytest.raises(InputError, match="smaller than one patch"):
        token_grid((2, 32), (4, 16), crop=True)
    values = torch.arange(2 * 5, dtype=torch.float32).view(2, 5)
    pooled = pool_to_tokens(values, (2, 2), crop=True)  # drops the last column
    assert pooled.tolist() == [[[(0 + 1 + 5 + 6) / 4, (2 + 3 + 7 + 8) / 4]]]
    with pytest.raises(InputError, match="3 spatial axes"):
        pool_to_tokens(values, (2, 2, 2))
    with pytest.raises(InputError, match="patch_size"):
        pool_to_tokens(values, (2, 0))


def test_roi_from_labels_any_overlap_and_min_fraction() -> None:
    labels = np.zeros((4, 4), dtype=np.int16)
    labels[0, 0] = 40  # one voxel of the left ovary in the first 2×2 token
    labels[2:4, 2:4] = 41  # a whole token of the right ovary
    assert roi_from_labels(labels, [40, 41], 2)[0].tolist() == [[True, False], [False, True]]
    half = roi_from_labels(labels, [40, 41], 2, min_fraction=0.5)
    assert half[0].tolist() == [[False, False], [False, True]]
    with pytest.raises(InputError, match="integer label map"):
        roi_from_labels(labels.astype(np.float32), [40], 2)


def test_label_ids_may_be_one_value_and_values_the_dtype_cannot_hold_match_nothing() -> None:
    labels = np.zeros((1, 4, 4), dtype=np.uint8)
    labels[0, :2, :2] = 40
    assert label_fraction(labels, 40, (2, 2))[0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    # 300 does not fit in uint8: it matches nothing instead of wrapping around to 44
    assert label_fraction(labels, [40, 300], (2, 2))[0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert not roi_from_labels(labels, [300], (2, 2)).any()
    with pytest.raises(InputError, match="at least one label value"):
        label_fraction(labels, [], (2, 2))
    # NIfTI label types: uint16 / uint32, big-endian; label ids as a tensor
    for dtype in (np.uint16, np.uint32, np.dtype(">i2")):
        assert label_fraction(labels.astype(dtype), torch.tensor([40]), (2, 2))[0, 0, 0] == 1.0


def test_roi_from_points_marks_the_token_of_each_landmark() -> None:
    points = torch.tensor([[[5.5, 17.2, 3.9], [float("nan")] * 3], [[-0.4, 0.0, 0.0], [15.4, 63.4, 63.4]]])
    roi = roi_from_points(points, (16, 64, 64), (4, 16, 16))
    assert roi.shape == (2, 4, 4, 4)
    assert roi[0].nonzero().tolist() == [[1, 1, 0]]  # voxels 6, 17, 4 → tokens 1, 1, 0; NaN row absent
    assert roi[1].nonzero().tolist() == [[0, 0, 0], [3, 3, 3]]  # -0.4 is in voxel 0, 15.4 in voxel 15
    # voxel i spans [i - ½, i + ½): 15.6 lies in voxel 16, the second token of 16 voxels
    assert roi_from_points(torch.tensor([[[0.0, 15.6, 0.0]]]), (16, 64, 64), (4, 16, 16))[0, 0, 1, 0]
    with pytest.raises(InputError, match="outside the image"):  # beyond the last voxel's far half
        roi_from_points(torch.tensor([[[15.6, 0.0, 0.0]]]), (16, 64, 64), (4, 16, 16))
    # a landmark outside the field of view can be skipped instead
    beyond = torch.tensor([[[15.6, 0.0, 0.0], [0.0, 20.0, 0.0]]])
    kept = roi_from_points(beyond, (16, 64, 64), (4, 16, 16), outside="ignore")
    assert kept[0].nonzero().tolist() == [[0, 1, 0]]
    with pytest.raises(InputError, match="outside the part of the image the tokens cover"):
        roi_from_points(torch.tensor([[[0.0, 0.0, 65.0]]]), (16, 64, 70), (4, 16, 16), crop=True)
    grown = roi_from_points(points[:1, :1], (16, 64, 64), (4, 16, 16), radius=1)
    # a 3×3×3 box around (1, 1, 0), clipped at the w = 0 edge: 3 · 3 · 2 tokens
    assert int(grown.sum()) == 18 and bool(grown[0, 0:3, 0:3, 0:2].all())
    with pytest.raises(InputError, match="outside the image"):
        roi_from_points(torch.tensor([[[16.0, 0.0, 0.0]]]), (16, 64, 64), (4, 16, 16))
    with pytest.raises(InputError, match=r"shape \(B, M, 3\)"):
        roi_from_points(torch.zeros(1, 2), (16, 64, 64), (4, 16, 16))


@pytest.mark.parametrize("radius", [1.5, True, -1, "1", None])
def test_roi_from_points_rejects_a_radius_that_is_not_a_count_of_tokens(radius: object) -> None:
    with pytest.raises(ConfigError, match="radius"):
        roi_from_points(torch.zeros(1, 1, 3), (16, 64, 64), (4, 16, 16), radius=radius)  # type: ignore[arg-type]


def test_roi_from_points_refuses_a_partly_nan_point() -> None:
    # a landmark is absent only as a whole row of NaN; one NaN coordinate is a malformed point
    with pytest.raises(InputError, match=r"points\[0, 1\].*partly NaN"):
        roi_from_points(torch.tensor([[[1.0, 1.0, 1.0], [float("nan"), 1.0, 1.0]]]), (4, 8, 8), (4, 4, 4))
    assert int(roi_from_points(torch.tensor([[[1.0, 1.0, 1.0], [float("nan")] * 3]]), (4, 8, 8), (4, 4, 4),
                               radius=np.int64(0)).sum()) == 1
