"""The host record every bench_*.py script writes into its JSON."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import host_meta

CPUINFO = "\n\n".join(
    f"processor\t: {i}\nmodel name\t: Made-up CPU\nphysical id\t: {i // 4}\ncore id\t\t: {i % 4 // 2}"
    for i in range(8)
)  # 2 sockets × 2 cores × 2 hardware threads


def test_physical_cores_counts_socket_core_pairs_not_hardware_threads() -> None:
    assert host_meta.physical_cores(CPUINFO) == 4
    assert host_meta.physical_cores("processor\t: 0\nmodel name\t: x\n") is None  # no core ids: unknown


def test_host_record_names_the_machine_versions_date_and_data() -> None:
    record = host_meta.host_record(synthetic_data=True, packages=("rapidfuzz", "no-such-package-xyz"))
    for key in ("cpu", "cpu_capability", "logical_cpus", "physical_cores", "torch_threads", "python",
                "torch", "numpy", "timm", "maerad", "load_average", "argv"):
        assert key in record, key
    assert record["cpu"] and record["python"] and record["torch"] and record["numpy"]
    assert record["rapidfuzz"] and record["no-such-package-xyz"] is None
    assert record["synthetic_data"] is True
    assert host_meta.host_record(synthetic_data=False)["synthetic_data"] is False
    date = datetime.datetime.fromisoformat(record["date"])
    assert date.tzinfo is not None  # an unambiguous moment
    json.dumps(record)  # plain JSON


def test_write_json_creates_folders_and_writes_the_payload(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "result.json"
    host_meta.write_json(target, {"x": 1, "host": {"cpu": "c"}})
    assert json.loads(target.read_text(encoding="utf-8")) == {"x": 1, "host": {"cpu": "c"}}
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]  # no temporary file left
