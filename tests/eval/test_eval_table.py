"""The printed metrics table, metrics.json output and JSON conversion of result objects."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from maerad.errors import InputError
from maerad.eval import (
    BootstrapResult,
    concordance,
    confusion_matrix,
    evaluate_reports,
    evaluation_table,
    jsonable,
    to_json,
)

CI = BootstrapResult(estimate=0.8, low=0.7, high=0.9, confidence=0.95, method="percentile",
                     n_resamples=1000, n_valid=1000)


def test_table_layout() -> None:
    table = evaluation_table({"stage_accuracy": CI, "size_mae_mm": 2.5, "auc": float("nan"),
                              "rouge_l": None, "n_test": 40})
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "value", "95", "%", "CI"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["stage_accuracy", "0.800", "[0.700,", "0.900]"]
    assert lines[3].split() == ["size_mae_mm", "2.500"]
    assert lines[4].split() == ["auc", "n/a"]
    assert lines[5].split() == ["rouge_l", "n/a"]
    assert lines[6].split() == ["n_test", "40"]  # integers stay integers
    # the value column is right-aligned
    assert len({line.index(v) + len(v) for line, v in zip(lines[2:], ["0.800", "2.500", "n/a", "n/a", "40"],
                                                          strict=True)}) == 1


def test_table_digits_levels_and_numpy_numbers() -> None:
    ci90 = BootstrapResult(0.5, 0.25, 0.75, 0.9, "bca", 100, 100)
    assert "90 % CI" in evaluation_table({"a": ci90}, digits=2)
    assert "[0.25, 0.75]" in evaluation_table({"a": ci90}, digits=2)
    mixed = evaluation_table({"a": ci90, "b": CI})
    assert mixed.splitlines()[0].split()[-1] == "CI"
    assert "(90 %)" in mixed and "(95 %)" in mixed
    numpy_table = evaluation_table({"n": np.int64(7), "x": np.float32(0.5)})
    assert [line.split() for line in numpy_table.splitlines()[2:]] == [["n", "7"], ["x", "0.500"]]
    with pytest.raises(InputError, match=r"results\['x'\]"):
        evaluation_table({"x": "high"})  # type: ignore[dict-item]
    with pytest.raises(InputError, match=r"results\['x'\]"):
        evaluation_table({"x": True})


def test_to_json_keeps_metrics_flat_with_intervals_aside() -> None:
    cm = confusion_matrix(["IB1", "IB2"], ["IB1", "IB1"], ["IB1", "IB2"])
    text = to_json({"stage_accuracy": CI, "n_test": 40, "auc": float("nan"), "confusion": cm.to_dict()})
    data = json.loads(text)  # strict JSON: NaN was turned into null
    assert list(data) == ["stage_accuracy", "n_test", "auc", "confusion", "confidence_intervals"]
    assert data["stage_accuracy"] == 0.8 and isinstance(data["stage_accuracy"], float)
    assert data["n_test"] == 40 and data["auc"] is None
    assert data["confusion"] == {"labels": ["IB1", "IB2"], "counts": [[1, 0], [1, 0]]}
    assert data["confidence_intervals"]["stage_accuracy"] == {
        "low": 0.7, "high": 0.9, "confidence": 0.95, "method": "percentile",
        "n_resamples": 1000, "n_valid": 1000,
    }
    assert "confidence_intervals" not in json.loads(to_json({"a": 1.0}))
    with pytest.raises(InputError, match="reserved"):
        to_json({"confidence_intervals": 1.0})


def test_chinese_text_is_kept_readable() -> None:
    assert "宫颈" in to_json({"example": "宫颈肿瘤"})


def test_jsonable_result_objects() -> None:
    ev = evaluate_reports([{"stage": "IB1", "size": 3.0}], [{"stage": "IB1", "size": None}])
    data = jsonable(ev)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["numeric"]["size"]["mae"] is None  # NaN: nothing scored
    assert jsonable(concordance([1, 2], [1, 1], [2.0, 1.0]))["c_index"] == 1.0
    assert jsonable({("a", "b"): 1, 2: (np.int32(3), math.inf)}) == {"a+b": 1, "2": [3, None]}
    with pytest.raises(TypeError, match="set"):
        jsonable({1, 2})
