"""TermGraph: look-up, hierarchy, exclusion groups, implication rules, allowed values, merge."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from terms_rf2_fixture import CERVIX, FINDING, GENITAL, UTERUS, write_release

from maerad.errors import InputError
from maerad.terminology import (
    Normalizer,
    allowed_concepts,
    load_bundled,
    load_rf2,
    load_snomed_mapping,
    violations,
)


@pytest.fixture(scope="module")
def g():  # type: ignore[no-untyped-def]
    return load_bundled()


def test_lookup_and_terms(g) -> None:  # type: ignore[no-untyped-def]
    assert g.preferred("MR:F021") == "parametrial invasion absent"
    assert g.preferred("MR:F021", "zh") == "无宫旁侵犯"
    # no Chinese term in the SPEC: the preferred one is a maerad translation, marked as such
    f010 = g.concept("MR:F010").preferred_term("zh")
    assert f010 is not None and f010.text == "宫颈间质环完整" and f010.translated and not f010.sources
    assert g.concept("MR:F021").preferred_term("zh").provenance == ""  # SPEC-sourced [var.]
    assert g.synonyms("MR:F063", "en") == ("outer-half invasion", "MI ≥ 1/2")
    assert g.get("MR:NOPE") is None
    with pytest.raises(InputError, match="MR:F06"):
        g.concept("MR:F06")  # suggests close ids


def test_hierarchy_and_subsumption(g) -> None:  # type: ignore[no-untyped-def]
    assert g.parents("MR:A009") == ("MR:A008",)
    assert set(g.children("MR:F060")) == {"MR:F061", "MR:F062", "MR:F063"}
    assert g.ancestors("MR:A009") == {"MR:A008", "MR:A001", "MR:A000"}
    assert g.ancestors("MR:A009", ["is_a"]) == frozenset()  # cervical stroma is part of the cervix
    assert g.subsumes("MR:F060", "MR:F063")
    assert not g.subsumes("MR:A001", "MR:A009")  # parts are not kinds ...
    assert g.subsumes("MR:A001", "MR:A009", relations=None)  # ... unless asked
    assert "MR:S001.IIIC2" in g.descendants("MR:S001")
    assert "MR:A000" in g.roots() and "MR:F000" in g.roots()
    graph = g.to_networkx()
    assert isinstance(graph, nx.DiGraph) and graph.edges["MR:A002", "MR:A001"]["relation"] == "part_of"
    assert nx.is_directed_acyclic_graph(graph)


def test_exclusion_groups(g) -> None:  # type: ignore[no-untyped-def]
    assert g.group_members("E-MI") == ("MR:F061", "MR:F062", "MR:F063")
    assert set(g.group_members("E-VAG")) == {"MR:A013", "MR:A014", "MR:F030", "MR:F031", "MR:F032"}
    assert g.group("E-PARAM").scope == "per side (L, R)"
    assert g.conflicts("MR:F062", "MR:F063") == ("E-MI",)
    assert g.conflicts("MR:F060", "MR:F063") == ()  # F060 is in no group
    assert g.conflicts("MR:S001.III", "MR:S001.IIIA") == ()  # a sub-stage refines its stage
    assert g.conflicts("MR:S001.IIB", "MR:S001.IIIA") == ("E-FIGO-CX",)
    assert g.conflicts("MR:S001.IIB", "MR:S002.IIIA") == ()  # different staging systems
    with pytest.raises(InputError, match="E-NOPE"):
        g.group("E-NOPE")


def test_implications_and_values(g) -> None:  # type: ignore[no-untyped-def]
    assert [r.id for r in g.implications("MR:F032")] == ["IMP-F032-FIGO-CX"]
    assert "IMP-F050-FIGO-CX" in [r.id for r in g.implications("MR:N003")]  # obturator node is a pelvic node
    assert g.value_concept("MR:S001", "iiia") == "MR:S001.IIIA"
    with pytest.raises(InputError, match="VII"):
        g.value_concept("MR:S001", "VII")


@pytest.mark.parametrize(
    ("asserted", "broken"),
    [
        (["MR:F032", "MR:S001.IIB"], ["IMP-F032-FIGO-CX"]),
        (["MR:F032", "MR:S001.IIIA"], []),
        (["MR:F032", "MR:S001.III"], []),  # stage III may still be IIIA or later
        (["MR:F032", "MR:S001.I"], ["IMP-F032-FIGO-CX"]),
        (["MR:F020", "MR:S001.IIA2"], ["IMP-F020-FIGO-CX"]),
        (["MR:F020", "MR:S001.IVA"], []),
        (["MR:F050", "MR:N003", "MR:S001.IIB"], ["IMP-F050-FIGO-CX"]),
        (["MR:F050", "MR:S001.IIB"], []),  # node region unknown: rule needs a pelvic node
        (["MR:F050", "MR:N001", "MR:S001.IVB"], []),  # stage IV ranks above IIIC1
        (["MR:F066", "MR:S002.IB"], ["IMP-F066-FIGO-EC09"]),
        (["MR:F066", "MR:S001.IB1"], []),  # the rule is about the FIGO 2009 endometrial stage
        (["MR:O036", "MR:S010.4"], ["IMP-O036-ORADS"]),
        (["MR:O036", "MR:O031", "MR:S010.4"], []),  # not the only solid tissue
        (["MR:O036", "MR:S010.2"], []),
        (["MR:F052", "MR:O011", "MR:S010.4"], ["IMP-F052-ORADS"]),  # O011 is an adnexal lesion
        (["MR:F052", "MR:S010.4"], []),
    ],
)
def test_rule_violations(g, asserted: list[str], broken: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert [v.rule.id for v in violations(g, asserted)] == broken


def test_violation_names_antecedents_and_offenders(g) -> None:  # type: ignore[no-untyped-def]
    (v,) = violations(g, ["MR:F032", "MR:S001.IIB", "MR:A001"])
    assert v.antecedents == ("MR:F032",) and v.offending == ("MR:S001.IIB",)
    with pytest.raises(InputError, match="MR:F999"):
        violations(g, ["MR:F999"])
    with pytest.raises(InputError, match="list"):
        violations(g, "MR:F032")


def test_allowed_concepts_exclusion_groups(g) -> None:  # type: ignore[no-untyped-def]
    assert g.allowed_concepts("MR:F060", []) == {"MR:F061", "MR:F062", "MR:F063"}
    assert g.allowed_concepts("MR:F060", ["MR:F063"]) == {"MR:F063"}
    assert g.allowed_concepts("MR:F060", ["MR:F063"], include_root=True) == {"MR:F060", "MR:F063"}
    assert "MR:F021" not in g.allowed_concepts("MR:F000", ["MR:F020"])
    assert "MR:F022" not in g.allowed_concepts("MR:F000", ["MR:F020"])
    assert "MR:F063" in g.allowed_concepts("MR:F000", ["MR:F020"])


def test_allowed_concepts_implications(g) -> None:  # type: ignore[no-untyped-def]
    stages = g.allowed_concepts("MR:S001", ["MR:F032"])
    assert "MR:S001.IIB" not in stages and "MR:S001.I" not in stages
    assert {"MR:S001.IIIA", "MR:S001.III", "MR:S001.IVB"} <= stages
    assert g.allowed_concepts("MR:S010", ["MR:F052", "MR:O012"]) == {"MR:S010.5"}
    # the other direction: with stage IIB asserted, lower-third invasion would break a rule
    findings = g.allowed_concepts("MR:F000", ["MR:S001.IIB"])
    assert "MR:F032" not in findings and "MR:F031" in findings
    # a stage already asserted blocks the other stages of its system, not its own refinements
    assert g.allowed_concepts("MR:S001", ["MR:S001.III"]) >= {"MR:S001.IIIA", "MR:S001.IIIC2"}
    assert "MR:S001.IIB" not in g.allowed_concepts("MR:S001", ["MR:S001.III"])


def test_allowed_concepts_is_never_empty(g) -> None:  # type: ignore[no-untyped-def]
    # a leaf field whose only value is excluded: fall back to the value set itself
    assert g.allowed_concepts("MR:F061", ["MR:F062"]) == {"MR:F061"}
    # a contradictory report: F032 with IIB asserted, stage field rooted at IIB only
    assert g.allowed_concepts("MR:S001.IIB", ["MR:F032"]) == {"MR:S001.IIB"}
    # two rules demand different O-RADS scores: every value breaks one, so the implication filter is dropped
    assert allowed_concepts(g, "MR:S010", ["MR:O036", "MR:F052", "MR:O003"]) == g.descendants("MR:S010")


def _mapping(tmp_path: Path) -> Path:
    path = tmp_path / "map.tsv"
    path.write_text(
        "# made-up identifiers\nmr_id\tsctid\trelation\tlabel\tsources\n"
        f"MR:A001\t{UTERUS}\tsame_as\t\tT0\nMR:A008\t{CERVIX}\tsame_as\t\tT0\n"
        f"MR:F001\t{FINDING}\trelated\tfinding\tT0\nMR:A012\t999999999\tsame_as\t\tT0\n",
        encoding="utf-8",
    )
    return path


def test_merge_with_snomed_through_the_mapping(g, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    snomed = load_rf2(write_release(tmp_path))
    mapping = load_snomed_mapping(_mapping(tmp_path))
    assert [r.mr_id for r in mapping.missing(g, snomed)] == ["MR:A012"]
    merged = mapping.merge(g, snomed)
    assert len(merged) == len(g) + len(snomed)
    assert merged.equivalents("MR:A001") == {f"SCTID:{UTERUS}"}
    assert merged.subsumes(f"SCTID:{GENITAL}", "MR:A001")  # SNOMED ancestors reach the bundled concept
    assert merged.subsumes(f"SCTID:{GENITAL}", "MR:A008")  # through the cervix equivalence
    assert merged.subsumes("MR:A000", f"SCTID:{UTERUS}")
    assert merged.concept("MR:A001").code("SNOMED") == (UTERUS,)
    assert merged.concept("MR:F001").code("SNOMED") == (FINDING,)  # related: a code, no equivalence
    assert merged.equivalents("MR:F001") == frozenset()
    assert g.concept("MR:A001").code("SNOMED") == ()  # the bundled graph is unchanged
    n = Normalizer(merged)
    assert n.normalize("womb structure").concept == "MR:A001"  # SNOMED synonym, maerad concept
    with pytest.raises(InputError, match="both graphs"):
        g.merge(g, [])


def test_bundled_mapping_file_parses() -> None:
    mapping = load_snomed_mapping()
    same = dict(mapping.same_as())
    assert same["MR:A001"] == "SCTID:35039007"  # SPEC §6.2: uterus 35039007 [T1][T2]
    assert {r.relation for r in mapping.rows if r.mr_id == "MR:N005"} == {"same_as", "related"}
    assert all(r.mr_id in load_bundled() for r in mapping.rows)
    header = Path(mapping.source).read_text(encoding="utf-8").split("mr_id\t")[0]
    assert "SNOMED International" in header and "licence" in header


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("mr_id\tsctid\n", "header"),
        ("mr_id\tsctid\trelation\tlabel\tsources\nMR:A001\t12x\tsame_as\t\t\n", "sctid"),
        ("mr_id\tsctid\trelation\tlabel\tsources\nMR:A001\t35039007\tnarrower\t\t\n", "relation"),
        ("mr_id\tsctid\trelation\tlabel\tsources\nMR:A001\t35039007\n", "columns"),
        ("# only a comment\n", "no header"),
    ],
)
def test_mapping_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "m.tsv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_snomed_mapping(path)
