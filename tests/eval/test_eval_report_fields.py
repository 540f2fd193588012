"""Per-field report evaluation, mandatory-field completeness and rule-vs-model agreement."""

from __future__ import annotations

import json
import math

import pytest

from maerad.errors import ConfigError, InputError
from maerad.eval import agreement_rate, evaluate_reports, evaluation_table, mandatory_completeness

TRUTH: list[dict[str, object]] = [
    {"stage": "IB2", "stromal_ring": "MR:F001", "size_mm": 25.0, "nodes": False, "sites": ["MR:A1", "MR:A2"]},
    {"stage": "IIB", "stromal_ring": "MR:F002", "size_mm": 48.0, "nodes": True, "sites": ["MR:A1"]},
    {"stage": "IIB", "stromal_ring": "MR:F002", "size_mm": 30.0, "nodes": False, "sites": None},
    {"stage": "IVA", "stromal_ring": None, "size_mm": 61.0, "nodes": True},
]
PRED: list[dict[str, object]] = [
    {"stage": "IB2", "stromal_ring": "MR:F001", "size_mm": 22.0, "nodes": False, "sites": ["MR:A2", "MR:A1"]},
    {"stage": "IIA2", "stromal_ring": "MR:F002", "size_mm": None, "nodes": False, "sites": ["MR:A1"]},
    {"stage": "IIB", "stromal_ring": None, "size_mm": 36.0, "nodes": False, "sites": ["MR:A3"]},
    {"stage": "IVA", "stromal_ring": "MR:F001", "size_mm": 61.0, "nodes": True},
]


def test_categorical_fields_by_hand() -> None:
    ev = evaluate_reports(TRUTH, PRED)
    assert set(ev.categorical) == {"stage", "stromal_ring", "nodes", "sites"}
    assert set(ev.numeric) == {"size_mm"}
    stage = ev.categorical["stage"]
    # IB2 ok, IIB->IIA2 wrong, IIB ok, IVA ok
    assert (stage.n, stage.n_missing_pred, stage.accuracy) == (4, 0, 0.75)
    # F1: IB2 1, IIB 2*1/(2+0+1) = 2/3, IVA 1, IIA2 (predicted only) 0
    assert stage.macro_f1 == pytest.approx((1 + 2 / 3 + 1 + 0) / 4)
    ring = ev.categorical["stromal_ring"]
    # case 3 has no truth: left out; case 2 is missing in the prediction: wrong
    assert (ring.n, ring.n_missing_pred) == (3, 1)
    assert ring.accuracy == pytest.approx(2 / 3)
    nodes = ev.categorical["nodes"]
    assert (nodes.n, nodes.accuracy) == (4, 0.75)
    sites = ev.categorical["sites"]  # lists compared as sets; case 2 truth None, case 3 absent
    assert (sites.n, sites.accuracy) == (2, 1.0)


def test_numeric_field_by_hand() -> None:
    size = evaluate_reports(TRUTH, PRED).numeric["size_mm"]
    # |22-25| = 3, case 1 missing prediction, |36-30| = 6, |61-61| = 0
    assert size.per_case == (3.0, None, 6.0, 0.0)
    assert (size.n, size.n_missing_pred) == (3, 1)
    assert size.mae == pytest.approx(3.0)
    assert size.median_ae == 3.0


def test_completeness_stage_accuracy_and_summary() -> None:
    ev = evaluate_reports(TRUTH, PRED, mandatory=["stage", "stromal_ring", "size_mm"], stage_field="stage")
    assert ev.stage_accuracy == 0.75
    assert ev.completeness is not None
    # filled: stage 4/4, stromal_ring 3/4, size_mm 3/4 -> 10/12 slots; complete reports: cases 0 and 3
    assert ev.completeness.rate == pytest.approx(10 / 12)
    assert ev.completeness.complete_reports == 0.5
    assert ev.completeness.per_field == {"stage": 1.0, "stromal_ring": 0.75, "size_mm": 0.75}
    summary = ev.summary()
    assert summary["stage_accuracy"] == 0.75
    assert summary["completeness"] == pytest.approx(10 / 12)
    assert summary["size_mm/mae"] == pytest.approx(3.0)
    assert summary["n_cases"] == 4 and isinstance(summary["n_cases"], int)
    table = evaluation_table(summary)
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:]}
    assert rows["n_cases"] == ["4"] and rows["stage_accuracy"] == ["0.750"]
    assert ev.mean_accuracy(["stage", "nodes"]) == 0.75
    data = json.loads(json.dumps(ev.to_dict(), allow_nan=False))
    assert data["numeric"]["size_mm"]["per_case"] == [3.0, None, 6.0, 0.0]
    assert data["categorical"]["sites"]["per_class"][0]["label"] == ["MR:A1"]


