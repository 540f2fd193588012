"""Label-preserving augmentation of study volumes for few-label fine-tuning.

Only transforms that leave every report field true are used: a small translation (zero-filled, whole
voxels, so sizes and distances are unchanged) and a per-sequence intensity gain and offset (MRI
intensities have no absolute scale). Left-right flips are **not** used: they would swap the laterality
fields of the templates (left / right parametrium, hydronephrosis, ovary).

Examples::

    >>> import torch
    >>> x = torch.rand(2, 4, 8, 32, 32)
    >>> y = augment_volumes(x, torch.Generator().manual_seed(0))
    >>> y.shape == x.shape
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["augment_study_batch", "augment_volumes", "shift_volume"]


def shift_volume(volume: torch.Tensor, shift: Sequence[int]) -> torch.Tensor:
    """Translate ``volume (C, D, H, W)`` by whole voxels ``shift (dz, dy, dx)``, filling with zeros."""
    out = torch.zeros_like(volume)
    src: list[slice] = [slice(None)]
    dst: list[slice] = [slice(None)]
    for size, s in zip(volume.shape[1:], shift, strict=True):
        s = max(-size, min(size, int(s)))
        src.append(slice(max(0, -s), size - max(0, s)))
        dst.append(slice(max(0, s), size - max(0, -s)))
    out[tuple(dst)] = volume[tuple(src)]
    return out


def augment_volumes(x: torch.Tensor, generator: torch.Generator, *, max_shift: Sequence[int] = (1, 8, 8),
                    gain: float = 0.1, offset: float = 0.05) -> torch.Tensor:
    """A randomly translated, rescaled copy of a batch ``x (B, C, D, H, W)`` (normalised intensities).

    Each study gets its own shift (uniform in ``±max_shift`` voxels per axis); each sequence of it a
    gain in ``1 ± gain`` and an offset in ``± offset``. Deterministic for a seeded ``generator``.
    """
    return augment_study_batch(x, None, generator, max_shift=max_shift, gain=gain, offset=offset)[0]


def augment_study_batch(x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator, *,
                        max_shift: Sequence[int] = (1, 8, 8), gain: float = 0.1,
                        offset: float = 0.05) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`augment_volumes` that also moves the label maps ``labels (B, D, H, W)`` with each study
    (same shift, filled with 0 = background). The images equal ``augment_volumes``'s for the same
    generator state."""
    b, c = x.shape[:2]
    if labels is not None and (labels.shape[0] != b or labels.shape[1:] != x.shape[2:]):
        raise ValueError(f"labels {tuple(labels.shape)} do not match the images {tuple(x.shape)}")
    out = torch.empty_like(x)
    moved = torch.empty_like(labels) if labels is not None else None
    for i in range(b):
        shift = [int(torch.randint(-m, m + 1, (1,), generator=generator)) if m > 0 else 0 for m in max_shift]
        out[i] = shift_volume(x[i], shift)
        if labels is not None and moved is not None:
            moved[i] = shift_volume(labels[i].unsqueeze(0), shift)[0]
    scale = 1.0 + gain * (2.0 * torch.rand(b, c, generator=generator) - 1.0)
    bias = offset * (2.0 * torch.rand(b, c, generator=generator) - 1.0)
    view = (b, c) + (1,) * (x.ndim - 2)
    return out * scale.view(view).to(x) + bias.view(view).to(x), moved
