"""Shared fixtures: real test files shipped with pydicom/nibabel, and a small DICOM slice writer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's example UID root


@pytest.fixture(scope="session")
def pydicom_file() -> Callable[[str], Path]:
    """Path of a file from pydicom's bundled test data (never downloaded; fails if absent)."""

    def find(name: str) -> Path:
        found = get_testdata_file(name, download=False)
        assert isinstance(found, str), f"pydicom test file {name} is not installed"
        return Path(found)

    return find


@pytest.fixture(scope="session")
def nibabel_file() -> Callable[[str], Path]:
    """Path of a file from nibabel's bundled test data (``nibabel/tests/data``)."""

    def find(name: str) -> Path:
        path = Path(nibabel.__file__).parent / "tests" / "data" / name
        assert path.is_file(), f"nibabel test file {name} is not installed"
        return path

    return find


@pytest.fixture
def write_dicom() -> Callable[..., Path]:
    """Write one MR slice (int16 stored values) as a DICOM Part-10 file; keywords set header fields."""

    def write(
        path: Path,
        stored: np.ndarray[Any, Any],
        *,
        position: Sequence[float] = (0.0, 0.0, 0.0),
        orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        pixel_spacing: Sequence[float] = (0.5, 0.5),
        series_uid: str = UID_ROOT + "1",
        instance: int = 1,
        **fields: Any,
    ) -> Path:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = f"{series_uid}.{instance}"
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID, ds.InstanceNumber = "MR", series_uid, instance
        ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in orientation]
        ds.PixelSpacing = [f"{v:g}" for v in pixel_spacing]
        pixels = np.asarray(stored, dtype=np.int16)
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        for keyword, value in fields.items():
            setattr(ds, keyword, value)
        ds.PixelData = pixels.tobytes()
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        return path

    return write


@pytest.fixture()
def segmenter_autocast_switches(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The ``enabled`` flag of every bf16 autocast the tissue-segmenter training opens, in order."""
    import maerad.train.segmenter_training as segmenter_training

    switches: list[bool] = []
    real = segmenter_training.bf16_autocast

    def recording(enabled: bool, device: Any) -> Any:
        switches.append(enabled)
        return real(enabled, device)

    monkeypatch.setattr(segmenter_training, "bf16_autocast", recording)
    return switches
