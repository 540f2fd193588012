"""The on-disk study cache (`StudyDataset(cache_dir=...)`): the same items as the in-memory cache, read
without decoding on later runs, a new entry when a study changes, safe with concurrent writers."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

import maerad.data.datasets as datasets_module
from maerad.data import Study, save_study
from maerad.data.datasets import StudyDataset
from maerad.data.study_cache import CachedStudy, StudyCache
from maerad.errors import ConfigError, InputError


def _write(root: Path, name: str, seed: int = 0, shape: tuple[int, int, int] = (4, 8, 10)) -> Path:
    rng = np.random.default_rng(seed)
    study = Study({"t2w": rng.normal(500, 50, shape), "adc": rng.normal(1.0, 0.1, shape)},
                  spacing=(5.0, 1.5, 1.5), labels=rng.integers(0, 3, shape))
    return save_study(study, root / name)


def _items(ds: StudyDataset) -> list[dict[str, torch.Tensor]]:
    return [ds[i] for i in range(len(ds))]


@pytest.mark.parametrize("mode", ["3d", "2d"])
def test_items_equal_the_in_memory_ones_bit_for_bit(tmp_path: Path, mode: str) -> None:
    for i in range(2):
        _write(tmp_path / "data", f"case-{i}", seed=i)
    memory = StudyDataset(tmp_path / "data", mode=mode, with_labels=True)
    first = StudyDataset(tmp_path / "data", mode=mode, with_labels=True, cache_dir=tmp_path / "cache")
    first.preload()
    again = StudyDataset(tmp_path / "data", mode=mode, with_labels=True, cache_dir=tmp_path / "cache")
    for ds in (first, again):
        for want, got in zip(_items(memory), _items(ds), strict=True):
            assert set(got) == set(want)
            for name in want:
                assert torch.equal(got[name], want[name]) and got[name].dtype == want[name].dtype
        assert torch.equal(ds.volume(1), memory.volume(1))
        assert torch.equal(ds.item_labels(1), memory.item_labels(1))
    memory.preload()
    assert first.cached_bytes == memory.cached_bytes > 0


def test_a_later_dataset_reads_the_cache_without_decoding_a_study(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "data", "case-0")
    StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()

    def no_decoding(folder: Path) -> Study:
        raise AssertionError(f"{folder} decoded again")

    monkeypatch.setattr(datasets_module, "load_study_folder", no_decoding)
    ds = StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache")
    ds.preload()
    image = ds.volume(0)
    assert image.shape == (2, 4, 8, 10) and float(image.std()) > 0
    # the cached arrays are memory-mapped, the items ordinary writable tensors (no read-only warning)
    assert isinstance(ds._cache[0][0], np.memmap)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        item = ds[0]["image"]
    item += 1.0  # a copy: the cache on disk is untouched
    assert torch.equal(ds[0]["image"], image)


def test_a_changed_study_gets_a_new_entry(tmp_path: Path) -> None:
    folder = _write(tmp_path / "data", "case-0", seed=0)
    cache = tmp_path / "cache"
    before = StudyDataset(tmp_path / "data", cache_dir=cache)[0]["image"]
    time.sleep(0.01)  # another modification time even on coarse clocks (the size differs anyway)
    _write(tmp_path / "new", "case-0", seed=1)
    for name in ("t2w.nii.gz", "adc.nii.gz"):
        os.replace(tmp_path / "new" / "case-0" / name, folder / name)
    after = StudyDataset(tmp_path / "data", cache_dir=cache)[0]["image"]
    fresh = StudyDataset(tmp_path / "data")[0]["image"]
    assert torch.equal(after, fresh) and not torch.equal(after, before)
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 2


def test_the_key_follows_sequences_and_normalisation(tmp_path: Path) -> None:
    folder = _write(tmp_path / "data", "case-0")
    cache = StudyCache(tmp_path / "cache")
    keys = {cache.key(folder, ["t2w", "adc"], "percentile"), cache.key(folder, ["adc", "t2w"], "percentile"),
            cache.key(folder, ["t2w", "adc"], "zscore"), cache.key(folder, ["t2w"], "percentile")}
    assert len(keys) == 4
    assert cache.key(folder, ["t2w", "adc"], "percentile") == cache.key(folder, ["t2w", "adc"], "percentile")
    for sequences in (["adc", "t2w"], ["t2w"]):
        cached = StudyDataset(tmp_path / "data", sequences=sequences, normalization="zscore",
                              cache_dir=tmp_path / "cache")[0]["image"]
        plain = StudyDataset(tmp_path / "data", sequences=sequences, normalization="zscore")[0]["image"]
        assert torch.equal(cached, plain)


def test_a_mirrored_study_is_flipped_from_the_cache_as_from_memory(tmp_path: Path) -> None:
    x, y, z = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in (12, 10, 4)), indexing="ij")
    volume = 100 + 10 * x + 3 * y + z + 200 * ((x < 4) & (y > 6))
    ras = np.diag([0.75, 0.75, 4.0, 1.0])
    lps = ras.copy()
    for axis in (0, 1):
        lps[:3, 3] += lps[:3, axis] * (volume.shape[axis] - 1)
        lps[:3, axis] = -lps[:3, axis]
    for name, vol, affine in (("a", volume, ras), ("b", np.ascontiguousarray(volume[::-1, ::-1]), lps)):
        (tmp_path / "data" / name).mkdir(parents=True)
        for seq in ("t2w", "adc"):
            nib.save(nib.Nifti1Image(vol, affine), tmp_path / "data" / name / f"{seq}.nii.gz")
    for mode in ("3d", "2d"):
        plain = StudyDataset(tmp_path / "data", mode=mode)
        for _ in range(2):  # building the entries, then reading them
            cached = StudyDataset(tmp_path / "data", mode=mode, cache_dir=tmp_path / "cache")
            for want, got in zip(_items(plain), _items(cached), strict=True):
                assert torch.equal(got["image"], want["image"])
            np.testing.assert_array_equal(cached.affine(1), plain.affine(1))


def test_concurrent_writers_keep_one_entry(tmp_path: Path) -> None:
    folder = _write(tmp_path / "data", "case-0")
    one, two = StudyCache(tmp_path / "cache"), StudyCache(tmp_path / "cache")
    key = one.key(folder, ["t2w"], "percentile")
    study = CachedStudy(image=np.ones((1, 2, 3, 4), np.float32), labels=None, affine=np.eye(4),
                        spacing=(1.0, 1.0, 1.0))
    other = CachedStudy(image=np.zeros((1, 2, 3, 4), np.float32), labels=None, affine=np.eye(4),
                        spacing=(1.0, 1.0, 1.0))
    first = one.store(key, study)
    second = two.store(key, other)  # arrives when the entry is there: the first one stays
    assert np.array_equal(second.image, first.image) and float(second.image.sum()) == 24.0
    assert second.labels is None
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [key]  # no temporary folder left


def test_a_damaged_entry_is_named(tmp_path: Path) -> None:
    _write(tmp_path / "data", "case-0")
    StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()
    (entry,) = (tmp_path / "cache").iterdir()
    (entry / "image.npy").write_bytes(b"\x93NUMPY truncated")
    with pytest.raises(InputError, match=f"{entry.name}.*delete it"):
        StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()


def test_cache_dir_needs_cache_and_a_folder(tmp_path: Path) -> None:
    _write(tmp_path / "data", "case-0")
    with pytest.raises(ConfigError, match="cache=True"):
        StudyDataset(tmp_path / "data", cache=False, cache_dir=tmp_path / "cache")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cache folder"):
        StudyDataset(tmp_path / "data", cache_dir=tmp_path / "file")
