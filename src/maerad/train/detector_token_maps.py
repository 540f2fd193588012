"""Lesion-aware masking weights from a trained lesion detector, once per study.

``maerad train-lesion`` z-scores every channel over the whole volume, also when it trains a 2D
detector on slices. A slice given to the detector on its own would be z-scored with its own statistics
(mostly background at the ends of a volume), so in 2D mode the detector runs over the slice's whole
volume and the slice's row of the token map is taken from that. The detector's weights are fixed during
pre-training, so each study's map is computed once and kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from maerad.data.datasets import StudyDataset
from maerad.masking.lesion_maps import LesionDetector

__all__ = ["DetectorTokenMaps"]


class DetectorTokenMaps:
    """Mean lesion probability per token for dataset items, from ``detector``.

    Args:
        detector: a trained :class:`LesionDetector` (its sequences are the dataset's).
        dataset: the items; 3D items are whole volumes, 2D items slices of them.
        patch_size: the model's patch size for one item (3 entries in 3D mode, 2 in 2D mode).
        device: where the maps are returned.
    """

    def __init__(
        self, detector: LesionDetector, dataset: StudyDataset, patch_size: Sequence[int], device: torch.device
    ) -> None:
        self.detector = detector
        self.dataset = dataset
        self.patch_size = tuple(int(p) for p in patch_size)
        self.device = device
        self._maps: dict[int, torch.Tensor] = {}

    def __call__(self, indices: Sequence[int]) -> torch.Tensor:
        """``(B, *grid)`` token maps of items ``indices`` (the grid of one item)."""
        rows = []
        for index in indices:
            study_idx, z = self.dataset.item_source(index)
            volume_map = self._study_map(study_idx)
            rows.append(volume_map if z is None else volume_map[z])
        return torch.stack(rows)

    def _study_map(self, study_idx: int) -> torch.Tensor:
        if study_idx not in self._maps:
            image = self.dataset.volume(study_idx)[None].to(self.device)
            # in 2D mode one token row per slice: patches one slice deep
            patch = self.patch_size if len(self.patch_size) == 3 else (1, *self.patch_size)
            self._maps[study_idx] = self.detector.token_map(image, patch)[0]
        return self._maps[study_idx]
