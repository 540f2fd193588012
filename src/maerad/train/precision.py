"""Mixed precision for the training loops: one switch for bfloat16 autocast, and whether it pays.

bfloat16 autocast is fast only where the hardware computes in bfloat16: CUDA GPUs that support it, and
CPUs with AVX512-BF16 or AMX. Elsewhere PyTorch emulates it, and it is *slower* than float32. Measured
on a 2-core AMD EPYC (AVX2 only, torch 2.14): a ViT-B-sized matrix product 6.6× slower, a tiny MAE's
training step 6–25× slower (2D / 3D), a 3D convolution forward + backward 60× slower; on an AMX CPU a
ViT-B MAE step ran 1.6–1.8× faster (see docs/benchmarks.md). :func:`bf16_is_native` tells which, and
``None`` ("auto") settings use it.
"""

from __future__ import annotations

import contextlib
import platform
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
    """Whether ``device`` computes bfloat16 in hardware, so that bfloat16 autocast beats float32 there:
    an NVIDIA GPU of compute capability 8.0 or newer (Ampere on), a ROCm GPU with bf16 support, or a
    CPU with AVX512-BF16 or AMX.

    Everything else answers ``False``: older GPUs (PyTorch emulates bf16 on a T4 or V100), AVX2-only
    x86 CPUs, and devices maerad cannot probe (ARM CPUs, MPS, XPU), where "auto" settings stay in
    float32.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return False
        if torch.version.hip:  # ROCm: no emulation fallback to tell apart
            return bool(torch.cuda.is_bf16_supported())
        return torch.cuda.get_device_capability(dev)[0] >= 8
    if dev.type == "cpu":
        # private but stable probes of torch.cpu (torch >= 2.3); an older torch answers False
        return any(_probe(name) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return False


def resolve_bf16(setting: bool | None, device: torch.device | str) -> bool:
    """A bf16 setting with ``None`` meaning "where the hardware is native" (:func:`bf16_is_native`)."""
    return bf16_is_native(device) if setting is None else bool(setting)


def bf16_slow_warning(enabled: bool, device: torch.device | str, setting: str = "bf16") -> str | None:
    """A warning to log when ``setting`` asks for bfloat16 autocast on a device known to emulate it.

    Only devices maerad can probe are named (x86 CPUs, CUDA GPUs); elsewhere it stays silent rather
    than guess.
    """
    dev = torch.device(device)
    if not enabled or bf16_is_native(dev):
        return None
    if dev.type == "cpu" and platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return None
    if dev.type not in ("cpu", "cuda"):
        return None
    hardware = "AVX512-BF16 or AMX" if dev.type == "cpu" else "compute capability 8.0 or newer"
    return (f"warning: {setting} is on, but {dev} has no native bfloat16 ({hardware}): PyTorch emulates "
            f"it, and steps run several times slower than float32 (an MAE step 6-25x slower on an AVX2 "
            f"CPU); turn {setting} off")


def _probe(name: str) -> bool:
    probe: Callable[[], bool] | None = getattr(torch.cpu, name, None)
    return bool(probe()) if callable(probe) else False
