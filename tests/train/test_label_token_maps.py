"""`LabelTokenMaps`: each item's lesion / ROI map per token is pooled from its label map once, and a run
reads it back instead of pooling again every step."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from helpers_models import TINY

from maerad.data import Study, save_study
from maerad.data.datasets import StudyDataset
from maerad.masking.lesion_maps import label_token_fraction
from maerad.train import label_token_maps as maps_module
from maerad.train.config import load_pretrain_config
from maerad.train.label_token_maps import LabelTokenMaps
from maerad.train.pretrain import pretrain


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("label_maps")
    rng = np.random.default_rng(0)
    for i in range(3):
        labels = np.zeros((8, 32, 32), np.int16)
        labels[2:6, 8 + i : 20 + i, 8:20] = 100
        save_study(Study({"t2w": rng.normal(size=labels.shape)}, spacing=(4, 1, 1), labels=labels),
                   root / f"case-{i}")
    return root


@pytest.fixture
def pooled_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    rows: list[int] = []

    def counting(labels: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        rows.append(labels.shape[0])
        return label_token_fraction(labels, *args, **kwargs)

    monkeypatch.setattr(maps_module, "label_token_fraction", counting)
    return rows


@pytest.mark.parametrize("mode", ["3d", "2d"])
def test_maps_equal_the_pooled_labels_and_are_pooled_once(studies: Path, mode: str,
                                                          pooled_rows: list[int]) -> None:
    dataset = StudyDataset(studies, mode=mode, with_labels=True)
    patch = (4, 8, 8) if mode == "3d" else (8, 8)
    maps = LabelTokenMaps(dataset, patch, [100])
    indices = [2, 0, 2, 1] if mode == "3d" else [5, 3, 5, 20]
    first = maps(indices)
    expected = label_token_fraction(torch.stack([dataset.item_labels(i) for i in indices]), patch, [100])
    assert torch.equal(first, expected) and first.dtype == torch.float32
    assert torch.equal(maps(indices), first)
    assert sum(pooled_rows) == 3  # three distinct items, each pooled once


def test_a_lesion_aware_run_pools_each_item_once(studies: Path, tmp_path: Path,
                                                 pooled_rows: list[int]) -> None:
    config = load_pretrain_config(None, data=str(studies), out=str(tmp_path), patch_size=[4, 8, 8],
                                  model_kwargs=TINY, max_steps=6, batch_size=1, lr=1e-3, warmup_steps=0,
                                  masking="lesion_aware", image_every=2)
    pretrain(config, progress=False)
    assert sum(pooled_rows) <= 3  # 6 steps and 3 figures, but only 3 items
