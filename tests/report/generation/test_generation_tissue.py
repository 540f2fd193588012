"""Tissue supervision: per-token tissue-group shares from a label map, the head and its KL loss."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers_generation import tiny_config, tiny_generator

from maerad.errors import ConfigError
from maerad.report.generation.config import EncoderSpec, GeneratorConfig
from maerad.report.generation.encoder import ImageEncoder
from maerad.report.generation.tissue import (
    PHANTOM_TISSUE_GROUPS,
    check_tissue_groups,
    tissue_loss,
    token_composition,
)


def test_shares_per_token_sum_to_one_and_count_voxels() -> None:
    labels = torch.zeros(2, 4, 8, 8, dtype=torch.long)
    labels[0, :2, :4, :4] = 100  # half of token 0 (its upper two slices)
    labels[0, :, 4:, 4:] = 33  # all of token 3
    labels[1, 0, 0, 0] = 7  # in no group: counted as "other"
    labels[1, 0, 0, 1] = 500  # beyond every group value: "other" too
    shares = token_composition(labels, [[100], [33, 34]], (4, 4, 4))
    assert shares.shape == (2, 4, 3)
    assert torch.allclose(shares.sum(-1), torch.ones(2, 4))
    assert shares[0, 0].tolist() == [0.5, 0.0, 0.5]
    assert shares[0, 3].tolist() == [0.0, 1.0, 0.0]
    assert torch.equal(shares[1, :, 2], torch.ones(4))


@pytest.mark.parametrize("mode", ["3d", "2d"])
def test_token_order_matches_the_encoder(mode: str) -> None:
    """A token whose voxels are all one group must be the encoder token that sees those voxels: an
    encoder with a constant patch embedding reads a marked block exactly at the shares' token."""
    patch = [2, 8, 8] if mode == "3d" else [8, 8]
    spec = EncoderSpec(mode=mode, volume_shape=(4, 16, 24), patch_size=patch, sequences=["t2w"],
                       model_kwargs={"depth": 1, "embed_dim": 24, "num_heads": 2})
    encoder = ImageEncoder(spec)
    labels = torch.zeros(1, 4, 16, 24, dtype=torch.long)
    labels[0, 2:4, 8:16, 16:24] = 100
    shares = token_composition(labels, [[100]], spec.token_shape)
    x = (labels == 100).float().unsqueeze(1)
    embed = encoder.mae.patch_embed
    with torch.no_grad():
        tokens = embed(x) if mode == "3d" else embed(x.permute(0, 2, 1, 3, 4).reshape(4, 1, 16, 24))
    bright = tokens.reshape(1, -1, tokens.shape[-1]) - embed(torch.zeros_like(
        x if mode == "3d" else x[:, :, 0])).reshape(1, -1, tokens.shape[-1])[:, :1]
    marked = bright.abs().sum(-1) > 1e-6
    assert shares.shape[1] == marked.shape[1]
    assert torch.equal(marked[0], shares[0, :, 0] > 0)


def test_loss_is_zero_when_exact_and_grows_otherwise() -> None:
    target = torch.tensor([[[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]])
    exact = torch.log(target.clamp(min=1e-9))
    assert float(tissue_loss(exact, target)) == pytest.approx(0.0, abs=1e-6)
    logits = torch.zeros(1, 2, 3, requires_grad=True)
    loss = tissue_loss(logits, target)
    assert float(loss.detach()) > 0.1
    loss.backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0


def test_group_validation() -> None:
    check_tissue_groups(PHANTOM_TISSUE_GROUPS)
    for groups, message in (({"a": []}, "no label value"), ({"a": [1], "b": [1]}, "in tissue groups"),
                            ({"a": [-1]}, "non-negative")):
        with pytest.raises(ConfigError, match=message):
            check_tissue_groups(groups)
    with pytest.raises(ValidationError, match="in tissue groups"):
        GeneratorConfig.model_validate({**tiny_config().model_dump(), "tissue_groups": {"a": [1], "b": [1]}})


def test_generator_with_tissue_head_predicts_shares() -> None:
    plain = tiny_generator()
    with pytest.raises(ConfigError, match="no tissue head"):
        plain.model.tissue_logits(torch.zeros(1, 4, plain.model.encoder.width))
    config = tiny_config().model_copy(update={"tissue_groups": {"tumour": [100], "cervix": [33, 34]}})
    from maerad.report.generation.generator import ReportGenerator

    gen = ReportGenerator.build(config)
    tokens = torch.randn(2, 5, gen.model.encoder.width)
    assert gen.model.tissue_logits(tokens).shape == (2, 5, 3)


def test_group_order_is_canonical_and_survives_json() -> None:
    config = tiny_config().model_copy(update={"tissue_groups": {}})
    data = {**config.model_dump(), "tissue_groups": {"tumour": [100], "bladder": [20, 21], "cervix": [33]}}
    validated = GeneratorConfig.model_validate(data)
    assert list(validated.tissue_groups) == ["bladder", "cervix", "tumour"]  # the head's output order
    again = GeneratorConfig.model_validate_json(validated.model_dump_json())
    assert list(again.tissue_groups) == list(validated.tissue_groups)


def test_summary_standardises_with_the_fitted_statistics() -> None:
    from maerad.report.generation.tissue import TissueSummary, tissue_statistics

    gen = torch.Generator().manual_seed(0)
    shares = torch.softmax(torch.randn(6, 10, 3, generator=gen) * 3, dim=-1)
    summary = TissueSummary(3, width=8)
    assert torch.equal(summary(shares), torch.zeros(6, 8))  # zero-initialised output layer
    summary.fit_normalization(shares)
    stats = tissue_statistics(shares)
    assert torch.allclose(summary.mean, stats.mean(0)) and torch.allclose(summary.std, stats.std(0))
    one = TissueSummary(3, width=8)
    one.fit_normalization(shares[:1])
    assert torch.equal(one.std, torch.ones_like(one.std))  # one study: no spread to divide by
    state = summary.state_dict()
    assert "mean" in state and "std" in state  # saved with the generator
