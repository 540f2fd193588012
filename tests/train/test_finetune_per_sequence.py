"""Fine-tuning on an encoder in the per-sequence token layout (S tokens at each position): tissue
supervision's targets follow the encoder's token order, in 3D and on 2D slices."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report" / "generation"))
from helpers_generation import ENCODER, tiny_finetune_config, write_tiny_phantom

from maerad.report.generation.tissue import token_composition
from maerad.train.finetune import _Tissue, finetune


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_phantom(tmp_path_factory.mktemp("ft-seq") / "phantom", 8, seed=3)


def test_targets_are_repeated_for_every_sequence_in_the_encoders_order() -> None:
    torch.manual_seed(0)
    labels = torch.randint(0, 4, (1, 4, 8, 8))
    groups = [[1], [2, 3]]
    # 3D, tokens (2, 4, 4): 32 positions; sequence-major, so token s·32 + p covers position p
    plain = token_composition(labels, groups, (2, 2, 2))
    three_d = _Tissue(groups, (2, 2, 2), sequences=3).shares(labels)
    assert three_d.shape == (1, 96, 3)  # two groups and "other"
    for s in range(3):
        assert torch.equal(three_d[:, s * 32 : (s + 1) * 32], plain)
    # 2D slices: each of the 4 slices is encoded on its own, its 16 positions per sequence in turn
    plain = token_composition(labels, groups, (1, 2, 2))  # (1, 4 · 16, 2), slice-major
    two_d = _Tissue(groups, (1, 2, 2), sequences=3, slices=4).shares(labels)
    for z in range(4):
        for s in range(3):
            start = z * 48 + s * 16
            assert torch.equal(two_d[:, start : start + 16], plain[:, z * 16 : (z + 1) * 16])


@pytest.mark.parametrize("mode", ["3d", "2d"])
def test_tissue_supervision_on_a_per_sequence_encoder(data: Path, tmp_path: Path, mode: str) -> None:
    kwargs = {**ENCODER, "token_layout": "per_sequence"}
    config = tiny_finetune_config(data, tmp_path, model_kwargs=kwargs, tissue_supervision=True, mode=mode,
                                  max_steps=2, labels=4)
    result = finetune(config, progress=False, log=lambda message: None)
    assert result.steps == 2 and all(torch.isfinite(torch.tensor(result.losses)))
