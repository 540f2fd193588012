"""From a study (folder, NIfTI, DICOM) to the tensor the generator's encoder takes.

The model records its sequences (channel order), intensity normalisation and study grid. A study
must hold every sequence: a study folder names its sequences; a single NIfTI / DICOM series is one
sequence, named after the model's first sequence, so it works only for a model trained on that one
sequence; a 4D NIfTI whose frames are the model's sequences in order is accepted as such. Any other
input is rejected with a message naming the missing sequences. Channels are normalised per sequence
(:func:`maerad.data.datasets.normalize_channels`) and resampled (trilinear) to the model's grid when
the study's grid differs — voxel spacing is not used: this is a software path, not a registration.

Examples::

    >>> import numpy as np
    >>> from maerad.data.study import Study
    >>> from maerad.report.generation.config import EncoderSpec
    >>> spec = EncoderSpec(volume_shape=(4, 16, 16), patch_size=[4, 16, 16], sequences=["t2w"])
    >>> study = Study({"t2w": np.random.rand(6, 20, 20)}, spacing=(4.0, 1.0, 1.0))
    >>> tuple(study_tensor(study, spec).shape)
    (1, 1, 4, 16, 16)
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from maerad.data.datasets import normalize_channels
from maerad.data.study import Study
from maerad.data.study_folder import CASE_FILE, load_any
from maerad.errors import InputError
from maerad.report.generation.config import EncoderSpec

__all__ = ["load_study_for_model", "study_tensor"]


def _missing_message(source: str, spec: EncoderSpec, study: Study) -> str:
    missing = [s for s in spec.sequences if s not in study.sequences]
    return (f"{source}: the model needs the sequences {', '.join(spec.sequences)} but the study gives "
            f"{', '.join(study.sequence_names)}; missing: {', '.join(missing)} (give a study folder with "
            "every sequence, a 4D NIfTI whose frames are these sequences in this order, or use a model "
            "trained on the sequences you have)")


def study_tensor(study: Study, spec: EncoderSpec, *, source: str = "study") -> torch.Tensor:
    """``(1, C, D, H, W)`` float32: the model's sequences, normalised, on the model's grid.

    Raises:
        InputError: a sequence of the model is missing (the message names every missing one).
    """
    if any(s not in study.sequences for s in spec.sequences):
        raise InputError(_missing_message(source, spec, study))
    image = normalize_channels(study.stack(spec.sequences), spec.normalization)
    x = torch.from_numpy(image).unsqueeze(0)
    if tuple(x.shape[2:]) != tuple(spec.volume_shape):
        x = F.interpolate(x, size=tuple(spec.volume_shape), mode="trilinear", align_corners=False)
    return x.contiguous()


def load_study_for_model(path: str | os.PathLike[str], spec: EncoderSpec) -> Study:
    """Load a study folder, NIfTI file or DICOM series for a model (see the module docstring).

    Raises:
        InputError: unreadable input, or input lacking sequences of the model (named).
    """
    p = Path(path)
    is_folder_study = (p.is_dir() and (p / CASE_FILE).is_file()) or p.name == CASE_FILE
    if is_folder_study:
        study = load_any(p)
        if any(s not in study.sequences for s in spec.sequences):
            raise InputError(_missing_message(str(p), spec, study))
        return study
    study = load_any(p, sequence=spec.sequences[0])
    if all(s in study.sequences for s in spec.sequences):
        return study
    if len(study.sequences) == spec.in_chans > 1:  # a 4D NIfTI: frames are the model's sequences
        renamed = dict(zip(spec.sequences, study.sequences.values(), strict=True))
        return Study(renamed, affine=study.affine, metadata=study.metadata)
    raise InputError(_missing_message(str(p), spec, study))
