"""StudyDataset: 3D volumes and 2D slices from study folders, per-channel normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from maerad.data import Study, save_study
from maerad.data.datasets import StudyDataset, find_study_folders, normalize_channels
from maerad.errors import ConfigError, InputError


def _write(
    root: Path, name: str, shape: tuple[int, int, int] = (3, 8, 10), seed: int = 0, labels: bool = True
) -> Path:
    rng = np.random.default_rng(seed)
    study = Study(
        {"t2w": rng.normal(500, 50, shape), "adc": rng.normal(1.0, 0.1, shape)},
        spacing=(5.0, 1.5, 1.5),
        labels=rng.integers(0, 3, shape) if labels else None,
    )
    return save_study(study, root / name)


def test_3d_items_are_channel_stacked_and_normalised_per_channel(tmp_path: Path) -> None:
    for i in range(3):
        _write(tmp_path, f"case-{i}", seed=i)
    ds = StudyDataset(tmp_path, sequences=["adc", "t2w"], with_labels=True)
    assert len(ds) == 3 and ds.in_chans == 2 and ds.spatial_shape == (3, 8, 10)
    item = ds[1]
    assert item["image"].shape == (2, 3, 8, 10) and item["image"].dtype == torch.float32
    assert item["labels"].shape == (3, 8, 10) and item["labels"].dtype == torch.int64
    for c in range(2):  # each channel on its own scale: 0.5th/99.5th percentiles at 0/1
        lo, hi = np.percentile(item["image"][c].numpy(), [0.5, 99.5])
        assert lo == pytest.approx(0.0, abs=1e-5) and hi == pytest.approx(1.0, abs=1e-5)
    raw = ds.study(1)  # the study itself stays in scanner units
    assert raw.sequences["adc"].mean() == pytest.approx(1.0, abs=0.05)


def test_2d_mode_indexes_every_slice(tmp_path: Path) -> None:
    _write(tmp_path, "a", shape=(3, 8, 10))
    _write(tmp_path, "b", shape=(5, 8, 10), seed=1)
    ds = StudyDataset(tmp_path, mode="2d", normalization="zscore")
    assert len(ds) == 8 and ds.spatial_shape == (8, 10)
    assert ds.sequences == ["t2w", "adc"]
    item = ds[4]  # study b, slice 1
    assert item["image"].shape == (2, 8, 10) and int(item["index"]) == 4
    full = normalize_channels(ds.study(4).stack(ds.sequences), "zscore")
    assert torch.equal(item["image"], torch.from_numpy(full[:, 1]))


def test_preload_fills_the_cache_and_names_items(tmp_path: Path) -> None:
    _write(tmp_path, "a", shape=(3, 8, 10))
    _write(tmp_path, "b", shape=(5, 8, 10), seed=1)
    ds = StudyDataset(tmp_path, mode="2d", with_labels=True)
    ds.preload()
    (tmp_path / "b" / "t2w.nii.gz").unlink()  # served from memory from now on
    assert ds[4]["image"].shape == (2, 8, 10)
    assert ds.item_labels(4).dtype == torch.int16 and torch.equal(ds.item_labels(4).long(), ds[4]["labels"])
    with pytest.raises(ConfigError, match="with_labels"):
        StudyDataset(tmp_path, mode="2d").item_labels(0)
    assert ds.describe_item(4) == f"{tmp_path / 'b'}, slice 1"
    assert StudyDataset([tmp_path / "a"]).describe_item(0) == str(tmp_path / "a")
    with pytest.raises(ConfigError, match="cache=True"):
        StudyDataset([tmp_path / "a"], cache=False).preload()


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        find_study_folders(tmp_path / "nope")
    with pytest.raises(InputError, match="holds no study folder"):
        StudyDataset(tmp_path)
    _write(tmp_path, "a", shape=(3, 8, 10))
    _write(tmp_path, "b", shape=(4, 8, 10), seed=1, labels=False)
    with pytest.raises(InputError, match="differs"):
        StudyDataset(tmp_path, mode="3d")
    with pytest.raises(InputError, match="a: study has no sequence 't1c'"):  # found when built
        StudyDataset(tmp_path, mode="2d", sequences=["t1c"])
    with pytest.raises(InputError, match="no label map"):
        StudyDataset([tmp_path / "b"], with_labels=True)[0]
    with pytest.raises(ConfigError):
        StudyDataset(tmp_path, mode="4d")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'t2w' more than once"):
        StudyDataset([tmp_path / "b"], sequences=["t2w", "adc", "t2w"])
    with pytest.raises(InputError, match="a file; give the folder that holds the study folders"):
        find_study_folders(tmp_path / "a" / "case.json")


def test_constant_channel_normalises_to_zero() -> None:
    img = np.stack([np.full((2, 3, 3), 7.0), np.arange(18.0).reshape(2, 3, 3)]).astype(np.float32)
    out = normalize_channels(img, "percentile")
    assert np.all(out[0] == 0) and out[1].max() > 0.99


def test_studies_with_different_sequences_need_sequences_named(tmp_path: Path) -> None:
    _write(tmp_path, "a")
    _write(tmp_path, "b", seed=1)
    extra = Study({"t2w": np.ones((3, 8, 10)), "adc": np.ones((3, 8, 10)), "t1c": np.ones((3, 8, 10))},
                  spacing=(5.0, 1.5, 1.5))
    save_study(extra, tmp_path / "c")
    # the first study holds fewer sequences: without a word, c's t1c would be dropped
    with pytest.raises(InputError, match=r"c: study holds 't1c' as well.*sequences=\[t2w,adc\]") as info:
        StudyDataset(tmp_path)
    assert str(tmp_path / "a") in str(info.value)
    # named sequences: extra ones elsewhere are fine, and the order is the one asked for
    assert StudyDataset(tmp_path, sequences=["adc", "t2w"]).sequences == ["adc", "t2w"]
    # the first study holds more: the next one lacks one, named with its folder
    (tmp_path / "c").rename(tmp_path / "0-c")
    lacks = r"a: study has no sequence 't1c'; available: t2w, adc; the first study, .*0-c, holds t2w, adc"
    with pytest.raises(InputError, match=lacks + ", t1c: name the channels"):
        StudyDataset(tmp_path)
    # the same sequences in another order are the same set: no error, the first study's order
    swapped = Study({"adc": np.ones((3, 8, 10)), "t2w": np.ones((3, 8, 10))}, spacing=(5.0, 1.5, 1.5))
    swapped_folder = save_study(swapped, tmp_path.parent / f"{tmp_path.name}-swapped")
    assert StudyDataset([tmp_path / "b", swapped_folder]).sequences == ["t2w", "adc"]
