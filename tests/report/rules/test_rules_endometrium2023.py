"""FIGO 2023 endometrium (SPEC §2.2): stages, molecular modifiers, missing pathology, U6/U7 options."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.errors import ConfigError
from maerad.report.rules import ENDOMETRIUM_2023_STAGE_ORDER, Figo2023Findings, figo2023_endometrium

LOW = {"histotype": "endometrioid", "grade": "G1", "lvsi": "none"}  # non-aggressive
SEROUS = {"histotype": "serous", "lvsi": "none"}  # aggressive


def run(findings: dict[str, Any], **options: Any) -> tuple[str, tuple[str, ...]]:
    result = figo2023_endometrium(Figo2023Findings(**findings), **options)
    return result.stage, result.flags


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        ({**LOW}, "IA1"),
        ({**LOW, "myometrial_invasion_ratio": 0.3}, "IA2"),
        ({**LOW, "myometrial_invasion_ratio": 0.4999}, "IA2"),
        ({**LOW, "myometrial_invasion_ratio": 0.5}, "IB"),
        ({**LOW, "myometrial_invasion_ratio": 0.3, "lvsi": "focal"}, "IA2"),
        ({**LOW, "myometrial_invasion_ratio": 0.3, "ovary": True, "ovarian_ia3_criteria": True}, "IA3"),
        ({**LOW, "ovary": True, "ovarian_ia3_criteria": True}, "IA3"),
        ({**LOW, "myometrial_invasion_ratio": 0.6, "ovary": True, "ovarian_ia3_criteria": True}, "IIIA1"),
        ({**LOW, "myometrial_invasion_ratio": 0.3, "ovary": True, "ovarian_ia3_criteria": False}, "IIIA1"),
        (
            {
                **LOW,
                "myometrial_invasion_ratio": 0.3,
                "ovary": True,
                "ovarian_ia3_criteria": True,
                "lvsi": "substantial",
            },
            "IIIA1",
        ),
        ({**LOW, "ovary": True, "tube": True, "ovarian_ia3_criteria": True}, "IIIA1"),
        ({**LOW, "tube": True}, "IIIA1"),
        ({**LOW, "histotype": "endometrioid", "grade": "G2", "myometrial_invasion_ratio": 0.7}, "IB"),
        ({**SEROUS}, "IC"),
        ({**SEROUS, "myometrial_invasion_ratio": 0.05}, "IIC"),
        ({**LOW, "grade": "G3", "myometrial_invasion_ratio": 0.2}, "IIC"),  # G3 endometrioid is aggressive
        ({**LOW, "grade": "G3"}, "IC"),
        ({"histology_aggressive": True, "lvsi": "none", "myometrial_invasion_ratio": 0.4}, "IIC"),
        ({"histology_aggressive": False, "lvsi": "none", "myometrial_invasion_ratio": 0.4}, "IA2"),
        ({**LOW, "cervical_stromal_invasion": True}, "IIA"),
        ({**LOW, "lvsi": "substantial", "myometrial_invasion_ratio": 0.1}, "IIB"),
        ({**LOW, "subserosa_or_serosa": True}, "IIIA2"),
        ({**LOW, "vagina": True}, "IIIB1"),
        ({**LOW, "parametrium": True}, "IIIB1"),
        ({**LOW, "pelvic_peritoneal_mets": True}, "IIIB2"),
        ({**LOW, "nodes_pelvic": True, "nodal_metastasis_size": "micro"}, "IIIC1i"),
        ({**LOW, "nodes_pelvic": True, "nodal_metastasis_size": "macro"}, "IIIC1ii"),
        ({**LOW, "nodes_paraaortic": True, "nodal_metastasis_size": "micro"}, "IIIC2i"),
        (
            {**LOW, "nodes_paraaortic": True, "nodes_pelvic": True, "nodal_metastasis_size": "macro"},
            "IIIC2ii",
        ),
        ({**LOW, "nodes_pelvic": True, "nodal_metastasis_size": "isolated_tumour_cells"}, "IA1"),
        ({**LOW, "bladder_mucosa": True}, "IVA"),
        ({**LOW, "bowel_mucosa": True, "nodes_pelvic": True}, "IVA"),
        ({**LOW, "abdominal_peritoneal_mets": True, "bladder_mucosa": True}, "IVB"),
        ({**LOW, "nodes_above_renal_vessels": True}, "IVC"),
        ({**LOW, "distant_mets": True, "abdominal_peritoneal_mets": True}, "IVC"),
        ({**LOW, "inguinal_nodes": True}, "IVC"),
    ],
)
def test_every_stage_with_pathology(findings: dict[str, Any], expected: str) -> None:
    # molecular class not given here: no modifier
    assert run(findings)[0] == expected


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        ({**SEROUS, "myometrial_invasion_ratio": 0.7, "molecular": "POLEmut"}, "IAmPOLEmut"),
        ({**LOW, "cervical_stromal_invasion": True, "molecular": "POLEmut"}, "IAmPOLEmut"),
        ({**LOW, "myometrial_invasion_ratio": 0.2, "molecular": "p53abn"}, "IICmp53abn"),
        ({**LOW, "molecular": "p53abn"}, "IA1"),  # no myometrial invasion: unchanged
        ({**LOW, "myometrial_invasion_ratio": 0.6, "molecular": "MMRd"}, "IBmMMRd"),
        ({**LOW, "myometrial_invasion_ratio": 0.2, "molecular": "NSMP"}, "IA2mNSMP"),
        ({**SEROUS, "myometrial_invasion_ratio": 0.2, "molecular": "NSMP"}, "IICmNSMP"),
        ({**LOW, "vagina": True, "molecular": "POLEmut"}, "IIIB1"),  # stage III unchanged
        ({**LOW, "nodes_pelvic": True, "nodal_metastasis_size": "macro", "molecular": "p53abn"}, "IIIC1ii"),
        ({"myometrial_invasion_ratio": 0.2, "molecular": "POLEmut"}, "IAmPOLEmut"),  # histology not needed
        ({"myometrial_invasion_ratio": 0.2, "molecular": "p53abn"}, "IICmp53abn"),
    ],
)
def test_molecular_modifiers(findings: dict[str, Any], expected: str) -> None:
    assert run(findings)[0] == expected


def test_multiple_classifier_uses_precedence() -> None:
    f = {**LOW, "myometrial_invasion_ratio": 0.2, "molecular": "p53abn", "molecular_features": ["POLEmut"]}
    stage, flags = run(f)
    assert stage == "IAmPOLEmut"
    assert any("multiple molecular classifiers" in flag for flag in flags)
    custom = ("p53abn", "POLEmut", "MMRd", "NSMP")
    assert run(f, molecular_precedence=custom)[0] == "IICmp53abn"
    g = {**LOW, "myometrial_invasion_ratio": 0.2, "molecular_features": ["p53abn", "MMRd"]}
    assert run(g)[0] == "IA2mMMRd"  # MMRd before p53abn (U7 default)
    with pytest.raises(ConfigError):
        run(f, molecular_precedence=("POLEmut", "MMRd"))


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        ({"myometrial_invasion_ratio": 0.3}, "I"),
        ({"cervical_stromal_invasion": True}, "II"),
        ({"histotype": "endometrioid", "myometrial_invasion_ratio": 0.3, "lvsi": "none"}, "I"),  # no grade
        ({"histotype": "endometrioid", "grade": "G1", "myometrial_invasion_ratio": 0.3}, "I"),  # no LVSI
        ({"nodes_pelvic": True}, "IIIC1"),
        ({"nodes_paraaortic": True}, "IIIC2"),
        ({"ovary": True}, "IIIA1"),
    ],
)
def test_missing_pathology_returns_anatomical_group_and_flag(findings: dict[str, Any], expected: str) -> None:
    stage, flags = run(findings)
    assert stage == expected
    assert any(flag.startswith("pathology required") for flag in flags)


def test_missing_lvsi_does_not_matter_when_cervical_stroma_invaded() -> None:
    stage, flags = run({"histotype": "endometrioid", "grade": "G2", "cervical_stromal_invasion": True})
    assert stage == "IIA"
    assert not any(flag.startswith("pathology required") for flag in flags)


def test_u6_precedence_options_and_flags() -> None:
    a = {**LOW, "subserosa_or_serosa": True, "tube": True}
    stage, flags = run(a)
    assert stage == "IIIA2"
    assert any("criteria met" in flag and "IIIA2" in flag and "IIIA1" in flag for flag in flags)
    assert run(a, prefer_a2_b2=False)[0] == "IIIA1"
    b = {**LOW, "vagina": True, "pelvic_peritoneal_mets": True}
    assert run(b)[0] == "IIIB2"
    assert run(b, prefer_a2_b2=False)[0] == "IIIB1"
    c = {**LOW, "cervical_stromal_invasion": True, "lvsi": "substantial"}
    assert run(c)[0] == "IIA"
    assert run(c, prefer_iia_over_iib=False)[0] == "IIB"
    d = {**SEROUS, "cervical_stromal_invasion": True}
    stage, flags = run(d)
    assert stage == "IIC" and any("U6b" in flag for flag in flags)
    assert run(d, aggressive_csi_without_mi="IC")[0] == "IC"


def test_inconsistent_histology_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError):
        Figo2023Findings(histotype="endometrioid", grade="G3", histology_aggressive=False)
    assert Figo2023Findings(histotype="endometrioid", grade="G3", histology_aggressive=True).aggressive


def test_no_nci_code_for_2023() -> None:
    assert figo2023_endometrium(Figo2023Findings(**LOW)).nci_code is None  # U16


# ---------------------------------------------------------------- monotonicity

RANK = {name: i for i, name in enumerate(ENDOMETRIUM_2023_STAGE_ORDER)}
ANATOMY = [
    "cervical_stromal_invasion",
    "subserosa_or_serosa",
    "ovary",
    "tube",
    "vagina",
    "parametrium",
    "pelvic_peritoneal_mets",
    "nodes_pelvic",
    "nodes_paraaortic",
    "bladder_mucosa",
    "bowel_mucosa",
    "abdominal_peritoneal_mets",
    "nodes_above_renal_vessels",
    "inguinal_nodes",
    "distant_mets",
]
full_pathology = st.fixed_dictionaries(
    {key: st.booleans() for key in ANATOMY}
    | {
        "myometrial_invasion_ratio": st.floats(0, 1),
        "histotype": st.sampled_from(["endometrioid", "serous", "clear_cell", "carcinosarcoma"]),
        "grade": st.sampled_from(["G1", "G2", "G3"]),
        "lvsi": st.sampled_from(["none", "focal", "substantial"]),
        "nodal_metastasis_size": st.sampled_from(["isolated_tumour_cells", "micro", "macro"]),
        "ovarian_ia3_criteria": st.booleans(),
    }
)


@settings(max_examples=400, deadline=None)
@given(base=full_pathology, data=st.data())
def test_adding_an_anatomical_finding_never_lowers_the_stage(
    base: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from([*ANATOMY, "myometrial_invasion_ratio"]))
    advanced = dict(base)
    if key == "myometrial_invasion_ratio":
        advanced[key] = data.draw(st.floats(base[key], 1))
    else:
        advanced[key] = True
    assert RANK[run(advanced)[0]] >= RANK[run(base)[0]]


@settings(max_examples=200, deadline=None)
@given(base=full_pathology)
def test_polemut_always_downstages_stage_i_ii(base: dict[str, Any]) -> None:
    plain = run(base)[0]
    with_pole = run({**base, "molecular": "POLEmut"})[0]
    if plain.startswith(("IA", "IB", "IC", "IIA", "IIB", "IIC")):
        assert with_pole == "IAmPOLEmut"
    else:
        assert with_pole == plain
