"""Stochastic depth: the linear schedule, MAE-P's one schedule over stem and encoder (HiViT), and
stem blocks that drop whole images rather than single tokens."""

from __future__ import annotations

import itertools

import pytest
import torch

from maerad.errors import ConfigError
from maerad.models import MAE, MAEP, UnitAttentionBlock
from maerad.models.blocks import drop_path_rates, make_blocks
from maerad.models.maep import PyramidStem, _MLPBlock
from maerad.models.patch import PatchGeometry

TINY: dict[str, object] = {
    "img_size": 32,
    "patch_size": 16,
    "in_chans": 1,
    "embed_dim": 32,
    "depth": 3,
    "num_heads": 2,
    "decoder_embed_dim": 16,
    "decoder_depth": 1,
    "decoder_num_heads": 2,
}


def _rate(module: object) -> float:
    """A residual branch's drop rate (0 where it has none)."""
    return float(getattr(module, "drop_prob", 0.0))


def _stem_rates(model: MAEP) -> list[float]:
    stem = model.patch_embed
    assert isinstance(stem, PyramidStem)
    blocks = [*stem.stage1, *stem.stage2]
    return [_rate(block.drop_path) for block in blocks]


def test_linear_schedule() -> None:
    assert drop_path_rates(0.1, 3) == pytest.approx([0.0, 0.05, 0.1])
    assert drop_path_rates(0.3, 1) == [0.0]
    assert drop_path_rates(0.0, 4) == [0.0] * 4
    with pytest.raises(ConfigError, match=r"drop_path_rate must be in \[0, 1\)"):
        drop_path_rates(1.0, 3)
    with pytest.raises(ConfigError, match="drop_path_rate must be a finite number"):
        drop_path_rates("0.1", 3)  # type: ignore[arg-type]


def test_make_blocks_takes_one_rate_per_block() -> None:
    blocks = make_blocks(16, 2, 2, drop_path_rate=[0.3, 0.1])
    assert [_rate(b.drop_path1) for b in blocks] == pytest.approx([0.3, 0.1])
    assert [_rate(b.drop_path2) for b in blocks] == pytest.approx([0.3, 0.1])
    with pytest.raises(ConfigError, match="lists 1 rates for 2 blocks"):
        make_blocks(16, 2, 2, drop_path_rate=[0.1])
    with pytest.raises(ConfigError, match=r"must be in \[0, 1\)"):
        make_blocks(16, 2, 2, drop_path_rate=[0.1, 1.5])


def test_mae_encoder_schedule_runs_over_its_blocks() -> None:
    model = MAE(**TINY, drop_path_rate=0.2)  # type: ignore[arg-type]
    assert [_rate(b.drop_path1) for b in model.blocks] == pytest.approx([0.0, 0.1, 0.2])


@pytest.mark.parametrize("mixer", ["mlp", "unit_attention"])
def test_maep_one_schedule_over_stem_then_encoder(mixer: str) -> None:
    model = MAEP(**TINY, stage_depths=(2, 1), stage_mixer=mixer, drop_path_rate=0.25)  # type: ignore[arg-type]
    stem = _stem_rates(model)
    encoder = [_rate(b.drop_path1) for b in model.blocks]
    assert stem + encoder == pytest.approx(drop_path_rates(0.25, 6))  # 3 stem blocks, then 3 encoder blocks
    assert stem[0] == 0.0 and encoder[-1] == pytest.approx(0.25)
    plain = MAEP(**TINY, stage_depths=(2, 1), stage_mixer=mixer)  # type: ignore[arg-type]
    assert _stem_rates(plain) == [0.0] * 3


def test_maep_without_stem_blocks_keeps_the_encoder_schedule() -> None:
    model = MAEP(**TINY, stage_depths=(0, 0), drop_path_rate=0.2)  # type: ignore[arg-type]
    assert [_rate(b.drop_path1) for b in model.blocks] == pytest.approx([0.0, 0.1, 0.2])


def _outcome_per_image(out: torch.Tensor, candidates: list[torch.Tensor]) -> list[int]:
    """For each image, the index of the candidate that the whole image equals (-1: none does)."""
    found = []
    for i in range(out.shape[0]):
        hits = [k for k, c in enumerate(candidates) if torch.allclose(out[i], c[i], atol=1e-5)]
        found.append(hits[0] if hits else -1)
    return found


def test_mlp_stem_block_drops_whole_images() -> None:
    torch.manual_seed(0)
    p = 0.5
    block = _MLPBlock(8, 2.0, 1e-6, drop_path=p)
    x = torch.randn(32, 3, 4, 4, 8)
    branch = block.mlp(block.norm(x))
    block.train()
    out = block(x)
    outcomes = _outcome_per_image(out, [x, x + branch / (1 - p)])
    assert -1 not in outcomes, "some image was dropped for some tokens only"
    assert set(outcomes) == {0, 1}


def test_unit_attention_block_drops_whole_images() -> None:
    torch.manual_seed(0)
    p = 0.5
    block = UnitAttentionBlock(8, 2, mlp_ratio=2.0, drop_path=p)
    x = torch.randn(32, 3, 4, 4, 8)
    inner = block.block
    attended = inner.ls1(inner.attn(inner.norm1(x.reshape(-1, 16, 8)))).reshape(x.shape)
    candidates = []
    for keep_attn, keep_mlp in itertools.product((0.0, 1.0), repeat=2):  # the four outcomes per image
        mid = x + keep_attn * attended / (1 - p)
        candidates.append(mid + keep_mlp * inner.ls2(inner.mlp(inner.norm2(mid))) / (1 - p))
    block.train()
    out = block(x)
    outcomes = _outcome_per_image(out, candidates)
    assert -1 not in outcomes, "some image was dropped for some units only"
    assert len(set(outcomes)) >= 3
    block.eval()  # no drops and no rescaling
    mid = x + attended
    assert torch.allclose(block(x), mid + inner.ls2(inner.mlp(inner.norm2(mid))), atol=1e-5)


def test_unit_attention_block_without_drop_path_equals_its_transformer_block() -> None:
    torch.manual_seed(0)
    block = UnitAttentionBlock(8, 2, mlp_ratio=2.0)
    x = torch.randn(2, 3, 4, 4, 8)
    expected = block.block(x.reshape(-1, 16, 8)).reshape(x.shape)
    assert torch.allclose(block(x), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ([True] * 2, "drop_path_rates must be a finite number"),  # a bool would drop every branch
        ([-0.1, 0.0], "drop_path_rates must be a finite number >= 0"),
        ([0.1, 1.5], r"drop_path_rates must be in \[0, 1\)"),
        (["a", 0.1], "drop_path_rates must be a finite number"),
        (0.1, "drop_path_rates must be a list of rates, one per stage block"),
        ([0.1], "lists 1 rates for 2 stage blocks"),
    ],
)
def test_stem_rates_are_checked(rates: object, message: str) -> None:
    geometry = PatchGeometry.create(2, 32, 16)
    with pytest.raises(ConfigError, match=message):
        PyramidStem(geometry, 1, 16, stage_depths=(1, 1), drop_path_rates=rates)  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [True, -0.1, 1.0, "0.1"])
def test_unit_attention_rate_is_checked(rate: object) -> None:
    with pytest.raises(ConfigError, match="drop_path must be"):
        UnitAttentionBlock(8, 2, drop_path=rate)  # type: ignore[arg-type]
