"""Mapping of template adnexa-orads-mri to O-RADS MRI and RMI (SPEC §3.2, §3.3)."""

from __future__ import annotations

from typing import Any

import pytest

from maerad.report.templates import DERIVATIONS, Value
from maerad.report.templates.adnexa import adnexal_findings, rmi_input
from maerad.terminology.bundled import load_bundled

GRAPH = load_bundled()


def _derive(template: str, values: dict[str, Value], **options: Any) -> dict[str, Value]:
    return DERIVATIONS.get(template)(values, GRAPH, options).values


ADNEXA_BASE: dict[str, Value] = {
    "menopausal_status": "MR:S020.premenopausal",
    "adnexal_lesion": True,
    "lesion_max_diameter_mm": 45.0,
    "lesion_type": "MR:O010",
    "locularity": "MR:O020",
    "fluid_type": "MR:O040",
    "peritoneal_disease": False,
}


@pytest.mark.parametrize(
    ("changes", "score"),
    [
        ({}, "2"),  # unilocular simple cyst, no enhancing wall
        ({"locularity": "MR:O021"}, "3"),  # multilocular without solid tissue
        ({"fluid_type": "MR:O043", "wall_enhancement": True}, "3"),  # proteinaceous + enhancing wall
        ({"physiologic_appearance": "MR:O001", "lesion_max_diameter_mm": 25.0}, "1"),
        (
            {
                "physiologic_appearance": "MR:O001",
                "lesion_max_diameter_mm": 25.0,
                "menopausal_status": "MR:S020.postmenopausal",
            },
            "2",
        ),  # not physiologic after menopause
        ({"fluid_type": "MR:O044"}, "2"),  # lipid without large enhancing tissue
        (
            {
                "lesion_type": "MR:O012",
                "solid_tissue_features": ["MR:O036"],
                "enhancement_le_outer_myometrium": False,
            },
            "2",
        ),  # dark T2 / dark DWI only
        ({"lesion_type": "MR:O012", "solid_tissue_features": ["MR:O035"], "tic": "MR:O050"}, "3"),
        ({"lesion_type": "MR:O011", "solid_tissue_features": ["MR:O031"], "tic": "MR:O052"}, "5"),
        (
            {
                "lesion_type": "MR:O011",
                "solid_tissue_features": ["MR:O031"],
                "enhancement_le_outer_myometrium": True,
            },
            "4",
        ),  # non-DCE fallback
        ({"peritoneal_disease": True}, "5"),
        ({"adnexal_lesion": False}, "1"),
    ],
)
def test_orads_score(changes: dict[str, Value], score: str) -> None:
    values = {**ADNEXA_BASE, **changes}
    if values.get("adnexal_lesion") is False:
        values = {
            k: v
            for k, v in values.items()
            if k in ("menopausal_status", "adnexal_lesion", "peritoneal_disease")
        }
    assert _derive("adnexa-orads-mri", values)["orads_score"] == f"MR:S010.{score}"


def test_orads_four_or_five_after_hysterectomy_is_left_empty_with_a_note() -> None:
    values = {
        **ADNEXA_BASE,
        "hysterectomy": True,
        "lesion_type": "MR:O012",
        "solid_tissue_features": ["MR:O035"],
        "tic": "MR:O051",
    }
    outcome = DERIVATIONS.get("adnexa-orads-mri")(values, GRAPH)
    assert "orads_score" not in outcome.values
    assert any("score 4 or 5" in n.message for n in outcome.notes)


def test_rmi_mapping_and_value() -> None:
    values = {
        **ADNEXA_BASE,
        "menopausal_status": "MR:S020.postmenopausal",
        "locularity": "MR:O021",
        "lesion_type": "MR:O011",
        "solid_tissue_features": ["MR:O031"],
        "tic": "MR:O051",
        "ascites": True,
        "ca125_u_ml": 100.0,
    }
    f = rmi_input(values)
    assert f is not None
    assert (f["multilocular_cyst"], f["solid_areas"], f["ascites"], f["metastases"]) == (
        True,
        True,
        True,
        False,
    )
    derived = _derive("adnexa-orads-mri", values)
    # RMI I: 3 features -> U = 3; postmenopausal M = 3; 3 * 3 * 100 = 900 >= 200
    assert derived["rmi"] == 900.0 and derived["rmi_at_or_above_cutoff"] is True
    assert derived["ca125_raised"] is True
    nice = _derive("adnexa-orads-mri", values, rmi={"cutoff": 1000.0})
    assert nice["rmi_at_or_above_cutoff"] is False
    assert rmi_input({**ADNEXA_BASE}) is None
    assert "lesion" not in adnexal_findings({**ADNEXA_BASE, "adnexal_lesion": False})
