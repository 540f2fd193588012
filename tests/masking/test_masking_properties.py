"""Property tests (hypothesis) shared by every masking strategy: exact K, a consistent MaskSpec
(ids_restore inverts the shuffle, mask agrees with ids_keep), seeds, devices, the registry."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from maerad.errors import ConfigError, InputError
from maerad.masking import MASKING, MaskingStrategy, MaskSpec, create_masking

SINGLE = ["random", "block", "block_simmim", "grid", "tube", "roi_prior", "lesion_aware", "scores"]
MULTI = ["joint", "independent", "drop_sequence"]
ALL = SINGLE + MULTI
DEVICES = ["cpu", "meta"] + (["cuda"] if torch.cuda.is_available() else [])
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(name: str, ratio: float) -> MaskingStrategy:
    if name == "block_simmim":
        return create_masking("block", mask_ratio=ratio, style="simmim", cell=2)
    if name == "roi_prior":
        return create_masking("roi_prior", mask_ratio=ratio, overflow="sample")
    return create_masking(name, mask_ratio=ratio)


def expected_keep(name: str, grid: tuple[int, ...], ratio: float) -> int:
    """K worked out from the documented rules, independently of the strategies' code."""
    if name in ("joint", "independent"):
        return grid[0] * int(math.prod(grid[1:]) * (1 - ratio))
    if name == "drop_sequence":
        return (grid[0] - 1) * int(math.prod(grid[1:]) * (1 - ratio))
    return int(math.prod(grid) * (1 - ratio))


def maps(name: str, batch: int, length: int, seed: int, device: str = "cpu") -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    if name == "roi_prior":
        return {"roi": (torch.rand(batch, length, generator=g) < 0.1).to(device)}
    if name in ("lesion_aware", "scores"):
        return {"weights": torch.rand(batch, length, generator=g).to(device)}
    return {}


def check_spec(spec: MaskSpec, batch: int, grid: tuple[int, ...], keep: int) -> None:
    length = math.prod(grid)
    assert spec.grid == grid
    assert spec.ids_keep.shape == (batch, keep) and spec.ids_keep.dtype == torch.int64
    assert spec.ids_restore.shape == (batch, length) and spec.ids_restore.dtype == torch.int64
    assert spec.mask.shape == (batch, length) and spec.mask.dtype == torch.bool
    # exact K for every sample
    assert ((~spec.mask).sum(dim=1) == keep).all()
    # ids_restore is a permutation of 0..L-1
    assert (spec.ids_restore.sort(dim=1).values == torch.arange(length)).all()
    # the visible tokens are exactly ids_keep (no duplicates), never hidden
    assert not spec.mask.gather(1, spec.ids_keep).any()
    assert (spec.ids_keep.sort(dim=1).values.diff(dim=1) > 0).all()
    # ids_restore inverts the shuffle: cat(visible, hidden) gathered with ids_restore is raster order
    ids_shuffle = torch.argsort(spec.ids_restore, dim=1)
    assert (ids_shuffle[:, :keep] == spec.ids_keep).all()
    tokens = torch.arange(length).expand(batch, length) * 10 + 3  # any injective token "features"
    shuffled = torch.cat([tokens.gather(1, spec.ids_keep), tokens.gather(1, ids_shuffle[:, keep:])], dim=1)
    assert (shuffled.gather(1, spec.ids_restore) == tokens).all()
    # and the MAE mask convention: [0]*K + [1]*(L-K), unshuffled with ids_restore
    flat = torch.cat([torch.zeros(batch, keep), torch.ones(batch, length - keep)], dim=1)
    assert (flat.gather(1, spec.ids_restore).bool() == spec.mask).all()


grids_2plus = st.lists(st.integers(1, 7), min_size=2, max_size=3).map(tuple)
ratios = st.floats(0.0, 0.95, allow_nan=False)


