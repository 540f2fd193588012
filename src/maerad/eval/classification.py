"""Classification metrics for one categorical field: accuracy, per-class precision / recall / F1, macro-F1.

Conventions (also in ``docs/evaluation.md``):

* ``truth`` values must all be labels; ``None`` in ``truth`` is an error (map missing truth away, or
  leave those cases out, before calling). ``pred`` may contain ``None`` (a missing prediction) and
  labels outside ``labels``: they count as wrong predictions and never as classes of their own.
* The classes are ``labels`` when given (every truth value must be one of them, and their order is
  the order of the per-class results), else the labels seen in ``truth`` and ``pred``, sorted.
* Per class c: TP = cases with truth c predicted c, FP = predicted c with another truth, FN = truth c
  predicted otherwise (or missing). precision = TP / (TP + FP), recall = TP / (TP + FN),
  F1 = 2·TP / (2·TP + FP + FN) (the harmonic mean of precision and recall whenever both are defined).
* **A class present in truth but never predicted** has precision 0/0, reported as 0.0; its recall and
  F1 are 0 and it *is* included in macro-F1 (never predicting a class is penalised). A class
  predicted but absent from truth has recall reported as 0.0 and F1 = 0, also included.
* **Macro-F1** is the unweighted mean of the per-class F1 over the classes that occur in truth or in
  the predictions; classes of ``labels`` absent from both are excluded.

Examples::

    >>> from maerad.eval.classification import accuracy, classification_metrics, macro_f1
    >>> truth = ["IB1", "IB1", "IIB", "IIIC1"]
    >>> pred = ["IB1", "IIB", "IIB", None]
    >>> accuracy(truth, pred)
    0.5
    >>> round(macro_f1(truth, pred), 4)  # F1: IB1 2/3, IIB 2/3, IIIC1 0
    0.4444
    >>> [c.label for c in classification_metrics(truth, pred).per_class]
    ['IB1', 'IIB', 'IIIC1']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from maerad.errors import InputError
from maerad.eval.inputs import Label, LabelInput, as_label_list, check_same_length
from maerad.eval.json_data import jsonable

__all__ = ["ClassScores", "ClassificationResult", "accuracy", "classification_metrics", "macro_f1",
           "per_class_scores"]


@dataclass(frozen=True)
class ClassScores:
    """Scores of one class.

    Attributes:
        label: the class.
        support: number of cases whose truth is this class (TP + FN).
        predicted: number of cases predicted as this class (TP + FP).
        true_positives: cases of this class predicted as this class.
        precision, recall, f1: see the module conventions (0.0 when the denominator is 0).
    """

    label: Label
    support: int
    predicted: int
    true_positives: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ClassificationResult:
    """Accuracy, macro-F1 and the per-class scores of one categorical field.

    Attributes:
        n: number of cases.
        accuracy: fraction of cases predicted exactly.
        macro_f1: mean F1 over the classes present in truth or predictions.
        per_class: one :class:`ClassScores` per class, in the order of ``labels`` (or sorted); classes
            absent from both truth and predictions are left out.
    """

    n: int
    accuracy: float
    macro_f1: float
    per_class: tuple[ClassScores, ...]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data."""
        result: dict[str, Any] = jsonable(self)
        return result


def _sort_key(label: Label) -> tuple[str, Any]:
    """Labels sort by type name, then by value (numbers numerically, tuples element-wise)."""
    return (type(label).__name__, label)


def _checked(
    truth: LabelInput, pred: LabelInput, labels: Sequence[Label] | None
) -> tuple[list[Label], list[Label | None], list[Label]]:
    t = as_label_list(truth, "truth")
    p = as_label_list(pred, "pred", allow_missing=True)
    check_same_length(truth=t, pred=p)
    t_ok: list[Label] = [v for v in t if v is not None]
    if labels is None:
        classes = sorted({*t_ok, *(v for v in p if v is not None)}, key=_sort_key)
    else:
        classes = [v for v in as_label_list(list(labels), "labels") if v is not None]
        if len(set(classes)) != len(classes):
            raise InputError(f"labels: each class must be listed once, got {list(labels)}")
        known = set(classes)
        for i, v in enumerate(t_ok):
            if v not in known:
                raise InputError(f"truth[{i}]: label {v!r} is not one of labels {classes}")
    return t_ok, p, classes


def accuracy(truth: LabelInput, pred: LabelInput) -> float:
    """Fraction of cases where ``pred`` equals ``truth``.

    Args:
        truth: ``(N,)`` true labels (no ``None``).
        pred: ``(N,)`` predicted labels; ``None`` (missing) counts as wrong.

    Raises:
        InputError: different lengths, no cases, ``None`` or a non-label in ``truth``.
    """
    t, p, _ = _checked(truth, pred, None)
    return sum(a == b for a, b in zip(t, p, strict=True)) / len(t)


def per_class_scores(
    truth: LabelInput, pred: LabelInput, labels: Sequence[Label] | None = None
) -> tuple[ClassScores, ...]:
    """Precision, recall and F1 of every class present in truth or predictions (see module conventions).

    Args:
        truth: ``(N,)`` true labels.
        pred: ``(N,)`` predicted labels (``None`` or labels outside ``labels`` count as wrong).
        labels: the classes in the order wanted (e.g. FIGO stage order); default: sorted labels seen.
    """
    t, p, classes = _checked(truth, pred, labels)
    scores: list[ClassScores] = []
    for c in classes:
        tp = sum(a == c and b == c for a, b in zip(t, p, strict=True))
        support = sum(a == c for a in t)
        predicted = sum(b == c for b in p)
        if support == 0 and predicted == 0:
            continue  # absent from both: not a class of this data set
        fp, fn = predicted - tp, support - tp
        scores.append(ClassScores(
            label=c, support=support, predicted=predicted, true_positives=tp,
            precision=tp / predicted if predicted else 0.0,
            recall=tp / support if support else 0.0,
            f1=2 * tp / (2 * tp + fp + fn),
        ))
    return tuple(scores)


def macro_f1(truth: LabelInput, pred: LabelInput, labels: Sequence[Label] | None = None) -> float:
    """Unweighted mean F1 over the classes present in ``truth`` or ``pred`` (module conventions).

    Args:
        truth: ``(N,)`` true labels.
        pred: ``(N,)`` predicted labels.
        labels: optional class list (restricts the classes that are averaged to these).
    """
    scores = per_class_scores(truth, pred, labels)
    return sum(s.f1 for s in scores) / len(scores)


def classification_metrics(
    truth: LabelInput, pred: LabelInput, labels: Sequence[Label] | None = None
) -> ClassificationResult:
    """Accuracy, macro-F1 and per-class scores of one categorical field in one call.

    Args:
        truth: ``(N,)`` true labels.
        pred: ``(N,)`` predicted labels (``None`` = missing, counted wrong).
        labels: optional ordered class list; every truth value must be in it.
    """
    scores = per_class_scores(truth, pred, labels)
    return ClassificationResult(
        n=len(truth), accuracy=accuracy(truth, pred),
        macro_f1=sum(s.f1 for s in scores) / len(scores), per_class=scores,
    )
