"""The shape of each strategy's masks: blocks are contiguous, grid masks are lattices, tubes repeat
along the slice axis, ROI tokens are never hidden, per-sequence layouts behave as documented."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import maerad.masking.strategy as strategy_module
from maerad.errors import InputError
from maerad.masking import MaskSpec, create_masking, hidden_sequences
from maerad.masking.stable_argsort import stable_argsort
from maerad.masking.strategy import rank_then_noise


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def hidden_neighbour_fraction(mask: torch.Tensor, h: int, w: int) -> float:
    """Among (hidden, 4-neighbour) token pairs, the fraction whose neighbour is hidden too."""
    m = mask.view(-1, h, w)
    pairs = same = 0
    for a, b in ((m[:, 1:, :], m[:, :-1, :]), (m[:, :, 1:], m[:, :, :-1])):
        pairs += int(a.sum() + b.sum())
        same += 2 * int((a & b).sum())
    return same / pairs


def test_beit_blocks_are_contiguous_unlike_random_masking() -> None:
    """At 40 % masking a random mask has P(neighbour hidden | hidden) ≈ 0.4; boxes make it much larger."""
    block = create_masking("block", mask_ratio=0.4)(256, (14, 14), generator=gen(0)).mask
    rand = create_masking("random", mask_ratio=0.4)(256, (14, 14), generator=gen(0)).mask
    assert hidden_neighbour_fraction(rand, 14, 14) == pytest.approx(0.4, abs=0.03)
    assert hidden_neighbour_fraction(block, 14, 14) > 0.7


def test_beit_blocks_in_3d_grids() -> None:
    spec = create_masking("block", mask_ratio=0.5, min_block=8)(64, (4, 8, 8), generator=gen(1))
    assert ((~spec.mask).sum(1) == 128).all()
    m = spec.mask.view(64, 4, 8, 8)
    # overlap (Jaccard) of the hidden sets of adjacent slices: 0.25 / 0.75 = 1/3 for a random mask at
    # 50 %, much larger for boxes that extend across slices
    pairs = m[:, 1:] | m[:, :-1]
    assert float((m[:, 1:] & m[:, :-1]).sum() / pairs.sum()) > 0.6


def test_simmim_hides_whole_cells_but_one() -> None:
    spec = create_masking("block", mask_ratio=0.75, style="simmim", cell=2)(32, (14, 14), generator=gen(2))
    visible_per_cell = (~spec.mask).view(32, 7, 2, 7, 2).sum(dim=(2, 4)).view(32, 49)
    partial = ((visible_per_cell > 0) & (visible_per_cell < 4)).sum(dim=1)
    assert (partial <= 1).all()
    assert ((visible_per_cell == 4).sum(dim=1) == 12).all()  # 49 visible = 12 whole cells + 1 token


def test_grid_masking_keeps_a_lattice_with_random_phase() -> None:
    spec = create_masking("grid", mask_ratio=0.75, stride=2)(64, (14, 14), generator=gen(3))
    visible = (~spec.mask).view(64, 14, 14)
    phases = set()
    for v in visible:
        rows, cols = v.nonzero(as_tuple=True)
        assert len(rows) == 49
        assert len(set((rows % 2).tolist())) == 1 and len(set((cols % 2).tolist())) == 1
        phases.add((int(rows[0] % 2), int(cols[0] % 2)))
    assert phases == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_grid_masking_in_plane_stride_on_3d_grid() -> None:
    spec = create_masking("grid", mask_ratio=0.75, stride=(1, 2, 2))(8, (4, 8, 8), generator=gen(4))
    visible = (~spec.mask).view(8, 4, 8, 8)
    assert (visible == visible[:, :1]).all()  # stride 1 along slices: same lattice in every slice
    assert (visible.sum(dim=(2, 3)) == 16).all()


@pytest.mark.parametrize(("ratio", "partial"), [(0.75, False), (0.9, True)])
def test_tube_repeats_one_plane_mask(ratio: float, partial: bool) -> None:
    depth, plane = 4, 256
    spec = create_masking("tube", mask_ratio=ratio)(16, (depth, 16, 16), generator=gen(5))
    m = spec.mask.view(16, depth, plane)
    varying = (m != m[:, :1]).any(dim=1).sum(dim=1)  # positions whose slices disagree
    keep = int(depth * plane * (1 - ratio))
    assert (varying == (1 if partial else 0)).all(), (keep, keep % depth)
    assert ((~m).all(dim=1).sum(dim=1) == keep // depth).all()


def test_tube_with_block_inner_strategy() -> None:
    spec = create_masking("tube", mask_ratio=0.5, inner="block", inner_options={"min_block": 4})(
        8, (3, 8, 8), generator=gen(6))
    m = spec.mask.view(8, 3, 64)
    assert (m == m[:, :1]).all()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), ratio=st.floats(0.0, 0.9), density=st.floats(0.0, 1.0))
def test_roi_tokens_are_never_hidden(seed: int, ratio: float, density: float) -> None:
    grid, batch = (6, 7), 4
    length, keep = 42, int(42 * (1 - ratio))
    g = gen(seed)
    roi = torch.rand(batch, length, generator=g) < density
    too_many = int(roi.sum(1).max()) > keep
    strategy = create_masking("roi_prior", mask_ratio=ratio)
    if too_many:
        with pytest.raises(InputError, match="ROI tokens"):
            strategy(batch, grid, roi=roi, generator=g)
        sampled = create_masking("roi_prior", mask_ratio=ratio, overflow="sample")(batch, grid, roi=roi,
                                                                                   generator=g)
        over = roi.sum(1) > keep
        assert ((~sampled.mask[over]) & ~roi[over]).sum() == 0  # all K visible tokens are ROI tokens
        assert not (sampled.mask[~over] & roi[~over]).any()  # other samples keep their whole ROI
        return
    spec = strategy(batch, grid, roi=roi, generator=g)
    assert not (spec.mask & roi).any()


def test_roi_prior_scores_are_finite_and_below_all_others() -> None:
    roi = torch.zeros(2, 16, dtype=torch.bool)
    roi[:, [0, 5, 9]] = True
    scores = create_masking("roi_prior").scores(2, (4, 4), roi=roi, generator=gen(0))  # type: ignore[attr-defined]
    assert torch.isfinite(scores).all()
    assert scores[roi].max() < scores[~roi].min()


def test_joint_masking_hides_the_same_positions_in_every_sequence() -> None:
    spec = create_masking("joint", mask_ratio=0.75)(8, (3, 14, 14), generator=gen(7))
    m = spec.mask.view(8, 3, 196)
    assert (m == m[:, :1]).all() and spec.num_visible == 3 * 49


def test_independent_masking_balances_and_decorrelates_sequences() -> None:
    spec = create_masking("independent", mask_ratio=0.75)(64, (3, 14, 14), generator=gen(8))
    m = spec.mask.view(64, 3, 196)
    assert ((~m).sum(dim=2) == 49).all()
    # independent masks agree at a position with probability 0.75² + 0.25² = 0.625, not 1
    agree = float((m[:, 0] == m[:, 1]).float().mean())
    assert agree == pytest.approx(0.625, abs=0.02)


def test_drop_sequence_hides_exactly_one_whole_sequence() -> None:
    n, s = 3000, 3
    spec = create_masking("drop_sequence", mask_ratio=0.5)(n, (s, 4, 4), generator=gen(9))
    dropped = hidden_sequences(spec)
    assert (dropped.sum(dim=1) == 1).all()
    visible = (~spec.mask).view(n, s, 16).sum(dim=2)
    assert ((visible == 8) | dropped).all()
    # each sequence dropped about equally often: chi-square with 2 df, tail exp(-x/2)
    counts = dropped.sum(dim=0).double()
    stat = float(((counts - n / s) ** 2 / (n / s)).sum())
    assert math.exp(-stat / 2) > 1e-3
    only_t1c = create_masking("drop_sequence", mask_ratio=0.5, drop=2)(50, (s, 4, 4), generator=gen(9))
    assert hidden_sequences(only_t1c)[:, 2].all() and not hidden_sequences(only_t1c)[:, :2].any()


def brute_force_union(start: torch.Tensor, stop: torch.Tensor, grid: tuple[int, ...], target: int
                      ) -> torch.Tensor:
    """The BEiT union rule written plainly: per sample, add boxes in order until the target is covered."""
    out = torch.zeros(start.shape[0], *grid, dtype=torch.bool)
    for b in range(start.shape[0]):
        for j in range(start.shape[1]):
            if int(out[b].sum()) >= target:
                break
            box = tuple(slice(int(s), int(e)) for s, e in zip(start[b, j], stop[b, j], strict=True))
            out[b][box] = True
    return out.reshape(start.shape[0], -1)


@settings(max_examples=60, deadline=None)
@given(grid=st.lists(st.integers(1, 7), min_size=1, max_size=3), boxes=st.integers(1, 20),
       seed=st.integers(0, 2**31 - 1), fraction=st.floats(0.0, 1.0))
def test_unite_boxes_matches_the_plain_rule(grid: list[int], boxes: int, seed: int, fraction: float) -> None:
    from maerad.masking.block import unite_boxes

    g = torch.Generator().manual_seed(seed)
    dims = torch.tensor(grid)
    a = (torch.rand(5, boxes, len(grid), generator=g) * dims).long()
    b = (torch.rand(5, boxes, len(grid), generator=g) * dims).long()
    start, stop = torch.minimum(a, b), torch.maximum(a, b) + 1
    target = int(fraction * math.prod(grid))
    union = unite_boxes(start, stop, tuple(grid), target)
    assert torch.equal(union, brute_force_union(start, stop, tuple(grid), target))


@pytest.mark.parametrize(("grid", "stride"), [((14, 14), 2), ((4, 16, 16), (1, 2, 2)), ((3, 5, 6), (2, 3, 1)),
                                              ((7,), 3), ((2, 3, 4, 5), 2)])
def test_grid_scores_follow_the_lattice_rule_token_by_token(grid: tuple[int, ...], stride: object) -> None:
    """The scores of the grid strategy, recomputed from the same random numbers by the plain rule: a
    token is on the lattice when every coordinate equals its axis' phase modulo the stride."""
    strategy = create_masking("grid", stride=stride)
    strides = torch.tensor(stride if isinstance(stride, tuple) else (stride,) * len(grid))
    for seed in range(5):
        scores = strategy.scores(3, grid, generator=torch.Generator().manual_seed(seed))
        noise = torch.rand(3, len(grid) + math.prod(grid), generator=torch.Generator().manual_seed(seed))
        phase = (noise[:, : len(grid)] * strides).long().minimum(strides - 1)
        coords = torch.stack(torch.meshgrid(*[torch.arange(g) for g in grid], indexing="ij")).flatten(1)
        on = ((coords[None] - phase[:, :, None]) % strides[None, :, None] == 0).all(dim=1)
        assert torch.equal(scores, noise[:, len(grid):] + (~on).float())


