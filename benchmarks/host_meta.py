"""The host record every ``bench_*.py`` script puts in its JSON, and the JSON writer they share.

Benchmark numbers only mean something next to the machine that produced them: the development VM
changed CPU between sessions (AVX-512 / AMX Intel, then AVX2 AMD EPYC) and that changed results.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from maerad.atomic import write_text_atomic

# versions from package metadata, so recording them imports nothing heavy (transformers, monai)
PACKAGES = ("maerad", "torch", "numpy", "timm")


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else the platform's processor string."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def physical_cores(cpuinfo: str | None = None) -> int | None:
    """Distinct (socket, core) pairs in ``/proc/cpuinfo`` (or the text ``cpuinfo``); None if unknown."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        if not path.is_file():
            return None
        cpuinfo = path.read_text(encoding="utf-8", errors="replace")
    cores: set[tuple[str, str]] = set()
    for block in cpuinfo.split("\n\n"):  # one block per logical processor
        pairs = (line.partition(":") for line in block.splitlines())
        fields = {key.strip(): value.strip() for key, _, value in pairs}
        if "core id" in fields:
            cores.add((fields.get("physical id", ""), fields["core id"]))
    return len(cores) or None


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def host_record(*, synthetic_data: bool, packages: Iterable[str] = ()) -> dict[str, Any]:
    """What ran the benchmark, when, on what data: CPU model and capability, core / thread counts,
    versions (``PACKAGES`` plus ``packages``), load average, date and command line."""
    import torch  # here, so that importing this module stays cheap

    return {
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **{name: package_version(name) for name in (*PACKAGES, *packages)},
        "torch": torch.__version__,  # with its build tag (+cpu, +cu130), which metadata leaves out
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "argv": list(sys.argv),
        "synthetic_data": synthetic_data,
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON, atomically (no half-written result after a crash)."""
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")
