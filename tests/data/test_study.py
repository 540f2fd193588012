"""Study's validation: every inconsistency is an InputError that names what is wrong."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from maerad.data.study import Study, affine_from_spacing
from maerad.errors import InputError


def test_basic_geometry() -> None:
    s = Study(
        {"t2w": np.zeros((4, 8, 6)), "adc": np.ones((4, 8, 6), dtype=np.int32)}, spacing=(4.0, 0.5, 0.7)
    )
    assert s.shape == (4, 8, 6) and s.spacing == (4.0, 0.5, 0.7)
    assert all(a.dtype == np.float32 for a in s.sequences.values())
    # w runs along +x, h along +y, d along +z (RAS+)
    np.testing.assert_allclose(s.voxel_to_world((1, 2, 3)), [3 * 0.7, 2 * 0.5, 1 * 4.0])
    np.testing.assert_allclose(s.world_to_voxel(s.voxel_to_world((1.5, 2, 3))), [1.5, 2, 3])
    np.testing.assert_array_equal(affine_from_spacing((4.0, 0.5, 0.7)), s.affine)
    assert s.stack(["adc", "t2w"]).shape == (2, 4, 8, 6)
    assert s.stack(["adc", "t2w"])[0].max() == 1.0


def test_spacing_is_derived_from_an_oblique_affine() -> None:
    c, sn = np.cos(0.3), np.sin(0.3)
    affine = np.array([[0, c * 0.8, -sn * 0.6, 1], [0, sn * 0.8, c * 0.6, 2], [3.0, 0, 0, 3], [0, 0, 0, 1]])
    s = Study({"t2w": np.zeros((2, 3, 4))}, affine=affine)
    assert s.spacing == pytest.approx((3.0, 0.8, 0.6))
    Study({"t2w": np.zeros((2, 3, 4))}, affine=affine, spacing=(3.0, 0.8, 0.6))  # agreeing both is fine


def test_stack_names_missing_sequences() -> None:
    s = Study({"t2w": np.zeros((1, 2, 2))}, spacing=(1, 1, 1))
    with pytest.raises(InputError, match=r"'dwi'.*available: t2w"):
        s.stack(["t2w", "dwi"])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_voxels_are_located(bad: float) -> None:
    a = np.zeros((3, 4, 5))
    a[1, 2, 3] = bad
    with pytest.raises(
        InputError, match=r"'t2w' has 1 NaN/Inf voxel\(s\), first at \(d, h, w\) = \(1, 2, 3\)"
    ):
        Study({"t2w": a}, spacing=(1, 1, 1))


@pytest.mark.parametrize(
    ("sequences", "message"),
    [
        ({}, "at least one sequence"),
        ({"t2w": np.zeros((4, 4))}, "must be 3D"),
        ({"t2w": np.zeros((1, 4, 4, 4))}, "must be 3D"),
        ({"t2w": np.zeros((0, 4, 4))}, "empty"),
        ({"t2w": np.zeros((2, 2, 2), dtype=complex)}, "real-valued"),
        ({"t2w": np.full((2, 2, 2), "a")}, "real-valued"),
        ({"": np.zeros((2, 2, 2))}, "non-empty strings"),
        ({"t2w": np.zeros((2, 3, 4)), "adc": np.zeros((2, 3, 5))}, r"'adc' has shape \(2, 3, 5\) but 't2w'"),
    ],
)
def test_bad_sequences(sequences: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        Study(sequences, spacing=(1, 1, 1))


@pytest.mark.parametrize(
    "spacing",
    [(0, 1, 1), (1, -0.5, 1), (1, 1, float("nan")), (1, float("inf"), 1), (1, 1)],
)
def test_bad_spacing(spacing: tuple[float, ...]) -> None:
    with pytest.raises(InputError, match="spacing"):
        Study({"t2w": np.zeros((2, 2, 2))}, spacing=spacing)


@pytest.mark.parametrize(
    ("affine", "message"),
    [
        (np.eye(3), "4x4"),
        (np.full((4, 4), np.nan), "finite"),
        (np.diag([1.0, 0.0, 1.0, 1.0]), "singular"),
        (np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]), "singular"),
    ],
)
def test_bad_affine(affine: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Study({"t2w": np.zeros((2, 2, 2))}, affine=affine)


def test_geometry_must_be_given_and_consistent() -> None:
    with pytest.raises(InputError, match="spacing"):
        Study({"t2w": np.zeros((2, 2, 2))})
    with pytest.raises(InputError, match="disagrees"):
        Study({"t2w": np.zeros((2, 2, 2))}, affine=np.diag([2.0, 1, 1, 1]), spacing=(1, 1, 1))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros((2, 2, 3)), "shape"),
        (np.full((2, 2, 2), 0.5), "whole numbers"),
        (np.full((2, 2, 2), np.nan), "whole numbers"),
        (np.full((2, 2, 2), 40000), "int16"),
    ],
)
def test_bad_labels(labels: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Study({"t2w": np.zeros((2, 2, 2))}, spacing=(1, 1, 1), labels=labels)


def test_labels_become_int16() -> None:
    s = Study({"t2w": np.zeros((2, 2, 2))}, spacing=(1, 1, 1), labels=np.full((2, 2, 2), 3.0))
    assert s.labels is not None and s.labels.dtype == np.int16 and int(s.labels.max()) == 3


@pytest.mark.parametrize("point", [(1, 2), (1, 2, 3, 4), ("a", 1, 2), (1, float("nan"), 2), 5])
def test_bad_landmarks(point: Any) -> None:
    with pytest.raises(InputError, match="landmark 'ps'"):
        Study({"t2w": np.zeros((2, 2, 2))}, spacing=(1, 1, 1), landmarks={"ps": point})


def test_summary_is_json_and_counts_labels_by_name() -> None:
    labels = np.zeros((2, 3, 4), dtype=np.int16)
    labels[0, :2, :2] = 1
    labels[1, 0, 0] = 7
    s = Study(
        {"t2w": np.arange(24.0).reshape(2, 3, 4)},
        spacing=(5.0, 0.5, 0.25),
        labels=labels,
        label_names={1: "bladder"},
        landmarks={"b": (0, 0, 0), "a": (1, 1, 1)},
        metadata={"age": 40},
    )
    summary = json.loads(json.dumps(s.summary()))
    assert summary["labels"] == {"bladder": 4, "7": 1}
    assert summary["field_of_view_mm"] == [10.0, 1.5, 1.0]
    assert summary["sequences"]["t2w"] == {"shape": [2, 3, 4], "min": 0.0, "max": 23.0, "mean": 11.5}
    assert summary["landmarks"] == ["a", "b"] and summary["metadata_keys"] == ["age"]
