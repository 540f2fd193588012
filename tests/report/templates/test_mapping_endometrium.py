"""Mapping of template endometrium-figo2009 to FIGO 2009 / 2023 and ESGO 2020 (SPEC §2, §7.1)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.report.rules import evaluate
from maerad.report.templates import DERIVATIONS, Value
from maerad.report.templates.endometrium import MI_RATIO, esgo_input, figo2009_findings, figo2023_findings
from maerad.terminology.bundled import load_bundled

GRAPH = load_bundled()

ENDO_BASE: dict[str, Value] = {
    "tumour_size_mm": 30.0,
    "myometrial_invasion": "MR:F062",
    "cervical_stromal_invasion": False,
    "serosal_invasion": False,
    "adnexal_involvement": False,
    "vaginal_involvement": "MR:F030",
    "parametrial_invasion": "MR:F021",
    "bladder_mucosal_invasion": False,
    "bowel_mucosal_invasion": False,
    "pelvic_nodes": False,
    "paraaortic_nodes": False,
    "distant_metastasis": False,
}


def _derive(template: str, values: dict[str, Value], **options: Any) -> dict[str, Value]:
    return DERIVATIONS.get(template)(values, GRAPH, options).values


@settings(max_examples=60, deadline=None)
@given(category=st.sampled_from(sorted(MI_RATIO)), fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_endometrium_mi_representative_ratio_gives_the_stage_of_its_whole_category(
    category: str, fraction: float
) -> None:
    # any measured ratio inside the category's interval must give the same stages as the mapped one
    low, high = {"MR:F061": (0.0, 0.0), "MR:F062": (1e-6, 0.5), "MR:F063": (0.5, 1.0)}[category]
    ratio = low + (high - low) * fraction
    values = {
        **ENDO_BASE,
        "myometrial_invasion": category,
        "endometrioid_histology": True,
        "tumour_grade": 1,
        "lvsi": "MR:S031.none",
    }
    for system, mapping in (
        ("figo2009-endometrium", figo2009_findings),
        ("figo2023-endometrium", figo2023_findings),
    ):
        mapped = mapping(values)
        measured = {**mapped, "myometrial_invasion_ratio": ratio}
        assert evaluate(system, mapped).stage == evaluate(system, measured).stage  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "s2009", "s2023", "risk"),
    [
        # endometrioid G1, no LVSI, < 50 % MI: 2009 IA; 2023 IA2; ESGO (molecular unknown) low
        ({"myometrial_invasion": "MR:F062", "tumour_grade": 1}, "IA", "IA2", "low"),
        ({"myometrial_invasion": "MR:F061", "tumour_grade": 1}, "IA", "IA1", "low"),
        # >= 50 %: 2009 IB, 2023 IB, ESGO intermediate (IB G1-2 endometrioid)
        ({"myometrial_invasion": "MR:F063", "tumour_grade": 2}, "IB", "IB", "intermediate"),
        # substantial LVSI: 2023 IIB, ESGO high-intermediate (stage I endometrioid with substantial LVSI)
        ({"lvsi": "MR:S031.substantial"}, "IA", "IIB", "high-intermediate"),
        # G3 endometrioid is aggressive: any MI -> IIC; ESGO IA G3 -> intermediate
        ({"tumour_grade": 3}, "IA", "IIC", "intermediate"),
        # POLEmut down-stages to IAmPOLEmut; ESGO low
        ({"myometrial_invasion": "MR:F063", "molecular_class": "MR:S032.POLEmut"}, "IB", "IAmPOLEmut", "low"),
        ({"cervical_stromal_invasion": True}, "II", "IIA", "high-intermediate"),
        ({"pelvic_nodes": True}, "IIIC1", "IIIC1", "high"),
    ],
)
def test_endometrium_stages_and_risk(changes: dict[str, Value], s2009: str, s2023: str, risk: str) -> None:
    values = {
        **ENDO_BASE,
        "endometrioid_histology": True,
        "tumour_grade": 1,
        "lvsi": "MR:S031.none",
        **changes,
    }
    derived = _derive("endometrium-figo2009", values)
    assert derived["figo2009_stage"] == f"MR:S002.{s2009}"
    assert derived["figo2023_stage"] == f"MR:S003.{s2023}"
    assert derived["esgo2020_risk_group"] == f"MR:S040.{risk}"


def test_endometrium_without_pathology_derives_2009_only() -> None:
    derived = _derive("endometrium-figo2009", {**ENDO_BASE, "serosal_invasion": True})
    assert derived == {"figo2009_stage": "MR:S002.IIIA"}


def test_endometrium_non_endometrioid_is_aggressive_and_mmrd_is_recorded_not_staged() -> None:
    values = {**ENDO_BASE, "endometrioid_histology": False, "lvsi": "MR:S031.none"}
    f = figo2023_findings(values)
    assert f["histotype"] == "serous" and "grade" not in f
    derived = _derive("endometrium-figo2009", values)
    assert derived["histotype_class"] == "MR:S030.aggressive"
    assert derived["figo2023_stage"] == "MR:S003.IIC"  # aggressive with myometrial invasion
    assert derived["esgo2020_risk_group"] == "MR:S040.high"  # IA non-endometrioid with MI
    mmrd = _derive(
        "endometrium-figo2009",
        {
            **ENDO_BASE,
            "endometrioid_histology": True,
            "tumour_grade": 2,
            "lvsi": "MR:S031.focal",
            "molecular_class": "MR:S032.MMRd",
        },
    )
    assert mmrd["figo2023_stage"] == "MR:S003.IA2"  # the engine's IA2mMMRd, modifier kept by molecular_class
    assert esgo_input({**ENDO_BASE, "endometrioid_histology": True, "tumour_grade": 2}, "IA")["grade"] == "G2"


def test_endometrium_equivocal_parametrium_is_not_used() -> None:
    outcome = DERIVATIONS.get("endometrium-figo2009")({**ENDO_BASE, "parametrial_invasion": "MR:F022"}, GRAPH)
    assert outcome.values["figo2009_stage"] == "MR:S002.IA"
    assert any("equivocal" in n.message for n in outcome.notes)
    present = _derive("endometrium-figo2009", {**ENDO_BASE, "parametrial_invasion": "MR:F020"})
    assert present["figo2009_stage"] == "MR:S002.IIIB"
