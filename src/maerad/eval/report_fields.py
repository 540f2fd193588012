"""Per-field evaluation of predicted reports against true reports.

Reports are plain mappings of field id → value: a concept id string, a list of concept ids (compared
as a set), a number, a boolean, or ``None`` / absent for a missing value. For each evaluated field:

* **categorical** fields (concept ids, booleans, integer codes): accuracy and macro-F1 (conventions of
  :mod:`maerad.eval.classification`) over the cases whose *truth* is present; a missing prediction
  counts as wrong and is counted in ``n_missing_pred``.
* **numeric** fields (sizes in mm, lengths, volumes): MAE, median absolute error and the per-case
  absolute error over the cases where truth and prediction are both present; ``per_case`` holds
  ``None`` for the other cases, and missing predictions are counted in ``n_missing_pred`` (they are
  not errors of a size but show in completeness).

A field's kind is taken from ``field_kinds`` or else inferred from its truth values: all numbers
(booleans excepted) → numeric, otherwise categorical; a field whose truth mixes numbers and labels
needs an explicit kind. Cases with a missing truth are left out of that field (the field did not
apply or is unknown). Optionally: mandatory-field completeness of the predictions, and the exact
accuracy of the stage field.

Examples::

    >>> from maerad.eval.report_fields import evaluate_reports
    >>> truth = [{"stage": "IB2", "size_mm": 25.0}, {"stage": "IIB", "size_mm": 48.0}]
    >>> pred = [{"stage": "IB2", "size_mm": 22.0}, {"stage": "IIA2", "size_mm": None}]
    >>> ev = evaluate_reports(truth, pred, mandatory=["stage", "size_mm"], stage_field="stage")
    >>> ev.stage_accuracy, ev.numeric["size_mm"].mae, ev.numeric["size_mm"].n_missing_pred
    (0.5, 3.0, 1)
    >>> ev.summary()["completeness"]
    0.75
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from maerad.errors import ConfigError, InputError
from maerad.eval.classification import ClassScores, classification_metrics
from maerad.eval.completeness import CompletenessResult, mandatory_completeness
from maerad.eval.inputs import Label
from maerad.eval.json_data import jsonable

__all__ = [
    "CategoricalFieldResult",
    "FieldKind",
    "NumericFieldResult",
    "ReportEvaluation",
    "evaluate_reports",
]

FieldKind = Literal["categorical", "numeric"]
_NAN = float("nan")


@dataclass(frozen=True)
class CategoricalFieldResult:
    """Scores of one categorical field.

    Attributes:
        n: cases with a true value (the cases scored).
        n_missing_pred: scored cases whose prediction is missing (counted wrong).
        accuracy: exact-match rate (NaN when ``n`` is 0).
        macro_f1: macro-F1 (NaN when ``n`` is 0).
        per_class: per-class scores, sorted by label.
    """

    n: int
    n_missing_pred: int
    accuracy: float
    macro_f1: float
    per_class: tuple[ClassScores, ...]


@dataclass(frozen=True)
class NumericFieldResult:
    """Errors of one numeric field.

    Attributes:
        n: cases where truth and prediction are both present (the cases scored).
        n_missing_pred: cases with a true value but no prediction.
        mae: mean absolute error (NaN when ``n`` is 0).
        median_ae: median absolute error (NaN when ``n`` is 0).
        per_case: ``|pred − truth|`` for every case in order, ``None`` where one of them is missing.
    """

    n: int
    n_missing_pred: int
    mae: float
    median_ae: float
    per_case: tuple[float | None, ...]


@dataclass(frozen=True)
class ReportEvaluation:
    """Everything :func:`evaluate_reports` computes.

    Attributes:
        n_cases: number of (truth, prediction) report pairs.
        categorical: field id → :class:`CategoricalFieldResult`.
        numeric: field id → :class:`NumericFieldResult`.
        completeness: mandatory-field completeness of the predictions (``None`` when not asked).
        stage_field: the field scored as the stage, if any.
        stage_accuracy: exact accuracy of ``stage_field`` (``None`` when not asked).
    """

    n_cases: int
    categorical: dict[str, CategoricalFieldResult]
    numeric: dict[str, NumericFieldResult]
    completeness: CompletenessResult | None = None
    stage_field: str | None = None
    stage_accuracy: float | None = None

    def mean_accuracy(self, fields: Collection[str] | None = None) -> float:
        """Mean accuracy over categorical ``fields`` (default: all categorical fields with cases).

        Raises:
            ConfigError: a field of ``fields`` is not a categorical field of this evaluation.
        """
        chosen = list(self.categorical) if fields is None else list(fields)
        for f in chosen:
            if f not in self.categorical:
                known = sorted(self.categorical)
                raise ConfigError(f"fields: {f!r} is not one of the categorical fields {known}")
        values = [self.categorical[f].accuracy for f in chosen if self.categorical[f].n > 0]
        return sum(values) / len(values) if values else _NAN

    def summary(self) -> dict[str, float | int]:
        """Flat metric name → value mapping for :func:`~maerad.eval.table.evaluation_table`.

        Names: ``stage_accuracy``, ``completeness``, ``complete_reports``, ``<field>/accuracy``,
        ``<field>/macro_f1``, ``<field>/mae``, ``<field>/median_ae``, and ``n_cases``.
        """
        out: dict[str, float | int] = {"n_cases": self.n_cases}
        if self.stage_accuracy is not None:
            out["stage_accuracy"] = self.stage_accuracy
        if self.completeness is not None:
            out["completeness"] = self.completeness.rate
            out["complete_reports"] = self.completeness.complete_reports
        for f, c in self.categorical.items():
            out[f"{f}/accuracy"], out[f"{f}/macro_f1"] = c.accuracy, c.macro_f1
        for f, m in self.numeric.items():
            out[f"{f}/mae"], out[f"{f}/median_ae"] = m.mae, m.median_ae
        return out

    def to_dict(self) -> dict[str, Any]:
        """The whole evaluation as JSON-compatible data (NaN → ``None``)."""
        result: dict[str, Any] = jsonable(self)
        return result


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _infer_kind(field: str, values: list[tuple[int, object]]) -> FieldKind:
    numbers = [(i, v) for i, v in values if _is_number(v)]
    if numbers and len(numbers) < len(values):
        label = next((i, v) for i, v in values if not _is_number(v))
        raise InputError(
            f"field {field!r}: truth mixes numbers (case {numbers[0][0]}: {numbers[0][1]!r}) and labels "
            f"(case {label[0]}: {label[1]!r}); pass field_kinds={{{field!r}: 'categorical' or 'numeric'}}"
        )
    return "numeric" if numbers else "categorical"


def _label(field: str, name: str, case: int, v: object) -> Label:
    if isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
        return tuple(sorted(set(v)))
    raise InputError(
        f"{name}[{case}] field {field!r}: expected a concept id, a list of concept ids, a boolean or an "
        f"integer code, got {v!r}"
    )


def _number(field: str, name: str, case: int, v: object) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise InputError(f"{name}[{case}] field {field!r}: expected a number, got {v!r}")
    x = float(v)
    if not math.isfinite(x):
        raise InputError(f"{name}[{case}] field {field!r}: expected a finite number, got {v!r}")
    return x


def _categorical(field: str, truth: list[object], pred: list[object]) -> CategoricalFieldResult:
    t: list[Label] = []
    p: list[Label | None] = []
    for i, (a, b) in enumerate(zip(truth, pred, strict=True)):
        if a is None:
            continue
        t.append(_label(field, "truth", i, a))
        p.append(None if b is None else _label(field, "pred", i, b))
    missing = sum(v is None for v in p)
    if not t:
        return CategoricalFieldResult(n=0, n_missing_pred=0, accuracy=_NAN, macro_f1=_NAN, per_class=())
    r = classification_metrics(t, p)
    return CategoricalFieldResult(n=r.n, n_missing_pred=missing, accuracy=r.accuracy, macro_f1=r.macro_f1,
                                  per_class=r.per_class)


def _numeric(field: str, truth: list[object], pred: list[object]) -> NumericFieldResult:
    errors: list[float | None] = []
    missing = 0
    for i, (a, b) in enumerate(zip(truth, pred, strict=True)):
        if a is None or b is None:
            missing += a is not None
            errors.append(None)
            continue
        errors.append(abs(_number(field, "pred", i, b) - _number(field, "truth", i, a)))
    scored = np.array([e for e in errors if e is not None], dtype=np.float64)
    return NumericFieldResult(
        n=int(scored.size), n_missing_pred=missing,
        mae=float(scored.mean()) if scored.size else _NAN,
        median_ae=float(np.median(scored)) if scored.size else _NAN,
        per_case=tuple(errors),
    )


def evaluate_reports(
    truth: Sequence[Mapping[str, object]],
    pred: Sequence[Mapping[str, object]],
    *,
    fields: Collection[str] | None = None,
    field_kinds: Mapping[str, FieldKind] | None = None,
    mandatory: Collection[str] = (),
    stage_field: str | None = None,
) -> ReportEvaluation:
    """Score predicted reports field by field against the true ones (module docstring for conventions).

    Args:
        truth: N true reports (field id → value; ``None`` or absent = missing).
        pred: N predicted reports, in the same case order.
        fields: the fields to evaluate; default every field present in some true report.
        field_kinds: explicit ``"categorical"`` / ``"numeric"`` kinds (e.g. an integer score is
            categorical); other fields are inferred from their truth values.
        mandatory: mandatory field ids; when given, completeness of ``pred`` is computed.
        stage_field: a categorical field whose exact accuracy is reported as ``stage_accuracy``.

    Returns:
        A :class:`ReportEvaluation`.

    Raises:
        InputError: different numbers of reports, no reports, a report that is not a mapping, or a
            value of the wrong type for its field (the message names the case and the field).
        ConfigError: an unknown kind in ``field_kinds``, or ``stage_field`` not a categorical field.
    """
    if len(truth) != len(pred):
        raise InputError(f"truth has {len(truth)} reports but pred has {len(pred)}: one per case is needed")
    if not truth:
        raise InputError("no reports to evaluate: truth and pred are empty")
    for name, reports in (("truth", truth), ("pred", pred)):
        for i, r in enumerate(reports):
            if not isinstance(r, Mapping):
                raise InputError(f"{name}[{i}]: expected a mapping field id → value, got {type(r).__name__}")
    kinds = dict(field_kinds or {})
    for f, k in kinds.items():
        if k not in ("categorical", "numeric"):
            raise ConfigError(f"field_kinds[{f!r}]: expected 'categorical' or 'numeric', got {k!r}")
    chosen = list(dict.fromkeys(f for r in truth for f in r)) if fields is None else list(fields)
    if stage_field is not None and stage_field not in chosen:
        chosen.append(stage_field)

    categorical: dict[str, CategoricalFieldResult] = {}
    numeric: dict[str, NumericFieldResult] = {}
    for f in chosen:
        t = [r.get(f) for r in truth]
        p = [r.get(f) for r in pred]
        kind = kinds.get(f) or _infer_kind(f, [(i, v) for i, v in enumerate(t) if v is not None])
        if kind == "numeric":
            numeric[f] = _numeric(f, t, p)
        else:
            categorical[f] = _categorical(f, t, p)

    stage_accuracy = None
    if stage_field is not None:
        if stage_field not in categorical:
            raise ConfigError(f"stage_field: {stage_field!r} is numeric here, expected a categorical field")
        stage_accuracy = categorical[stage_field].accuracy
    completeness = mandatory_completeness(pred, mandatory) if mandatory else None
    return ReportEvaluation(n_cases=len(truth), categorical=categorical, numeric=numeric,
                            completeness=completeness, stage_field=stage_field, stage_accuracy=stage_accuracy)
