"""Small study folders written for the training tests, a tiny pre-training config over them, and a
run that crashes right after a checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from maerad.data import Study, save_study
from maerad.train import pretrain as pretrain_module
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


def pretrain_until_crash(config: PretrainConfig, step: int, monkeypatch: pytest.MonkeyPatch,
                         **kw: Any) -> None:
    """Run ``pretrain(config, **kw)`` and stop it as a crash would, right after the checkpoint of ``step``
    is written (the checkpoint writer is itself again afterwards)."""
    real_save = pretrain_module.save_checkpoint

    def save_then_crash(*args: Any, **kwargs: Any) -> Path:
        path = real_save(*args, **kwargs)
        if kwargs["step"] == step:
            raise KeyboardInterrupt  # the machine goes down right after the checkpoint
        return path

    with monkeypatch.context() as patch:
        patch.setattr(pretrain_module, "save_checkpoint", save_then_crash)
        with pytest.raises(KeyboardInterrupt):
            pretrain_module.pretrain(config, progress=False, **kw)
