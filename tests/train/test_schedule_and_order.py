"""Learning-rate schedule, batch scaling and the deterministic data order."""

from __future__ import annotations

import math

import pytest

from maerad.errors import ConfigError
from maerad.train.data_order import MicroBatchOrder
from maerad.train.schedule import cosine_lr, scaled_lr


def test_scaled_lr_is_the_mae_linear_rule() -> None:
    assert scaled_lr(1.5e-4, 4096) == pytest.approx(2.4e-3)
    assert scaled_lr(1e-3, 256) == pytest.approx(1e-3)
    with pytest.raises(ValueError):
        scaled_lr(1e-3, 0)


def test_cosine_lr_warmup_peak_and_end() -> None:
    peak, total, warm = 1e-3, 100, 10
    lrs = [
        cosine_lr(s, peak_lr=peak, total_steps=total, warmup_steps=warm, min_lr=1e-5) for s in range(total)
    ]
    assert lrs[0] == pytest.approx(peak / warm)
    assert lrs[warm - 1] == pytest.approx(peak)
    assert lrs[warm] == pytest.approx(peak)
    assert all(
        a >= b for a, b in zip(lrs[warm:], lrs[warm + 1 :], strict=False)
    )  # non-increasing after warm-up
    mid = warm + (total - warm) // 2
    assert lrs[mid] == pytest.approx(1e-5 + (peak - 1e-5) * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert cosine_lr(total, peak_lr=peak, total_steps=total, warmup_steps=warm, min_lr=1e-5) == pytest.approx(
        1e-5
    )


def test_data_order_covers_each_epoch_once_and_is_resumable() -> None:
    order = MicroBatchOrder(10, 3, seed=7)
    assert order.batches_per_epoch == 3
    epoch0 = [i for m in range(3) for i in order.indices(m)]
    assert len(set(epoch0)) == 9  # one item dropped, none repeated
    epoch1 = [i for m in range(3, 6) for i in order.indices(m)]
    assert epoch0 != epoch1  # a new permutation each epoch
    fresh = MicroBatchOrder(10, 3, seed=7)
    assert fresh.indices(4) == order.indices(4)  # depends on (seed, micro-batch) only
    other = [i for m in range(3) for i in MicroBatchOrder(10, 3, seed=8).indices(m)]
    assert other != epoch0  # another seed, another order


def test_data_order_shards_disjointly_across_ranks() -> None:
    ranks = [MicroBatchOrder(12, 2, seed=1, rank=r, world_size=3) for r in range(3)]
    for m in range(4):
        seen = [i for o in ranks for i in o.indices(m)]
        assert len(seen) == len(set(seen)) == 6


def test_batch_larger_than_data_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="exceeds the dataset size"):
        MicroBatchOrder(3, 2, seed=0, world_size=2)
