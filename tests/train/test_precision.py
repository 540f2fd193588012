"""bf16 autocast only where the hardware computes bfloat16: the probes, "auto" and the slow-bf16 warning."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from maerad.train.precision import bf16_autocast, bf16_is_native, bf16_slow_warning, resolve_bf16

PROBES = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")


def _set_probes(monkeypatch: pytest.MonkeyPatch, avx512_bf16: bool | None, amx: bool | None) -> None:
    for name, value in zip(PROBES, (avx512_bf16, amx), strict=True):
        if value is None:
            monkeypatch.delattr(torch.cpu, name, raising=False)  # an older torch without the probe
        else:
            monkeypatch.setattr(torch.cpu, name, lambda v=value: v, raising=False)


@pytest.mark.parametrize(("avx512_bf16", "amx", "native"), [
    (True, False, True), (False, True, True), (False, False, False), (None, None, False), (None, True, True),
])
def test_cpu_is_native_with_avx512_bf16_or_amx(monkeypatch: pytest.MonkeyPatch, avx512_bf16: bool | None,
                                               amx: bool | None, native: bool) -> None:
    _set_probes(monkeypatch, avx512_bf16, amx)
    assert bf16_is_native("cpu") is native
    assert resolve_bf16(None, torch.device("cpu")) is native  # "auto"
    assert resolve_bf16(True, "cpu") is True and resolve_bf16(False, "cpu") is False  # explicit wins
    warning = bf16_slow_warning(True, "cpu")
    assert (warning is None) is native
    if warning is not None:
        assert "no native bfloat16" in warning and "slower than float32" in warning
    assert bf16_slow_warning(False, "cpu") is None  # not asked for: nothing to warn about


def test_the_probes_agree_with_the_cpu_flags() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    flags: set[str] = set()
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if flags:  # Linux on x86: the kernel's own report of the instruction sets
        assert bf16_is_native("cpu") is bool({"avx512_bf16", "amx_bf16", "amx_tile"} & flags)
    assert bf16_is_native("meta") is False


def test_autocast_context_follows_the_switch() -> None:
    layer = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)
    with bf16_autocast(True, torch.device("cpu")):
        assert layer(x).dtype == torch.bfloat16
    with bf16_autocast(False, torch.device("cpu")):
        assert layer(x).dtype == torch.float32
