"""Atomic writes leave either the complete output or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from maerad.atomic import atomic_directory, atomic_path, write_text_atomic


def test_write_text_atomic(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    write_text_atomic(target, "{}")
    assert target.read_text() == "{}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


def test_atomic_path_keeps_suffixes_and_cleans_up_on_error(tmp_path: Path) -> None:
    target = tmp_path / "x.nii.gz"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.name.endswith(".nii.gz")
        tmp.write_bytes(b"partial")
        raise RuntimeError("crash half-way")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_does_not_clobber_existing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("new, incomplete")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_atomic_directory(tmp_path: Path) -> None:
    target = tmp_path / "case-0000"
    with atomic_directory(target) as tmp:
        (tmp / "t2w.nii.gz").write_bytes(b"1")
        assert not target.exists()
    assert (target / "t2w.nii.gz").read_bytes() == b"1"
    with pytest.raises(FileExistsError), atomic_directory(target):
        pass
    with pytest.raises(ValueError), atomic_directory(target, overwrite=True) as tmp:
        (tmp / "t2w.nii.gz").write_bytes(b"2")
        raise ValueError("crash")
    assert (target / "t2w.nii.gz").read_bytes() == b"1"
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "adc.nii.gz").write_bytes(b"3")
    assert sorted(p.name for p in target.iterdir()) == ["adc.nii.gz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case-0000"]
