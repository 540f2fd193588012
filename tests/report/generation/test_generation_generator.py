"""``ReportGenerator``: checkpoint round trip, study inputs (folder, NIfTI, DICOM), options, 2D mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel
import numpy as np
import pytest
import torch
from helpers_generation import SEQUENCES, SMALL, tiny_generator

from maerad.data.nifti import save_nifti
from maerad.data.phantom import generate_case
from maerad.data.study import Study
from maerad.errors import CheckpointError, ConfigError, InputError
from maerad.report.generation.generator import ReportGenerator
from maerad.train.checkpoint import save_checkpoint
from maerad.train.finetune import FinetuneResult


def test_checkpoint_round_trip_gives_the_same_model_and_report(tiny_trained: FinetuneResult) -> None:
    gen = tiny_trained.generator
    folder = tiny_trained.checkpoint
    assert sorted(p.name for p in folder.iterdir()) == ["model.safetensors", "state.json"]  # no pickle
    loaded = ReportGenerator.from_checkpoint(folder)
    assert loaded.config == gen.config
    own, other = gen.model.state_dict(), loaded.model.state_dict()
    assert own.keys() == other.keys() and all(torch.equal(own[k], other[k]) for k in own)
    study = generate_case("endometrial", seed=9, config=SMALL).study
    for template in gen.config.templates:
        assert loaded.generate(study, template=template) == gen.generate(study, template=template)
    # the parent output folder is accepted too
    assert ReportGenerator.from_checkpoint(folder.parent).config == gen.config


def test_other_checkpoints_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"state\.json"):
        ReportGenerator.from_checkpoint(tmp_path / "missing")
    save_checkpoint(tmp_path / "other", torch.nn.Linear(2, 2), step=1, config={},
                    extra={"kind": "mae-pretrain"})
    with pytest.raises(CheckpointError, match="report generator"):
        ReportGenerator.from_checkpoint(tmp_path / "other")


def test_study_folder_and_resampled_grid(tiny_data: Path) -> None:
    gen = tiny_generator(1)
    report = gen.generate(tiny_data / "case-0002", template="cervix-figo2018")
    assert report.template_id == "cervix-figo2018" and report.value("figo2018_stage") is not None
    rng = np.random.default_rng(0)
    other_grid = Study({s: rng.random((10, 40, 36)).astype(np.float32) for s in SEQUENCES}, spacing=(4, 2, 2))
    assert gen.study_input(other_grid).shape == (1, 4, 8, 32, 32)


def test_nifti_with_one_sequence(tmp_path: Path) -> None:
    study = generate_case("cervical", seed=3, config=SMALL).study
    path = save_nifti(study.sequences["t2w"], study.affine, tmp_path / "t2w.nii.gz")
    four = tiny_generator(2)
    with pytest.raises(InputError, match="missing: dwi_b800, adc, t1c"):
        four.generate(path)
    single = tiny_generator(2, sequences=["t2w"], templates=["cervix-figo2018@1.0.0"])
    report = single.generate(path)
    assert report.template_id == "cervix-figo2018"


def test_four_dimensional_nifti_frames_are_the_model_sequences(tmp_path: Path) -> None:
    study = generate_case("adnexal", seed=3, config=SMALL).study
    frames = np.stack([study.sequences[s].transpose(2, 1, 0) for s in SEQUENCES], axis=-1)
    path = tmp_path / "study4d.nii.gz"
    nibabel.save(nibabel.Nifti1Image(frames, np.diag([8.0, 8.0, 10.0, 1.0])), str(path))
    gen = tiny_generator(4)
    assert gen.generate(path, template="adnexa-orads-mri").template_id == "adnexa-orads-mri"


def test_dicom_series_for_a_one_sequence_model(tmp_path: Path, write_dicom: Callable[..., Path]) -> None:
    rng = np.random.default_rng(1)
    for i in range(6):
        write_dicom(tmp_path / "series" / f"{i}.dcm", rng.integers(0, 1000, (24, 24)),
                    position=(0, 0, 5.0 * i), instance=i + 1)
    gen = tiny_generator(5, sequences=["t2w"], templates=["adnexa-orads-mri@1.0.0"])
    assert gen.generate(tmp_path / "series").template_id == "adnexa-orads-mri"


def test_template_choice_and_bf16() -> None:
    gen = tiny_generator(6)
    study = generate_case("pelvic_floor", seed=1, config=SMALL).study
    with pytest.raises(ConfigError, match="this generator writes"):
        gen.generate(study, template="no-such-template")
    chosen = gen.generate_detailed(study)  # the template head decides
    assert chosen.template in gen.config.templates
    fast = gen.generate_detailed(study, template="pelvic-floor", bf16=True)
    assert fast.valid and fast.report.template_id == "pelvic-floor"


def test_two_dimensional_slice_stack_encoder() -> None:
    gen = tiny_generator(7, mode="2d")
    x = torch.randn(2, 4, 8, 32, 32)
    tokens, pooled = gen.model.encode(x)
    assert tokens.shape == (2, 8 * 4, 48) and pooled.shape == (2, 48)  # 8 slices × 2×2 tokens
    study = generate_case("cervical", seed=2, config=SMALL).study
    assert gen.generate_detailed(study, template="cervix-figo2018").valid
