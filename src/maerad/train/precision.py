"""Mixed precision for the training loops: one switch for bfloat16 autocast, and whether it pays.

bfloat16 autocast is fast only where the hardware computes in bfloat16: CUDA GPUs that support it, and
CPUs with AVX512-BF16 or AMX. Elsewhere PyTorch emulates it, and it is *slower* than float32. Measured
on a 2-core AMD EPYC (AVX2 only, torch 2.14): a ViT-B-sized matrix product 6.6× slower, a 3D
convolution forward + backward 60× slower; on an AMX CPU a ViT-B MAE step ran 1.6–1.8× faster (see
docs/benchmarks.md). :func:`bf16_is_native` tells which, and ``None`` ("auto") settings use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["bf16_autocast", "bf16_is_native", "bf16_slow_warning", "resolve_bf16"]


def bf16_autocast(enabled: bool, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to bfloat16 on ``device`` when ``enabled``, else a no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def bf16_is_native(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 in hardware (CUDA with bf16 support; a CPU with AVX512-BF16
    or AMX), so that bfloat16 autocast is faster than float32 there.

    Other devices and CPUs (AVX2-only x86, most ARM builds of PyTorch) answer ``False``.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if dev.type == "cpu":
        # private but stable probes of torch.cpu (torch >= 2.3); an older torch answers False
        return any(_probe(name) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return False


def resolve_bf16(setting: bool | None, device: torch.device | str) -> bool:
    """A bf16 setting with ``None`` meaning "where the hardware is native" (:func:`bf16_is_native`)."""
    return bf16_is_native(device) if setting is None else bool(setting)


def bf16_slow_warning(enabled: bool, device: torch.device | str) -> str | None:
    """A warning to log when bfloat16 autocast is asked for on a device that only emulates it."""
    if not enabled or bf16_is_native(device):
        return None
    return (f"warning: bf16 autocast on {torch.device(device)}, which has no native bfloat16 (AVX512-BF16 "
            "/ AMX CPU or a bf16-capable GPU): PyTorch emulates it, expect it slower than float32")


def _probe(name: str) -> bool:
    probe: Callable[[], bool] | None = getattr(torch.cpu, name, None)
    return bool(probe()) if callable(probe) else False
