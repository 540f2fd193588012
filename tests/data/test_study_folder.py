"""The study folder (save_study / load_study) and load_any's dispatch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import pytest

from maerad.data import Study, load_any, load_dicom_series, load_nifti, load_study, save_nifti, save_study
from maerad.data import study_folder as study_folder_module
from maerad.errors import ConfigError, InputError

AFFINE = np.array(
    [[0.0, 0.11, 0.69, -100.3], [0.0, 0.69, -0.11, 20.7], [4.4, 0.0, 0.0, -33.125], [0, 0, 0, 1]]
)


def make_study(seed: int = 0) -> Study:
    rng = np.random.default_rng(seed)
    shape = (4, 6, 5)
    return Study(
        {
            "t2w": rng.normal(300, 50, shape),
            "adc": rng.uniform(0, 3000, shape),
            "dwi_b800": rng.random(shape),
        },
        affine=AFFINE,
        labels=rng.integers(0, 4, shape),
        label_names={1: "bladder", 2: "uterus", 3: "rectum"},
        landmarks={
            "pubic_symphysis_inferior": (1.5, -22.25, -60.0),
            "sacrococcygeal_joint": (0.1, 80.3, -20.7),
        },
        metadata={
            "age": 47,
            "menopausal": False,
            "kind": "normal",
            "findings": {"lesion": None, "size_mm": 12.5},
        },
    )


def assert_same(a: Study, b: Study) -> None:
    assert a.sequence_names == b.sequence_names
    for name in a.sequence_names:
        assert np.array_equal(a.sequences[name].view(np.uint32), b.sequences[name].view(np.uint32))
    assert a.affine is not None and b.affine is not None
    assert np.array_equal(a.affine, b.affine)
    assert (a.labels is None) == (b.labels is None)
    if a.labels is not None:
        assert b.labels is not None and b.labels.dtype == np.int16 and np.array_equal(a.labels, b.labels)
    assert a.label_names == b.label_names and a.landmarks == b.landmarks and a.metadata == b.metadata


def test_round_trip_is_exact(tmp_path: Path) -> None:
    study = make_study()
    folder = save_study(study, tmp_path / "case001")
    assert sorted(p.name for p in folder.iterdir()) == [
        "adc.nii.gz",
        "case.json",
        "dwi_b800.nii.gz",
        "labels.nii.gz",
        "t2w.nii.gz",
    ]
    back = load_study(folder)
    assert_same(study, back)
    assert back.sequence_names == ["t2w", "adc", "dwi_b800"]  # recorded order, not alphabetical
    case = json.loads((folder / "case.json").read_text())
    assert case["format"] == "maerad-study" and case["format_version"] == 1
    # every sequence file is an ordinary NIfTI carrying the same data
    t2w = load_nifti(folder / "t2w.nii.gz")
    np.testing.assert_array_equal(t2w.sequences["image"], study.sequences["t2w"])


def test_study_without_labels(tmp_path: Path) -> None:
    study = Study({"t2w": np.ones((2, 3, 4))}, spacing=(3.0, 0.5, 0.5))
    back = load_study(save_study(study, tmp_path / "c"))
    assert_same(study, back)
    assert back.spacing == (3.0, 0.5, 0.5)


def test_writing_is_deterministic(tmp_path: Path) -> None:
    a = save_study(make_study(), tmp_path / "a")
    b = save_study(make_study(), tmp_path / "elsewhere" / "b")
    for f in sorted(a.iterdir()):
        assert f.read_bytes() == (b / f.name).read_bytes(), f.name


def test_overwrite_rules(tmp_path: Path) -> None:
    folder = save_study(make_study(0), tmp_path / "c")
    with pytest.raises(InputError, match="already exists"):
        save_study(make_study(1), folder)
    save_study(make_study(1), folder, overwrite=True)
    assert_same(load_study(folder), make_study(1))
    other = tmp_path / "my_documents"
    other.mkdir()
    (other / "thesis.txt").write_text("precious")
    with pytest.raises(InputError, match="not a study folder"):
        save_study(make_study(), other, overwrite=True)
    assert (other / "thesis.txt").read_text() == "precious"
    empty = tmp_path / "empty"
    empty.mkdir()
    save_study(make_study(), empty, overwrite=True)
    assert (empty / "case.json").is_file()


def test_crash_while_writing_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = save_study(make_study(0), tmp_path / "old")
    calls: list[Path] = []

    def failing_save(array: Any, affine: Any, path: Path) -> Path:
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # a crash half-way through the folder
        return save_nifti(array, affine, path)

    monkeypatch.setattr(study_folder_module, "save_nifti", failing_save)
    with pytest.raises(KeyboardInterrupt):
        save_study(make_study(1), tmp_path / "new")
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        save_study(make_study(1), old, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]  # no new folder, no temporary folders
    assert_same(load_study(old), make_study(0))


@pytest.mark.parametrize("name", ["../escape", "labels", ".hidden", "a/b", "", "t2w space"])
def test_unsafe_sequence_names_are_refused(tmp_path: Path, name: str) -> None:
    study = make_study()
    if name:
        study.sequences[name] = study.sequences.pop("adc")
    else:
        study.sequences = {"": study.sequences["adc"]}
    with pytest.raises(InputError):
        save_study(study, tmp_path / "c")
    assert not list(tmp_path.iterdir())


def test_sequence_names_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    study = Study({"t2w": np.zeros((2, 2, 2)), "T2W": np.ones((2, 2, 2))}, spacing=(1, 1, 1))
    with pytest.raises(InputError, match="differ only in case"):
        save_study(study, tmp_path / "c")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("metadata", [{"x": {1, 2}}, {"x": float("nan")}, {"when": object()}])
def test_metadata_must_be_json(tmp_path: Path, metadata: dict[str, Any]) -> None:
    study = make_study()
    study.metadata = metadata
    with pytest.raises(InputError, match="JSON"):
        save_study(study, tmp_path / "c")
    assert not list(tmp_path.iterdir())


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"case\.json"):
        load_study(tmp_path)
    folder = save_study(make_study(), tmp_path / "c")
    (folder / "adc.nii.gz").unlink()
    with pytest.raises(InputError, match=r"adc\.nii\.gz: missing"):
        load_study(folder)
    save_nifti(np.zeros((4, 6, 6)), AFFINE, folder / "adc.nii.gz")
    with pytest.raises(InputError, match=r"adc\.nii\.gz: shape"):
        load_study(folder)
    save_nifti(np.zeros((4, 6, 5)), np.eye(4), folder / "adc.nii.gz")
    with pytest.raises(InputError, match=r"adc\.nii\.gz: the NIfTI affine disagrees"):
        load_study(folder)


# --------------------------------------------------------------------------------------------------
# load_any
# --------------------------------------------------------------------------------------------------
def test_load_any_dispatch(
    tmp_path: Path, pydicom_file: Callable[[str], Path], nibabel_file: Callable[[str], Path]
) -> None:
    folder = save_study(make_study(), tmp_path / "case")
    assert_same(load_any(folder), make_study())
    assert_same(load_any(folder / "case.json"), make_study())
    assert load_any(nibabel_file("anatomical.nii"), sequence="t1w").sequence_names == ["t1w"]
    four_d = load_any(nibabel_file("example4d.nii.gz"), sequence="dwi", frame_names=["b0", "b800"])
    assert four_d.sequence_names == ["dwi_b0", "dwi_b800"]
    mr = load_any(pydicom_file("MR_small.dcm"), sequence="t2w")
    assert mr.shape == (1, 64, 64) and mr.metadata["source"] == "dicom"
    series_folder = pydicom_file("MR_small.dcm").parent / "dicomdirtests" / "98892001" / "CT5N"
    assert load_any(series_folder).shape == (5, 16, 16)
    parent = series_folder.parent
    uid = load_dicom_series(series_folder).metadata["SeriesInstanceUID"]
    assert load_any(parent, series_uid=uid).shape == (5, 16, 16)


def test_load_any_refusals(
    tmp_path: Path, nibabel_file: Callable[[str], Path], pydicom_file: Callable[[str], Path]
) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        load_any(tmp_path / "nothing")
    renamed = tmp_path / "scan.dcm"
    renamed.write_bytes(nibabel_file("anatomical.nii").read_bytes())
    with pytest.raises(InputError, match=r"must end in \.nii or \.nii\.gz"):
        load_any(renamed)
    gz = tmp_path / "scan.img"
    gz.write_bytes(nibabel_file("example4d.nii.gz").read_bytes())
    with pytest.raises(InputError, match="NIfTI"):
        load_any(gz)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        load_any(empty)
    with pytest.raises(ConfigError, match="series_uid"):
        load_any(nibabel_file("anatomical.nii"), series_uid="1.2.3")
    with pytest.raises(ConfigError, match="frame_names"):
        load_any(pydicom_file("MR_small.dcm"), frame_names=["a"])


def test_real_loaded_studies_round_trip(
    tmp_path: Path, pydicom_file: Callable[[str], Path], nibabel_file: Callable[[str], Path]
) -> None:
    for i, study in enumerate(
        [load_any(pydicom_file("MR_small.dcm")), load_any(nibabel_file("example4d.nii.gz"))]
    ):
        assert_same(study, load_study(save_study(study, tmp_path / f"c{i}")))


def test_nan_voxels_name_the_sequence_file_not_case_json(tmp_path: Path) -> None:
    folder = save_study(make_study(), tmp_path / "c")
    image = nibabel.load(folder / "adc.nii.gz")  # save_nifti refuses NaN: edit the written file instead
    values = np.asarray(image.dataobj, dtype=np.float32)
    values[1, 3, 2] = np.nan
    nibabel.save(nibabel.Nifti1Image(values, image.affine, image.header), folder / "adc.nii.gz")
    with pytest.raises(InputError, match=r"adc\.nii\.gz: sequence 'adc' has 1 NaN/Inf voxel\(s\)") as info:
        load_study(folder)
    assert "case.json" not in str(info.value)  # the file to fix is the image, not the description
