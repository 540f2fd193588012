"""Small builders shared by the report-generation tests (tiny phantom grids and tiny models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from maerad.data.phantom import PhantomConfig, write_phantom_dataset
from maerad.report.generation.config import EncoderSpec, GeneratorConfig
from maerad.report.generation.generator import ReportGenerator
from maerad.terminology.bundled import load_bundled
from maerad.train.finetune import FinetuneConfig

SMALL = PhantomConfig(size=(8, 32, 32), spacing=(10.0, 8.0, 8.0))
SHAPE = (8, 32, 32)
SEQUENCES = ["t2w", "dwi_b800", "adc", "t1c"]
ENCODER = {"depth": 1, "embed_dim": 48, "num_heads": 3}
TEMPLATES = ["adnexa-orads-mri@1.0.0", "cervix-figo2018@1.0.0", "endometrium-figo2009@1.0.0",
             "pelvic-floor@1.0.0"]
HEADS = {"d_model": 32, "term_dim": 32, "buckets": 512, "align_dim": 16}


def tiny_config(*, templates: list[str] | None = None, sequences: list[str] | None = None,
                mode: str = "3d", **kw: Any) -> GeneratorConfig:
    """A generator config with a one-block encoder on the SMALL phantom grid."""
    patch = [4, 16, 16] if mode == "3d" else [16, 16]
    spec = EncoderSpec(mode=mode, volume_shape=SHAPE, patch_size=patch, sequences=sequences or SEQUENCES,
                       model_kwargs=ENCODER)
    return GeneratorConfig(encoder=spec, templates=templates or TEMPLATES, concept_ids=sorted(load_bundled()),
                           **{**HEADS, **kw})


def tiny_generator(seed: int = 0, **kw: Any) -> ReportGenerator:
    """A randomly initialised tiny generator (weights depend only on ``seed``)."""
    torch.manual_seed(seed)
    return ReportGenerator.build(tiny_config(**kw))


def write_tiny_phantom(folder: Path, n: int, *, kind: str = "mixed", seed: int = 0) -> Path:
    """``n`` phantom studies on the SMALL grid in ``folder``."""
    write_phantom_dataset(folder, n, kind=kind, seed=seed, config=SMALL, progress=False)
    return folder


def tiny_finetune_config(data: Path, out: Path, **kw: Any) -> FinetuneConfig:
    """A few fast fine-tuning steps of a tiny generator (one thread: deterministic and quick)."""
    base: dict[str, Any] = {"data": str(data), "out": str(out), "labels": 6, "model_kwargs": ENCODER,
                            "max_steps": 3, "batch_size": 3, "num_threads": 1, **HEADS}
    base.update(kw)
    return FinetuneConfig(**base)
