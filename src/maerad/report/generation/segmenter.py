"""A voxel-level tissue segmenter whose predictions the generator's tissue summary reads.

Why it exists: report fields such as tumour size, parametrial invasion or vaginal extent depend on
millimetre-scale boundaries. The image tokens cover 4 × 16 × 16 voxels each, and a tissue head on them
(:class:`.tissue.TissueHead`) learns the large organs but blurs the contacts that decide the stage. On the
phantom (256 labelled cervical studies, 32 test studies, synthetic data), a linear probe on the
statistics of the token head's predicted shares scored 0.34 and 0.03 (the majority) for the FIGO stage in
two runs; on this segmenter's statistics it scored 0.41, against 0.50 on the ground-truth label maps at
the same cells (``docs/benchmarks.md``).

The segmenter is the N-D U-Net of :mod:`maerad.models.unet` on the study downsampled by ``pool`` (average
pooling; (1, 2, 2) halves the in-plane resolution), predicting one class per tissue group plus
``other`` for every output voxel. Its softmax probabilities, averaged over cells of ``cell`` input
voxels, are the shares :class:`.tissue.TissueSummary` turns into volumes and contacts. It is trained on
the labelled studies' label maps with the KL divergence from :func:`.tissue.group_fractions` of the
same pooling (:func:`segmentation_loss`), before and apart from the report decoder
(:mod:`maerad.train.finetune`, ``tissue_segmenter``).

Examples::

    >>> import torch
    >>> spec = SegmenterSpec(channels=[4, 8], pool=(1, 2, 2), cell=(2, 4, 4))
    >>> net = TissueSegmenter(spec, in_chans=2, n_classes=3)
    >>> x = torch.zeros(1, 2, 4, 8, 8)
    >>> tuple(net(x).shape), tuple(net.shares(x).shape)     # logits at half resolution; 2 × 2 × 2 cells
    ((1, 3, 4, 4, 4), (1, 8, 3))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from maerad.models.unet import UNet
from maerad.report.generation.tissue import group_fractions, tissue_loss

__all__ = ["SegmenterSpec", "TissueSegmenter", "segmentation_loss"]


class SegmenterSpec(BaseModel):
    """Architecture of a :class:`TissueSegmenter`.

    Attributes:
        channels: U-Net feature channels per level, from the (pooled) full resolution down.
        pool: input downsampling ``(pd, ph, pw)`` before the U-Net (average pooling).
        cell: the voxel block of the input averaged into one share row for the tissue summary; a multiple
            of ``pool`` on every axis.
    """

    model_config = ConfigDict(extra="forbid")

    channels: list[int] = Field(default_factory=lambda: [16, 32, 64], min_length=2)
    pool: tuple[int, int, int] = (1, 2, 2)
    cell: tuple[int, int, int] = (2, 8, 8)

    @model_validator(mode="after")
    def _sizes(self) -> SegmenterSpec:
        if min(self.channels) < 1:
            raise ValueError(f"segmenter channels must be positive, got {self.channels}")
        if min(self.pool) < 1 or min(self.cell) < 1:
            raise ValueError(f"segmenter pool and cell must be positive, got {self.pool} and {self.cell}")
        if any(c % p for c, p in zip(self.cell, self.pool, strict=True)):
            raise ValueError(f"segmenter cell {self.cell} must be a multiple of its pool {self.pool} "
                             "on every axis")
        return self

    def check_volume(self, volume_shape: Sequence[int]) -> None:
        """Raise ``ValueError`` unless ``cell`` divides the study grid ``volume_shape`` (D, H, W)."""
        if any(s % c for s, c in zip(volume_shape, self.cell, strict=True)):
            raise ValueError(f"segmenter cell {self.cell} must divide the study grid {tuple(volume_shape)}")

    @property
    def cell_in_output(self) -> tuple[int, int, int]:
        """``cell`` in the U-Net's (pooled) voxels."""
        return (self.cell[0] // self.pool[0], self.cell[1] // self.pool[1], self.cell[2] // self.pool[2])


class TissueSegmenter(nn.Module):
    """Per-voxel tissue-group logits of a study, and their shares per cell (see the module docstring).

    Args:
        spec: the architecture.
        in_chans: input channels (MRI sequences).
        n_classes: tissue groups plus ``other``.
    """

    def __init__(self, spec: SegmenterSpec, in_chans: int, n_classes: int) -> None:
        super().__init__()
        self.spec = spec
        self.unet = UNet(3, in_chans, n_classes, channels=spec.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, D, H, W)`` → logits ``(B, n_classes, D / pd, H / ph, W / pw)``."""
        pool = self.spec.pool
        small = F.avg_pool3d(x, pool, pool) if pool != (1, 1, 1) else x
        return self.unet(small)  # type: ignore[no-any-return]

    def shares(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, D, H, W)`` → ``(B, L, n_classes)``: the mean predicted probability of each class in
        every cell (cells ordered slice-major, like tokens)."""
        return self.shares_from_logits(self(x))

    def shares_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """:meth:`shares` from :meth:`forward`'s output."""
        cell = self.spec.cell_in_output
        probs = torch.softmax(logits.float(), dim=1)
        return F.avg_pool3d(probs, cell, cell).flatten(2).transpose(1, 2)

    def target(self, labels: torch.Tensor, groups: Sequence[Sequence[int]]) -> torch.Tensor:
        """Training target of label maps ``(B, D, H, W)``: the group fractions of every pooled voxel,
        ``(B, len(groups) + 1, D / pd, H / ph, W / pw)``."""
        return group_fractions(labels, groups, self.spec.pool)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """:func:`.tissue.tissue_loss` per voxel: the KL divergence from the class fractions ``target`` to
    ``softmax(logits)`` over the class axis 1, averaged over voxels and studies (0 when exact).

    ``target`` holds class fractions (they sum to 1 over the classes): a pooled voxel on a boundary is
    part tumour, part stroma, and is scored as such.
    """
    if logits.shape != target.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} differ in shape")
    return tissue_loss(logits.movedim(1, -1), target.movedim(1, -1))
