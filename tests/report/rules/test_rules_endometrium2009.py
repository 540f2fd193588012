"""FIGO 2009 endometrium (SPEC §2.1): each stage, the exact-50 % boundary and monotonicity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.report.rules import ENDOMETRIUM_2009_STAGE_ORDER, EndometriumFindings, figo2009_endometrium


def stage(**findings: Any) -> str:
    return figo2009_endometrium(EndometriumFindings(**findings)).stage


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        ({}, "IA"),
        ({"myometrial_invasion_ratio": 0.3}, "IA"),
        ({"myometrial_invasion_ratio": 0.4999}, "IA"),
        ({"myometrial_invasion_ratio": 0.5}, "IB"),  # "half or more" [E1]
        ({"myometrial_invasion_ratio": 0.8}, "IB"),
        ({"myometrial_invasion_ratio": 1.0}, "IB"),
        ({"cervical_stromal_invasion": True}, "II"),
        ({"cervical_glandular_involvement": True, "myometrial_invasion_ratio": 0.2}, "IA"),
        ({"serosa": True}, "IIIA"),
        ({"adnexa": True, "cervical_stromal_invasion": True}, "IIIA"),
        ({"vagina": True}, "IIIB"),
        ({"parametrium": True, "serosa": True}, "IIIB"),
        ({"nodes_pelvic": True}, "IIIC1"),
        ({"nodes_pelvic": True, "vagina": True, "myometrial_invasion_ratio": 0.9}, "IIIC1"),
        ({"nodes_paraaortic": True}, "IIIC2"),
        ({"nodes_paraaortic": True, "nodes_pelvic": True}, "IIIC2"),
        ({"bladder_mucosa": True}, "IVA"),
        ({"bowel_mucosa": True, "nodes_paraaortic": True}, "IVA"),
        ({"distant_mets": True}, "IVB"),
        ({"inguinal_nodes": True}, "IVB"),
        ({"intraabdominal_mets": True, "bladder_mucosa": True}, "IVB"),
    ],
)
def test_every_stage(findings: dict[str, Any], expected: str) -> None:
    result = figo2009_endometrium(EndometriumFindings(**findings))
    assert result.stage == expected
    assert result.suffix is None
    assert result.system == "figo2009-endometrium"


def test_glandular_involvement_and_cytology_are_flagged_not_staged() -> None:
    result = figo2009_endometrium(
        EndometriumFindings(cervical_glandular_involvement=True, peritoneal_cytology_positive=True)
    )
    assert result.stage == "IA"
    assert len(result.flags) == 2


def test_nci_code() -> None:
    assert figo2009_endometrium(EndometriumFindings(myometrial_invasion_ratio=0.5)).nci_code == "C96248"


RANK = {name: i for i, name in enumerate(ENDOMETRIUM_2009_STAGE_ORDER)}
BOOLS = [
    "cervical_stromal_invasion",
    "serosa",
    "adnexa",
    "vagina",
    "parametrium",
    "nodes_pelvic",
    "nodes_paraaortic",
    "bladder_mucosa",
    "bowel_mucosa",
    "distant_mets",
    "inguinal_nodes",
    "intraabdominal_mets",
]
base_strategy = st.fixed_dictionaries(
    {key: st.booleans() for key in BOOLS} | {"myometrial_invasion_ratio": st.floats(0, 1)}
)


@settings(max_examples=300, deadline=None)
@given(base=base_strategy, data=st.data())
def test_adding_a_finding_never_lowers_the_stage(base: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from([*BOOLS, "myometrial_invasion_ratio"]))
    advanced = dict(base)
    if key == "myometrial_invasion_ratio":
        advanced[key] = data.draw(st.floats(base[key], 1))
    else:
        advanced[key] = True
    assert RANK[stage(**advanced)] >= RANK[stage(**base)]
