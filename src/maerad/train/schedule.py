"""Learning-rate schedule of the MAE recipe: linear warm-up, then half-cycle cosine decay."""

from __future__ import annotations

import math

__all__ = ["cosine_lr", "scaled_lr"]


def scaled_lr(base_lr: float, effective_batch_size: int) -> float:
    """The MAE linear scaling rule: ``lr = base_lr * effective_batch_size / 256``."""
    if effective_batch_size < 1:
        raise ValueError(f"effective batch size must be >= 1, got {effective_batch_size}")
    return base_lr * effective_batch_size / 256.0


def cosine_lr(
    step: int, *, peak_lr: float, total_steps: int, warmup_steps: int, min_lr: float = 0.0
) -> float:
    """Learning rate at optimizer step ``step`` (0-based).

    Linear warm-up from ``peak_lr / warmup_steps`` to ``peak_lr`` over ``warmup_steps`` steps, then a
    half-cycle cosine from ``peak_lr`` down to ``min_lr`` at ``total_steps``.

    Examples::

        >>> cosine_lr(0, peak_lr=1.0, total_steps=10, warmup_steps=2)
        0.5
        >>> round(cosine_lr(10, peak_lr=1.0, total_steps=10, warmup_steps=2), 6)
        0.0
    """
    if total_steps < 1 or warmup_steps < 0:
        raise ValueError("total_steps must be >= 1 and warmup_steps >= 0")
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_lr + (peak_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
