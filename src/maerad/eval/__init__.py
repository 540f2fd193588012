"""Evaluation metrics for generated structured reports: pure, typed functions on plain data.

Everything here works on lists / numpy arrays of labels and numbers, or on reports given as
field id → value mappings, so that any generator can be scored:

* classification of one field — :func:`accuracy`, :func:`per_class_scores`, :func:`macro_f1`,
  :func:`classification_metrics`, :func:`confusion_matrix` (explicit clinical label order) and
  :func:`confusion_matrix_figure`;
* reports — :func:`evaluate_reports` (per-field accuracy / macro-F1 / MAE, completeness, stage
  accuracy), :func:`mandatory_completeness`, :func:`agreement_rate` (rule vs model stage);
* measurements — :func:`absolute_errors`, :func:`size_mae`, :func:`volume_relative_error`;
* uncertainty — :func:`bootstrap_ci`, :func:`wilson_interval` (proportions: accuracies);
* outcomes — :func:`concordance_index` (Harrell's C, SPEC §7.3) and :func:`roc_auc`;
* text (secondary to the clinical fields) — :func:`corpus_bleu`, :func:`rouge_l`, :func:`tokenize`;
* output — :func:`evaluation_table` and :func:`to_json`.

Numbers computed on the synthetic phantom are not clinical validation. See ``docs/evaluation.md``.

Examples::

    >>> from maerad.eval import accuracy, bootstrap_ci, evaluation_table
    >>> truth, pred = ["IB1", "IB2", "IIB", "IB2"], ["IB1", "IB2", "IIA1", "IB2"]
    >>> print(evaluation_table({"stage_accuracy": accuracy(truth, pred), "n_test": len(truth)}))
    metric          value  95 % CI
    --------------  -----  -------
    stage_accuracy  0.750
    n_test              4
"""

from __future__ import annotations

from maerad.eval.agreement import AgreementResult, agreement_rate
from maerad.eval.auc import roc_auc
from maerad.eval.bleu import BleuResult, corpus_bleu
from maerad.eval.bootstrap import BootstrapResult, bootstrap_ci
from maerad.eval.c_index import ConcordanceResult, concordance, concordance_index
from maerad.eval.classification import (
    ClassificationResult,
    ClassScores,
    accuracy,
    classification_metrics,
    macro_f1,
    per_class_scores,
)
from maerad.eval.completeness import CompletenessResult, mandatory_completeness
from maerad.eval.confusion import ConfusionMatrix, confusion_matrix
from maerad.eval.confusion_figure import confusion_matrix_figure
from maerad.eval.inputs import Label
from maerad.eval.json_data import jsonable
from maerad.eval.numeric import (
    ErrorSummary,
    absolute_errors,
    mean_absolute_error,
    size_mae,
    volume_relative_error,
)
from maerad.eval.proportion import ProportionResult, wilson_interval
from maerad.eval.report_fields import (
    CategoricalFieldResult,
    FieldKind,
    NumericFieldResult,
    ReportEvaluation,
    evaluate_reports,
)
from maerad.eval.rouge import RougeResult, rouge_l
from maerad.eval.table import MetricValue, evaluation_table, to_json
from maerad.eval.text_tokens import tokenize

__all__ = [
    "AgreementResult",
    "BleuResult",
    "BootstrapResult",
    "CategoricalFieldResult",
    "ClassScores",
    "ClassificationResult",
    "CompletenessResult",
    "ConcordanceResult",
    "ConfusionMatrix",
    "ErrorSummary",
    "FieldKind",
    "Label",
    "MetricValue",
    "NumericFieldResult",
    "ProportionResult",
    "ReportEvaluation",
    "RougeResult",
    "absolute_errors",
    "accuracy",
    "agreement_rate",
    "bootstrap_ci",
    "classification_metrics",
    "concordance",
    "concordance_index",
    "confusion_matrix",
    "confusion_matrix_figure",
    "corpus_bleu",
    "evaluate_reports",
    "evaluation_table",
    "jsonable",
    "macro_f1",
    "mandatory_completeness",
    "mean_absolute_error",
    "per_class_scores",
    "roc_auc",
    "rouge_l",
    "size_mae",
    "to_json",
    "tokenize",
    "volume_relative_error",
    "wilson_interval",
]