def test_field_selection_and_explicit_kinds() -> None:
    truth = [{"score": 4, "adc": 0.8}, {"score": 5, "adc": 1.1}]
    pred = [{"score": 4, "adc": 0.9}, {"score": 3, "adc": 1.1}]
    inferred = evaluate_reports(truth, pred)
    assert set(inferred.numeric) == {"score", "adc"}  # integers alone look numeric ...
    ev = evaluate_reports(truth, pred, field_kinds={"score": "categorical"}, fields=["score"])
    assert set(ev.categorical) == {"score"} and not ev.numeric  # ... an O-RADS score is categorical
    assert ev.categorical["score"].accuracy == 0.5
    with pytest.raises(ConfigError, match="stage_field"):
        evaluate_reports(truth, pred, stage_field="adc")
    with pytest.raises(ConfigError, match=r"field_kinds\['adc'\]"):
        evaluate_reports(truth, pred, field_kinds={"adc": "ordinal"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="categorical fields"):
        ev.mean_accuracy(["adc"])


def test_a_field_without_any_truth_gives_nan_not_an_error() -> None:
    ev = evaluate_reports([{"a": None}], [{"a": "x"}])
    assert ev.categorical["a"].n == 0 and math.isnan(ev.categorical["a"].accuracy)
    assert math.isnan(ev.mean_accuracy())


@pytest.mark.parametrize(
    ("truth", "pred", "message"),
    [
        ([{"a": 1.0}], [], "truth has 1 reports but pred has 0"),
        ([], [], "no reports"),
        ([{"a": 1.0}], ["a"], r"pred\[0\]: expected a mapping"),
        ([{"a": 1.0}, {"a": "x"}], [{"a": 1.0}, {"a": "x"}], "field 'a': truth mixes numbers"),
        ([{"a": 1.0}], [{"a": "big"}], r"pred\[0\] field 'a': expected a number"),
        ([{"a": 1.0}], [{"a": float("nan")}], r"pred\[0\] field 'a': expected a finite number"),
        ([{"a": "x"}], [{"a": 2.5}], r"pred\[0\] field 'a': expected a concept id"),
    ],
)
def test_bad_reports_name_case_and_field(truth: list[object], pred: list[object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        evaluate_reports(truth, pred)  # type: ignore[arg-type]


def test_completeness_conventions() -> None:
    r = mandatory_completeness([{"a": "", "b": []}, {"a": 0, "b": False}, {}], ["a", "b", "a"])
    # empty string / empty list / absent are not filled; 0 and False are values
    assert r.mandatory == ("a", "b")
    assert r.per_field == {"a": pytest.approx(1 / 3), "b": pytest.approx(1 / 3)}
    assert r.n_reports == 3
    assert (r.rate, r.complete_reports) == pytest.approx((2 / 6, 1 / 3))
    with pytest.raises(ConfigError, match="mandatory"):
        mandatory_completeness([{}], [])
    with pytest.raises(ConfigError, match="mandatory"):
        mandatory_completeness([{}], "stage")
    with pytest.raises(InputError, match="no reports"):
        mandatory_completeness([], ["a"])
    with pytest.raises(InputError, match=r"reports\[0\]"):
        mandatory_completeness([None], ["a"])  # type: ignore[list-item]


def test_agreement_conventions() -> None:
    rule = ["IB1", "IIB", None, "IVA", None]
    model = ["IB1", "IIIB", None, None, "IB2"]
    r = agreement_rate(rule, model)
    # case 2 both missing: left out; cases 3, 4 one missing: disagreements
    assert (r.n_compared, r.n_agree, r.n_both_missing) == (4, 1, 1)
    assert r.rate == 0.25
    assert agreement_rate(["a", "b"], ["a", "b"]).rate == 1.0
    assert math.isnan(agreement_rate([None], [None]).rate)
    with pytest.raises(InputError, match="one value per case"):
        agreement_rate(["a"], ["a", "b"])
