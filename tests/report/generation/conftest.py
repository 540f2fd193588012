"""Session fixtures for the report-generation tests: a tiny mixed phantom set and a tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_generation import tiny_finetune_config, write_tiny_phantom

from maerad.train.finetune import FinetuneResult, finetune


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 mixed phantom studies on an 8×32×32 grid."""
    return write_tiny_phantom(tmp_path_factory.mktemp("gen-data") / "phantom", 12, seed=5)


@pytest.fixture(scope="session")
def tiny_trained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> FinetuneResult:
    """A generator fine-tuned for three steps on the tiny set (every template present)."""
    out = tmp_path_factory.mktemp("gen-ft")
    config = tiny_finetune_config(tiny_data, out, split="all", labels=12)
    return finetune(config, progress=False, log=lambda m: None)
