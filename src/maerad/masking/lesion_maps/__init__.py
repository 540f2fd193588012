"""Lesion-map providers: token-grid lesion / ROI maps from label maps, landmarks or a U-Net detector.

Examples::

    >>> import numpy as np
    >>> from maerad.masking import create_masking
    >>> from maerad.masking.lesion_maps import label_fraction
    >>> labels = np.zeros((16, 224, 224), dtype=np.int16); labels[4:12, 80:140, 90:150] = 100
    >>> frac = label_fraction(labels, [100], (4, 16, 16))          # (1, 4, 14, 14), lesion fraction
    >>> spec = create_masking("lesion_aware")(1, (4, 14, 14), weights=frac.flatten(1))
    >>> spec.num_visible
    196
"""

from maerad.masking.lesion_maps.detector import LesionDetector, normalize_channels
from maerad.masking.lesion_maps.labels import (
    label_fraction,
    label_token_fraction,
    pool_to_tokens,
    roi_from_labels,
    roi_from_points,
    token_grid,
)

__all__ = [
    "LesionDetector",
    "label_fraction",
    "label_token_fraction",
    "normalize_channels",
    "pool_to_tokens",
    "roi_from_labels",
    "roi_from_points",
    "token_grid",
]
