"""bench_study_cache: every case runs in its own processes on the same studies and reports memory."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_study_cache as bench


def test_quick_run_writes_every_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study_cache.json"
    assert bench.main(["--studies", "2", "--depth", "4", "--size", "16", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["synthetic_data"] is True and result["items_identical"] is True
    cases = [row["case"] for row in result["rows"]]
    assert cases == ["memory", *["memory, 2 processes"] * 2, "disk, first run", "disk, later run",
                     *["disk, 2 processes"] * 2]
    assert all(row["Rss"] >= row["Pss"] > 0 and row["seconds"] > 0 for row in result["rows"])
    assert "items identical in every case (SHA-256 of all their bytes): True" in capsys.readouterr().out
