"""bench_terms: the repeated mention stream, timing every row the same way, and its command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_terms as bench


def test_repeated_stream_draws_the_whole_vocabulary_reproducibly() -> None:
    vocabulary = [f"mention {i}" for i in range(200)]
    stream = bench.repeated_stream(vocabulary, 5000, seed=1)
    assert len(stream) == 5000 and set(stream) <= set(vocabulary)
    assert len(set(stream)) == 200  # not one mention repeated (a fresh seeded RNG per draw did that)
    assert stream == bench.repeated_stream(vocabulary, 5000, seed=1)
    assert stream != bench.repeated_stream(vocabulary, 5000, seed=2)


def test_time_rounds_times_every_row_alike_after_the_same_warm_up() -> None:
    log: list[str] = []
    calls = {name: (lambda name=name: log.append(name)) for name in ("a", "b", "c")}
    times = bench.time_rounds(calls, rounds=4, warmup=2, setup={"c": lambda: log.append("setup c")})
    assert all(len(t["wall"]) == len(t["cpu"]) == 4 for t in times.values())  # warm-up rounds left out
    calls_only = [entry for entry in log if not entry.startswith("setup")]
    assert len(calls_only) == 3 * 6
    assert [calls_only[3 * r] for r in range(6)] == ["a", "b", "c", "a", "b", "c"]  # order rotates
    assert log.count("setup c") == 6 and all(log[i + 1] == "c" for i, e in enumerate(log) if e == "setup c")


def test_rates_and_speedup_come_from_the_same_rounds() -> None:
    times = {"ours": {"wall": [1.0, 2.0, 4.0], "cpu": [0.9, 1.8, 3.0]},
             "ref": {"wall": [10.0, 12.0, 60.0], "cpu": [9.0, 18.0, 27.0]}}
    rates = bench.rates(times["ours"], 1000)
    assert rates == {"median_wall_s": 2.0, "median_cpu_s": 1.8, "per_s": 500.0,
                     "per_cpu_s": pytest.approx(1000 / 1.8)}
    assert bench.speedup(times, "ours", "ref") == {"wall": pytest.approx(10.0), "cpu": pytest.approx(10.0)}


def test_help_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--help"])
    assert exit_.value.code == 0
    assert "--out" in capsys.readouterr().out


def test_smoke_run_writes_json_with_host_stream_and_no_verdict(tmp_path: Path) -> None:
    out = tmp_path / "terms.json"
    assert bench.main(["--sample", "30", "--rounds", "1", "--warmup", "0", "--stream", "300",
                       "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["host"]["synthetic_data"] is True and result["host"]["rapidfuzz"]
    assert result["mentions"] == 30 and result["stream"]["vocabulary"] == 30
    assert result["stream"]["distinct"] > 20
    assert set(result["rows"]) == {"normalize_many", "normalize", "cached_stream", "reference"}
    assert result["passed_wall_clock"] is None and result["passed_cpu_time"] is None  # a smoke run
