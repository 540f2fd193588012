"""Label-preserving augmentation: whole-voxel shifts with zero fill, per-sequence gain and offset."""

from __future__ import annotations

import pytest
import torch

from maerad.train.augment import augment_study_batch, augment_volumes, shift_volume


def _blob() -> torch.Tensor:
    x = torch.zeros(2, 6, 20, 20)
    x[:, 2:4, 8:12, 5:9] = torch.arange(1, 2 * 2 * 4 * 4 + 1, dtype=torch.float32).view(2, 2, 4, 4)
    return x


@pytest.mark.parametrize("shift", [(0, 0, 0), (1, -3, 4), (-2, 5, -5), (0, 20, 0)])
def test_shift_moves_every_voxel_by_whole_voxels(shift: tuple[int, int, int]) -> None:
    x = _blob()
    y = shift_volume(x, shift)
    assert y.shape == x.shape
    dz, dy, dx = shift
    for c in range(2):
        for z, yy, xx in torch.nonzero(x[c]).tolist():
            tz, ty, tx = z + dz, yy + dy, xx + dx
            if 0 <= tz < 6 and 0 <= ty < 20 and 0 <= tx < 20:
                assert y[c, tz, ty, tx] == x[c, z, yy, xx]
    inside = shift != (0, 20, 0)
    assert (torch.count_nonzero(y) == torch.count_nonzero(x)) == inside  # a blob kept inside keeps its size
    assert torch.count_nonzero(shift_volume(x, (0, 20, 0))) == 0  # shifted out entirely: zeros


def test_augment_is_deterministic_bounded_and_per_sequence() -> None:
    x = torch.rand(3, 4, 6, 24, 24) + 0.5
    a = augment_volumes(x, torch.Generator().manual_seed(3), max_shift=(0, 0, 0))
    b = augment_volumes(x, torch.Generator().manual_seed(3), max_shift=(0, 0, 0))
    assert torch.equal(a, b)
    assert not torch.equal(a, augment_volumes(x, torch.Generator().manual_seed(4), max_shift=(0, 0, 0)))
    # without a shift, each (study, sequence) is an affine map y = s·x + o with |s − 1| ≤ gain, |o| ≤ offset
    flat_x, flat_a = x.flatten(2), a.flatten(2)
    for i in range(3):
        for c in range(4):
            u, v = flat_x[i, c], flat_a[i, c]
            slope = ((v - v.mean()) * (u - u.mean())).sum() / ((u - u.mean()) ** 2).sum()
            offset = v.mean() - slope * u.mean()
            assert abs(float(slope) - 1.0) <= 0.1 + 1e-5 and abs(float(offset)) <= 0.05 + 1e-5
            assert torch.allclose(v, slope * u + offset, atol=1e-5)
    slopes = {round(float(a[0, c, 0, 0, 0] / x[0, c, 0, 0, 0]), 6) for c in range(4)}
    assert len(slopes) > 1  # sequences are scaled independently


def test_augment_shifts_differ_between_studies_and_stay_in_range() -> None:
    x = _blob().unsqueeze(0).repeat(8, 1, 1, 1, 1)
    y = augment_volumes(x, torch.Generator().manual_seed(0), max_shift=(1, 3, 3), gain=0.0, offset=0.0)
    centres = []
    for i in range(8):
        idx = torch.nonzero(y[i, 0]).float().mean(dim=0) - torch.nonzero(x[i, 0]).float().mean(dim=0)
        assert idx.abs().max() <= 3 and abs(float(idx[0])) <= 1
        centres.append(tuple(idx.round().tolist()))
    assert len(set(centres)) > 1


def test_label_maps_move_with_their_study() -> None:
    x = torch.zeros(3, 2, 6, 24, 24)
    labels = torch.zeros(3, 6, 24, 24, dtype=torch.long)
    x[:, :, 2:4, 10:14, 10:14] = 1.0
    labels[:, 2:4, 10:14, 10:14] = 100
    images, moved = augment_study_batch(x, labels, torch.Generator().manual_seed(5), gain=0.0, offset=0.0)
    assert moved is not None and moved.dtype == labels.dtype
    # the images are those of augment_volumes with the same generator state
    assert torch.equal(images, augment_volumes(x, torch.Generator().manual_seed(5), gain=0.0, offset=0.0))
    for i in range(3):
        assert torch.equal(images[i, 0] > 0, moved[i] == 100)  # the label still covers the blob
    assert any(not torch.equal(moved[i], labels[i]) for i in range(3))  # and it did move
    with pytest.raises(ValueError, match="do not match"):
        augment_study_batch(x, labels[:, :5], torch.Generator())
