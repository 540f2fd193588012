"""Training of the generator's voxel-level tissue segmenter (:mod:`maerad.report.generation.segmenter`).

Fine-tuning with ``tissue_segmenter`` runs this first: the segmenter learns the labelled studies' label
maps on its own (KL divergence from the pooled group fractions,
:func:`~maerad.report.generation.segmenter.segmentation_loss`; AdamW; random studies per step, with
the fine-tuning augmentation when it is on: the label maps move with the images). Then it is frozen
and its cell shares of every labelled study are computed once (:func:`predict_shares`) for the tissue
summary the decoder reads. Training it apart keeps the summary's input fixed while the decoder
learns, and a shift moves the tissue volumes and contacts the summary reads by little, so one
un-augmented prediction per study suffices.

Examples::

    >>> segmenter = gen.model.tissue_segmenter                                   # doctest: +SKIP
    >>> losses = train_segmenter(segmenter, dataset, groups, steps=800)          # doctest: +SKIP
    >>> shares = predict_shares(segmenter, dataset)                              # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import torch

from maerad.data.datasets import StudyDataset
from maerad.errors import ConfigError, InputError
from maerad.progress import progress_bar, progress_iter
from maerad.report.generation.segmenter import TissueSegmenter, segmentation_loss
from maerad.train.augment import augment_study_batch
from maerad.train.distributed import check_device
from maerad.train.precision import bf16_autocast, resolve_bf16

__all__ = ["predict_shares", "train_segmenter"]


def train_segmenter(segmenter: TissueSegmenter, dataset: StudyDataset, groups: Sequence[Sequence[int]], *,
                    steps: int, batch_size: int = 4, lr: float = 2e-3, weight_decay: float = 1e-4,
                    seed: int = 0, augment: bool = False, bf16: bool | None = False,
                    device: torch.device | str = "cpu", progress: bool = True,
                    log_path: Path | None = None) -> list[float]:
    """Train ``segmenter`` for ``steps`` steps on the studies of ``dataset`` (items with ``labels``).

    Args:
        groups: label values of each tissue group (the segmenter's classes, then ``other``).
        batch_size: studies per step (drawn at random, with replacement across steps).
        augment: random shifts and intensity changes (:func:`~maerad.train.augment.augment_study_batch`).
        bf16: bfloat16 autocast; ``None``: where the device computes bfloat16 natively
            (:func:`~maerad.train.precision.bf16_is_native`: GPUs, CPUs with AMX / AVX512-BF16 run the
            3D convolutions faster; elsewhere bf16 is emulated and many times slower).
        log_path: append one JSON line per step (``step``, ``segmentation`` loss).

    Returns:
        The loss of every step.

    Raises:
        ConfigError: ``steps`` or ``batch_size`` below 1, or a loss that is not finite.
        InputError: a study without a label map.
    """
    if steps < 1 or batch_size < 1:
        raise ConfigError(f"segmenter steps and batch size must be at least 1, got {steps} and {batch_size}")
    device = check_device(device)
    use_bf16 = resolve_bf16(bf16, device)
    optimizer = torch.optim.AdamW(segmenter.parameters(), lr=lr, weight_decay=weight_decay)
    picker = torch.Generator().manual_seed(seed)
    augmenter = torch.Generator().manual_seed(seed + 1) if augment else None
    segmenter.to(device).train()
    losses: list[float] = []
    log = log_path.open("a", encoding="utf-8") if log_path is not None else None
    bar = progress_bar(steps, enabled=progress, desc="tissue segmenter", unit="step")
    try:
        for step in range(steps):
            index = torch.randint(len(dataset), (min(batch_size, len(dataset)),), generator=picker).tolist()
            items = [dataset[i] for i in index]
            if any("labels" not in item for item in items):
                raise InputError("the tissue segmenter needs label maps: load the dataset with_labels=True")
            x = torch.stack([item["image"] for item in items])
            labels = torch.stack([item["labels"] for item in items])
            if augmenter is not None:
                x, moved = augment_study_batch(x, labels, augmenter)
                labels = moved if moved is not None else labels
            target = segmenter.target(labels, groups).to(device)
            with bf16_autocast(use_bf16, device):
                logits = segmenter(x.to(device))
            loss = segmentation_loss(logits, target)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise ConfigError(f"tissue segmenter loss became {value} at step {step}; "
                                  "lower its learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            losses.append(value)
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
            bar.update(1)
            if log is not None:
                log.write(json.dumps({"step": step + 1, "segmentation": value}) + "\n")
    finally:
        bar.close()
        if log is not None:
            log.close()
    segmenter.eval()
    return losses


@torch.no_grad()
def predict_shares(segmenter: TissueSegmenter, dataset: StudyDataset, *, bf16: bool = False,
                   device: torch.device | str = "cpu", progress: bool = False) -> list[torch.Tensor]:
    """The segmenter's cell shares ``(1, L, n_classes)`` of every study of ``dataset`` (float32, CPU)."""
    device = check_device(device)
    segmenter.to(device).eval()
    out = []
    for i in progress_iter(range(len(dataset)), enabled=progress, desc="tissue shares", unit="study"):
        with bf16_autocast(bf16, device):
            logits = segmenter(dataset[i]["image"].unsqueeze(0).to(device))
        out.append(segmenter.shares_from_logits(logits).float().cpu())
    return out
