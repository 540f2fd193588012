"""The ceiling probes (label budget, decoder on ground-truth features): their fits and quick runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import probe_label_budget as probe


def test_classifier_learns_a_separable_field_and_counts_the_majority() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(80, 5, generator=gen, dtype=torch.float64)
    labels = ["present" if v > 0.2 else "absent" for v in x[:, 2].tolist()]
    hits, majority, total = probe.probe_classifier(x[:60], labels[:60], x[60:], labels[60:])
    assert total == 20
    assert majority == sum(v == "absent" for v in labels[60:])
    assert hits >= 18 and hits >= majority + 5  # the field is read from feature 2


def test_classifier_cannot_beat_the_majority_on_noise() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(200, 20, generator=gen, dtype=torch.float64)
    labels = ["a" if torch.rand(1, generator=gen).item() < 0.8 else "b" for _ in range(200)]
    hits, majority, _ = probe.probe_classifier(x[:40], labels[:40], x[40:], labels[40:])
    assert hits <= majority + 8  # cross-validated penalty: no more than noise-level gains
    one = probe.probe_classifier(x[:5], ["a"] * 5, x[5:9], ["a", "b", "a", "a"])
    assert one == (3, 3, 4)  # a single labelled class: the majority answer


def test_size_regression_recovers_a_linear_measurement() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(120, 4, generator=gen, dtype=torch.float64)
    size = (30.0 + 10.0 * x[:, 0]).tolist()
    ytr: list[float | None] = [*size[:80]]
    yte: list[float | None] = [*size[80:]]
    ytr[3] = None  # studies without a measured tumour are left out
    result = probe._size_mae(x[:80], ytr, x[80:], yte)
    assert result["size_mae_mm"] < 1.0 < result["size_mae_mean_predictor_mm"]


@pytest.mark.slow
def test_quick_run_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe.main(["--quick", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "token 4x16x16" in out and "token 2x8x8" in out


@pytest.mark.slow
def test_decoder_oracle_quick_run(capsys: pytest.CaptureFixture[str]) -> None:
    import probe_decoder_oracle

    assert probe_decoder_oracle.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "key fields" in out
