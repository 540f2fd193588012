"""Deterministic, resumable data order: which dataset items form micro-batch ``m`` on rank ``r``.

The order depends only on ``(seed, epoch)``, never on how many steps ran before, so a resumed run
reads exactly the batches an uninterrupted run would have read, and ``world_size`` processes read
disjoint shards of every epoch.
"""

from __future__ import annotations

import torch

from maerad.errors import ConfigError

__all__ = ["MicroBatchOrder"]


class MicroBatchOrder:
    """Maps a global micro-batch number to dataset indices for one rank.

    Each epoch is a fresh permutation of the ``n_items`` indices (seeded by ``seed`` and the epoch);
    it is cut into ``batches_per_epoch = n_items // (batch_size * world_size)`` rounds (the remainder
    is dropped, as ``drop_last=True`` would); round ``j`` gives rank ``r`` the slice
    ``[(j * world_size + r) * batch_size, … + batch_size)``.
    """

    def __init__(
        self, n_items: int, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if batch_size * world_size > n_items:
            raise ConfigError(
                f"batch size {batch_size} x {world_size} process(es) exceeds the dataset size {n_items}; "
                "use a smaller --batch-size or more data"
            )
        self.n_items = n_items
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.batches_per_epoch = n_items // (batch_size * world_size)
        self._perm_epoch = -1
        self._perm = torch.empty(0, dtype=torch.int64)

    def indices(self, micro_batch: int) -> list[int]:
        """Dataset indices of global micro-batch ``micro_batch`` on this rank."""
        epoch, j = divmod(micro_batch, self.batches_per_epoch)
        if epoch != self._perm_epoch:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._perm = torch.randperm(self.n_items, generator=gen)
            self._perm_epoch = epoch
        start = (j * self.world_size + self.rank) * self.batch_size
        return [int(i) for i in self._perm[start:start + self.batch_size]]
