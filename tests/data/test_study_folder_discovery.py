"""Study folders of every layout (case.json, NIfTI per sequence, DICOM series per sequence) in datasets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from maerad.data import Study, load_dicom_series, save_nifti, save_study
from maerad.data.datasets import StudyDataset, find_study_folders
from maerad.data.discovery import load_study_folder, outline_study_folder, study_layout
from maerad.errors import InputError

SHAPE = (8, 32, 32)  # (D, H, W)
AFFINE = np.diag([1.5, 1.5, 4.0, 1.0])  # NIfTI (i, j, k) -> mm
WriteDicom = Callable[..., Path]


def _nifti(path: Path, array: np.ndarray, affine: np.ndarray = AFFINE) -> None:
    """Write a maerad (D, H, W) array as a NIfTI file with nibabel itself ((i, j, k) = (w, h, d))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(array.T), affine), path)


def _nifti_study(
    folder: Path, seed: int, *, labels: bool = False, shape: tuple[int, int, int] = SHAPE
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "t2w": rng.normal(500, 50, shape).astype(np.float32),
        "adc": rng.normal(1.0, 0.1, shape).astype(np.float32),
    }
    for name, arr in arrays.items():
        _nifti(folder / f"{name}.nii.gz", arr)
    (folder / "t2w.json").write_text("{}", encoding="utf-8")  # a dcm2niix-style sidecar: not a sequence
    if labels:
        arrays["labels"] = rng.integers(0, 4, shape).astype(np.int16)
        _nifti(folder / "labels.nii.gz", arrays["labels"])
    return arrays


def _clutter(root: Path) -> None:
    """Things below a data folder that are not studies."""
    (root / "empty").mkdir()
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a study", encoding="utf-8")
    (root / "index.json").write_text("{}", encoding="utf-8")
    _nifti(root / ".hidden" / "t2w.nii.gz", np.zeros(SHAPE, np.float32))
    (root / "only-labels").mkdir()
    _nifti(root / "only-labels" / "labels.nii.gz", np.zeros(SHAPE, np.int16))


def test_nifti_folders_are_found_and_stacked_in_sequence_order(tmp_path: Path) -> None:
    written = [_nifti_study(tmp_path / f"s{i}", seed=i, labels=i == 1) for i in range(3)]
    _clutter(tmp_path)
    assert find_study_folders(tmp_path) == [tmp_path / f"s{i}" for i in range(3)]
    assert [study_layout(p) for p in sorted(tmp_path.iterdir())] == [
        None,
        None,
        None,
        None,
        None,
        "nifti",
        "nifti",
        "nifti",
    ]  # .hidden, empty, index, notes, only-labels

    ds = StudyDataset(tmp_path, sequences=["t2w", "adc"], normalization="none")
    assert len(ds) == 3 and ds.in_chans == 2 and ds.spatial_shape == SHAPE
    for i, arrays in enumerate(written):
        image = ds[i]["image"]
        assert image.shape == (2, *SHAPE) and image.dtype == torch.float32
        assert torch.equal(image[0], torch.from_numpy(arrays["t2w"]))
        assert torch.equal(image[1], torch.from_numpy(arrays["adc"]))
    # by default, the first study's sequences in sorted file-name order
    assert StudyDataset(tmp_path).sequences == ["adc", "t2w"]
    study = ds.study(1)
    assert study.metadata["source"] == "nifti folder" and study.labels is not None
    assert np.array_equal(study.labels, written[1]["labels"])
    assert np.allclose(study.spacing, (4.0, 1.5, 1.5))  # (d, h, w) from the NIfTI affine


def test_labels_of_nifti_folders(tmp_path: Path) -> None:
    written = [_nifti_study(tmp_path / f"s{i}", seed=i, labels=i == 1) for i in range(3)]
    with pytest.raises(InputError, match=r"s0: has no label map"):
        StudyDataset(tmp_path, with_labels=True)
    ds = StudyDataset([tmp_path / "s1"], sequences=["t2w", "adc"], with_labels=True)
    labels = ds[0]["labels"]
    assert labels.dtype == torch.int64 and torch.equal(labels, torch.from_numpy(written[1]["labels"]).long())
    assert StudyDataset(tmp_path, with_labels=False)[0].keys() == {"image", "index"}