@pytest.mark.parametrize("name", ALL)
@FAST
@given(grid=grids_2plus, ratio=ratios, batch=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_exact_k_and_consistent_spec(name: str, grid: tuple[int, ...], ratio: float, batch: int,
                                     seed: int) -> None:
    if name in MULTI and name == "drop_sequence":
        assume(grid[0] >= 2)
    strategy = build(name, ratio)
    keep = expected_keep(name, grid, ratio)
    kw = maps(name, batch, math.prod(grid), seed)
    gen = torch.Generator().manual_seed(seed)
    if keep < 1:
        with pytest.raises(ConfigError):
            strategy(batch, grid, generator=gen, **kw)
        return
    check_spec(strategy(batch, grid, generator=gen, **kw), batch, grid, keep)


@pytest.mark.parametrize("name", ["random", "block", "block_simmim", "grid", "roi_prior", "lesion_aware",
                                  "scores"])
@FAST
@given(grid=st.lists(st.integers(1, 9), min_size=1, max_size=3).map(tuple), ratio=ratios,
       seed=st.integers(0, 2**31 - 1))
def test_any_grid_rank(name: str, grid: tuple[int, ...], ratio: float, seed: int) -> None:
    """1-D, 2D and 3D token grids all give exact K."""
    keep = expected_keep(name, grid, ratio)
    assume(keep >= 1)
    kw = maps(name, 3, math.prod(grid), seed)
    spec = build(name, ratio)(3, grid, generator=torch.Generator().manual_seed(seed), **kw)
    check_spec(spec, 3, grid, keep)


@pytest.mark.parametrize("name", ALL)
def test_per_call_ratio_override(name: str) -> None:
    strategy = build(name, 0.75)
    grid = (3, 8, 8)
    kw = maps(name, 2, 192, 0)
    for ratio in (0.5, 0.9):
        spec = strategy(2, grid, generator=torch.Generator().manual_seed(0), mask_ratio=ratio, **kw)
        check_spec(spec, 2, grid, expected_keep(name, grid, ratio))


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_mask_different_seed_different_mask(name: str) -> None:
    strategy = build(name, 0.6)
    grid = (3, 12, 12)
    kw = maps(name, 16, 3 * 144, 7)

    def draw(seed: int) -> MaskSpec:
        return strategy(16, grid, generator=torch.Generator().manual_seed(seed), **kw)

    a, b, c = draw(1), draw(1), draw(2)
    assert torch.equal(a.mask, b.mask) and torch.equal(a.ids_keep, b.ids_keep)
    assert torch.equal(a.ids_restore, b.ids_restore)
    if name == "scores":  # user-supplied scores involve no randomness at all
        assert torch.equal(a.mask, c.mask)
    else:
        assert not torch.equal(a.mask, c.mask)
    # without a generator the global RNG is used, so torch.manual_seed reproduces the mask too
    torch.manual_seed(5)
    d = strategy(16, grid, **kw)
    torch.manual_seed(5)
    assert torch.equal(d.mask, strategy(16, grid, **kw).mask)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL)
def test_device_placement(name: str, device: str) -> None:
    strategy = build(name, 0.75)
    grid = (2, 6, 6)
    kw = maps(name, 2, 72, 0, device)
    spec = strategy(2, grid, generator=torch.Generator().manual_seed(3), device=device, **kw)
    for t in (spec.ids_keep, spec.ids_restore, spec.mask):
        assert t.device.type == device
    assert spec.mask.shape == (2, 72) and spec.ids_keep.shape == (2, expected_keep(name, grid, 0.75))
    if device != "meta":  # a CPU generator gives the same mask on every device
        ref = strategy(2, grid, generator=torch.Generator().manual_seed(3), device="cpu",
                       **{k: v.cpu() for k, v in kw.items()})
        assert torch.equal(spec.mask.cpu(), ref.mask)


def test_device_defaults_to_the_maps_device() -> None:
    roi = torch.zeros(2, 16, dtype=torch.bool, device="meta")
    assert create_masking("roi_prior")(2, (4, 4), roi=roi).mask.device.type == "meta"
    assert create_masking("random")(2, (4, 4)).mask.device.type == "cpu"


def test_numpy_and_tensor_sizes_are_accepted() -> None:
    import numpy as np

    spec = create_masking("random")(np.int64(2), (np.int64(4), torch.tensor(4)))  # type: ignore[arg-type]
    assert spec.grid == (4, 4) and spec.mask.shape == (2, 16)


def test_random_scores_follow_the_vitmae_noise_contract() -> None:
    """Hugging Face ViTMAE keeps argsort(noise)[:, :int(L * (1 - ratio))]; our spec must agree."""
    strategy = create_masking("random", mask_ratio=0.75)
    gen_a, gen_b = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    noise = strategy.scores(4, (14, 14), generator=gen_a)  # type: ignore[attr-defined]
    spec = strategy(4, (14, 14), generator=gen_b)
    length_keep = int(196 * (1 - 0.75))
    ids_shuffle = torch.argsort(noise, dim=1)
    assert torch.equal(spec.ids_keep, ids_shuffle[:, :length_keep])
    assert torch.equal(spec.ids_restore, torch.argsort(ids_shuffle, dim=1))


