"""Chinese reports: every value a template can hold has a Chinese preferred term, and a rendered
Chinese report keeps in Latin script only codes (stage codes, FIGO, O-RADS, HMO, LVSI, …), numbers and
units — never an English value term."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maerad.report.cross_check import check_report
from maerad.report.render_text import field_text, render_text, term_uses
from maerad.report.structured_report import StructuredReport, read_report
from maerad.report.templates import get_template, template_ids, value_set_members
from maerad.report.templates.model import FieldSpec
from maerad.terminology import load_bundled
from maerad.terminology.text import has_cjk

EXAMPLES = Path(__file__).parent / "templates" / "examples"
TEMPLATES = ("cervix-figo2018", "endometrium-figo2009", "adnexa-orads-mri", "pelvic-floor")
GRAPH = load_bundled()
# Latin-script words allowed in a Chinese value term: abbreviations used as such in Chinese reports
CODES = {
    "FIGO", "O-RADS", "MRI", "HMO", "H", "M", "O", "ESGO", "ESTRO", "ESP", "LVSI", "POLE", "POLEmut",
    "MMRd", "NSMP", "p53", "p53abn", "RMI", "CA-125", "T2WI", "DWI",
}  # fmt: skip
STAGE_CODE = re.compile(r"(?:I{1,3}|IV)(?:[ABC](?:\d(?:i{1,2})?)?)?(?:mPOLEmut|mp53abn)?")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def _foreign_words(text: str, extra: frozenset[str] = frozenset()) -> list[str]:
    """Latin-script words of ``text`` that are neither codes nor stage codes (optionally followed by
    one of the ``extra`` suffixes, as in IIIC1r期)."""
    def stage_with_suffix(w: str) -> bool:
        return any(w.endswith(s) and STAGE_CODE.fullmatch(w.removesuffix(s)) for s in extra)

    return [
        w
        for w in LATIN_WORD.findall(text)
        if w not in CODES and w not in extra and not STAGE_CODE.fullmatch(w) and not stage_with_suffix(w)
    ]


def _english_words(cid: str) -> str | None:
    """The English preferred term of ``cid`` when it is made of words (not only codes such as MMRd)."""
    english = GRAPH.preferred(cid, "en")
    assert english is not None, cid
    return english if _foreign_words(english) else None


def _concept_fields(template_id: str) -> list[FieldSpec]:
    return [f for f in get_template(template_id).fields if f.type == "concept"]


def _example(template_id: str) -> StructuredReport:
    return check_report(read_report(EXAMPLES / f"{template_id}.json"))


def test_the_built_in_templates_are_all_covered() -> None:
    assert set(TEMPLATES) <= set(template_ids())
    assert all(_concept_fields(t) for t in TEMPLATES)


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_every_value_set_member_has_a_chinese_preferred_term(template_id: str) -> None:
    missing = []
    for spec in _concept_fields(template_id):
        members = value_set_members(spec, GRAPH)
        assert members, spec.id
        for cid in members:
            zh = GRAPH.preferred(cid, "zh")
            if zh is None or not has_cjk(zh) or _foreign_words(zh):
                missing.append((spec.id, cid, zh))
    assert missing == []


def test_every_stage_score_grade_and_risk_value_has_a_chinese_preferred_term() -> None:
    values = GRAPH.descendants("MR:S000") | GRAPH.descendants("MR:P030")
    assert len(values) > 100
    missing = [cid for cid in sorted(values) if not has_cjk(GRAPH.preferred(cid, "zh") or "")]
    assert missing == []


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_every_member_renders_in_chinese(template_id: str) -> None:
    report = _example(template_id)
    for spec in _concept_fields(template_id):
        suffixes = frozenset(spec.label_suffix.values.values()) if spec.label_suffix else frozenset()
        if spec.label_suffix and spec.label_suffix.default:
            suffixes |= {spec.label_suffix.default}
        for cid in value_set_members(spec, GRAPH):
            text = field_text(spec, [cid] if spec.multiple else cid, report, GRAPH, "zh")
            assert has_cjk(text) and _foreign_words(text, suffixes) == [], (spec.id, cid, text)
            english = _english_words(cid)
            assert english is None or english not in text, (spec.id, cid, text)


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_rendered_chinese_example_has_no_english_value_terms(template_id: str) -> None:
    report = _example(template_id)
    text = render_text(report, "zh")
    uses = term_uses(report, "zh")
    assert uses
    for use in uses:
        assert use.text == GRAPH.preferred(use.concept, "zh") and has_cjk(use.text), use
        assert use.written in text
        english = _english_words(use.concept)
        assert english is None or english not in text, (use.concept, english)
