"""NIfTI reading/writing: orientation against nibabel's own apply_affine, 4D frames, exact round trips."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.affines import apply_affine

from maerad.data import load_nifti, read_nifti_volume, save_nifti
from maerad.errors import InputError

OBLIQUE = np.array([[0.0, 0.2, 1.9, -90.5], [0.1, 0.7, -0.3, 12.25], [3.5, 0.0, 0.05, -40.0], [0, 0, 0, 1]])


def _check_against_nibabel(
    path: Path, study_array: np.ndarray, voxel_to_world: Callable[..., np.ndarray], frame: int | None = None
) -> None:
    img = nib.load(path)
    data = img.get_fdata()
    if frame is not None:
        data = data[..., frame]
    rng = np.random.default_rng(3)
    for _ in range(25):
        i, j, k = (int(rng.integers(n)) for n in data.shape[:3])
        assert study_array[k, j, i] == np.float32(data[i, j, k])
        np.testing.assert_allclose(voxel_to_world((k, j, i)), apply_affine(img.affine, (i, j, k)), atol=1e-9)


def test_anatomical_3d(nibabel_file: Callable[[str], Path]) -> None:
    path = nibabel_file("anatomical.nii")
    img = nib.load(path)
    study = load_nifti(path, sequence="t1w")
    assert study.sequence_names == ["t1w"]
    assert study.shape == tuple(reversed(img.shape))
    assert study.spacing == pytest.approx(tuple(reversed([float(z) for z in img.header.get_zooms()])))
    _check_against_nibabel(path, study.sequences["t1w"], study.voxel_to_world)
    assert study.metadata == {"source": "nifti"}


def test_example4d_frames_and_oblique_affine(nibabel_file: Callable[[str], Path]) -> None:
    path = nibabel_file("example4d.nii.gz")
    img = nib.load(path)
    assert img.shape[3] == 2
    study = load_nifti(path)
    assert study.sequence_names == ["image_0", "image_1"]
    assert study.shape == tuple(reversed(img.shape[:3]))
    for t in range(2):
        _check_against_nibabel(path, study.sequences[f"image_{t}"], study.voxel_to_world, frame=t)
    named = load_nifti(path, sequence="dwi", frame_names=["b0", "b800"])
    assert named.sequence_names == ["dwi_b0", "dwi_b800"]
    np.testing.assert_array_equal(named.sequences["dwi_b800"], study.sequences["image_1"])
    volume, affine = read_nifti_volume(path)
    assert volume.shape == (2, *study.shape)
    np.testing.assert_array_equal(affine, study.affine)


def test_nifti2_loads(nibabel_file: Callable[[str], Path]) -> None:
    path = nibabel_file("example_nifti2.nii.gz")
    study = load_nifti(path)
    _check_against_nibabel(path, study.sequences["image_0"], study.voxel_to_world, frame=0)


@pytest.mark.parametrize("names", [["b0"], ["b0", "b0"], ["b0", ""]])
def test_bad_frame_names(nibabel_file: Callable[[str], Path], names: list[str]) -> None:
    with pytest.raises(InputError, match="frame_names"):
        load_nifti(nibabel_file("example4d.nii.gz"), frame_names=names)


def test_frame_names_for_a_3d_file(nibabel_file: Callable[[str], Path]) -> None:
    with pytest.raises(InputError, match="3D"):
        load_nifti(nibabel_file("anatomical.nii"), frame_names=["a"])


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 3, 2, 2), (4, 5, 3, 2, 1, 2)])
def test_2d_and_5d_are_refused(tmp_path: Path, shape: tuple[int, ...]) -> None:
    path = tmp_path / "x.nii"
    nib.save(nib.Nifti1Image(np.ones(shape, dtype=np.float32), np.eye(4)), path)
    with pytest.raises(InputError, match="3D or 4D"):
        load_nifti(path)


@pytest.mark.parametrize("shape", [(4, 5, 3, 1), (4, 5, 3, 1, 1)])
def test_trailing_singleton_axes_give_a_3d_sequence(tmp_path: Path, shape: tuple[int, ...]) -> None:
    path = tmp_path / "x.nii.gz"
    nib.save(nib.Nifti1Image(np.arange(60, dtype=np.float32).reshape(shape), np.eye(4)), path)
    study = load_nifti(path, sequence="t2w")
    assert study.sequence_names == ["t2w"] and study.shape == (3, 5, 4)
    assert study.sequences["t2w"][2, 1, 3] == np.arange(60).reshape(4, 5, 3)[3, 1, 2]


def test_scaling_is_applied(tmp_path: Path) -> None:
    raw = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    img = nib.Nifti1Image(raw, np.eye(4))
    img.header.set_slope_inter(2.5, -10.0)
    path = tmp_path / "scaled.nii"
    nib.save(img, path)
    study = load_nifti(path)
    np.testing.assert_array_equal(study.sequences["image"], (raw * 2.5 - 10.0).transpose(2, 1, 0))


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_save_load_is_bit_identical(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((5, 6, 7)) * 1e3).astype(np.float32)
    x[0, 0, :4] = [-0.0, np.finfo(np.float32).tiny / 4, np.finfo(np.float32).max, -1e-30]
    path = save_nifti(x, OBLIQUE, tmp_path / f"t2w{suffix}")
    back, affine = read_nifti_volume(path)
    assert back.dtype == np.float32 and back.shape == x.shape
    assert np.array_equal(back.view(np.uint32), x.view(np.uint32))  # bit for bit, signed zero included
    np.testing.assert_allclose(affine, OBLIQUE, rtol=1e-6, atol=1e-5)  # header affine is float32
    # nibabel sees the same voxel at the same world point
    img = nib.load(path)
    assert img.get_fdata()[6, 5, 4] == np.float32(x[4, 5, 6])
    np.testing.assert_allclose(apply_affine(img.affine, (6, 5, 4)), (OBLIQUE @ [4, 5, 6, 1.0])[:3], atol=1e-4)


def test_labels_are_stored_as_int16(tmp_path: Path) -> None:
    labels = np.random.default_rng(1).integers(-3, 300, size=(3, 4, 5)).astype(np.int64)
    path = save_nifti(labels, np.eye(4), tmp_path / "labels.nii.gz")
    assert nib.load(path).header.get_data_dtype() == np.int16
    back, _ = read_nifti_volume(path)
    np.testing.assert_array_equal(back.astype(np.int64), labels)
    with pytest.raises(InputError, match="int16"):
        save_nifti(np.full((2, 2, 2), 40000), np.eye(4), tmp_path / "big.nii.gz")


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    x = np.random.default_rng(2).random((4, 4, 4)).astype(np.float32)
    a = save_nifti(x, OBLIQUE, tmp_path / "a.nii.gz")
    os.utime(a, (0, 0))
    b = save_nifti(x, OBLIQUE, tmp_path / "sub" / "other_name.nii.gz")
    assert a.read_bytes() == b.read_bytes()
    head = a.read_bytes()[:10]
    assert head[:2] == b"\x1f\x8b" and head[4:8] == b"\0\0\0\0"  # gzip magic, zero mtime
    assert head[3] & 0x08 == 0  # no embedded file name
    assert gzip.decompress(a.read_bytes()) == save_nifti(x, OBLIQUE, tmp_path / "c.nii").read_bytes()


def test_sheared_affine_keeps_the_sform_and_drops_the_qform(tmp_path: Path) -> None:
    sheared = np.array([[1.0, 0.5, 0, 0], [0, 1.0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 1]])
    hdr = nib.load(save_nifti(np.zeros((2, 3, 4)), sheared, tmp_path / "s.nii")).header
    assert int(hdr["qform_code"]) == 0 and int(hdr["sform_code"]) == 1
    c, s = np.cos(0.5), np.sin(0.5)
    rotation = np.array([[c, -s, 0, 10.0], [s, c, 0, -4.0], [0, 0, 1, 2.0], [0, 0, 0, 1]]) @ np.diag(
        [3, 2, 1, 1.0]
    )
    rigid = nib.load(save_nifti(np.zeros((2, 3, 4)), rotation, tmp_path / "r.nii")).header
    assert int(rigid["qform_code"]) == 1 and int(rigid["sform_code"]) == 1
    np.testing.assert_allclose(rigid.get_qform()[:, [2, 1, 0, 3]], rotation, atol=1e-5)


def test_failed_save_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = save_nifti(np.ones((2, 2, 2)), np.eye(4), tmp_path / "x.nii.gz")
    before = target.read_bytes()

    def boom(self: Path, data: bytes) -> int:
        self.open("wb").write(data[:10])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", boom)
    with pytest.raises(OSError, match="disk full"):
        save_nifti(np.zeros((2, 2, 2)), np.eye(4), target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nii.gz"]


@pytest.mark.parametrize(
    ("array", "name", "message"),
    [
        (np.zeros((3, 4)), "a.nii", "3D"),
        (np.full((2, 2, 2), np.nan), "a.nii", "NaN"),
        (np.zeros((2, 2, 2)), "a.nrrd", ".nii"),
        (np.zeros((2, 2, 2), dtype=complex), "a.nii", "dtype"),
    ],
)
def test_save_refuses_bad_input(tmp_path: Path, array: np.ndarray, name: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        save_nifti(array, np.eye(4), tmp_path / name)
    assert not list(tmp_path.iterdir())


def test_not_nifti_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scan.nii"
    path.write_text("this is not a NIfTI file, just text that is long enough " * 10)
    with pytest.raises(InputError, match=r"scan\.nii"):
        load_nifti(path)
    with pytest.raises(InputError, match="no such NIfTI file"):
        load_nifti(tmp_path / "missing.nii.gz")
