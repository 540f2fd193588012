"""Confusion matrix over an explicit, ordered label list (e.g. the FIGO stage order).

Rows are the true class, columns the predicted class, both in the order of ``labels`` — give the
clinical order (``CERVIX_STAGE_ORDER``), not an alphabetical one, so that near-diagonal errors are
neighbouring stages. Every truth and prediction must be one of ``labels``: a missing prediction has to
be mapped to an explicit label (e.g. add ``"missing"`` at the end of ``labels``) so that no case is
silently dropped.

Examples::

    >>> from maerad.eval.confusion import confusion_matrix
    >>> cm = confusion_matrix(["IB1", "IB2", "IB2"], ["IB1", "IB1", "IB2"], labels=["IB1", "IB2", "IB3"])
    >>> cm.counts.tolist()
    [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    >>> cm.normalized().tolist()[1]
    [0.5, 0.5, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from maerad.errors import InputError
from maerad.eval.inputs import Label, LabelInput, as_label_list, check_same_length
from maerad.eval.json_data import jsonable

__all__ = ["ConfusionMatrix", "confusion_matrix"]


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """Counts of (true class, predicted class) pairs.

    Attributes:
        labels: the K classes, in display order.
        counts: ``(K, K)`` int64; ``counts[i, j]`` = cases with truth ``labels[i]`` predicted ``labels[j]``.
    """

    labels: tuple[Label, ...]
    counts: npt.NDArray[np.int64]

    @property
    def n(self) -> int:
        """Total number of cases."""
        return int(self.counts.sum())

    def normalized(self) -> npt.NDArray[np.float64]:
        """``(K, K)`` row-normalised matrix: each row divided by its number of true cases.

        A row with no true cases stays all zeros (there is nothing to normalise).
        """
        rows = self.counts.sum(axis=1, keepdims=True).astype(np.float64)
        out = np.zeros(self.counts.shape, dtype=np.float64)
        np.divide(self.counts, rows, out=out, where=rows > 0)
        return out

    def to_dict(self) -> dict[str, Any]:
        """``{"labels": [...], "counts": [[...], ...]}`` (rows = truth, columns = prediction)."""
        return {"labels": jsonable(self.labels), "counts": jsonable(self.counts)}


def _position(index: dict[Label, int], value: Label | None, name: str, case: int) -> int:
    if value is None or value not in index:
        raise InputError(
            f"{name}[{case}]: label {value!r} is not one of labels {list(index)} "
            "(map missing predictions to an explicit label)"
        )
    return index[value]


def confusion_matrix(truth: LabelInput, pred: LabelInput, labels: Sequence[Label]) -> ConfusionMatrix:
    """Count the (truth, prediction) pairs over the ordered class list ``labels``.

    Args:
        truth: ``(N,)`` true labels.
        pred: ``(N,)`` predicted labels.
        labels: the K classes in the order of rows and columns (e.g. FIGO stage order); listed once each.

    Returns:
        A :class:`ConfusionMatrix` with ``counts`` of shape ``(K, K)``.

    Raises:
        InputError: a truth or predicted value is not in ``labels`` (the message names the case),
            different lengths, no cases, or a label listed twice.
    """
    classes = [v for v in as_label_list(list(labels), "labels") if v is not None]
    if not classes:
        raise InputError("labels: at least one class is needed for a confusion matrix")
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != len(classes):
        raise InputError(f"labels: each class must be listed once, got {list(labels)}")
    t = as_label_list(truth, "truth")
    p = as_label_list(pred, "pred", allow_missing=True)
    check_same_length(truth=t, pred=p)
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for i, (a, b) in enumerate(zip(t, p, strict=True)):
        counts[_position(index, a, "truth", i), _position(index, b, "pred", i)] += 1
    return ConfusionMatrix(labels=tuple(classes), counts=counts)
