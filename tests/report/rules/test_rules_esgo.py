"""ESGO/ESTRO/ESP 2020 risk groups (SPEC §7.1): both tables, POLEmut first, monotonicity."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.report.rules import ESGO_RISK_ORDER, Esgo2020Input, esgo2020_risk_group


def group(**fields: Any) -> str | None:
    return esgo2020_risk_group(Esgo2020Input(**fields)).risk_group


def E(stage: str, grade: str = "G1", **kw: Any) -> dict[str, Any]:
    return {"figo2009_stage": stage, "histotype": "endometrioid", "grade": grade, **kw}


def NE(stage: str, histotype: str = "serous", **kw: Any) -> dict[str, Any]:
    return {"figo2009_stage": stage, "histotype": histotype, **kw}


KNOWN = [
    # low
    (E("IA", molecular="MMRd"), "low"),
    (E("IA", "G2", lvsi="focal", molecular="NSMP"), "low"),
    (NE("II", molecular="POLEmut"), "low"),
    (E("IB", "G3", lvsi="substantial", molecular="POLEmut"), "low"),
    (NE("IA", "carcinosarcoma", myometrial_invasion=True, molecular="POLEmut"), "low"),
    # intermediate
    (E("IB", molecular="MMRd"), "intermediate"),
    (E("IA", "G3", molecular="NSMP"), "intermediate"),
    (NE("IA", molecular="MMRd"), "intermediate"),  # non-endometrioid without MI
    (E("IA", molecular="p53abn"), "intermediate"),  # p53abn without MI
    (NE("IA", "clear_cell", lvsi="substantial", molecular="p53abn"), "intermediate"),
    # high-intermediate
    (E("IA", lvsi="substantial", molecular="MMRd"), "high_intermediate"),
    (E("IB", "G2", lvsi="substantial", molecular="NSMP"), "high_intermediate"),
    (E("IB", "G3", molecular="MMRd"), "high_intermediate"),
    (E("II", molecular="NSMP"), "high_intermediate"),
    # high
    (E("IIIA", molecular="NSMP"), "high"),
    (E("IIIC2", "G3", molecular="MMRd"), "high"),
    (E("IA", myometrial_invasion=True, molecular="p53abn"), "high"),
    (E("IB", molecular="p53abn"), "high"),
    (E("IVA", myometrial_invasion=True, molecular="p53abn"), "high"),
    (NE("IA", myometrial_invasion=True, molecular="MMRd"), "high"),
    (NE("IB", "clear_cell", molecular="NSMP"), "high"),
    (NE("IIIB", "mixed", molecular="NSMP"), "high"),
    # advanced
    (E("IIIC1", residual_disease=True, molecular="MMRd"), "advanced"),
    (NE("IIIA", residual_disease=True, myometrial_invasion=True, molecular="p53abn"), "advanced"),
    (E("IVA", residual_disease=True, molecular="POLEmut"), "advanced"),
    # metastatic
    (E("IVB", molecular="POLEmut"), "metastatic"),
    (NE("IVB", molecular="NSMP"), "metastatic"),
    # not covered by the tables
    (E("IIIA", molecular="POLEmut"), None),
    (E("II", molecular="p53abn"), None),
]

UNKNOWN = [
    (E("IA"), "low"),
    (E("IA", "G2", lvsi="focal"), "low"),
    (E("IB"), "intermediate"),
    (E("IA", "G3"), "intermediate"),
    (NE("IA"), "intermediate"),
    (E("IA", lvsi="substantial"), "high_intermediate"),
    (E("IB", "G3"), "high_intermediate"),
    (E("II", "G2"), "high_intermediate"),
    (E("IB", lvsi="substantial"), "high_intermediate"),
    (E("IIIA"), "high"),
    (NE("IA", myometrial_invasion=True), "high"),
    (NE("IB"), "high"),
    (NE("IVA", "mixed"), "high"),
    (E("IIIC1", residual_disease=True), "advanced"),
    (NE("IVA", residual_disease=True), "advanced"),
    (E("IVB"), "metastatic"),
]


@pytest.mark.parametrize(("fields", "expected"), KNOWN)
def test_molecular_known(fields: dict[str, Any], expected: str | None) -> None:
    result = esgo2020_risk_group(Esgo2020Input(**fields))
    assert result.risk_group == expected
    assert result.molecular_known
    if expected is None:
        assert any("no ESGO 2020 risk group" in flag for flag in result.flags)


@pytest.mark.parametrize(("fields", "expected"), UNKNOWN)
def test_molecular_unknown(fields: dict[str, Any], expected: str) -> None:
    result = esgo2020_risk_group(Esgo2020Input(**fields))
    assert result.risk_group == expected
    assert not result.molecular_known


def test_polemut_with_residual_disease_is_not_low() -> None:
    assert group(**NE("II", molecular="POLEmut", residual_disease=True)) != "low"


def test_multiple_classifier_polemut_p53abn_is_polemut() -> None:
    fields = NE("IB", molecular="p53abn", molecular_features=["POLEmut"])
    result = esgo2020_risk_group(Esgo2020Input(**fields))
    assert result.risk_group == "low"
    assert any("multiple molecular classifiers" in flag for flag in result.flags)
    # MMRd before p53abn (U7 default)
    assert group(**NE("IB", molecular_features=["p53abn", "MMRd"])) == "high"
    assert group(**E("IA", myometrial_invasion=True, molecular_features=["p53abn", "MMRd"])) == "low"


def test_missing_grade_is_flagged() -> None:
    result = esgo2020_risk_group(Esgo2020Input(figo2009_stage="IA", histotype="endometrioid"))
    assert result.risk_group is None
    assert any("grade" in flag for flag in result.flags)


def test_stage_ib_with_explicit_no_myometrial_invasion_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError):
        Esgo2020Input(figo2009_stage="IB", histotype="endometrioid", myometrial_invasion=False)


# ---------------------------------------------------------------- properties

STAGES = ["IA", "IB", "II", "IIIA", "IIIB", "IIIC1", "IIIC2", "IVA", "IVB"]
HISTOTYPES = ["endometrioid", "serous", "clear_cell", "mixed", "carcinosarcoma"]
RANK: dict[str, int] = {name: i for i, name in enumerate(ESGO_RISK_ORDER)}


@settings(max_examples=300, deadline=None)
@given(
    stage=st.sampled_from(["IA", "IB", "II"]),
    histotype=st.sampled_from(HISTOTYPES),
    grade=st.sampled_from(["G1", "G2", "G3", None]),
    lvsi=st.sampled_from(["none", "focal", "substantial"]),
    mi=st.sampled_from([None, True, False]),
    others=st.lists(st.sampled_from(["MMRd", "p53abn", "NSMP"]), max_size=3),
)
def test_polemut_is_tested_first(
    stage: str, histotype: str, grade: str | None, lvsi: str, mi: bool | None, others: list[str]
) -> None:
    if stage == "IB" and mi is False:
        mi = True
    fields = {
        "figo2009_stage": stage,
        "histotype": histotype,
        "grade": grade,
        "lvsi": lvsi,
        "myometrial_invasion": mi,
    }
    assert group(**fields, molecular="POLEmut") == "low"
    assert group(**fields, molecular_features=["POLEmut", *others]) == "low"


cases = st.fixed_dictionaries(
    {
        "stage": st.integers(0, len(STAGES) - 1),
        "histotype": st.sampled_from(HISTOTYPES),
        "grade": st.integers(1, 3),
        "lvsi": st.integers(0, 2),
        "mi": st.booleans(),
        "residual": st.booleans(),
        "molecular": st.sampled_from([None, "MMRd", "NSMP"]),
    }
)


def _fields(c: dict[str, Any]) -> dict[str, Any]:
    stage = STAGES[c["stage"]]
    return {
        "figo2009_stage": stage,
        "histotype": c["histotype"],
        "grade": f"G{c['grade']}",
        "lvsi": ["none", "focal", "substantial"][c["lvsi"]],
        "myometrial_invasion": True if stage == "IB" else c["mi"],
        # residual disease is only meaningful beyond the uterus (stages III-IVB)
        "residual_disease": c["residual"] and c["stage"] >= STAGES.index("IIIA"),
        "molecular": c["molecular"],
    }


@settings(max_examples=400, deadline=None)
@given(base=cases, key=st.sampled_from(["stage", "grade", "lvsi", "mi", "residual"]), data=st.data())
def test_more_advanced_disease_never_lowers_the_group(
    base: dict[str, Any], key: str, data: st.DataObject
) -> None:
    advanced = dict(base)
    if key in ("mi", "residual"):
        advanced[key] = True
    else:
        upper = {"stage": len(STAGES) - 1, "grade": 3, "lvsi": 2}[key]
        advanced[key] = data.draw(st.integers(base[key], upper))
    before, after = group(**_fields(base)), group(**_fields(advanced))
    assert before is not None and after is not None
    assert RANK[after] >= RANK[before]
