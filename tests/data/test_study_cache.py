"""The on-disk study cache (`StudyDataset(cache_dir=...)`): the same items as the in-memory cache, read
without decoding on later runs, a new entry when a study changes, safe with concurrent writers."""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
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
    # items are ordinary writable tensors (no read-only warning), copies of the mapped study
    assert not ds._cache[0][0].flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        item = ds[0]["image"]
    before = item.clone()
    item += 1.0
    assert torch.equal(ds[0]["image"], before)
    assert torch.equal(StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache")[0]["image"], before)


@pytest.fixture
def soft_open_file_limit() -> Iterator[Callable[[int], None]]:
    """Set this process's soft open-file limit for the test (restored after it)."""
    resource = pytest.importorskip("resource")
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)

    def set_soft(limit: int) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, saved[1]))

    yield set_soft
    resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_cache_raises_the_open_file_limit_its_maps_need(
        tmp_path: Path, soft_open_file_limit: Callable[[int], None]) -> None:
    import resource

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to count open files")
    for i in range(6):
        _write(tmp_path / "data", f"case-{i}", seed=i)
    StudyDataset(tmp_path / "data", with_labels=True, cache_dir=tmp_path / "cache").preload()
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < _open_files() + 64:
        pytest.skip("the hard open-file limit leaves no room to test with")
    soft_open_file_limit(_open_files() + 5)  # room for two and a half studies' maps
    ds = StudyDataset(tmp_path / "data", with_labels=True, cache_dir=tmp_path / "cache")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard or (hard == resource.RLIM_INFINITY and soft >= 1 << 20)
    before = _open_files()
    ds.preload()
    assert _open_files() == before + 12  # the maps' files: kept open, within the raised limit
    assert ds.cached_bytes == 6 * (2 * 4 * 8 * 10 * 4 + 4 * 8 * 10 * 2)


def test_an_open_file_limit_that_cannot_be_raised_is_a_config_error(
        tmp_path: Path, soft_open_file_limit: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    import maerad.data.study_cache as cache_module

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to count open files")
    for i in range(6):
        _write(tmp_path / "data", f"case-{i}", seed=i)
    StudyDataset(tmp_path / "data", with_labels=True, cache_dir=tmp_path / "cache").preload()
    monkeypatch.setattr(cache_module, "_raise_open_file_limit", lambda: None)  # as at the hard limit
    soft_open_file_limit(_open_files() + 5)
    with pytest.raises(ConfigError, match=r"open-file limit .*ulimit -Hn"):
        StudyDataset(tmp_path / "data", with_labels=True, cache_dir=tmp_path / "cache").preload()


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
    with pytest.raises(ConfigError, match="cache_dir is empty"):
        StudyDataset(tmp_path / "data", cache_dir="")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cache folder"):
        StudyDataset(tmp_path / "data", cache_dir=tmp_path / "file")


def _relink(link: Path, target: Path) -> None:
    link.unlink()
    link.symlink_to(target, target_is_directory=target.is_dir())


def test_a_link_pointed_elsewhere_gets_a_new_entry(tmp_path: Path) -> None:
    # a study of links to NIfTI files: one re-pointed to a file of the same size and times (uncompressed
    # volumes of one shape, as a copy made with cp -p or rsync -t would have them)
    rng = np.random.default_rng(0)
    for name in ("old", "new"):
        (tmp_path / "store" / name).mkdir(parents=True)
        for seq in ("t2w", "adc"):
            volume = rng.normal(500, 50, (10, 8, 4)).astype(np.float32)
            path = tmp_path / "store" / name / f"{seq}.nii"
            nib.save(nib.Nifti1Image(volume, np.diag([1.5, 1.5, 5.0, 1.0])), path)
            os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    study = tmp_path / "data" / "case-0"
    study.mkdir(parents=True)
    for seq in ("t2w", "adc"):
        (study / f"{seq}.nii").symlink_to(tmp_path / "store" / "old" / f"{seq}.nii")
    cache = tmp_path / "cache"
    first = StudyDataset(tmp_path / "data", cache_dir=cache)[0]["image"]
    _relink(study / "t2w.nii", tmp_path / "store" / "new" / "t2w.nii")
    relinked = StudyDataset(tmp_path / "data", cache_dir=cache)[0]["image"]
    assert torch.equal(relinked, StudyDataset(tmp_path / "data")[0]["image"])
    assert not torch.equal(relinked, first)

    # a folder link, as a DICOM series folder may be, re-pointed to another folder
    (tmp_path / "series" / "a").mkdir(parents=True)
    (tmp_path / "series" / "b").mkdir(parents=True)
    (tmp_path / "series" / "a" / "x").write_text("a")
    (tmp_path / "series" / "b" / "x").write_text("b")
    links = tmp_path / "linked"
    links.mkdir()
    (links / "t2w").symlink_to(tmp_path / "series" / "a", target_is_directory=True)
    (links / "loop").symlink_to(links, target_is_directory=True)  # listed once, not forever
    keys = StudyCache(cache)
    before = keys.key(links, ["t2w"], "percentile")
    _relink(links / "t2w", tmp_path / "series" / "b")
    assert keys.key(links, ["t2w"], "percentile") != before


def test_entries_take_the_umask_so_a_group_can_share_them(tmp_path: Path) -> None:
    _write(tmp_path / "data", "case-0")
    old = os.umask(0o002)
    try:
        StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()
    finally:
        os.umask(old)
    (entry,) = (tmp_path / "cache").iterdir()
    assert entry.stat().st_mode & 0o777 == 0o775
    assert {p.stat().st_mode & 0o777 for p in entry.iterdir()} == {0o664}


def test_an_entry_that_cannot_be_written_is_a_config_error_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import maerad.data.study_cache as cache_module

    _write(tmp_path / "data", "case-0")
    real = cache_module._write_synced

    def disk_full(path: Path, write: object) -> None:
        if path.name == "labels.npy":
            raise OSError(28, "No space left on device")
        real(path, write)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_module, "_write_synced", disk_full)
    with pytest.raises(ConfigError, match=r"cannot write the entry of .*case-0 \(No space left on device"):
        StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()
    assert list((tmp_path / "cache").iterdir()) == []


