"""Area under the ROC curve for a binary outcome, as the Mann–Whitney probability.

``AUC = P(score of a random positive > score of a random negative) + ½ · P(equal scores)``, computed
from average ranks in O(n log n): ``AUC = (R₊ − n₊(n₊ + 1)/2) / (n₊ · n₋)`` with R₊ the sum of the
(tie-averaged) ranks of the positives. NaN when only one class is present (the AUC is undefined).

Examples::

    >>> from maerad.eval.auc import roc_auc
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])  # 3 of 4 pairs ordered: 0.75
    0.75
    >>> roc_auc([True, False], [0.5, 0.5])  # a tie counts 1/2
    0.5
"""

from __future__ import annotations

import numpy as np

from maerad.errors import InputError
from maerad.eval.inputs import NumberInput, as_float_array, check_same_length

__all__ = ["roc_auc"]


def roc_auc(labels: NumberInput, scores: NumberInput) -> float:
    """ROC AUC of ``scores`` for the binary ``labels`` (Mann–Whitney, ties count ½).

    Args:
        labels: ``(N,)`` outcomes, 1 / ``True`` = positive, 0 / ``False`` = negative.
        scores: ``(N,)`` finite scores, higher = more likely positive.

    Returns:
        The AUC in [0, 1], or NaN when all labels are of one class.

    Raises:
        InputError: different lengths, no cases, a non-finite score, or a label other than 0/1.
    """
    raw = np.asarray(labels)
    boolean = raw.dtype == np.bool_ and raw.ndim == 1
    y = raw.astype(np.float64) if boolean else as_float_array(labels, "labels")
    s = as_float_array(scores, "scores")
    check_same_length(labels=y, scores=s)
    bad = np.flatnonzero((y != 0) & (y != 1))
    if bad.size:
        raise InputError(f"labels[{int(bad[0])}]: expected a binary outcome 0/1 or bool, got {y[bad[0]]}")
    positive = y == 1
    n_pos = int(positive.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based rank, averaged within ties
    rank_sum = float(average_rank[inverse][positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
