"""The image side: pre-trained encoder loading and study tensors (sequences, normalisation, grid)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_generation import ENCODER, SEQUENCES, SHAPE

from maerad.data.study import Study
from maerad.errors import CheckpointError, InputError
from maerad.report.generation.config import EncoderSpec
from maerad.report.generation.encoder import ImageEncoder, pretrained_encoder
from maerad.report.generation.study_input import study_tensor
from maerad.train.config import PretrainConfig
from maerad.train.pretrain import pretrain


@pytest.fixture(scope="module")
def pretrained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pre")
    config = PretrainConfig(data=str(tiny_data), out=str(out), sequences=SEQUENCES, patch_size=[4, 16, 16],
                            model_kwargs={**ENCODER, "decoder_embed_dim": 16, "decoder_depth": 1,
                                          "decoder_num_heads": 2},
                            max_steps=1, batch_size=2, num_threads=1)
    pretrain(config, progress=False, log=lambda m: None)
    return out / "checkpoint"


def test_pretrained_encoder_is_rebuilt_from_its_config(pretrained: Path) -> None:
    spec, state = pretrained_encoder(pretrained.parent, SHAPE)  # the output folder works too
    assert spec.model == "mae_vit_tiny" and spec.sequences == SEQUENCES
    assert spec.patch_size == [4, 16, 16] and spec.volume_shape == SHAPE and spec.mode == "3d"
    encoder = ImageEncoder(spec)
    encoder.load_pretrained(state)
    own = encoder.mae.state_dict()
    for key, value in state.items():
        if not key.startswith("decoder."):
            assert torch.equal(own[key], value), key
    assert not [k for k in own if k.startswith("decoder.")]  # the pixel decoder is dropped


def test_pretrained_weights_must_fit(pretrained: Path) -> None:
    spec, state = pretrained_encoder(pretrained, SHAPE)
    wider = ImageEncoder(spec.model_copy(update={"model_kwargs": {**ENCODER, "embed_dim": 96}}))
    with pytest.raises(CheckpointError):
        wider.load_pretrained(state)


def test_study_tensor_normalises_each_sequence_and_resamples() -> None:
    spec = EncoderSpec(volume_shape=SHAPE, patch_size=[4, 16, 16], sequences=["adc", "t2w"])
    rng = np.random.default_rng(0)
    study = Study({"t2w": rng.random(SHAPE).astype(np.float32) * 1000,
                   "adc": rng.random(SHAPE).astype(np.float32) * 3e-3}, spacing=(10, 8, 8))
    x = study_tensor(study, spec)
    assert x.shape == (1, 2, *SHAPE)
    for c, name in enumerate(["adc", "t2w"]):  # channel order of the model, percentile scaling per channel
        lo, hi = np.percentile(study.sequences[name], [0.5, 99.5])
        expected = (study.sequences[name] - lo) / (hi - lo)
        assert np.allclose(x[0, c].numpy(), expected, atol=1e-5)
    bigger = Study({"t2w": rng.random((12, 48, 48)).astype(np.float32),
                    "adc": rng.random((12, 48, 48)).astype(np.float32)}, spacing=(5, 4, 4))
    assert study_tensor(bigger, spec).shape == (1, 2, *SHAPE)
    with pytest.raises(InputError, match="missing: adc"):
        study_tensor(Study({"t2w": np.zeros(SHAPE)}, spacing=(1, 1, 1)), spec)


@pytest.mark.parametrize("module", [
    "alignment", "alignment_loss", "config", "decoding", "encoder", "field_steps", "numeric_constraints",
    "numeric_heads", "phantom_fields", "plans", "pointer_decoder", "study_input", "targets",
    "term_embeddings", "text_hashing", "threads"])
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"maerad.report.generation.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