def test_an_entry_that_does_not_hold_what_it_says_is_named(tmp_path: Path) -> None:
    _write(tmp_path / "data", "case-0")
    StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()
    (entry,) = (tmp_path / "cache").iterdir()
    image = np.load(entry / "image.npy")
    np.save(entry / "image.npy", np.concatenate([image, image[:1]]))  # a third channel
    with pytest.raises(InputError, match=f"{entry.name} does not hold"):
        StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()
    meta = json.loads((entry / "meta.json").read_text())
    (entry / "meta.json").write_text(json.dumps({**meta, "shape": [3, *meta["shape"][1:]]}))
    with pytest.raises(InputError, match=f"{entry.name} holds 3 channels, not the 2"):
        StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()
    np.save(entry / "image.npy", image)
    (entry / "meta.json").write_text(json.dumps(meta))
    np.save(entry / "labels.npy", np.zeros((2, 3), np.int16))
    with pytest.raises(InputError, match=f"{entry.name} does not hold"):
        StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()
    np.save(entry / "labels.npy", np.zeros((4, 8, 10), np.float64))
    with pytest.raises(InputError, match=f"{entry.name} does not hold"):
        StudyDataset(tmp_path / "data", cache_dir=tmp_path / "cache").preload()


def test_temporary_folders_of_killed_writers_are_removed_once_old(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    stale, live = cache / f".{'0' * 32}.abcd0123.tmp", cache / f".{'1' * 32}.abcd0123.tmp"
    other = cache / ".editor-state.tmp"  # not an entry's temporary folder: never touched
    for path in (stale, live, other):
        path.mkdir()
        (path / "image.npy").write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 24 * 3600
    for path in (stale, other):
        os.utime(path, (two_days_ago, two_days_ago))
    os.utime(live, (time.time() - 3 * 3600,) * 2)  # hours old: still a day's margin
    StudyCache(cache)
    assert not stale.exists() and live.exists() and other.exists()
