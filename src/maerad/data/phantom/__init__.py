"""The synthetic pelvic MRI phantom: multi-sequence 3D cases with complete ground truth.

Cases of five kinds — ``cervical`` (target FIGO 2018 stage), ``endometrial`` (FIGO 2009 stage, with
FIGO 2023, ESGO 2020 risk group and a simulated recurrence), ``adnexal`` (O-RADS MRI score),
``pelvic_floor`` (rest and strain frames) and ``normal`` controls — are deterministic given a seed
and an index. Each carries a :class:`~maerad.data.study.Study` (``t2w``, ``dwi_b800``, ``adc``,
``t1c``; labels from :data:`LABELS`; landmarks; metadata), the findings in the rule engines' input
models and the rule-engine outputs. Synthetic data for software testing, not clinical validation;
see ``docs/phantom.md``.

Examples::

    >>> from maerad.data.phantom import PhantomConfig, generate_case
    >>> small = PhantomConfig(size=(8, 32, 32), spacing=(12.0, 6.0, 6.0))
    >>> generate_case("endometrial", seed=0, stage="IB", config=small).outputs["figo2009"].stage
    'IB'
"""

from __future__ import annotations

from maerad.data.phantom.config import CASE_KINDS, PhantomConfig
from maerad.data.phantom.dataset import write_phantom_dataset
from maerad.data.phantom.generator import PhantomCase, generate_case, generate_cases
from maerad.data.phantom.labels import LABELS, LESION_LABELS, LESION_MIN, label_names
from maerad.data.phantom.preview import preview_figure
from maerad.data.phantom.recurrence import RecurrenceParams

__all__ = [
    "CASE_KINDS",
    "LABELS",
    "LESION_LABELS",
    "LESION_MIN",
    "PhantomCase",
    "PhantomConfig",
    "RecurrenceParams",
    "generate_case",
    "generate_cases",
    "label_names",
    "preview_figure",
    "write_phantom_dataset",
]
