"""``maerad report generate`` (wired into ``maerad report`` here the way cli/report.py registers actions)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel
import numpy as np
import pytest
from helpers_generation import SEQUENCES, SMALL

import maerad.cli.report as report_cli
from maerad.cli.main import main
from maerad.cli.report_generate import add_generate_parser
from maerad.data.nifti import save_nifti
from maerad.data.phantom import generate_case
from maerad.train.finetune import FinetuneResult


@pytest.fixture(autouse=True)
def _wired(monkeypatch: pytest.MonkeyPatch) -> None:
    if not any(name == "generate" for name, _ in report_cli._ACTIONS):
        monkeypatch.setattr(report_cli, "_ACTIONS", (*report_cli._ACTIONS, ("generate", add_generate_parser)))


def test_generate_json_text_and_fhir(tiny_trained: FinetuneResult, tiny_data: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = str(tiny_trained.checkpoint)
    study = str(tiny_data / "case-0004")
    assert main(["report", "generate", study, "--checkpoint", ckpt, "--format", "json",
                 "--template", "cervix-figo2018"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["template_id"] == "cervix-figo2018"
    assert report["fields"]["tumour_visible"]["provenance"] == "model"
    assert report["fields"]["figo2018_stage"]["provenance"] == "rule"
    assert main(["report", "generate", study, "--checkpoint", ckpt, "--lang", "zh",
                 "--template", "cervix-figo2018"]) == 0
    assert "宫颈癌MRI分期报告" in capsys.readouterr().out
    out = tmp_path / "fhir.json"
    assert main(["report", "generate", study, "--checkpoint", ckpt, "--format", "fhir", "--output", str(out),
                 "--beam", "2"]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["resourceType"] == "DiagnosticReport"


def test_bf16_on_an_emulating_cpu_warns_on_stderr(tiny_trained: FinetuneResult, tiny_data: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("maerad.train.precision.bf16_is_native", lambda device: False)
    args = [str(tiny_data / "case-0004"), "--checkpoint", str(tiny_trained.checkpoint), "--format", "json"]
    assert main(["report", "generate", *args, "--bf16"]) == 0
    captured = capsys.readouterr()
    assert "no native bfloat16" in captured.err and json.loads(captured.out)["fields"]  # stdout stays JSON
    assert main(["report", "generate", *args]) == 0
    assert "bfloat16" not in capsys.readouterr().err


def test_generate_from_one_4d_nifti_file(tiny_trained: FinetuneResult, tiny_data: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A 4D NIfTI whose frames are the model's sequences gives the same report as the study folder."""
    folder = tiny_data / "case-0004"
    images = [nibabel.load(str(folder / f"{name}.nii.gz")) for name in SEQUENCES]
    frames = np.stack([np.asarray(img.dataobj, dtype=np.float32) for img in images], axis=-1)
    path = tmp_path / "study4d.nii.gz"
    nibabel.save(nibabel.Nifti1Image(frames, images[0].affine), str(path))
    args = ["--checkpoint", str(tiny_trained.checkpoint), "--format", "json", "--template", "cervix-figo2018"]
    assert main(["report", "generate", str(folder), *args]) == 0
    from_folder = json.loads(capsys.readouterr().out)
    out = tmp_path / "report.json"
    assert main(["report", "generate", str(path), *args, "--output", str(out)]) == 0
    from_file = json.loads(out.read_text(encoding="utf-8"))
    assert from_file["template_id"] == "cervix-figo2018"
    assert from_file["fields"] == from_folder["fields"]


def test_missing_sequences_are_one_line_exit_2(tiny_trained: FinetuneResult, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    study = generate_case("cervical", seed=0, config=SMALL).study
    path = save_nifti(study.sequences["t2w"], study.affine, tmp_path / "t2w.nii.gz")
    assert main(["report", "generate", str(path), "--checkpoint", str(tiny_trained.checkpoint)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("maerad: error:") and "missing: dwi_b800, adc, t1c" in err


def test_bad_checkpoint_and_beam(tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "generate", str(tiny_data / "case-0000"), "--checkpoint", str(tmp_path)]) == 2
    assert "not a maerad checkpoint" in capsys.readouterr().err
    assert main(["report", "generate", str(tiny_data / "case-0000"), "--checkpoint", str(tmp_path),
                 "--beam", "0"]) == 2
    assert "--beam" in capsys.readouterr().err