@pytest.mark.parametrize("num_ranks", [2, 196, 4096, 2**20, 2**23 + 5])
def test_rank_then_noise_orders_by_rank_then_noise_exactly(num_ranks: int) -> None:
    # the two highest ranks with noise at the ends of [0, 1): a float32 rank + noise would round
    # 1 - 2**-24 up to the next rank and tie with its token of noise 0
    top = float(num_ranks - 1)
    rank = torch.tensor([[top - 1, top, top - 1, top - 1]])
    noise = torch.tensor([[1 - 2**-24, 0.0, 0.25, 0.0]])
    scores = rank_then_noise(rank, noise, num_ranks)
    assert scores.dtype == (torch.float32 if num_ranks <= 2**23 else torch.float64)
    assert stable_argsort(scores).tolist() == [[3, 2, 0, 1]]
    if scores.dtype == torch.float32:  # whole numbers below 2**24: every one exact
        assert torch.equal(scores, scores.round()) and float(scores.max()) < 2**24
    else:
        assert torch.equal(scores.floor(), rank.double())  # every noise stays below 1


def adversarial_uniform(shape: tuple[int, ...] | list[int], generator: object, device: torch.device
                        ) -> torch.Tensor:
    """Noise at the two ends of [0, 1) only (values torch.rand can return): the worst case for scores
    built as rank + noise."""
    shape = tuple(shape)
    pick = torch.rand(shape, generator=torch.Generator().manual_seed(math.prod(shape))) < 0.5
    return torch.where(pick, 1 - 2**-24, 0.0).to(device)


