"""FIGO 2018 cervix (SPEC §1.1–1.3): every stage, both boundary conventions, flags and monotonicity.

Expected values come from the SPEC tables: corrigendum IB1 < 20 mm, IB2 20–<40, IB3 ≥ 40,
IIA1 < 40, IIA2 ≥ 40, IA1 < 3 mm, IA2 3–<5 mm; original 2018 IB1 ≤ 20, IB3 > 40, IIA2 > 40,
IA1 ≤ 3 mm, IA2 > 3–≤ 5 mm (§1.1.1).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.errors import ConfigError
from maerad.report.rules import CERVIX_STAGE_ORDER, CervixFindings, figo2018_cervix

V = {"tumour_visible": True}


def stage(findings: dict[str, Any], **options: Any) -> str:
    return figo2018_cervix(CervixFindings(**findings), **options).stage


# (findings, corrigendum_2019 stage, original_2018 stage)
SIZE_CASES = [
    ({**V, "max_diameter_mm": 5.0}, "IB1", "IB1"),
    ({**V, "max_diameter_mm": 19.9}, "IB1", "IB1"),
    ({**V, "max_diameter_mm": 20.0}, "IB2", "IB1"),
    ({**V, "max_diameter_mm": 20.1}, "IB2", "IB2"),
    ({**V, "max_diameter_mm": 39.9}, "IB2", "IB2"),
    ({**V, "max_diameter_mm": 40.0}, "IB3", "IB2"),
    ({**V, "max_diameter_mm": 40.1}, "IB3", "IB3"),
    ({**V, "max_diameter_mm": 39.9, "vaginal_involvement": "upper_two_thirds"}, "IIA1", "IIA1"),
    ({**V, "max_diameter_mm": 40.0, "vaginal_involvement": "upper_two_thirds"}, "IIA2", "IIA1"),
    ({**V, "max_diameter_mm": 40.1, "vaginal_involvement": "upper_two_thirds"}, "IIA2", "IIA2"),
    ({"path_depth_mm": 2.9}, "IA1", "IA1"),
    ({"path_depth_mm": 3.0}, "IA2", "IA1"),
    ({"path_depth_mm": 4.9}, "IA2", "IA2"),
    ({"path_depth_mm": 5.0, **V, "max_diameter_mm": 10.0}, "IB1", "IA2"),
]


@pytest.mark.parametrize(("findings", "corrigendum", "original"), SIZE_CASES)
def test_size_and_depth_boundaries_under_both_conventions(
    findings: dict[str, Any], corrigendum: str, original: str
) -> None:
    assert stage(findings) == corrigendum  # default is the corrigendum
    assert stage(findings, boundaries="corrigendum_2019") == corrigendum
    assert stage(findings, boundaries="original_2018") == original


STAGE_CASES: list[tuple[dict[str, Any], str, str | None]] = [
    ({}, "I", None),
    ({"path_stage_IA": "IA1"}, "IA1", None),
    ({"path_stage_IA": "IA2"}, "IA2", None),
    ({**V, "max_diameter_mm": 12.0}, "IB1", None),
    (
        {
            **V,
            "max_diameter_mm": 30.0,
            "parametrial_invasion": "present",
            "stromal_ring": "full_thickness_disruption",
        },
        "IIB",
        None,
    ),
    (
        {
            **V,
            "max_diameter_mm": 30.0,
            "parametrial_invasion": "present",
            "vaginal_involvement": "upper_two_thirds",
        },
        "IIB",
        None,
    ),
    ({**V, "vaginal_involvement": "lower_third"}, "IIIA", None),
    ({**V, "vaginal_involvement": "lower_third", "parametrial_invasion": "present"}, "IIIA", None),
    ({**V, "pelvic_sidewall": True}, "IIIB", None),
    ({**V, "hydronephrosis": "left"}, "IIIB", None),
    ({**V, "hydronephrosis": "bilateral", "vaginal_involvement": "lower_third"}, "IIIB", None),
    ({**V, "nodes_pelvic_positive": True}, "IIIC1", "r"),
    ({**V, "nodes_pelvic_positive": True, "nodes_from_pathology": True}, "IIIC1", "p"),
    (
        {**V, "nodes_pelvic_positive": True, "pelvic_sidewall": True, "vaginal_involvement": "lower_third"},
        "IIIC1",
        "r",
    ),
    ({**V, "nodes_paraaortic_positive": True}, "IIIC2", "r"),
    (
        {**V, "nodes_paraaortic_positive": True, "nodes_pelvic_positive": True, "nodes_from_pathology": True},
        "IIIC2",
        "p",
    ),
    ({"nodes_pelvic_positive": True}, "IIIC1", "r"),  # irrespective of tumour size and extent
    ({**V, "bladder_mucosa": "biopsy_proven"}, "IVA", None),
    ({**V, "rectal_mucosa": "biopsy_proven", "nodes_paraaortic_positive": True}, "IVA", None),
    ({**V, "distant_mets": True}, "IVB", None),
    (
        {**V, "distant_mets": True, "bladder_mucosa": "biopsy_proven", "nodes_pelvic_positive": True},
        "IVB",
        None,
    ),
    ({**V, "inguinal_nodes_positive": True}, "IVB", None),
]


@pytest.mark.parametrize(("findings", "expected", "suffix"), STAGE_CASES)
def test_every_stage(findings: dict[str, Any], expected: str, suffix: str | None) -> None:
    result = figo2018_cervix(CervixFindings(**findings))
    assert result.stage == expected
    assert result.suffix == suffix
    assert result.label == expected + (suffix or "")
    assert result.system == "figo2018-cervix"


def test_nci_codes_follow_the_spec_table() -> None:
    assert figo2018_cervix(CervixFindings(**V, max_diameter_mm=45.0)).nci_code == "C162222"
    assert figo2018_cervix(CervixFindings(distant_mets=True)).nci_code == "C96263"


def test_suspected_mucosa_is_not_iva_unless_option() -> None:
    f = CervixFindings(**V, max_diameter_mm=30.0, bladder_mucosa="suspected")
    result = figo2018_cervix(f)
    assert result.stage == "IB2"
    assert any("requires biopsy" in flag for flag in result.flags)
    assert figo2018_cervix(f, stage_iva_on_mri_suspicion=True).stage == "IVA"
    g = CervixFindings(**V, rectal_mucosa="suspected", nodes_pelvic_positive=True)
    assert figo2018_cervix(g).stage == "IIIC1"
    assert figo2018_cervix(g, stage_iva_on_mri_suspicion=True).stage == "IVA"


def test_bullous_oedema_alone_never_stages_iva() -> None:
    result = figo2018_cervix(CervixFindings(**V, max_diameter_mm=25.0, bullous_oedema=True))
    assert result.stage == "IB2"
    assert any("bullous oedema" in flag for flag in result.flags)


def test_equivocal_parametrium_does_not_upstage() -> None:
    result = figo2018_cervix(CervixFindings(**V, max_diameter_mm=25.0, parametrial_invasion="equivocal"))
    assert result.stage == "IB2"
    assert "parametrium equivocal: not up-staged" in result.flags


def test_hydronephrosis_with_other_cause_is_not_iiib() -> None:
    result = figo2018_cervix(
        CervixFindings(**V, max_diameter_mm=10.0, hydronephrosis="right", other_cause_known=True)
    )
    assert result.stage == "IB1"
    assert any("another cause" in flag for flag in result.flags)
    assert (
        stage({**V, "hydronephrosis": "right", "other_cause_known": True, "pelvic_sidewall": True}) == "IIIB"
    )


def test_inguinal_nodes_option() -> None:
    f = CervixFindings(**V, max_diameter_mm=10.0, inguinal_nodes_positive=True)
    assert figo2018_cervix(f).stage == "IVB"
    result = figo2018_cervix(f, inguinal_nodes_stage="not_staged")
    assert result.stage == "IB1"
    assert any("inguinal" in flag for flag in result.flags)


def test_invisible_tumour_flags_and_stays_i() -> None:
    result = figo2018_cervix(CervixFindings())
    assert result.stage == "I"
    assert any("no visible tumour" in flag for flag in result.flags)


def test_path_stage_disagreeing_with_depth_is_flagged() -> None:
    result = figo2018_cervix(CervixFindings(path_stage_IA="IA1", path_depth_mm=4.0))
    assert result.stage == "IA1"
    assert any("disagrees" in flag for flag in result.flags)


def test_dims_larger_than_max_diameter_are_used() -> None:
    result = figo2018_cervix(CervixFindings(**V, max_diameter_mm=15.0, dims_mm=(42.0, 20.0, 18.0)))
    assert result.stage == "IB3"
    assert result.flags


def test_corpus_extension_is_ignored() -> None:
    result = figo2018_cervix(CervixFindings(**V, max_diameter_mm=15.0, uterine_corpus_extension=True))
    assert result.stage == "IB1"


def test_bad_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        figo2018_cervix(CervixFindings(), boundaries="2009")  # type: ignore[arg-type]


def test_result_is_json_serialisable() -> None:
    dumped = figo2018_cervix(CervixFindings(**V, nodes_pelvic_positive=True)).model_dump(mode="json")
    assert dumped["stage"] == "IIIC1" and dumped["suffix"] == "r" and dumped["label"] == "IIIC1r"
    assert isinstance(dumped["flags"], list)


# ---------------------------------------------------------------- monotonicity (property tests)

RANK = {name: i for i, name in enumerate(CERVIX_STAGE_ORDER)}
ORDERED_VALUES: dict[str, list[Any]] = {
    "tumour_visible": [False, True],
    "parametrial_invasion": ["absent", "equivocal", "present"],
    "vaginal_involvement": ["none", "upper_two_thirds", "lower_third"],
    "pelvic_sidewall": [False, True],
    "hydronephrosis": ["none", "left"],
    "nodes_pelvic_positive": [False, True],
    "nodes_paraaortic_positive": [False, True],
    "bladder_mucosa": ["absent", "suspected", "biopsy_proven"],
    "rectal_mucosa": ["absent", "suspected", "biopsy_proven"],
    "inguinal_nodes_positive": [False, True],
    "distant_mets": [False, True],
}

findings_strategy = st.fixed_dictionaries(
    {key: st.sampled_from(values) for key, values in ORDERED_VALUES.items()}
    | {
        "max_diameter_mm": st.floats(0, 120, allow_nan=False),
        "other_cause_known": st.booleans(),
        "nodes_from_pathology": st.booleans(),
    }
)
options_strategy = st.fixed_dictionaries(
    {
        "boundaries": st.sampled_from(["corrigendum_2019", "original_2018"]),
        "stage_iva_on_mri_suspicion": st.booleans(),
    }
)


@settings(max_examples=300, deadline=None)
@given(base=findings_strategy, options=options_strategy, data=st.data())
def test_adding_a_more_advanced_finding_never_lowers_the_stage(
    base: dict[str, Any], options: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from([*ORDERED_VALUES, "max_diameter_mm"]))
    advanced = dict(base)
    if key == "max_diameter_mm":
        advanced[key] = base[key] + data.draw(st.floats(0, 50, allow_nan=False))
    else:
        values = ORDERED_VALUES[key]
        current = values.index(base[key])
        advanced[key] = values[data.draw(st.integers(current, len(values) - 1))]
    before = RANK[stage(base, **options)]
    after = RANK[stage(advanced, **options)]
    assert after >= before


@settings(max_examples=200, deadline=None)
@given(base=findings_strategy)
def test_corrigendum_never_stages_lower_than_original(base: dict[str, Any]) -> None:
    # The corrigendum moves each boundary value (20 mm, 40 mm) into the higher stage, never lower.
    assert RANK[stage(base, boundaries="corrigendum_2019")] >= RANK[stage(base, boundaries="original_2018")]
    assert RANK[stage(base, stage_iva_on_mri_suspicion=True)] >= RANK[stage(base)]


@settings(max_examples=100, deadline=None)
@given(base=findings_strategy)
def test_suffix_only_for_iiic(base: dict[str, Any]) -> None:
    result = figo2018_cervix(CervixFindings(**base))
    if result.stage.startswith("IIIC"):
        assert result.suffix == ("p" if base["nodes_from_pathology"] else "r")
    else:
        assert result.suffix is None
