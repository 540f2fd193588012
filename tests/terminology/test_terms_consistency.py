"""ConsistencyChecker: each issue kind, subjects, and the report JSON shapes."""

from __future__ import annotations

import pytest

from maerad.errors import InputError
from maerad.terminology import Assertion, ConsistencyChecker, assertions_from_report, load_bundled


@pytest.fixture(scope="module")
def checker() -> ConsistencyChecker:
    return ConsistencyChecker(load_bundled())


def kinds(issues: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(i.kind for i in issues)


def test_clean_report_has_no_issues(checker: ConsistencyChecker) -> None:
    report = ["deep myometrial invasion (≥ 50 %)", "MR:F066", "MR:S002.II", "子宫肌层浸润深度≥50%"]
    assert checker.check(report) == []


def test_seed_problem_non_preferred_and_redundant_ancestor(checker: ConsistencyChecker) -> None:
    issues = checker.check(["myometrial invasion", "deep myometrial invasion"])
    assert kinds(issues) == ["non_preferred_term", "redundant_ancestor"]
    synonym = next(i for i in issues if i.kind == "non_preferred_term")
    assert synonym.terms == ("deep myometrial invasion",) and synonym.concepts == ("MR:F063",)
    assert "deep myometrial invasion (≥ 50 %)" in synonym.suggestion
    redundant = next(i for i in issues if i.kind == "redundant_ancestor")
    assert redundant.concepts == ("MR:F060", "MR:F063")
    assert redundant.terms == ("myometrial invasion", "deep myometrial invasion")
    assert "remove 'myometrial invasion'" in redundant.suggestion


def test_preferred_term_may_be_optional(checker: ConsistencyChecker) -> None:
    relaxed = ConsistencyChecker(load_bundled(), normalizer=checker.normalizer, require_preferred=False)
    assert relaxed.check(["outer-half invasion"]) == []
    assert kinds(checker.check(["outer-half invasion"])) == ["non_preferred_term"]
    assert kinds(checker.check(["深肌层浸润"])) == ["non_preferred_term"]  # zh synonym vs zh preferred


def test_exclusion_conflicts_respect_subjects(checker: ConsistencyChecker) -> None:
    issues = checker.check(["MR:F062", "MR:F063"])
    assert kinds(issues) == ["exclusion_conflict"]
    assert issues[0].rule == "E-MI" and issues[0].concepts == ("MR:F062", "MR:F063")
    sides = [Assertion("MR:F020", "left"), Assertion("MR:F021", "right")]
    assert [i for i in checker.check(sides) if i.kind == "exclusion_conflict"] == []
    same_side = [Assertion("MR:F020", "left"), Assertion("parametrial invasion absent", "left")]
    assert kinds(checker.check(same_side)) == ["exclusion_conflict"]
    assert kinds(checker.check(["MR:S001.III", "MR:S001.IIIA"])) == [
        "redundant_ancestor"
    ]  # refines, no conflict


def test_violated_implication(checker: ConsistencyChecker) -> None:
    issues = checker.check(["vaginal invasion, lower third", "FIGO 2018 cervical stage IIB"])
    assert kinds(issues) == ["implication_violated"]
    issue = issues[0]
    assert issue.rule == "IMP-F032-FIGO-CX"
    assert issue.concepts == ("MR:F032", "MR:S001.IIB")
    assert issue.terms == ("vaginal invasion, lower third", "FIGO 2018 cervical stage IIB")
    assert "MR:S001.IIIA" in issue.suggestion
    assert checker.check(["MR:F032", "MR:S001.IIIA"]) == []


def test_unresolved_and_unknown(checker: ConsistencyChecker) -> None:
    issues = checker.check(["MR:Z999", "nop parametrial invasion", "completely unrelated words"])
    assert kinds(issues) == ["unknown_concept", "unresolved_term", "unresolved_term"]
    ambiguous = next(i for i in issues if i.terms == ("nop parametrial invasion",))
    assert set(ambiguous.concepts) >= {"MR:F020", "MR:F021"} and "MR:F02" in ambiguous.suggestion
    with pytest.raises(InputError):
        checker.check([""])


def test_issue_json(checker: ConsistencyChecker) -> None:
    d = checker.check(["MR:F062", "MR:F063"])[0].to_dict()
    assert (
        d["kind"] == "exclusion_conflict" and d["concepts"] == ["MR:F062", "MR:F063"] and d["rule"] == "E-MI"
    )


def test_report_shapes() -> None:
    assert assertions_from_report(["MR:F063", {"concept": "MR:F020", "subject": "left"}]) == [
        Assertion("MR:F063"),
        Assertion("MR:F020", "left"),
    ]
    report = {
        "concepts": ["MR:F063"],
        "fields": {
            "size_mm": 35,
            "mi": "MR:F062",
            "nodes": ["MR:N003", None],
            "note": {"text": "ascites"},
            "flag": True,
        },
    }
    assert assertions_from_report(report) == [
        Assertion("MR:F063"),
        Assertion("MR:F062"),
        Assertion("MR:N003"),
        Assertion("ascites"),
    ]


@pytest.mark.parametrize(
    ("report", "where"),
    [
        ("MR:F063", "r.json"),
        ({"other": 1}, "r.json"),
        ({"concepts": "MR:F063"}, "r.json.concepts"),
        ({"fields": {"x": {"subject": "left"}}}, "r.json.fields.x"),
        ([1], r"r.json\[0\]"),
    ],
)
def test_bad_report_shapes_name_the_field(report: object, where: str) -> None:
    with pytest.raises(InputError, match=where):
        assertions_from_report(report, where="r.json")
