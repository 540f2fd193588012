"""The voxel-level tissue segmenter: spec checks, shapes, cell shares, loss, training and the generator."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers_generation import SHAPE, tiny_config, tiny_generator

from maerad.errors import ConfigError, InputError
from maerad.report.generation.model import ReportModel
from maerad.report.generation.segmenter import SegmenterSpec, TissueSegmenter, segmentation_loss
from maerad.report.generation.tissue import group_fractions, token_composition
from maerad.train.segmenter_training import predict_shares, train_segmenter

GROUPS = [[100], [33, 34]]


def _labels() -> torch.Tensor:
    labels = torch.zeros(2, 4, 8, 8, dtype=torch.long)
    labels[0, :2, :4, :4] = 100
    labels[0, :, 4:, 4:] = 33
    labels[1, 1:, 2:7, 1:5] = 34
    return labels


def test_spec_checks() -> None:
    with pytest.raises(ValidationError, match="multiple of its pool"):
        SegmenterSpec(pool=(1, 2, 2), cell=(2, 3, 4))
    with pytest.raises(ValidationError, match="at least 2"):
        SegmenterSpec(channels=[8])
    spec = SegmenterSpec(pool=(1, 2, 2), cell=(2, 8, 8))
    assert spec.cell_in_output == (2, 4, 4)
    spec.check_volume((24, 128, 128))
    with pytest.raises(ValueError, match="must divide the study grid"):
        spec.check_volume((24, 128, 100))


def test_group_fractions_and_token_composition_agree() -> None:
    labels = _labels()
    fractions = group_fractions(labels, GROUPS, (2, 4, 4))
    assert fractions.shape == (2, 3, 2, 2, 2)
    assert torch.allclose(fractions.sum(1), torch.ones(2, 2, 2, 2))
    assert torch.equal(fractions.flatten(2).transpose(1, 2), token_composition(labels, GROUPS, (2, 4, 4)))
    one_hot = group_fractions(labels, GROUPS, (1, 1, 1))
    assert torch.equal(one_hot.argmax(1), torch.where(labels == 100, 0, torch.where(labels > 0, 1, 2)))


def test_shapes_and_perfect_logits_give_the_true_cell_shares() -> None:
    spec = SegmenterSpec(channels=[4, 8], pool=(1, 2, 2), cell=(2, 4, 4))
    net = TissueSegmenter(spec, in_chans=2, n_classes=3)
    x = torch.randn(2, 2, 4, 8, 8)
    assert net(x).shape == (2, 3, 4, 4, 4)
    shares = net.shares(x)
    assert shares.shape == (2, 8, 3)
    assert torch.allclose(shares.sum(-1), torch.ones(2, 8), atol=1e-5)
    # logits that put each pooled voxel's mass exactly on its fractions: the shares are the label map's
    labels = _labels()
    target = net.target(labels, GROUPS)
    assert target.shape == (2, 3, 4, 4, 4)
    perfect = torch.log(target.clamp(min=1e-12))
    expected = token_composition(labels, GROUPS, spec.cell)  # cells ordered like tokens
    assert torch.allclose(net.shares_from_logits(perfect), expected, atol=1e-6)


def test_segmentation_loss() -> None:
    target = torch.zeros(1, 3, 2, 2, 2)
    target[:, 1] = 1.0
    good = segmentation_loss(target * 20.0, target)
    bad = segmentation_loss((1 - target) * 20.0, target)
    assert float(good) < 1e-6 < 10.0 < float(bad)
    with pytest.raises(ValueError, match="differ in shape"):
        segmentation_loss(torch.zeros(1, 3, 2, 2, 2), torch.zeros(1, 4, 2, 2, 2))


class _Studies:
    """A tiny dataset of studies whose label is a threshold of the first channel (learnable)."""

    def __init__(self, n: int, *, labels: bool = True) -> None:
        gen = torch.Generator().manual_seed(0)
        self.items = []
        for _ in range(n):
            image = torch.randn(2, 4, 8, 8, generator=gen)
            item = {"image": image}
            if labels:
                item["labels"] = torch.where(image[0] > 0.5, 100, torch.where(image[0] < -0.5, 33, 0))
            self.items.append(item)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.items[i]


def _tiny_segmenter() -> TissueSegmenter:
    torch.manual_seed(0)
    return TissueSegmenter(SegmenterSpec(channels=[8, 8], pool=(1, 1, 1), cell=(2, 4, 4)), 2, 3)


def test_training_learns_is_seeded_and_logs(tmp_path: Path) -> None:
    data = _Studies(6)
    net = _tiny_segmenter()
    log = tmp_path / "seg.jsonl"
    losses = train_segmenter(net, data, GROUPS, steps=60, batch_size=3, lr=1e-2, seed=1,  # type: ignore[arg-type]
                             progress=False, log_path=log)
    assert len(losses) == 60 and len(log.read_text().splitlines()) == 60
    assert sum(losses[-5:]) < 0.5 * sum(losses[:5])
    assert not net.training
    again = _tiny_segmenter()
    assert train_segmenter(again, data, GROUPS, steps=60, batch_size=3, lr=1e-2, seed=1,  # type: ignore[arg-type]
                           progress=False) == losses
    shares = predict_shares(net, data)  # type: ignore[arg-type]
    assert len(shares) == 6 and shares[0].shape == (1, 8, 3)
    truth = token_composition(data[0]["labels"].unsqueeze(0), GROUPS, (2, 4, 4))
    assert float((shares[0] - truth).abs().mean()) < 0.1


@pytest.mark.parametrize("native", [True, False])
def test_bf16_none_means_where_the_hardware_is_native(monkeypatch: pytest.MonkeyPatch, native: bool,
                                                       segmenter_autocast_switches: list[bool]) -> None:
    monkeypatch.setattr("maerad.train.precision.bf16_is_native", lambda device: native)
    train_segmenter(_tiny_segmenter(), _Studies(2), GROUPS, steps=1, batch_size=1, bf16=None,  # type: ignore[arg-type]
                    progress=False)
    train_segmenter(_tiny_segmenter(), _Studies(2), GROUPS, steps=1, batch_size=1,  # type: ignore[arg-type]
                    progress=False)  # the function's own default stays float32
    assert segmenter_autocast_switches == [native, False]


def test_training_errors() -> None:
    net = _tiny_segmenter()
    with pytest.raises(ConfigError, match="at least 1"):
        train_segmenter(net, _Studies(2), GROUPS, steps=0, progress=False)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="needs label maps"):
        train_segmenter(net, _Studies(2, labels=False), GROUPS, steps=1, progress=False)  # type: ignore[arg-type]


def test_generator_config_and_model() -> None:
    groups = {"tumour": [100], "stroma": [33, 34]}
    spec = SegmenterSpec(channels=[4, 8], pool=(1, 2, 2), cell=(2, 8, 8))
    with pytest.raises(ValidationError, match="needs tissue_groups"):
        tiny_config(tissue_segmenter=spec, tissue_summary=True)
    with pytest.raises(ValidationError, match="must divide the study grid"):
        tiny_config(tissue_groups=groups, tissue_segmenter=SegmenterSpec(cell=(3, 8, 8), pool=(1, 2, 2)))
    with pytest.raises(ValidationError, match="a tissue head or a tissue segmenter"):
        tiny_config(tissue_groups=groups, tissue_head=False, tissue_summary=True)
    config = tiny_config(tissue_groups=groups, tissue_head=False, tissue_segmenter=spec, tissue_summary=True)
    assert type(config).model_validate_json(config.model_dump_json()) == config
    gen = tiny_generator(tissue_groups=groups, tissue_head=False, tissue_segmenter=spec, tissue_summary=True)
    model: ReportModel = gen.model
    assert model.tissue_head is None and model.tissue_segmenter is not None
    x = torch.randn(1, config.encoder.in_chans, *SHAPE)
    tokens, pooled = model.encode(x)
    with pytest.raises(ConfigError, match="pass tissue_shares"):
        model.study_feature(tokens, pooled)
    shares = model.segmenter_shares(x)
    assert shares is not None and shares.shape == (1, (SHAPE[0] // 2) * (SHAPE[1] // 8) * (SHAPE[2] // 8), 3)
    # the summary starts at zero (the pooled feature is unchanged) and then reads the segmenter
    assert torch.equal(model.study_feature(tokens, pooled, tissue_shares=shares), pooled)
    summary = model.tissue_summary
    assert summary is not None
    torch.nn.init.normal_(summary.mlp[-1].weight)
    moved = model.study_feature(tokens, pooled, tissue_shares=shares)
    other = model.study_feature(tokens, pooled, tissue_shares=torch.softmax(torch.randn_like(shares) * 3, -1))
    assert not torch.allclose(moved, pooled) and not torch.allclose(moved, other)
    assert "tissue_segmenter.unet.head.weight" in model.state_dict()
    # a plain generator has neither
    assert tiny_generator().model.segmenter_shares(x) is None

