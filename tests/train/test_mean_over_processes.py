"""`mean_over_processes` in a real two-process gloo group: every rank logs the batch's loss, and a
non-finite loss on one rank is seen by all (so they stop together instead of hanging)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from maerad.train.distributed import DistInfo, mean_over_processes


def _worker(rank: int, store_path: str, results: str, per_rank: list[tuple[float, float]]) -> None:
    store = dist.FileStore(store_path, 2)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=2)
    try:
        info = DistInfo(rank=rank, world_size=2, local_rank=rank, device=torch.device("cpu"))
        means = [mean_over_processes(value, info) for value in per_rank[rank]]
        Path(results, f"rank{rank}.txt").write_text(" ".join(map(repr, means)))
    finally:
        dist.destroy_process_group()


def test_every_rank_gets_the_mean_and_sees_a_nan_on_any_rank(tmp_path: Path) -> None:
    per_rank = [(1.0, 1.0), (4.0, float("nan"))]  # two steps; rank 1's second loss is NaN
    mp.start_processes(_worker, args=(str(tmp_path / "store"), str(tmp_path), per_rank), nprocs=2,
                       start_method="spawn")
    for rank in range(2):
        mean, with_nan = map(float, (tmp_path / f"rank{rank}.txt").read_text().split())
        assert mean == 2.5 and math.isnan(with_nan)


def test_a_single_process_gets_its_own_value() -> None:
    info = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    assert mean_over_processes(0.25, info) == 0.25
