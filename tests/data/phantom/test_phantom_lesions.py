"""The images show the sampled findings: tumour size and extent, nodes, invasion, adnexal lexicon."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from helpers_phantom import dilate3d, dilate_inplane, greatest_dimension, world_points

from maerad.data.phantom import LABELS, PhantomCase

VOXEL = (1.5, 1.5, 5.0)  # default spacing along (x, y, z)
TOL = float(np.sqrt(1.5**2 + 1.5**2 + 5.0**2))  # one voxel diagonal


def _tumour(case: PhantomCase, name: str) -> np.ndarray:
    assert case.study.labels is not None
    return np.asarray(case.study.labels == LABELS[name])


def _organ(case: PhantomCase, *names: str) -> np.ndarray:
    assert case.organ_labels is not None
    return np.isin(case.organ_labels, [LABELS[n] for n in names])


@pytest.mark.parametrize("stage", ["IB1", "IB2", "IB3", "IIA1", "IIA2", "IIB"])
def test_cervical_tumour_size_is_rendered(stage: str, case_factory: Callable[..., PhantomCase]) -> None:
    case = case_factory("cervical", 40, stage=stage)
    assert case.study.affine is not None
    pts = world_points(_tumour(case, "tumour_cervix"), case.study.affine)
    rendered = greatest_dimension(pts, VOXEL)
    d = case.findings.max_diameter_mm  # type: ignore[union-attr]
    assert abs(rendered - d) <= TOL
    bands = {"IB1": (0, 20), "IB2": (20, 40), "IB3": (40, 200), "IIA1": (0, 40), "IIA2": (40, 200)}
    if stage in bands:  # SPEC §1.1 size boundaries hold for the rendered tumour within a voxel
        lo, hi = bands[stage]
        assert lo - TOL <= rendered < hi + TOL and lo <= d < hi


@pytest.mark.parametrize("seed", [40, 41])
def test_confined_tumour_stays_in_the_cervix(seed: int, case_factory: Callable[..., PhantomCase]) -> None:
    for stage in ("IB1", "IB3"):
        case = case_factory("cervical", seed, stage=stage)
        tum = _tumour(case, "tumour_cervix")
        assert tum.any()
        assert (dilate3d(tum) & _organ(case, "cervical_stroma")).any()  # touches its organ
        for outside in ("fat", "vagina", "bladder_wall", "rectum_wall", "obturator_internus"):
            assert not (tum & _organ(case, outside)).any(), outside
        if case.findings.stromal_ring == "intact":  # type: ignore[union-attr]
            assert case.study.labels is not None
            near = dilate_inplane(tum) & ~tum
            assert not np.isin(case.study.labels[near], [LABELS["fat"], LABELS["vagina"]]).any()


def test_cervical_extent_is_rendered(case_factory: Callable[..., PhantomCase]) -> None:
    # IIB: parametrial extension into the fat, short of the sidewall
    iib = case_factory("cervical", 40, stage="IIB")
    assert (_tumour(iib, "tumour_cervix") & _organ(iib, "fat")).any()
    assert not (_tumour(iib, "tumour_cervix") & _organ(iib, "obturator_internus")).any()
    # IIA: the upper vagina is replaced by tumour, away from the lower third
    for stage, lower in (("IIA1", False), ("IIA2", False), ("IIIA", True)):
        case = case_factory("cervical", 40, stage=stage)
        assert case.study.affine is not None
        vag = _tumour(case, "tumour_cervix") & _organ(case, "vagina")
        assert vag.any(), stage
        intro = np.asarray(case.study.landmarks["introitus"])
        length = case.study.metadata["anatomy"]["vagina_length_mm"]
        closest = float(np.sqrt(((world_points(vag, case.study.affine) - intro) ** 2).sum(axis=1)).min())
        if lower:
            assert closest < length / 3.0 + TOL
        else:
            assert closest > length / 3.0
    # IVA: tumour reaches the bladder or rectal lumen; IVB: a bone metastasis inside bone
    iva = case_factory("cervical", 40, stage="IVA")
    assert (_tumour(iva, "tumour_cervix") & _organ(iva, "bladder_lumen", "rectum_lumen")).any()
    ivb = case_factory("cervical", 40, stage="IVB")
    met = _tumour(ivb, "bone_metastasis")
    assert met.any() and _organ(ivb, "bone_pelvic_ring", "bone_sacrum_coccyx")[met].all()


def test_sidewall_extension_reaches_the_obturator_internus(case_factory: Callable[..., PhantomCase]) -> None:
    for seed in range(40, 60):
        case = case_factory("cervical", seed, stage="IIIB")
        if case.findings.pelvic_sidewall:  # type: ignore[union-attr]
            assert (_tumour(case, "tumour_cervix") & _organ(case, "obturator_internus")).any()
            return
    raise AssertionError("no sidewall case among 20 seeds")


def test_suspicious_nodes_have_the_sampled_short_axis(case_factory: Callable[..., PhantomCase]) -> None:
    case = case_factory("cervical", 40, stage="IIIC1r")
    assert case.study.affine is not None
    threshold = case.study.metadata["config"]["node_short_axis_mm"]
    nodes = [n for n in case.study.metadata["nodes"] if n["suspicious"]]
    assert nodes and case.findings.nodes_pelvic_positive  # type: ignore[union-attr]
    node_mask = _tumour(case, "node_suspicious")
    pts = world_points(node_mask, case.study.affine)
    for node in nodes:
        assert node["short_axis_mm"] >= threshold  # SPEC §1.5 short-axis criterion
        assert abs(node["rendered_short_axis_mm"] - node["short_axis_mm"]) <= 2.0
        near = pts[np.sqrt(((pts - np.asarray(node["centre_mm"])) ** 2).sum(axis=1)) < node["long_axis_mm"]]
        assert len(near) > 0
        # in-plane extents on the output grid are at least the short axis minus one pixel
        for axis in (0, 1):
            assert np.ptp(near[:, axis]) + 1.5 >= node["short_axis_mm"] - 1.5
    benign = [n for n in case.study.metadata["nodes"] if not n["suspicious"]]
    assert all(n["short_axis_mm"] < 8.0 for n in benign)


@pytest.mark.parametrize("seed", [40, 41, 42])
def test_endometrial_invasion_is_rendered(seed: int, case_factory: Callable[..., PhantomCase]) -> None:
    ia = case_factory("endometrial", seed, stage="IA")
    ib = case_factory("endometrial", seed, stage="IB")
    ii = case_factory("endometrial", seed, stage="II")
    for case in (ia, ib, ii):
        tum = _tumour(case, "tumour_endometrium")
        assert (dilate3d(tum) & _organ(case, "endometrium", "junctional_zone")).any()  # touches its organ
    ratio = ia.findings.myometrial_invasion_ratio  # type: ignore[union-attr]
    myo = _tumour(ia, "tumour_endometrium") & _organ(ia, "junctional_zone", "outer_myometrium")
    if ratio == 0:
        assert not myo.any()  # no myometrial invasion
    assert not (_tumour(ia, "tumour_endometrium") & _organ(ia, "cervical_stroma")).any()
    assert ib.findings.myometrial_invasion_ratio >= 0.5  # type: ignore[union-attr]
    assert (_tumour(ib, "tumour_endometrium") & _organ(ib, "outer_myometrium")).any()  # outer half reached
    assert not (_tumour(ib, "tumour_endometrium") & _organ(ib, "fat")).any()  # serosa intact
    assert (_tumour(ii, "tumour_endometrium") & _organ(ii, "cervical_stroma")).any()


def test_endometrial_serosa_and_recurrence(case_factory: Callable[..., PhantomCase]) -> None:
    for seed in range(40, 60):
        case = case_factory("endometrial", seed, stage="IIIA")
        if case.findings.serosa:  # type: ignore[union-attr]
            assert (_tumour(case, "tumour_endometrium") & _organ(case, "fat")).any()
            break
    else:
        raise AssertionError("no serosal case among 20 seeds")
    rec = case.study.metadata["recurrence"]
    if case.outputs["esgo2020"].model_dump()["risk_group"] is not None:
        assert rec["time_years"] == min(rec["event_time_years"], rec["censor_time_years"])
        assert rec["event"] == (rec["event_time_years"] <= rec["censor_time_years"])


def _interior_wall_ratio(case: PhantomCase) -> float:
    labels = case.study.labels
    assert labels is not None
    lesion = np.isin(
        labels, [LABELS[n] for n in ("adnexal_lesion_fluid", "adnexal_lesion_wall", "adnexal_lesion_solid")]
    )
    interior = ~dilate3d(~lesion)
    fluid = float((labels == LABELS["adnexal_lesion_fluid"]).sum())
    return float((interior & (labels == LABELS["adnexal_lesion_wall"])).sum()) / max(fluid, 1.0)


@pytest.mark.parametrize(
    "archetype",
    [
        "multilocular_cyst",
        "simple_cyst",
        "endometrioma",
        "solid_low_tic",
        "solid_high_tic",
        "fibroma",
        "dermoid",
        "hydrosalpinx_simple",
    ],
)
def test_adnexal_lexicon_is_rendered(archetype: str, case_factory: Callable[..., PhantomCase]) -> None:
    case = case_factory("adnexal", 40, archetype=archetype)
    lesion = case.findings.lesion  # type: ignore[union-attr]
    assert lesion is not None and case.study.metadata["adnexal"]["archetype"] == archetype
    labels = case.study.labels
    assert labels is not None
    assert (labels == LABELS["adnexal_lesion_fluid"]).any() or archetype == "fibroma"
    solid = (labels == LABELS["adnexal_lesion_solid"]).any()
    assert solid == lesion.solid_tissue  # solid tissue in the findings ⇔ rendered solid tissue
    if archetype == "multilocular_cyst":
        assert lesion.locularity == "multilocular"
        assert _interior_wall_ratio(case) > 0.045  # septa inside the lesion
    if archetype in ("simple_cyst", "endometrioma"):
        assert lesion.locularity == "unilocular"
        assert _interior_wall_ratio(case) < 0.035
    t2 = case.study.sequences["t2w"]
    if archetype == "fibroma":  # SPEC §5.3: homogeneously dark on T2 (below outer myometrium)
        myo = labels == LABELS["outer_myometrium"]
        assert np.median(t2[labels == LABELS["adnexal_lesion_solid"]]) < np.median(t2[myo])
    if archetype == "dermoid":  # lipid: bright on T2 TSE, suppressed on fat-saturated T1c (SPEC §3.1)
        fat = labels == LABELS["adnexal_lesion_fluid"]
        t1c = case.study.sequences["t1c"]
        assert np.median(t1c[fat]) < 0.5 * np.median(t1c[labels == LABELS["outer_myometrium"]])
        assert np.median(t2[fat]) > np.median(t2[labels == LABELS["outer_myometrium"]])
