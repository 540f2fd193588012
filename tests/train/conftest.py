"""Fixtures shared by the training tests."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from maerad.masking.lesion_maps import LesionDetector


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
