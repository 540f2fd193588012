"""`StudyDataset` presents studies in the first study's orientation, refuses another axis order and warns
about another voxel size (a model must never see mirrored anatomy without a word)."""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from maerad.data.datasets import StudyDataset
from maerad.data.orientation import axis_codes, flip_axes_to_match, flipped_affine
from maerad.errors import InputError

RAS = np.diag([0.75, 0.75, 4.0, 1.0])


def _anatomy(shape: tuple[int, int, int] = (16, 12, 6)) -> np.ndarray:
    """An asymmetric volume (x, y, z): a left-anterior blob and a gradient, so any flip shows."""
    x, y, z = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape), indexing="ij")
    return (100 + 10 * x + 3 * y + z + 200 * ((x < 5) & (y > 7))).astype(np.float32)


def _write(folder: Path, volume: np.ndarray, affine: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    for name in ("t2w", "adc"):
        nib.save(nib.Nifti1Image(volume, affine), folder / f"{name}.nii.gz")
    return folder


def _flipped_world_twin(volume: np.ndarray, affine: np.ndarray,
                        axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The same world anatomy stored with ``axes`` (of the NIfTI array) reversed, as another scanner /
    file format would store it."""
    twin = affine.copy()
    for axis in axes:
        twin[:3, 3] += twin[:3, axis] * (volume.shape[axis] - 1)
        twin[:3, axis] = -twin[:3, axis]
    return np.ascontiguousarray(np.flip(volume, axis=axes)), twin


def test_the_same_anatomy_stored_mirrored_loads_identically(tmp_path: Path) -> None:
    volume = _anatomy()
    _write(tmp_path / "a_ras", volume, RAS)
    mirrored, affine = _flipped_world_twin(volume, RAS, (0, 1))  # x and y reversed (DICOM-like LPS storage)
    _write(tmp_path / "b_lps", mirrored, affine)
    for mode in ("3d", "2d"):
        ds = StudyDataset(tmp_path, mode=mode)
        half = len(ds) // 2  # the first study's items, then the second's
        for i in range(half):
            np.testing.assert_allclose(ds[half + i]["image"].numpy(), ds[i]["image"].numpy(), atol=1e-6)
    ds = StudyDataset(tmp_path)
    # the affine of what the dataset returns describes the flipped arrays: both now map to one world
    np.testing.assert_allclose(ds.affine(1), ds.affine(0), atol=1e-9)
    assert axis_codes(ds.affine(1)) == axis_codes(ds.affine(0))


def test_another_axis_order_is_refused(tmp_path: Path) -> None:
    volume = _anatomy((8, 8, 8))
    _write(tmp_path / "a", volume, RAS)
    swapped = RAS[:, [2, 1, 0, 3]]  # the first and last array axes exchanged: another acquisition plane
    _write(tmp_path / "b", volume, swapped)
    ds = StudyDataset(tmp_path)
    with pytest.raises(InputError, match=r"another axis order.*resample"):
        ds.preload()


def test_another_voxel_size_warns(tmp_path: Path) -> None:
    volume = _anatomy()
    _write(tmp_path / "a", volume, RAS)
    _write(tmp_path / "b", volume, np.diag([1.5, 1.5, 4.0, 1.0]))
    ds = StudyDataset(tmp_path)
    with pytest.warns(UserWarning, match=r"voxel size .* differs by more than 10 %"):
        ds.preload()
    # once per study: loading it again (cache=False) does not repeat the warning
    ds = StudyDataset(tmp_path, cache=False)
    with pytest.warns(UserWarning):
        ds[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds[1]


def test_flip_helpers() -> None:
    assert flip_axes_to_match(("S", "P", "L"), ("S", "A", "R")) == (1, 2)
    assert flip_axes_to_match(("S", "A", "R"), ("S", "A", "R")) == ()
    assert flip_axes_to_match(("R", "A", "S"), ("S", "A", "R")) is None
    affine = np.diag([4.0, 0.75, 0.75, 1.0])
    flipped = flipped_affine(affine, (6, 10, 10), (1,))
    # index 0 of the reversed axis is the voxel that was at 9
    np.testing.assert_allclose(flipped @ [2, 0, 3, 1], affine @ [2, 9, 3, 1])


def test_a_held_out_set_is_presented_in_the_training_sets_orientation(tmp_path: Path) -> None:
    # its only study is stored mirrored: alone it would define its own orientation, and a model trained on
    # the other set would be evaluated on mirrored anatomy
    volume = _anatomy()
    _write(tmp_path / "train" / "a_ras", volume, RAS)
    mirrored, affine = _flipped_world_twin(volume, RAS, (0, 1))
    _write(tmp_path / "val" / "b_lps", mirrored, affine)
    train = StudyDataset(tmp_path / "train")
    alone = StudyDataset(tmp_path / "val")
    assert alone.orientation[0] != train.orientation[0]
    held = StudyDataset(tmp_path / "val", orientation_from=train)
    assert held.orientation == train.orientation
    np.testing.assert_allclose(held[0]["image"].numpy(), train[0]["image"].numpy(), atol=1e-6)
    np.testing.assert_allclose(held.affine(0), train.affine(0), atol=1e-9)
    # the reference is named in the messages: another voxel size warns against the training set's study
    _write(tmp_path / "val2" / "c", volume, np.diag([1.5, 1.5, 4.0, 1.0]))
    with pytest.warns(UserWarning, match=r"reference dataset's first study .*a_ras"):
        StudyDataset(tmp_path / "val2", orientation_from=train).preload()


def test_item_image_is_the_items_image_without_its_labels(tmp_path: Path) -> None:
    volume = _anatomy()
    _write(tmp_path / "a", volume, RAS)
    for mode in ("3d", "2d"):
        ds = StudyDataset(tmp_path, mode=mode)
        for i in (0, len(ds) - 1):
            assert torch.equal(ds.item_image(i), ds[i]["image"])
