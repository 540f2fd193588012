"""Atomic writes leave either the complete output or nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from maerad.atomic import atomic_directory, atomic_path, unwritable_reason, write_text_atomic


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


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_get_the_permissions_of_the_umask(tmp_path: Path, umask: int) -> None:
    # a lab shares checkpoints and figures through group / world read bits: no 0600 temp-file modes
    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "a.json", "{}")
        with atomic_path(tmp_path / "w.safetensors") as tmp:
            save_file({"w": torch.zeros(2)}, str(tmp))  # safetensors writes private (0600) files
        with atomic_directory(tmp_path / "folder") as tmp:
            (tmp / "x.txt").write_text("x")
            save_file({"w": torch.zeros(2)}, str(tmp / "model.safetensors"))
    finally:
        os.umask(old)
    for path in ("a.json", "w.safetensors", "folder/x.txt", "folder/model.safetensors"):
        assert stat.S_IMODE((tmp_path / path).stat().st_mode) == 0o666 & ~umask, path
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o777 & ~umask


def test_unwritable_reason_names_the_part_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    assert unwritable_reason(tmp_path / "new" / "out.json", folder=False) is None
    in_the_way = f"{tmp_path / 'file'} is a file, not a folder"
    assert unwritable_reason(tmp_path / "file" / "out.json", folder=False) == in_the_way
    assert unwritable_reason(tmp_path / "dir", folder=False) == f"{tmp_path / 'dir'} is a folder, not a file"
    assert unwritable_reason(tmp_path / "dir", folder=True) is None
    assert unwritable_reason(tmp_path / "file", folder=True) == in_the_way
