"""Normal anatomy: sizes within the SPEC §5.4 ranges and the §5.4 topology of the label map."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from helpers_phantom import dilate_inplane, greatest_dimension, world_points

from maerad.data.phantom import LABELS, PhantomCase
from maerad.data.phantom.anatomy import sample_anatomy

UTERUS = [
    LABELS[n]
    for n in ("endometrium", "junctional_zone", "outer_myometrium", "cervical_stroma", "cervical_canal")
]


def test_sampled_sizes_within_spec_ranges() -> None:
    """SPEC §5.4 soft ranges, for every kind's age range (500 draws)."""
    rng = np.random.default_rng(0)
    n_av = 0
    for i in range(500):
        kind = ("normal", "cervical", "endometrial", "adnexal", "pelvic_floor")[i % 5]
        a = sample_anatomy(rng, kind)
        post = a.postmenopausal
        lo, hi = (30.0, 80.0) if post else (50.0, 100.0)
        assert lo <= a.uterine_length <= hi
        assert 20.0 <= a.cervix_length <= 45.0
        assert 1.0 <= a.jz_thickness <= 12.0
        assert (0.0 <= a.endometrial_thickness <= 5.0) if post else (2.0 <= a.endometrial_thickness <= 16.0)
        for vol in a.ovary_volume.values():
            assert 0.0 < vol <= (10.0 if post else 20.0)
        n_av += a.version == "anteverted"
        assert a.flexion == ("anteflexed" if a.flexion_deg >= 0 else "retroflexed")
    assert 0.68 < n_av / 500 < 0.82  # SPEC §5.1 suggestion p(AV) = 0.75


def test_age_trends_follow_spec() -> None:
    """[A2] longer uterus at 40 than at 80; [A4] larger ovaries before 30 than after 60."""
    rng = np.random.default_rng(1)
    young = [sample_anatomy(rng, "normal", age=40, postmenopausal=False) for _ in range(200)]
    old = [sample_anatomy(rng, "normal", age=78, postmenopausal=True) for _ in range(200)]
    assert np.mean([a.uterine_length for a in young]) > np.mean([a.uterine_length for a in old]) + 15.0
    ratio_young = np.mean([a.uterine_length / a.cervix_length for a in young])
    ratio_old = np.mean([a.uterine_length / a.cervix_length for a in old])
    assert ratio_old < ratio_young  # corpus regresses, the cervix does not [A3]
    young_ov = np.mean([a.ovary_volume["left"] for a in young])
    old_ov = np.mean([a.ovary_volume["left"] for a in old])
    assert young_ov > 2.0 * old_ov


@pytest.mark.parametrize("seed", [1, 6])
def test_zonal_topology(seed: int, case_factory: Callable[..., PhantomCase]) -> None:
    case = case_factory("normal", seed)
    labels = case.study.labels
    assert labels is not None
    endo = labels == LABELS["endometrium"]
    assert endo.any()
    # endometrium ⊂ uterus: its in-plane neighbours are uterine tissue
    ring = dilate_inplane(endo) & ~endo
    assert np.isin(labels[ring], UTERUS).all()
    # the junctional zone separates endometrium from outer myometrium (≤ 2 % direct contacts)
    touching = (dilate_inplane(endo) & (labels == LABELS["outer_myometrium"])).sum()
    assert touching <= 0.02 * endo.sum()
    # the cervical stroma surrounds the canal (the canal opens into the vagina at the os)
    canal = labels == LABELS["cervical_canal"]
    around = dilate_inplane(canal) & ~canal
    assert np.isin(labels[around], [*UTERUS, LABELS["vagina"]]).all()


@pytest.mark.parametrize("seed", [1, 6])
def test_rendered_sizes_match_metadata(seed: int, case_factory: Callable[..., PhantomCase]) -> None:
    case = case_factory("normal", seed)
    st = case.study
    assert st.labels is not None and st.affine is not None and st.spacing is not None
    voxel_ml = float(np.prod(st.spacing)) / 1000.0
    anatomy = st.metadata["anatomy"]
    follicles = world_points(st.labels == LABELS["follicle"], st.affine)
    for side in ("left", "right"):
        stroma = float((st.labels == LABELS[f"ovary_{side}"]).sum())
        on_side = float(((follicles[:, 0] < 0) if side == "left" else (follicles[:, 0] > 0)).sum())
        rendered = (stroma + on_side) * voxel_ml
        assert 0.6 < rendered / anatomy["ovary_volume_ml"][side] < 1.6, side
    uterus = world_points(np.isin(st.labels, UTERUS), st.affine)
    extent = greatest_dimension(uterus, (1.5, 1.5, 5.0))
    # greatest dimension of a flexed uterus: between 0.6 and 1.35 × its length along the axis
    assert 0.6 * anatomy["uterus"]["length_mm"] < extent < 1.35 * anatomy["uterus"]["length_mm"]
