"""bench_report_latency's command line: --out, help texts, refusing bad settings before any work."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_report_latency as bench


def test_out_replaces_the_default_result_file(tmp_path: Path) -> None:
    assert bench.output_path(None, False) == bench.RESULTS
    assert bench.output_path(None, True).name == "report_latency_segmenter.json"
    assert bench.output_path(tmp_path / "x.json", True) == tmp_path / "x.json"


def test_help_describes_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--repeats", "--depth", "--quick", "--tissue-segmenter", "--out"):
        assert option in text
    assert "(default: 7)" in text and "(default: 12" in text


def test_bad_repeats_are_refused_before_building_anything(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--repeats", "0"])
    assert exit_.value.code == 2
    assert "--repeats" in capsys.readouterr().err
