"""Small study folders written for the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from maerad.data import Study, save_study


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