def test_scores_strategy_uses_the_given_scores() -> None:
    scores = torch.tensor([[0.5, -math.inf, 0.1, math.inf, 0.3, 0.2, 0.9, 0.0]])
    spec = create_masking("scores", mask_ratio=0.5)(1, (2, 4), weights=scores)
    assert sorted(spec.ids_keep[0].tolist()) == [1, 2, 5, 7]  # the four lowest scores
    fn_spec = create_masking("scores", mask_ratio=0.5, score_fn=lambda b, g, gen, d: scores)(1, (2, 4))
    assert torch.equal(fn_spec.mask, spec.mask)


def test_registry_has_every_name_and_builds_protocol_objects() -> None:
    names = {"random", "block", "grid", "tube", "roi_prior", "lesion_aware", "scores", "joint", "independent",
             "drop_sequence"}
    assert names <= set(MASKING.names())
    for name in names:
        assert isinstance(create_masking(name), MaskingStrategy)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: create_masking("randon"), "did you mean 'random'"),
        (lambda: create_masking("random", mask_rati=0.5), "mask_rati"),
        (lambda: create_masking("random", mask_ratio=1.0), "mask_ratio"),
        (lambda: create_masking("random", mask_ratio="0.5"), "mask_ratio"),
        (lambda: create_masking("random")(0, (4, 4)), "batch_size"),
        (lambda: create_masking("random")(2, (4, 0)), "grid"),
        (lambda: create_masking("random")(2, (4, 4), mask_ratio=-0.1), "mask_ratio"),
        (lambda: create_masking("random", mask_ratio=0.99)(1, (4, 4)), "no visible token"),
        (lambda: create_masking("random")(1, (4, 4), roi=torch.zeros(1, 16, dtype=torch.bool)), "roi_prior"),
        (lambda: create_masking("block", style="zigzag"), "style"),
        (lambda: create_masking("grid", stride=(2, 2))(1, (2, 4, 4)), "stride"),
        (lambda: create_masking("tube")(1, (16,)), "repeated axis"),
        (lambda: create_masking("tube", inner="roi_prior"), "needs roi"),
        (lambda: create_masking("drop_sequence")(1, (1, 4, 4)), "at least 2 sequences"),
        (lambda: create_masking("drop_sequence", drop=[5])(1, (3, 4, 4)), "drop"),
        (lambda: create_masking("scores")(1, (4, 4)), "needs weights"),
        (lambda: create_masking("random")(1, (4, 4), generator=0), "generator must be a torch.Generator"),
        # options as a JSON / YAML config may spell them: wrong types and lengths
        (lambda: create_masking("block", aspect=2), "aspect"),
        (lambda: create_masking("block", aspect=(0.3, 1, 3)), "aspect"),
        (lambda: create_masking("block", aspect="ab"), "aspect"),
        (lambda: create_masking("block", style="simmim", cell=2.0), "cell"),
        (lambda: create_masking("block", style="simmim", cell="2"), "cell"),
        (lambda: create_masking("tube", inner_options=[1, 2]), "inner_options must be a mapping"),
        (lambda: create_masking("tube", inner=create_masking("random"), inner_options={"mask_ratio": 0.5}),
         "inner_options apply to an inner strategy given by name"),
        (lambda: create_masking("drop_sequence", drop="2"), "drop"),
        (lambda: create_masking(3), "names are strings"),
        (lambda: create_masking("random")(2, (4, 4), device="foo"), "not a torch device"),
        (lambda: create_masking("random")(2, (4, 4), device=object()), "device must be a torch.device"),
    ],
)
def test_bad_configuration_raises_config_error(call: Callable[[], Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def test_numpy_integers_count_as_ints_in_options() -> None:
    assert create_masking("drop_sequence", drop=np.int64(2)).drop == (2,)
    assert create_masking("drop_sequence", drop=[np.int64(1), 0]).drop == (0, 1)
    assert create_masking("block", style="simmim", cell=np.int64(2)).cell == (2,)
    assert create_masking("block", aspect=[0.5, 2]).aspect == (0.5, 2.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: create_masking("lesion_aware")(2, (4, 4), weights=[[0.0] * 16] * 2),
         "weights must be a torch"),
        (lambda: create_masking("roi_prior")(2, (4, 4), roi=[[True] * 16] * 2), "roi must be a torch"),
        (lambda: create_masking("lesion_aware")(2, (4, 4), weights=torch.zeros(2, 16, device="meta"),
                                                device="cpu"), "meta device"),
    ],
)
def test_bad_maps_raise_input_error(call: Callable[[], Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()
