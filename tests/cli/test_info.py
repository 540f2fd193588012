"""`maerad info`: table and JSON descriptions of real files, series choice, warnings, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from maerad.cli import main as cli_main
from maerad.data import Study, save_study


@pytest.fixture(autouse=True)
def _only_info(monkeypatch: pytest.MonkeyPatch) -> None:
    # build the real `maerad` parser with just this sub-command, independent of the others
    monkeypatch.setattr(cli_main, "_COMMAND_MODULES", ("info",))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli_main.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_table_for_a_dicom_file(
    pydicom_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(["info", str(pydicom_file("MR_small.dcm"))], capsys)
    assert status == 0 and err == ""
    assert "1 x 64 x 64" in out
    assert "0.8 x 0.3125 x 0.3125 mm" in out  # SliceThickness x PixelSpacing
    assert "0.8 x 20 x 20 mm" in out  # field of view: 64 x 0.3125 mm = 20 mm
    # axial DICOM: slices stack towards the head (S), rows run to the back (P), columns to the
    # patient's left (L) - an image's right side shows the patient's left
    assert "orientation    SPL" in out
    assert "image" in out and "labels         none" in out


def test_json_for_a_nifti_file(
    nibabel_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(["info", str(nibabel_file("anatomical.nii")), "--json"], capsys)
    assert status == 0
    info = json.loads(out)
    assert info["shape"] == [25, 41, 33] and info["spacing_mm"] == [2.0, 2.0, 2.0]
    assert info["field_of_view_mm"] == [50.0, 82.0, 66.0]
    # anatomical.nii's affine is diag(-2, 2, 2): i runs to the patient's left, j anterior, k superior;
    # maerad's (d, h, w) = (k, j, i)
    assert info["orientation"] == ["S", "A", "L"]
    assert set(info["sequences"]) == {"image"} and info["labels"] is None
    assert len(info["affine"]) == 4 and info["path"].endswith("anatomical.nii")


def test_study_folder_with_labels_and_landmarks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = np.zeros((2, 3, 4), dtype=np.int16)
    labels[0, :, :2] = 1
    labels[1, 0, 0] = 2
    study = Study(
        {"t2w": np.ones((2, 3, 4)), "adc": np.zeros((2, 3, 4))},
        spacing=(4.0, 0.5, 0.5),
        labels=labels,
        label_names={1: "bladder", 2: "uterus"},
        landmarks={"pubic_symphysis_inferior": (1.0, -2.5, 3.0)},
        metadata={"age": 50},
    )
    folder = save_study(study, tmp_path / "case")
    status, out, _ = run(["info", str(folder)], capsys)
    assert status == 0
    assert "bladder: 6 voxels" in out and "uterus: 1 voxels" in out
    assert "pubic_symphysis_inferior: (1, -2.5, 3)" in out
    assert out.index("t2w") < out.index("adc")  # recorded channel order
    assert "metadata       age" in out
    status, out, _ = run(["info", str(folder), "--json"], capsys)
    info = json.loads(out)
    assert info["labels"] == {"bladder": 6, "uterus": 1}
    assert info["landmarks"] == {"pubic_symphysis_inferior": [1.0, -2.5, 3.0]}


def test_series_choice(pydicom_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    folder = pydicom_file("MR_small.dcm").parent / "dicomdirtests" / "98892001"
    status, out, err = run(["info", str(folder)], capsys)
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and "2 DICOM series" in err and "--series-uid" in err
    uid = "1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.6"  # the 5-slice series, as listed in the error
    assert uid in err
    status, out, err = run(["info", str(folder), "--series-uid", uid, "--json"], capsys)
    assert status == 0 and json.loads(out)["shape"] == [5, 16, 16]


def test_reader_warnings_become_single_lines(
    pydicom_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(["info", str(pydicom_file("MR_small_padded.dcm"))], capsys)
    assert status == 0 and "1 x 64 x 64" in out
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("maerad: warning: ") and "padding" in lines[0]


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli_main.main(["info", "--help"])
    assert info.value.code == 0
    assert "--series-uid" in capsys.readouterr().out
