"""Small study folders written for the training tests, and a tiny pre-training config over them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from maerad.data import Study, save_study
from maerad.train.config import PretrainConfig, load_pretrain_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from helpers_models import TINY


def write_lesion_studies(root: Path, seeds: range, shape: tuple[int, int, int] = (8, 32, 32)) -> Path:
    """Two-sequence studies (t2w, adc) with a bright lesion (label 100) that moves with the seed."""
    for seed in seeds:
        rng = np.random.default_rng(seed)
        labels = np.zeros(shape, np.int16)
        labels[2:6, 8:20, 8 + seed % 4 : 20 + seed % 4] = 100
        t2w = rng.normal(size=shape) + (labels == 100) * 2.0
        save_study(Study({"t2w": t2w, "adc": rng.normal(size=shape)}, spacing=(4, 1, 1), labels=labels),
                   root / f"case-{seed}")
    return root


def tiny_pretrain_config(train: Path, out: Path, **kw: Any) -> PretrainConfig:
    """Four steps of a tiny 3D MAE on ``train`` (patches (4, 8, 8)), ``kw`` overriding any key."""
    base: dict[str, Any] = {"data": str(train), "out": str(out), "patch_size": [4, 8, 8],
                            "model_kwargs": TINY, "max_steps": 4, "batch_size": 2, "lr": 1e-3,
                            "warmup_steps": 1}
    return load_pretrain_config(None, **{**base, **kw})
