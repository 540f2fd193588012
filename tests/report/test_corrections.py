"""Correction records: applying them re-derives the report, stale edits are refused, diffs invert."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from maerad.errors import FindingsError
from maerad.report.corrections import (
    Correction,
    apply_corrections,
    corrections_to_json,
    diff_reports,
    read_corrections,
    write_corrections,
)
from maerad.report.cross_check import check_report
from maerad.report.structured_report import StructuredReport, read_report

EXAMPLES = Path(__file__).parent / "templates" / "examples"
WHEN = datetime(2025, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def _cervix() -> StructuredReport:
    return check_report(read_report(EXAMPLES / "cervix-figo2018.json"))


def test_correcting_a_finding_updates_the_derived_stage() -> None:
    before = _cervix()
    assert before.value("figo2018_stage") == "MR:S001.IIIC1"
    fixes = [
        Correction(
            field="pelvic_node_stations", old=["MR:N003", "MR:N005"], new=None, who="dr-wang", when=WHEN
        ),
        Correction(field="pelvic_node_short_axis_mm", old=13, new=None, who="dr-wang", when=WHEN),
        Correction(field="pelvic_nodes", old=True, new=False, who="dr-wang", when=WHEN, note="reactive node"),
    ]
    after = apply_corrections(before, fixes)
    assert after.value("pelvic_nodes") is False and after.fields["pelvic_nodes"].provenance == "human"
    assert "pelvic_node_stations" not in after.fields
    # left parametrium present is now the most advanced finding: IIB (SPEC §1.3)
    assert after.value("figo2018_stage") == "MR:S001.IIB"
    assert after.fields["figo2018_stage"].provenance == "rule"


def test_a_corrected_stage_is_kept_and_flagged_when_the_rules_disagree() -> None:
    fix = Correction(field="figo2018_stage", old="MR:S001.IIIC1", new="MR:S001.IIB", who="dr-wang", when=WHEN)
    after = apply_corrections(_cervix(), [fix])
    assert (
        after.value("figo2018_stage") == "MR:S001.IIB"
        and after.fields["figo2018_stage"].provenance == "human"
    )
    assert {f.kind for f in after.flags} >= {"derived_mismatch", "terminology"}


def test_stale_or_unknown_corrections_are_refused() -> None:
    stale = Correction(field="pelvic_nodes", old=False, new=True, who="dr-li", when=WHEN)
    with pytest.raises(
        FindingsError,
        match=r"correction 1 \(field 'pelvic_nodes', by dr-li\): expected old value "
        r"false, the report has true",
    ):
        apply_corrections(_cervix(), [stale])
    unknown = Correction(field="colour", old=None, new="red", who="dr-li", when=WHEN)
    with pytest.raises(FindingsError, match=r"correction 1 .*unknown field"):
        apply_corrections(_cervix(), [unknown])
    bad_value = Correction(field="max_diameter_mm", old=34, new=-3, who="dr-li", when=WHEN)
    with pytest.raises(FindingsError, match="field 'max_diameter_mm': got -3"):
        apply_corrections(_cervix(), [bad_value])


def test_diff_then_apply_reproduces_the_edited_report() -> None:
    before = _cervix()
    fields = before.to_dict()["fields"]
    fields["max_diameter_mm"] = {"value": 45, "provenance": "human"}
    fields["growth_pattern"] = {"value": "endophytic", "provenance": "human"}
    del fields["distance_to_internal_os_mm"]
    edited = check_report(StructuredReport.model_validate({**before.to_dict(), "fields": fields}))
    diff = diff_reports(before, edited, who="dr-zhao", when=WHEN, note="second read")
    assert sorted(c.field for c in diff) == [
        "distance_to_internal_os_mm",
        "growth_pattern",
        "max_diameter_mm",
    ]
    assert all(c.who == "dr-zhao" and c.note == "second read" for c in diff)
    assert apply_corrections(before, diff) == edited


def test_corrections_json_round_trip(tmp_path: Path) -> None:
    items = [
        Correction(field="pelvic_nodes", old=True, new=False, who="dr-wang", when=WHEN, note="节点反应性"),
        Correction(field="growth_pattern", old=None, new="exophytic", who="dr-wang", when=WHEN),
    ]
    path = tmp_path / "edits.json"
    write_corrections(items, path)
    assert read_corrections(path) == items
    assert "2025-03-04T10:00:00+08:00" in corrections_to_json(items) and "节点反应性" in path.read_text(
        "utf-8"
    )
    path.write_text('[{"field": "x", "who": "a", "when": "2025-01-01T00:00:00"}]', encoding="utf-8")
    with pytest.raises(FindingsError, match=r"0\.when: "):  # a time without a time zone is ambiguous
        read_corrections(path)
