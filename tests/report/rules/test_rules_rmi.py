"""RMI I / II / III (SPEC §3.3): U and M tables, the formula, cut-offs and the CA-125 threshold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maerad.errors import ConfigError, FindingsError
from maerad.report.rules import RmiInput, rmi, rmi_from_input

# SPEC §3.3 table, written out per feature count: U by variant, M (pre, post) by variant.
U_TABLE = {
    "I": {0: 0, 1: 1, 2: 3, 3: 3, 4: 3, 5: 3},
    "II": {0: 1, 1: 1, 2: 4, 3: 4, 4: 4, 5: 4},
    "III": {0: 1, 1: 1, 2: 3, 3: 3, 4: 3, 5: 3},
}
M_TABLE = {"I": (1, 3), "II": (1, 4), "III": (1, 3)}


@given(
    n=st.integers(0, 5),
    post=st.booleans(),
    ca125=st.floats(0, 1e5, allow_nan=False),
    variant=st.sampled_from(["I", "II", "III"]),
)
def test_formula(n: int, post: bool, ca125: float, variant: str) -> None:
    result = rmi(n, post, ca125, variant)  # type: ignore[arg-type]
    u, m = U_TABLE[variant][n], M_TABLE[variant][int(post)]
    assert (result.u, result.m) == (u, m)
    assert math.isclose(result.rmi, u * m * ca125, rel_tol=1e-12, abs_tol=0.0)
    assert result.at_or_above_cutoff == (result.rmi >= 200.0)
    assert result.ca125_raised == (ca125 >= 35.0)


@pytest.mark.parametrize(
    ("args", "expected_rmi"),
    [
        ((0, True, 500.0, "I"), 0.0),
        ((1, False, 80.0, "I"), 80.0),
        ((2, True, 100.0, "I"), 900.0),
        ((5, False, 10.0, "I"), 30.0),
        ((1, True, 10.0, "II"), 40.0),
        ((2, True, 10.0, "II"), 160.0),
        ((3, False, 10.0, "III"), 30.0),
        ((0, True, 10.0, "III"), 30.0),
    ],
)
def test_worked_examples(args: tuple[int, bool, float, str], expected_rmi: float) -> None:
    assert rmi(*args).rmi == expected_rmi  # type: ignore[arg-type]


def test_cutoff_boundary_is_inclusive_and_configurable() -> None:
    at = rmi(2, True, 200.0 / 9.0 * 1.0)  # U3 * M3 * 22.2 = 200
    assert math.isclose(at.rmi, 200.0)
    exact = rmi(1, False, 200.0)
    assert exact.rmi == 200.0 and exact.at_or_above_cutoff
    assert not rmi(1, False, 199.9).at_or_above_cutoff
    nice = rmi(1, False, 200.0, cutoff=250.0)
    assert nice.cutoff == 250.0 and not nice.at_or_above_cutoff
    assert rmi(1, False, 250.0, cutoff=250.0).at_or_above_cutoff


def test_ca125_threshold_is_configurable() -> None:
    assert rmi(0, False, 35.0).ca125_raised
    assert not rmi(0, False, 34.99).ca125_raised
    assert not rmi(0, False, 35.0, ca125_raised_u_ml=50.0).ca125_raised


def test_mri_features_flag() -> None:
    assert rmi(2, True, 50.0, features_from_mri=True).flags == ("rmi_features_from_mri",)
    assert rmi(2, True, 50.0).flags == ()


def test_model_wrapper_counts_features() -> None:
    f = RmiInput(multilocular_cyst=True, solid_areas=True, ascites=True, postmenopausal=True, ca125_u_ml=40.0)
    assert f.n_features == 3
    result = rmi_from_input(f)
    assert (result.u, result.m, result.rmi) == (3, 3, 360.0)
    assert rmi_from_input(f, variant="II").rmi == 4 * 4 * 40.0
    assert rmi_from_input(f, features_from_mri=True).flags == ("rmi_features_from_mri",)


@pytest.mark.parametrize("n", [-1, 6, 2.5, True])
def test_bad_feature_count(n: object) -> None:
    with pytest.raises(FindingsError):
        rmi(n, True, 10.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("ca125", [-1.0, float("nan"), float("inf")])
def test_bad_ca125(ca125: float) -> None:
    with pytest.raises(FindingsError):
        rmi(1, True, ca125)


def test_bad_options() -> None:
    with pytest.raises(ConfigError):
        rmi(1, True, 10.0, "IV")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        rmi(1, True, 10.0, cutoff=0.0)
