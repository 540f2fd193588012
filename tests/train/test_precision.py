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
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
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


@pytest.mark.parametrize(("capability", "native"), [((7, 5), False), ((8, 0), True), ((9, 0), True)])
def test_cuda_is_native_from_ampere_on(monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int],
                                       native: bool) -> None:
    # a T4 (7.5) runs bf16 only through emulation, which torch.cuda.is_bf16_supported() counts as support
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert bf16_is_native("cuda:0") is native
    warning = bf16_slow_warning(True, "cuda:0")
    assert (warning is None) is native
    if warning is not None:
        assert "compute capability 8.0" in warning


def test_no_warning_where_the_hardware_cannot_be_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_probes(monkeypatch, False, False)
    monkeypatch.setattr("platform.machine", lambda: "aarch64")  # e.g. Graviton 3 has bf16 instructions
    assert bf16_is_native("cpu") is False  # auto stays in float32 ...
    assert bf16_slow_warning(True, "cpu") is None  # ... but an explicit choice is not called slow
    assert bf16_slow_warning(True, "mps") is None


def test_finetune_warns_for_each_bf16_setting_that_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from maerad.train.finetune import FinetuneConfig, _bf16_warnings

    monkeypatch.setattr("maerad.train.precision.bf16_is_native", lambda device: False)
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    cpu = torch.device("cpu")

    def warned(**kw: object) -> list[str]:
        found = _bf16_warnings(FinetuneConfig(data="d", out="o", **kw), cpu)  # type: ignore[arg-type]
        return [w.split(" is on")[0].removeprefix("warning: ") for w in found]

    assert warned() == []  # defaults: bf16 off, segmenter auto
    assert warned(bf16=True) == ["bf16"]
    assert warned(tissue_segmenter=True, segmenter_bf16=True) == ["segmenter_bf16"]
    assert warned(tissue_segmenter=True, segmenter_bf16="auto") == []  # "auto" is null
    assert warned(segmenter_bf16=True) == []  # no segmenter is trained
    assert warned(tissue_segmenter=True, segmenter_bf16=True, segmenter_from="ckpt") == []  # reused
    assert warned(bf16=True, tissue_segmenter=True, segmenter_bf16=True) == ["bf16", "segmenter_bf16"]
