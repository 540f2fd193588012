"""Multi-process training under ``torchrun`` (DDP): gloo on CPU, NCCL on CUDA.

``torchrun --nproc_per_node 2 -m maerad.cli.main pretrain …`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them. A plain
``maerad pretrain`` runs as a single process with no process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from maerad.errors import ConfigError

__all__ = [
    "DistInfo",
    "barrier",
    "check_device",
    "cleanup_distributed",
    "from_main_process",
    "init_distributed",
    "mean_over_processes",
]

_DEVICE_HINT = "cpu, cuda, cuda:N, mps…"


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size``; ``device`` to train on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on the process that writes files and prints progress."""
        return self.rank == 0


def check_device(device: str | torch.device) -> torch.device:
    """Parse ``device`` and check that this machine has it, before any tensor or process group uses it.

    Raises:
        ConfigError: not a torch device name, a backend this torch build or machine lacks, or a CUDA
            index beyond the visible GPUs.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device {device!r} is not a torch device ({_DEVICE_HINT})") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} is not available: torch.cuda.is_available() is False")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"device {device!r} is not available: only {count} CUDA device(s) visible")
        return dev
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(
                f"device {device!r} is not available: torch.backends.mps.is_available() is False"
            )
        return dev
    # Other accelerators (xpu, …) expose torch.<type>.is_available(); anything else (meta, …) cannot train.
    backend = getattr(torch, dev.type, None)
    is_available = getattr(backend, "is_available", None)
    if not callable(is_available):
        raise ConfigError(f"device {device!r} cannot be trained on ({_DEVICE_HINT})")
    if not is_available():
        raise ConfigError(f"device {device!r} is not available: torch.{dev.type}.is_available() is False")
    return dev


def init_distributed(device: str = "cpu") -> DistInfo:
    """Join the process group if launched by ``torchrun`` (``WORLD_SIZE > 1``), else run alone.

    Raises:
        ConfigError: ``device`` is not a torch device or not available here (see :func:`check_device`),
            or ``torchrun`` started more processes on this node than there are GPUs.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = check_device(device)
    if dev.type == "cuda":
        # Under torchrun each process takes the GPU of its local rank; alone, an explicit cuda:N is kept.
        index = local_rank if world_size > 1 or dev.index is None else dev.index
        # every process of the node checks the node's process count, so that rank 0 (the one that
        # prints errors) refuses too instead of waiting for a rank that has stopped
        needed = max(index + 1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if world_size > 1 else 1)
        if needed > torch.cuda.device_count():
            raise ConfigError(
                f"device {device!r}: local rank {needed - 1} has no GPU "
                f"({torch.cuda.device_count()} visible); start at most that many processes per node"
            )
        dev = torch.device("cuda", index)
        torch.cuda.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op when running alone)."""
    if info.world_size > 1 and dist.is_initialized():
        dist.barrier()


def mean_over_processes(value: float, info: DistInfo) -> float:
    """The mean of ``value`` over every process (``value`` itself when running alone)."""
    if info.world_size == 1 or not dist.is_initialized():
        return value
    total = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.all_reduce(total)
    return float(total) / info.world_size


def from_main_process(value: float, info: DistInfo) -> float:
    """The main process's ``value`` on every process (``value`` itself when running alone)."""
    if info.world_size == 1 or not dist.is_initialized():
        return value
    shared = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.broadcast(shared, src=0)
    return float(shared)


def cleanup_distributed(info: DistInfo) -> None:
    """Leave the process group (no-op when running alone)."""
    if info.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