def test_rank_structured_strategies_keep_their_counts_with_extreme_noise(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strategy_module, "uniform", adversarial_uniform)
    b, s, h, w = 4, 2, 64, 64
    indep = create_masking("independent", mask_ratio=1 - 2049.5 / 4096)(b, (s, h, w))
    assert ((~indep.mask).view(b, s, -1).sum(-1) == 2049).all()
    drop = create_masking("drop_sequence", mask_ratio=0.5)(b, (3, h, w))
    visible = (~drop.mask).view(b, 3, -1).sum(-1)
    assert (hidden_sequences(drop).sum(1) == 1).all() and ((visible == 2048) | (visible == 0)).all()
    for name in ("tube", "joint"):
        grid = (3, 32, 32) if name == "tube" else (s, 32, 32)
        spec = create_masking(name, mask_ratio=0.9)(b, grid)
        per_position = (~spec.mask).view(b, grid[0], -1).sum(1)  # visible slices of each position
        partial = ((per_position > 0) & (per_position < grid[0])).sum(1)
        assert (partial <= 1).all(), name
    simmim = create_masking("block", mask_ratio=0.6, style="simmim", cell=2)(b, (64, 64))
    cells = (~simmim.mask).view(b, 32, 2, 32, 2).sum((2, 4))  # visible tokens of each 2x2 cell
    assert (((cells > 0) & (cells < 4)).sum((1, 2)) <= 1).all()


def test_only_specs_built_by_from_scores_count_as_consistent() -> None:
    spec = create_masking("random")(2, (4, 4), generator=gen(3))
    assert spec.consistent and spec.to("cpu").consistent
    edited = dataclasses.replace(spec, mask=~spec.mask)  # fields that no longer agree
    assert not edited.consistent
    with pytest.raises(InputError):
        edited.check()
    by_hand = MaskSpec(spec.ids_keep, spec.ids_restore, spec.mask, spec.grid)
    assert not by_hand.consistent and not by_hand.to("cpu").consistent
    with pytest.raises(TypeError):
        MaskSpec(spec.ids_keep, spec.ids_restore, spec.mask, spec.grid, consistent=True)  # type: ignore[call-arg]
