"""Fixtures shared by the training tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from maerad.masking.lesion_maps import LesionDetector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers_studies import write_lesion_studies


@pytest.fixture
def detector_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """The input shapes of every :meth:`LesionDetector.token_map` call made during the test."""
    calls: list[tuple[int, ...]] = []
    real = LesionDetector.token_map

    def spy(self: LesionDetector, image: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(tuple(image.shape))
        return real(self, image, *args, **kwargs)

    monkeypatch.setattr(LesionDetector, "token_map", spy)
    return calls


@pytest.fixture(scope="module")
def train_and_held_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four training studies and three held-out ones (:func:`write_lesion_studies`), per test module."""
    root = tmp_path_factory.mktemp("studies")
    return write_lesion_studies(root / "train", range(4)), write_lesion_studies(root / "val", range(10, 13))
