"""O-RADS MRI score (SPEC §3.1–3.2 incl. FAQ special cases and the 3.0 cm boundary, U17)."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.errors import FindingsError
from maerad.report.rules import AdnexalFindings, AdnexalLesion, orads_mri, parse_findings

PRE = {"premenopausal": True}
POST = {"premenopausal": False}


def score(lesion: dict[str, Any] | None, **context: Any) -> object:
    les = AdnexalLesion(**lesion) if lesion is not None else None
    return orads_mri(AdnexalFindings(lesion=les, **context)).score


CASES: list[tuple[dict[str, Any] | None, dict[str, Any], object]] = [
    # study / no lesion
    ({"max_diameter_mm": 50.0, "solid_tissue": True, "tic": "high"}, {"technically_inadequate": True}, 0),
    (None, {}, 1),
    (None, {"peritoneal_disease": True}, 1),
    # physiologic findings, premenopausal only, <= 3 cm
    ({"max_diameter_mm": 25.0, "physiologic_appearance": "follicle"}, PRE, 1),
    ({"max_diameter_mm": 25.0, "physiologic_appearance": "corpus_luteum", "wall_enhancement": True}, PRE, 1),
    ({"max_diameter_mm": 31.0, "physiologic_appearance": "follicle"}, PRE, 2),
    ({"max_diameter_mm": 20.0, "physiologic_appearance": "follicle"}, POST, 2),
    # haemorrhagic cyst FAQ
    (
        {"max_diameter_mm": 25.0, "physiologic_appearance": "haemorrhagic_cyst", "wall_enhancement": True},
        PRE,
        1,
    ),
    ({"max_diameter_mm": 25.0, "physiologic_appearance": "haemorrhagic_cyst"}, PRE, 1),
    ({"max_diameter_mm": 35.0, "physiologic_appearance": "haemorrhagic_cyst"}, PRE, 2),
    (
        {"max_diameter_mm": 35.0, "physiologic_appearance": "haemorrhagic_cyst", "wall_enhancement": True},
        PRE,
        3,
    ),
    ({"max_diameter_mm": 20.0, "physiologic_appearance": "haemorrhagic_cyst"}, POST, 2),
    (
        {"max_diameter_mm": 20.0, "physiologic_appearance": "haemorrhagic_cyst", "wall_enhancement": True},
        POST,
        3,
    ),
    # peritoneal disease with a non-physiologic lesion
    ({"max_diameter_mm": 40.0}, {"peritoneal_disease": True}, 5),
    ({"max_diameter_mm": 25.0, "physiologic_appearance": "follicle"}, {**PRE, "peritoneal_disease": True}, 1),
    # lipid (dermoid)
    ({"max_diameter_mm": 60.0, "has_lipid": True}, {}, 2),
    ({"max_diameter_mm": 60.0, "has_lipid": True, "locularity": "multilocular", "solid_tissue": True}, {}, 2),
    ({"max_diameter_mm": 60.0, "has_lipid": True, "large_volume_enhancing_solid_tissue": True}, {}, 4),
    # dilated tube
    ({"max_diameter_mm": 50.0, "is_dilated_tube": True}, {}, 2),
    ({"max_diameter_mm": 50.0, "is_dilated_tube": True, "fluid": "haemorrhagic"}, {}, 3),
    ({"max_diameter_mm": 50.0, "is_dilated_tube": True, "wall": "thick_smooth"}, {}, 3),
    # para-ovarian cyst, any fluid, thin smooth wall +/- enhancement
    (
        {
            "max_diameter_mm": 50.0,
            "is_paraovarian_cyst": True,
            "wall_enhancement": True,
            "fluid": "proteinaceous",
        },
        {},
        2,
    ),
    # solid tissue
    ({"max_diameter_mm": 70.0, "solid_tissue": True, "all_solid_dark_T2_and_dark_DWI": True}, {}, 2),
    ({"max_diameter_mm": 70.0, "solid_tissue": True, "tic": "low"}, {}, 3),
    ({"max_diameter_mm": 70.0, "solid_tissue": True, "tic": "intermediate"}, {}, 4),
    ({"max_diameter_mm": 70.0, "solid_tissue": True, "tic": "high"}, {}, 5),
    ({"max_diameter_mm": 70.0, "solid_tissue": True, "tic": "low"}, {"hysterectomy": True}, 3),
    ({"max_diameter_mm": 70.0, "solid_tissue": True, "tic": "intermediate"}, {"hysterectomy": True}, "4|5"),
    ({"max_diameter_mm": 70.0, "solid_tissue": True, "tic": "high"}, {"hysterectomy": True}, "4|5"),
    ({"max_diameter_mm": 70.0, "solid_tissue": True, "enh_30_40s_le_outer_myometrium": True}, {}, 4),
    ({"max_diameter_mm": 70.0, "solid_tissue": True, "enh_30_40s_le_outer_myometrium": False}, {}, 5),
    ({"max_diameter_mm": 70.0, "is_dilated_tube": True, "solid_tissue": True, "tic": "high"}, {}, 5),
    # cystic, no solid tissue, no lipid
    ({"max_diameter_mm": 70.0, "locularity": "multilocular"}, {}, 3),
    ({"max_diameter_mm": 70.0, "locularity": "multilocular", "fluid": "endometriotic"}, {}, 3),
    ({"max_diameter_mm": 70.0, "fluid": "proteinaceous"}, {}, 2),
    ({"max_diameter_mm": 70.0, "fluid": "simple", "wall_enhancement": True}, {}, 2),
    ({"max_diameter_mm": 70.0, "fluid": "endometriotic", "wall_enhancement": True}, {}, 2),
    ({"max_diameter_mm": 70.0, "fluid": "proteinaceous", "wall_enhancement": True}, {}, 3),
    ({"max_diameter_mm": 70.0, "fluid": "haemorrhagic", "wall_enhancement": True}, {}, 3),
    ({"max_diameter_mm": 70.0, "fluid": "mucinous", "wall_enhancement": True}, {}, 3),
]


@pytest.mark.parametrize(("lesion", "context", "expected"), CASES)
def test_score(lesion: dict[str, Any] | None, context: dict[str, Any], expected: object) -> None:
    assert score(lesion, **context) == expected


def test_exactly_3cm_physiologic_is_score_1_and_flagged() -> None:
    lesion = AdnexalLesion(max_diameter_mm=30.0, physiologic_appearance="follicle")
    result = orads_mri(AdnexalFindings(lesion=lesion, premenopausal=True))
    assert result.score == 1
    assert any("U17" in flag for flag in result.flags)
    strict = orads_mri(AdnexalFindings(lesion=lesion, premenopausal=True), physiologic_3cm_inclusive=False)
    assert strict.score == 2  # a simple unilocular non-enhancing cyst
    assert any("U17" in flag for flag in strict.flags)
    assert not any(
        "U17" in flag
        for flag in orads_mri(
            AdnexalFindings(
                lesion=AdnexalLesion(max_diameter_mm=29.9, physiologic_appearance="follicle"),
                premenopausal=True,
            )
        ).flags
    )


def test_hysterectomy_4_or_5_is_flagged() -> None:
    lesion = AdnexalLesion(max_diameter_mm=50.0, solid_tissue=True, tic="high")
    result = orads_mri(AdnexalFindings(lesion=lesion, hysterectomy=True))
    assert result.score == "4|5"
    assert any("hysterectomy" in flag for flag in result.flags)
    assert result.model_dump(mode="json")["score"] == "4|5"


def test_score_0_flag() -> None:
    result = orads_mri(AdnexalFindings(technically_inadequate=True))
    assert result.score == 0 and result.flags


def test_solid_tissue_without_enhancement_information_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError):
        AdnexalLesion(max_diameter_mm=50.0, solid_tissue=True)
    with pytest.raises(FindingsError, match="enh_30_40s_le_outer_myometrium"):
        parse_findings(AdnexalFindings, {"lesion": {"max_diameter_mm": 50, "solid_tissue": True}})


def test_haemorrhagic_cyst_with_other_fluid_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError):
        AdnexalLesion(max_diameter_mm=20.0, physiologic_appearance="haemorrhagic_cyst", fluid="simple")


def test_raised_ca125_is_flagged_but_does_not_change_the_score() -> None:
    lesion = AdnexalLesion(max_diameter_mm=50.0)
    low = orads_mri(AdnexalFindings(lesion=lesion, ca125_u_ml=34.9))
    high = orads_mri(AdnexalFindings(lesion=lesion, ca125_u_ml=35.0))
    assert low.score == high.score == 2
    assert not low.flags and any("CA-125" in flag for flag in high.flags)


lesions = st.fixed_dictionaries(
    {
        "max_diameter_mm": st.floats(1, 150),
        "physiologic_appearance": st.sampled_from(["none", "follicle", "corpus_luteum"]),
        "has_lipid": st.booleans(),
        "is_dilated_tube": st.booleans(),
        "is_paraovarian_cyst": st.booleans(),
        "fluid": st.sampled_from(["simple", "haemorrhagic", "endometriotic", "proteinaceous", "mucinous"]),
        "locularity": st.sampled_from(["unilocular", "multilocular"]),
        "wall_enhancement": st.booleans(),
        "solid_tissue": st.booleans(),
        "tic": st.sampled_from(["low", "intermediate", "high"]),
    }
)


@settings(max_examples=200, deadline=None)
@given(lesion=lesions, premenopausal=st.booleans())
def test_peritoneal_disease_never_lowers_and_tic_is_monotone(
    lesion: dict[str, Any], premenopausal: bool
) -> None:
    without = score(lesion, premenopausal=premenopausal)
    with_pd = score(lesion, premenopausal=premenopausal, peritoneal_disease=True)
    assert isinstance(without, int) and isinstance(with_pd, int)
    assert with_pd >= without
    if with_pd != without:
        assert with_pd == 5
    ranks = [
        score({**lesion, "tic": tic}, premenopausal=premenopausal) for tic in ("low", "intermediate", "high")
    ]
    assert ranks == sorted(ranks)  # type: ignore[type-var]
