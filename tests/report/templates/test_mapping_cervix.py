"""Mapping of template cervix-figo2018 to the FIGO 2018 engine (expected stages from SPEC §1.3)."""

from __future__ import annotations

from typing import Any

import pytest

from maerad.report.templates import DERIVATIONS, Value
from maerad.report.templates.cervix import cervix_findings
from maerad.terminology.bundled import load_bundled

GRAPH = load_bundled()

CERVIX_BASE: dict[str, Value] = {
    "tumour_visible": True,
    "max_diameter_mm": 25.0,
    "stromal_ring": "MR:F010",
    "parametrium_left": "MR:F021",
    "parametrium_right": "MR:F021",
    "vaginal_involvement": "MR:F030",
    "pelvic_sidewall": False,
    "hydronephrosis_left": False,
    "hydronephrosis_right": False,
    "bladder_mucosal_invasion": False,
    "rectal_mucosal_invasion": False,
    "pelvic_nodes": False,
    "paraaortic_nodes": False,
    "distant_metastasis": False,
}


def _derive(template: str, values: dict[str, Value], **options: Any) -> dict[str, Value]:
    return DERIVATIONS.get(template)(values, GRAPH, options).values


@pytest.mark.parametrize(
    ("left", "right", "invasion", "side"),
    [
        ("MR:F021", "MR:F021", "absent", None),
        ("MR:F020", "MR:F021", "present", "left"),
        ("MR:F022", "MR:F020", "present", "right"),
        ("MR:F020", "MR:F020", "present", "bilateral"),
        ("MR:F022", "MR:F021", "equivocal", "left"),
        ("MR:F022", "MR:F022", "equivocal", "bilateral"),
    ],
)
def test_cervix_parametrium_sides(left: str, right: str, invasion: str, side: str | None) -> None:
    f = cervix_findings({**CERVIX_BASE, "parametrium_left": left, "parametrium_right": right})
    assert f["parametrial_invasion"] == invasion
    assert f.get("parametrial_side") == side


def test_cervix_mapping_details() -> None:
    f = cervix_findings(
        {
            **CERVIX_BASE,
            "hydronephrosis_right": True,
            "bladder_mucosal_invasion": True,
            "rectal_mucosal_invasion": True,
            "rectal_biopsy_proven": True,
            "stromal_ring": "MR:F011",
            "size_cc_mm": 20,
            "size_ap_mm": 30,
            "pelvic_nodes": True,
            "pelvic_node_stations": ["MR:N004", "MR:N007"],
        }
    )
    assert f["hydronephrosis"] == "right"
    assert (f["bladder_mucosa"], f["rectal_mucosa"]) == ("suspected", "biopsy_proven")
    assert f["stromal_ring"] == "thinned"
    assert "dims_mm" not in f, "dims only when all three diameters are given"
    assert f["nodes_pelvic_stations"] == ["internal_iliac", "presacral"]
    both = cervix_findings(
        {
            **CERVIX_BASE,
            "hydronephrosis_left": True,
            "hydronephrosis_right": True,
            "size_cc_mm": 20,
            "size_ap_mm": 30,
            "size_lr_mm": 25,
        }
    )
    assert both["hydronephrosis"] == "bilateral" and both["dims_mm"] == [20.0, 30.0, 25.0]
    hidden = {k: v for k, v in CERVIX_BASE.items() if k not in ("max_diameter_mm", "stromal_ring")}
    f_hidden = cervix_findings({**hidden, "tumour_visible": False})
    assert f_hidden["tumour_visible"] is False and f_hidden["max_diameter_mm"] == 0.0
    assert "stromal_ring" not in f_hidden, "the engine's default (intact) applies"


@pytest.mark.parametrize(
    ("changes", "stage"),
    [
        ({}, "MR:S001.IB2"),  # 20 <= 25 < 40 mm (corrigendum)
        ({"max_diameter_mm": 19.9}, "MR:S001.IB1"),
        ({"max_diameter_mm": 40.0}, "MR:S001.IB3"),  # >= 40 mm
        ({"vaginal_involvement": "MR:F031"}, "MR:S001.IIA1"),
        ({"parametrium_right": "MR:F020"}, "MR:S001.IIB"),
        ({"parametrium_right": "MR:F022"}, "MR:S001.IB2"),  # equivocal does not up-stage (SPEC §0)
        ({"vaginal_involvement": "MR:F032"}, "MR:S001.IIIA"),
        ({"hydronephrosis_left": True}, "MR:S001.IIIB"),
        ({"hydronephrosis_left": True, "hydronephrosis_other_cause": True}, "MR:S001.IB2"),
        ({"pelvic_nodes": True}, "MR:S001.IIIC1"),
        ({"paraaortic_nodes": True}, "MR:S001.IIIC2"),
        ({"bladder_mucosal_invasion": True}, "MR:S001.IB2"),  # suspected only: not IVA
        ({"bladder_mucosal_invasion": True, "bladder_biopsy_proven": True}, "MR:S001.IVA"),
        ({"distant_metastasis": True}, "MR:S001.IVB"),
        ({"tumour_visible": False, "max_diameter_mm": 0.0}, "MR:S001.I"),
        ({"tumour_visible": False, "max_diameter_mm": 0.0, "path_invasion_depth_mm": 3.0}, "MR:S001.IA2"),
    ],
)
def test_cervix_stage(changes: dict[str, Value], stage: str) -> None:
    assert _derive("cervix-figo2018", {**CERVIX_BASE, **changes})["figo2018_stage"] == stage


def test_cervix_options_reach_the_engine() -> None:
    values = {**CERVIX_BASE, "max_diameter_mm": 40.0}
    assert _derive("cervix-figo2018", values)["figo2018_stage"] == "MR:S001.IB3"
    original = _derive("cervix-figo2018", values, **{"figo2018-cervix": {"boundaries": "original_2018"}})
    assert original["figo2018_stage"] == "MR:S001.IB2"  # IB3 needs > 40 mm in the 2018 tables
