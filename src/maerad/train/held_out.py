"""A held-out reconstruction loss for pre-training: the MAE loss on studies the model is not trained on.

The masks are fixed for a run: the batch starting at held-out item ``i`` is always masked with the
generator seeded by :func:`held_out_seed` ``(seed, i)``, so successive evaluations differ only through
the weights, and a falling training loss beside a rising held-out one shows overfitting rather than
mask luck. The batches are the training batch size, in item order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from maerad.errors import InputError
from maerad.masking import MaskSpec
from maerad.train.precision import bf16_autocast

__all__ = ["HeldOutInputs", "held_out_loss", "held_out_seed"]

#: ``inputs(indices, generator) -> (x, mask, voxel_weights)``: a batch of held-out items masked with
#: ``generator``, and the loss weights of its voxels (``None``: unweighted), as the training loop builds them.
HeldOutInputs = Callable[[Sequence[int], torch.Generator], tuple[torch.Tensor, MaskSpec, torch.Tensor | None]]

# a tag that keeps the held-out seeds apart from the training stream's ("MAE_" in ASCII)
_STREAM = 0x4D41455F


def held_out_seed(seed: int, first_index: int) -> int:
    """The seed of the masks of the held-out batch that starts at item ``first_index``, for a run of
    ``seed``: the same at every evaluation."""
    words = np.random.SeedSequence([seed % 2**64, _STREAM, first_index]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])  # below 2**63: any torch generator takes it


def held_out_loss(
    model: nn.Module,
    num_items: int,
    batch_size: int,
    inputs: HeldOutInputs,
    *,
    seed: int,
    bf16: bool = False,
    device: torch.device | None = None,
) -> float:
    """The model's masked reconstruction loss on ``num_items`` held-out items.

    Evaluated without gradients in eval mode (no stochastic depth or dropout), batch by batch of
    ``batch_size`` items, under bf16 autocast when training uses it. The result is the mean of the batch
    losses weighted by their number of items: for MAE's loss (every sample hides the same number of
    tokens) the mean over items; with a voxel-weighted loss each batch's own weighting.

    The model's train / eval mode is restored afterwards, and torch's global generator is not used.
    """
    if num_items < 1:
        raise InputError(f"held_out_loss needs at least one held-out item, got num_items={num_items}")
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        with torch.no_grad():
            for start in range(0, num_items, batch_size):
                indices = list(range(start, min(start + batch_size, num_items)))
                generator = torch.Generator().manual_seed(held_out_seed(seed, start))
                x, mask, weights = inputs(indices, generator)
                with bf16_autocast(bf16, device or x.device):
                    loss = model(x, mask=mask, voxel_weights=weights).loss
                total += float(loss) * len(indices)
    finally:
        model.train(was_training)
    return total / num_items
