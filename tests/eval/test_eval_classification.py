"""Accuracy, per-class precision / recall / F1 and macro-F1, checked against hand counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.errors import InputError
from maerad.eval import accuracy, classification_metrics, macro_f1, per_class_scores

# A: TP 2, predicted 3 (cases 0, 1, 5), support 3 -> P = R = 2/3, F1 = 2*2/(4+1+1) = 2/3
# B: TP 1, predicted 2 (cases 2, 3), support 2 (case 4 missing) -> P = R = 1/2, F1 = 2/4
# C: TP 0, never predicted, support 1 -> P reported 0, R 0, F1 0
TRUTH = ["A", "A", "A", "B", "B", "C"]
PRED = ["A", "A", "B", "B", None, "A"]


def test_accuracy_counts_a_missing_prediction_as_wrong() -> None:
    assert accuracy(TRUTH, PRED) == pytest.approx(3 / 6)
    assert accuracy(["x"], ["x"]) == 1.0
    assert accuracy(["x", "y"], [None, None]) == 0.0


def test_per_class_scores_by_hand() -> None:
    scores = {s.label: s for s in per_class_scores(TRUTH, PRED)}
    assert list(scores) == ["A", "B", "C"]
    a, b, c = scores["A"], scores["B"], scores["C"]
    assert (a.true_positives, a.predicted, a.support) == (2, 3, 3)
    assert (a.precision, a.recall, a.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert (b.true_positives, b.predicted, b.support) == (1, 2, 2)
    assert (b.precision, b.recall, b.f1) == pytest.approx((0.5, 0.5, 0.5))
    # a class present in truth only: precision 0/0 reported as 0, F1 0, still averaged
    assert (c.predicted, c.support, c.precision, c.recall, c.f1) == (0, 1, 0.0, 0.0, 0.0)


def test_macro_f1_includes_a_never_predicted_class() -> None:
    assert macro_f1(TRUTH, PRED) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def test_classes_absent_from_truth_and_prediction_are_excluded() -> None:
    labels = ["D", "C", "B", "A"]  # D occurs nowhere
    scores = per_class_scores(TRUTH, PRED, labels)
    assert [s.label for s in scores] == ["C", "B", "A"]  # the given order, D left out
    assert macro_f1(TRUTH, PRED, labels) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def test_a_predicted_only_class_counts_unless_labels_exclude_it() -> None:
    # A: TP 1, predicted 1, support 2 -> F1 = 2/(2+0+1) = 2/3; Z: predicted once, never true -> F1 0
    assert macro_f1(["A", "A"], ["A", "Z"]) == pytest.approx((2 / 3 + 0) / 2)
    z = per_class_scores(["A", "A"], ["A", "Z"])[1]
    assert (z.label, z.support, z.predicted, z.recall, z.f1) == ("Z", 0, 1, 0.0, 0.0)
    # with an explicit class list, "Z" is just a wrong prediction, not a class
    assert macro_f1(["A", "A"], ["A", "Z"], labels=["A"]) == pytest.approx(2 / 3)


def test_classification_metrics_bundles_the_same_numbers() -> None:
    r = classification_metrics(TRUTH, PRED)
    assert r.n == 6
    assert r.accuracy == accuracy(TRUTH, PRED)
    assert r.macro_f1 == macro_f1(TRUTH, PRED)
    assert r.per_class == per_class_scores(TRUTH, PRED)
    assert r.to_dict()["per_class"][0] == {
        "label": "A", "support": 3, "predicted": 3, "true_positives": 2,
        "precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3), "f1": pytest.approx(2 / 3),
    }


def test_numpy_arrays_booleans_and_multi_valued_labels() -> None:
    assert accuracy(np.array(["IB1", "IIB"]), np.array(["IB1", "IB1"])) == 0.5
    assert accuracy(np.array([1, 2, 3]), [1, 2, 4]) == pytest.approx(2 / 3)
    assert accuracy([True, False], np.array([True, True])) == 0.5
    # lists of concept ids compare as sets
    assert accuracy([["MR:F1", "MR:F2"]], [["MR:F2", "MR:F1"]]) == 1.0


@pytest.mark.parametrize(
    ("truth", "pred", "labels", "message"),
    [
        (["A", None], ["A", "A"], None, r"truth\[1\]: missing value"),
        (["A", "B"], ["A"], None, "one value per case"),
        ([], [], None, "no cases"),
        ([0.5], [0.5], None, r"truth\[0\]: expected a class label"),
        (["A", "X"], ["A", "A"], ["A", "B"], r"truth\[1\]: label 'X' is not one of labels"),
        (["A"], ["A"], ["A", "A"], "listed once"),
        ("AB", "AB", None, "single string"),
    ],
)
def test_bad_input_names_the_argument(
    truth: list[object], pred: list[object], labels: list[str] | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        per_class_scores(truth, pred, labels)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABCD"), st.sampled_from("ABCDE")), min_size=1, max_size=40))
def test_properties_on_random_labels(pairs: list[tuple[str, str]]) -> None:
    truth, pred = [t for t, _ in pairs], [p for _, p in pairs]
    scores = per_class_scores(truth, pred)
    assert sum(s.true_positives for s in scores) == sum(t == p for t, p in pairs)
    assert sum(s.support for s in scores) == len(pairs) == sum(s.predicted for s in scores)
    for s in scores:
        assert 0.0 <= s.f1 <= 1.0
        if s.precision + s.recall > 0:  # F1 is the harmonic mean where both are defined
            assert s.f1 == pytest.approx(2 * s.precision * s.recall / (s.precision + s.recall))
    assert {s.label for s in scores} == set(truth) | set(pred)
    assert macro_f1(truth, pred) == pytest.approx(float(np.mean([s.f1 for s in scores])))
