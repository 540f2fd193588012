"""Studies and their files: :class:`Study`, NIfTI and DICOM readers, the study folder, ``load_any``.

See ``docs/data-io.md`` for the coordinate conventions and the folder layout.
"""

from __future__ import annotations

from maerad.data.dicom import (
    SeriesGeometry,
    SeriesInfo,
    list_dicom_series,
    load_dicom_series,
    read_dicom_series_geometry,
)
from maerad.data.nifti import load_nifti, read_nifti_volume, save_nifti
from maerad.data.study import Study
from maerad.data.study_folder import load_any, load_study, save_study

__all__ = [
    "SeriesGeometry",
    "SeriesInfo",
    "Study",
    "list_dicom_series",
    "load_any",
    "load_dicom_series",
    "load_nifti",
    "load_study",
    "read_dicom_series_geometry",
    "read_nifti_volume",
    "save_nifti",
    "save_study",
]
