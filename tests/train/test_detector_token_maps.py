"""Detector-based lesion weights for pre-training: a slice's map comes from its whole volume, z-scored
as `maerad train-lesion` z-scores in training, and each study is run through the detector once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from maerad.data import Study, save_study
from maerad.data.datasets import StudyDataset
from maerad.masking.lesion_maps import LesionDetector
from maerad.models.unet import UNet
from maerad.train.detector_token_maps import DetectorTokenMaps


def _dataset(tmp_path: Path, mode: str) -> StudyDataset:
    rng = np.random.default_rng(0)
    for i in range(2):
        # brightness rising along the slices: each slice's own statistics differ from the volume's
        ramp = np.linspace(0.0, 3.0, 8)[:, None, None]
        arrays = {name: rng.normal(size=(8, 16, 16)) + ramp for name in ("t2w", "adc")}
        save_study(Study(arrays, spacing=(4, 1, 1)), tmp_path / f"case-{i}")
    return StudyDataset(tmp_path, mode=mode)


def _detector() -> LesionDetector:
    torch.manual_seed(0)
    net = UNet(2, 2, 1, channels=(4, 8))
    return LesionDetector(net, spatial_dims=2, in_chans=2, sequences=("t2w", "adc"))


def test_a_slice_map_comes_from_its_whole_volume(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path, "2d")
    detector = _detector()
    maps = DetectorTokenMaps(detector, dataset, (8, 8), torch.device("cpu"))
    items = [3, 8 + 6]  # study 0 slice 3, study 1 slice 6
    got = maps(items)
    assert got.shape == (2, 2, 2)
    for row, index in zip(got, items, strict=True):
        study_idx, z = dataset.item_source(index)
        assert z is not None
        whole = detector.token_map(dataset.volume(study_idx)[None], (1, 8, 8))[0, z]
        alone = detector.token_map(dataset[index]["image"][None], (8, 8))[0]
        torch.testing.assert_close(row, whole)
        assert not torch.allclose(row, alone)  # what the slice-by-slice z-score used to give


def test_each_study_goes_through_the_detector_once(tmp_path: Path, detector_calls: list[tuple[int, ...]]
                                                   ) -> None:
    dataset = _dataset(tmp_path, "3d")
    detector = _detector()
    maps = DetectorTokenMaps(detector, dataset, (4, 8, 8), torch.device("cpu"))
    first = maps([0, 1])
    again = maps([1, 0])
    assert first.shape == (2, 2, 2, 2) and detector_calls == [(1, 2, 8, 16, 16)] * 2
    torch.testing.assert_close(again, first.flip(0))