def test_maerad_and_nifti_folders_mix(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    saved = Study({"t2w": rng.normal(size=SHAPE), "adc": rng.normal(size=SHAPE)}, spacing=(4.0, 1.5, 1.5))
    save_study(saved, tmp_path / "a-maerad")
    nifti = _nifti_study(tmp_path / "b-nifti", seed=6)
    assert find_study_folders(tmp_path) == [tmp_path / "a-maerad", tmp_path / "b-nifti"]
    assert [outline_study_folder(p).layout for p in find_study_folders(tmp_path)] == ["maerad", "nifti"]
    ds = StudyDataset(tmp_path, normalization="none")
    assert ds.sequences == ["t2w", "adc"]  # the recorded order of the first (case.json) study
    assert torch.equal(ds[0]["image"][1], torch.from_numpy(saved.sequences["adc"]))
    assert torch.equal(ds[1]["image"][1], torch.from_numpy(nifti["adc"]))


def _dicom_series(write_dicom: WriteDicom, folder: Path, uid: str, seed: int) -> np.ndarray:
    """A 4-slice axial series of 6x5 int16 pixels; returns the (D, H, W) stored values."""
    stored = np.random.default_rng(seed).integers(0, 2000, (4, 6, 5)).astype(np.int16)
    for k, pixels in enumerate(stored):  # files named in reverse: the reader sorts by position
        write_dicom(
            folder / f"im{9 - k}.dcm",
            pixels,
            position=(0.0, 0.0, 3.0 * k),
            series_uid=uid,
            instance=k + 1,
            pixel_spacing=(0.7, 0.9),
        )
    return stored


def test_dicom_series_per_sequence_folder(tmp_path: Path, write_dicom: WriteDicom) -> None:
    uid = "1.2.826.0.1.3680043.8.498."
    studies = []
    for i in range(2):
        folder = tmp_path / f"exam{i}"
        studies.append(
            {
                "t2w": _dicom_series(write_dicom, folder / "t2w", f"{uid}{i + 1}1", seed=2 * i),
                "adc": _dicom_series(write_dicom, folder / "adc", f"{uid}{i + 1}2", seed=2 * i + 1),
            }
        )
    # a label map on the DICOM grid, beside the series folders
    grid = load_dicom_series(tmp_path / "exam1" / "t2w")
    labels = np.arange(4 * 6 * 5).reshape(4, 6, 5) % 3
    assert grid.affine is not None
    save_nifti(labels.astype(np.int16), grid.affine, tmp_path / "exam1" / "labels.nii.gz")
    write_dicom(tmp_path / "flat-dicom" / "im0.dcm", np.zeros((6, 5), np.int16))  # no sequence sub-folder
    _clutter(tmp_path)

    assert find_study_folders(tmp_path) == [tmp_path / "exam0", tmp_path / "exam1"]
    outline = outline_study_folder(tmp_path / "exam1")
    assert outline.layout == "dicom" and outline.sequences == ("adc", "t2w") and outline.has_labels
    ds = StudyDataset(tmp_path, sequences=["t2w", "adc"], normalization="none")
    assert ds.spatial_shape == (4, 6, 5)
    for i, stored in enumerate(studies):
        image = ds[i]["image"]
        assert torch.equal(image[0], torch.from_numpy(stored["t2w"].astype(np.float32)))
        assert torch.equal(image[1], torch.from_numpy(stored["adc"].astype(np.float32)))
    study = load_study_folder(tmp_path / "exam1")
    assert study.metadata["series"]["t2w"]["SeriesInstanceUID"] == f"{uid}21"
    labelled = StudyDataset([tmp_path / "exam1"], with_labels=True)
    assert torch.equal(labelled[0]["labels"], torch.from_numpy(labels).long())
    with pytest.raises(InputError, match=r"exam0: has no label map"):
        StudyDataset(tmp_path, with_labels=True)


def test_dicom_studies_are_outlined_from_headers(
    tmp_path: Path, write_dicom: WriteDicom, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = "1.2.826.0.1.3680043.8.498.7"
    good, odd = tmp_path / "exam0", tmp_path / "exam1"
    _dicom_series(write_dicom, good / "t2w", f"{uid}1", seed=0)
    _dicom_series(write_dicom, good / "adc", f"{uid}2", seed=1)
    grid = load_dicom_series(good / "t2w")
    assert grid.affine is not None
    save_nifti(np.zeros((4, 6, 5), np.int16), grid.affine, good / "labels.nii.gz")
    # the second study's adc series is 0.5 mm thicker per slice: a different grid from its t2w
    _dicom_series(write_dicom, odd / "t2w", f"{uid}3", seed=2)
    for k in range(4):
        write_dicom(odd / "adc" / f"im{k}.dcm", np.zeros((6, 5), np.int16), position=(0.0, 0.0, 3.5 * k),
                    series_uid=f"{uid}4", instance=k + 1, pixel_spacing=(0.7, 0.9))

    def refuse(*args: object) -> np.ndarray:
        raise AssertionError("pixel data decoded while outlining")

    monkeypatch.setattr("maerad.data.dicom._decode_pixels", refuse)
    outline = outline_study_folder(good)
    assert (outline.sequences, outline.shape, outline.has_labels) == (("adc", "t2w"), (4, 6, 5), True)
    with pytest.raises(InputError, match=r"exam1/t2w: its affine .* differs from adc's"):
        StudyDataset(tmp_path)
    # a label map on another grid is found from its header too
    save_nifti(np.zeros((4, 6, 5), np.int16), np.diag([2.0, 1.0, 1.0, 1.0]), good / "labels.nii.gz")
    with pytest.raises(InputError, match=r"labels.nii.gz: its affine"):
        outline_study_folder(good)


def test_dicom_series_beside_a_nifti_sequence_file_is_refused(
    tmp_path: Path, write_dicom: WriteDicom
) -> None:
    # a stray seg.nii.gz must not turn a DICOM study into a one-sequence NIfTI study
    folder = tmp_path / "exam"
    _dicom_series(write_dicom, folder / "t2w", "1.2.826.0.1.3680043.8.498.91", seed=0)
    grid = load_dicom_series(folder / "t2w")
    assert grid.affine is not None
    save_nifti(np.zeros((4, 6, 5), np.int16), grid.affine, folder / "seg.nii.gz")
    with pytest.raises(InputError, match=r"both DICOM series and NIfTI sequence files \(seg.nii.gz\)"):
        find_study_folders(tmp_path)


def test_root_without_a_readable_study_lists_the_layouts(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        find_study_folders(tmp_path / "missing")
    _clutter(tmp_path)
    _nifti(tmp_path / "loose_t2w.nii.gz", np.zeros(SHAPE, np.float32))
    with pytest.raises(InputError, match="holds no study folder") as info:
        StudyDataset(tmp_path)
    message = str(info.value)
    for accepted in ("case.json", "NIfTI files named by sequence", "labels.nii.gz", "DICOM series"):
        assert accepted in message
    assert "holds NIfTI files directly" in message
    with pytest.raises(InputError, match="empty: not a study folder; a study folder is"):
        StudyDataset([tmp_path / "empty"])


def test_inconsistent_nifti_studies_name_the_study_or_file(tmp_path: Path) -> None:
    _nifti_study(tmp_path / "s0", seed=0)
    _nifti_study(tmp_path / "s1", seed=1, shape=(6, 32, 32))
    with pytest.raises(InputError, match=r"s1: grid \(6, 32, 32\) differs"):
        StudyDataset(tmp_path)
    assert len(StudyDataset(tmp_path, mode="2d")) == 14  # 2D needs only one in-plane size

    (tmp_path / "s1" / "adc.nii.gz").unlink()
    with pytest.raises(InputError, match=r"s1: study has no sequence 'adc'; available: t2w"):
        StudyDataset(tmp_path, mode="2d")

    bad = tmp_path / "bad"
    _nifti(bad / "t2w.nii.gz", np.zeros(SHAPE, np.float32))
    _nifti(bad / "adc.nii.gz", np.zeros((8, 32, 30), np.float32))
    with pytest.raises(InputError, match=r"bad/t2w.nii.gz: grid \(8, 32, 32\) differs from adc.nii.gz"):
        StudyDataset([bad])
    _nifti(bad / "adc.nii.gz", np.zeros(SHAPE, np.float32), affine=np.diag([1.0, 1.5, 4.0, 1.0]))
    with pytest.raises(InputError, match=r"bad/t2w.nii.gz: its affine .* differs from adc.nii.gz"):
        StudyDataset([bad])
    with pytest.raises(InputError, match=r"t2w.nii.gz: its affine .* differs"):
        load_study_folder(bad)  # the reader checks the same
    _nifti(bad / "adc.nii", np.zeros(SHAPE, np.float32))
    with pytest.raises(InputError, match=r"two files for sequence 'adc'"):
        StudyDataset([bad])


def test_4d_nifti_outline_matches_the_reader(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    dwi = np.random.default_rng(3).random((2, *SHAPE)).astype(np.float32)  # (T, D, H, W)
    _nifti(folder / "t2w.nii.gz", dwi[0])
    path = folder / "dwi.nii.gz"
    nib.save(nib.Nifti1Image(np.ascontiguousarray(dwi.transpose(3, 2, 1, 0)), AFFINE), path)
    outline = outline_study_folder(folder)
    study = load_study_folder(folder)
    assert outline.sequences == tuple(study.sequence_names) == ("dwi_0", "dwi_1", "t2w")
    assert outline.shape == study.shape == SHAPE
    assert np.array_equal(study.sequences["dwi_1"], dwi[1])


def test_pretrain_cli_on_a_folder_of_nifti_studies(tmp_path: Path) -> None:
    from maerad.cli.main import main

    data, out = tmp_path / "data", tmp_path / "run"
    for i in range(3):
        _nifti_study(data / f"s{i}", seed=i)
    (data / "README.txt").write_text("three NIfTI studies", encoding="utf-8")
    tiny = [
        "patch_size=[4,8,8]",
        "model_kwargs.depth=1",
        "model_kwargs.embed_dim=32",
        "model_kwargs.num_heads=2",
        "model_kwargs.decoder_embed_dim=16",
        "model_kwargs.decoder_depth=1",
        "model_kwargs.decoder_num_heads=2",
    ]
    argv = [
        "pretrain",
        "--data",
        str(data),
        "--out",
        str(out),
        "--max-steps",
        "1",
        "--batch-size",
        "2",
        "--no-progress",
    ]
    for setting in tiny:
        argv += ["--set", setting]
    assert main(argv) == 0
    state = json.loads((out / "checkpoint" / "state.json").read_text(encoding="utf-8"))
    assert state["step"] == 1 and state["config"]["sequences"] == ["adc", "t2w"]
