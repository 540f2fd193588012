"""The Study contract of phantom cases: grids, dtypes, labels, landmarks on their organs, metadata."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from helpers_phantom import world_points

from maerad.data.phantom import LABELS, PhantomCase, PhantomConfig

KINDS = [
    ("normal", {}),
    ("cervical", {"stage": "IIIB"}),
    ("endometrial", {"stage": "IB"}),
    ("adnexal", {"score": 4}),
    ("pelvic_floor", {}),
]


@pytest.mark.parametrize(("kind", "targets"), KINDS)
def test_sequences_labels_and_metadata(
    kind: str, targets: dict[str, object], case_factory: Callable[..., PhantomCase]
) -> None:
    case = case_factory(kind, 11, **targets)
    st = case.study
    cfg = PhantomConfig()
    expected = ["t2w", "dwi_b800", "adc", "t1c"] + (["t2w_strain"] if kind == "pelvic_floor" else [])
    assert st.sequence_names == expected
    for name, arr in st.sequences.items():
        assert arr.shape == cfg.size and arr.dtype == np.float32, name
        assert np.isfinite(arr).all() and arr.min() >= 0.0, name
        assert arr.max() > 0.0, name
    assert st.spacing == pytest.approx(cfg.spacing)
    assert st.labels is not None and st.labels.dtype == np.int16
    assert set(np.unique(st.labels)) <= set(LABELS.values())
    assert st.label_names[LABELS["endometrium"]] == "endometrium"
    text = json.dumps(st.metadata, allow_nan=False)  # JSON-serialisable, no NaN
    meta = json.loads(text)
    assert meta["kind"] == kind and meta["synthetic"] is True
    assert meta["findings"] == (case.findings.model_dump(mode="json") if case.findings is not None else None)
    assert set(meta["outputs"]) == set(case.outputs)
    assert st.metadata["adc" if False else "kind"] == kind
    adc = st.sequences["adc"]
    assert adc.max() <= 4.0  # ×10⁻³ mm²/s


def _nearest_mm(case: PhantomCase, point: tuple[float, float, float], *names: str) -> float:
    st = case.study
    assert st.labels is not None and st.affine is not None
    pts = world_points(np.isin(st.labels, [LABELS[n] for n in names]), st.affine)
    return float(np.sqrt(((pts - np.asarray(point)) ** 2).sum(axis=1)).min())


@pytest.mark.parametrize("seed", [11, 12])
def test_landmarks_lie_on_their_structures(seed: int, case_factory: Callable[..., PhantomCase]) -> None:
    case = case_factory("normal", seed)
    lm = case.study.landmarks
    for name in (
        "P",
        "C",
        "A",
        "ARJ_ant",
        "B",
        "Cx",
        "internal_os",
        "external_os",
        "ovary_left",
        "ovary_right",
    ):
        assert name in lm
    # tolerance: half a 5 mm slice plus in-plane rounding and the cortical / wall thickness
    assert _nearest_mm(case, lm["P"], "bone_pelvic_ring") < 6.0
    assert _nearest_mm(case, lm["C"], "bone_sacrum_coccyx") < 6.0
    assert _nearest_mm(case, lm["B"], "bladder_wall", "bladder_lumen") < 5.0
    assert _nearest_mm(case, lm["Cx"], "cervical_stroma", "cervical_canal") < 5.0
    assert _nearest_mm(case, lm["A"], "rectum_wall", "rectum_lumen") < 5.0
    assert _nearest_mm(case, lm["ARJ_ant"], "rectum_wall", "rectum_lumen") < 5.0
    assert _nearest_mm(case, lm["ovary_left"], "ovary_left", "follicle") < 4.0
    assert _nearest_mm(case, lm["ovary_right"], "ovary_right", "follicle") < 4.0
    # RAS+: the patient's left ovary has the smaller x
    assert lm["ovary_left"][0] < lm["ovary_right"][0]
    # anatomy order along y (anterior +): symphysis in front of the bladder base, coccyx behind the rectum
    assert lm["P"][1] > lm["B"][1] > lm["A"][1] > lm["C"][1]


def test_pelvic_floor_strain_frame(case_factory: Callable[..., PhantomCase]) -> None:
    case = case_factory("pelvic_floor", 11, anterior="moderate", middle="severe", posterior="mild")
    lm = case.study.landmarks
    for name in ("P", "C", "A", "ARJ_ant", "B", "Cx"):
        assert f"{name}_strain" in lm
    assert lm["P_strain"] == lm["P"] and lm["C_strain"] == lm["C"]  # bones do not move
    for name in ("B", "Cx", "ARJ_ant"):  # organs descend on straining
        assert lm[f"{name}_strain"][2] < lm[name][2]
    t2, t2s = case.study.sequences["t2w"], case.study.sequences["t2w_strain"]
    assert not np.array_equal(t2, t2s)
    assert case.outputs["pelvic_floor"].model_dump()["grades"]["middle"] == "severe"
