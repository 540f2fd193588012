"""Size MAE (mm) and tumour-volume relative error."""

from __future__ import annotations

import numpy as np
import pytest

from maerad.errors import InputError
from maerad.eval import absolute_errors, mean_absolute_error, size_mae, volume_relative_error


def test_size_errors_by_hand() -> None:
    r = size_mae([20.0, 35.0, 41.0, 10.0], [22.0, 35.0, 37.0, 19.0])
    # |22-20| = 2, 0, |37-41| = 4, |19-10| = 9 -> mean 15/4, median (2+4)/2 = 3
    assert r.per_case == (2.0, 0.0, 4.0, 9.0)
    assert (r.n, r.mae, r.median) == (4, 3.75, 3.0)
    assert r.to_dict() == {"n": 4, "mean": 3.75, "median": 3.0, "per_case": [2.0, 0.0, 4.0, 9.0]}


def test_absolute_errors_accept_arrays_and_integers() -> None:
    assert mean_absolute_error(np.array([1, 2, 3]), [1.5, 2.0, 1.0]) == pytest.approx((0.5 + 0 + 2) / 3)
    assert absolute_errors([-2.0], [2.0]).per_case == (4.0,)  # signed quantities are fine here


def test_volume_relative_error_by_hand() -> None:
    r = volume_relative_error([10.0, 40.0, 5.0], [12.0, 30.0, 5.0])
    # |12-10|/10 = 0.2, |30-40|/40 = 0.25, 0 -> mean 0.45/3 = 0.15, median 0.2
    assert r.per_case == pytest.approx((0.2, 0.25, 0.0))
    assert r.mean == pytest.approx(0.15)
    assert r.median == pytest.approx(0.2)
    # relative, so the unit does not matter
    assert volume_relative_error([10_000.0, 40_000.0], [12_000.0, 30_000.0]).mean == pytest.approx(0.225)


def test_zero_true_volume_is_a_clear_error() -> None:
    with pytest.raises(InputError, match=r"truth\[1\]: true volume is 0.*undefined"):
        volume_relative_error([3.0, 0.0], [3.0, 1.0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: volume_relative_error([-1.0], [1.0]), r"truth\[0\]: a volume must be ≥ 0"),
        (lambda: volume_relative_error([1.0], [-1.0]), r"pred\[0\]: a volume must be ≥ 0"),
        (lambda: size_mae([1.0, -3.0], [1.0, 1.0]), r"truth_mm\[1\]: a size must be ≥ 0"),
        (lambda: size_mae([1.0], [1.0, 2.0]), "one value per case"),
        (lambda: size_mae([], []), "no cases"),
        (lambda: size_mae([1.0, float("nan")], [1.0, 1.0]), r"truth_mm\[1\]: expected a finite number"),
        (lambda: size_mae([1.0], ["2"]), r"pred_mm\[0\]: expected a number"),  # type: ignore[list-item]
        (lambda: size_mae([True], [1.0]), r"truth_mm\[0\]: expected a number"),
        (lambda: size_mae(np.ones((2, 2)), np.ones((2, 2))), "expected a 1-D array"),
    ],
)
def test_bad_measurements_name_the_case(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()  # type: ignore[operator]
