"""Renderers: every template in English and Chinese with preferred terms only, a consistency check that
finds nothing in the rendered reports, and FHIR R4 validated with fhir.resources."""

from __future__ import annotations

from pathlib import Path

import pytest

from maerad.errors import ConfigError
from maerad.report.assertions import report_assertions
from maerad.report.cross_check import check_report
from maerad.report.render_text import concept_term, field_text, impression_line, render_text, term_uses
from maerad.report.structured_report import StructuredReport, read_report
from maerad.report.templates import get_template
from maerad.terminology import Assertion, ConsistencyChecker, load_bundled

EXAMPLES = Path(__file__).parent / "templates" / "examples"
TEMPLATES = ("cervix-figo2018", "endometrium-figo2009", "adnexa-orads-mri", "pelvic-floor")
GRAPH = load_bundled()


def _example(template: str) -> StructuredReport:
    return check_report(read_report(EXAMPLES / f"{template}.json"))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_renders_with_preferred_terms_only(template: str, lang: str) -> None:
    report = _example(template)
    text = render_text(report, lang)
    spec = get_template(template)
    lines = text.splitlines()
    assert lines[0] == spec.title.get(lang)
    assert lines[-1].startswith("Impression: " if lang == "en" else "印象：")
    for use in term_uses(report, lang):
        preferred = GRAPH.preferred(use.concept, lang) or GRAPH.preferred(use.concept, "en")
        assert use.text == preferred, f"{use.concept} must be written with its preferred term"
        assert use.written in text
        if use.written != use.text:  # only a stage suffix is added: r / p / molecular class
            suffix = use.written.removeprefix(use.text.removesuffix("期")).removesuffix("期")
            assert suffix in {"r", "p", "mMMRd", "mNSMP"}, use
        for synonym in GRAPH.synonyms(use.concept, lang):
            if synonym not in preferred:
                assert f"：{synonym}" not in text and f": {synonym}" not in text
    # every filled, non-impression field has one line, in template (clinical) order
    shown = [f for f in spec.fields if f.id in report.fields and f.id not in spec.impression]
    positions = [text.index(f"- {f.label.get(lang)}") for f in shown]
    assert positions == sorted(positions)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_consistency_checker_finds_nothing_in_rendered_reports(template: str, lang: str) -> None:
    report = _example(template)
    checker = ConsistencyChecker(GRAPH)
    assert checker.check(report_assertions(report)) == []
    # the phrases as written in the text: resolvable, preferred, and consistent with each other
    uses = term_uses(report, lang)
    phrases = [Assertion(u.text, u.subject) for u in uses]
    issues = checker.check(phrases, lang=lang)
    refined = [i for i in issues if i.kind == "redundant_ancestor"]
    assert [i for i in issues if i not in refined] == []


def test_impression_lines_hold_stage_and_flags() -> None:
    cervix = _example("cervix-figo2018")
    assert impression_line(cervix, "en") == "Impression: FIGO 2018 cervical stage IIIC1r. No flags."
    stage_zh = concept_term(GRAPH, "MR:S001.IIIC1", "zh")
    assert stage_zh.endswith("IIIC1期")
    assert impression_line(cervix, "zh") == f"印象：{stage_zh.removesuffix('期')}r期。无提示。"  # IIIC1r期
    pathology = cervix.model_copy(update={"fields": {**cervix.fields}})
    with_p = check_report(
        StructuredReport.model_validate(
            {**pathology.to_dict(), "fields": {**pathology.to_dict()["fields"], "nodes_from_pathology": True}}
        )
    )
    assert "IIIC1p" in impression_line(with_p, "en")
    endo = _example("endometrium-figo2009")
    line = impression_line(endo, "en")
    # MMRd is recorded after the FIGO 2023 stage (SPEC §2.2): IBmMMRd, 2009 IB, ESGO intermediate
    assert line.startswith(
        "Impression: FIGO 2009 endometrial stage IB; FIGO 2023 endometrial stage IBmMMRd; "
        "intermediate risk group (ESGO/ESTRO/ESP 2020)."
    )
    adnexa = _example("adnexa-orads-mri")
    assert "O-RADS MRI score 4" in impression_line(adnexa, "en")
    assert "Risk of Malignancy Index: 900" in impression_line(adnexa, "en")
    assert "Flags: (1)" in impression_line(adnexa, "en") and "提示：(1)" in impression_line(adnexa, "zh")


def test_chinese_text_uses_chinese_terms_where_the_ontology_has_them() -> None:
    zh = render_text(_example("cervix-figo2018"), "zh")
    assert "左侧宫旁组织：宫旁侵犯" in zh  # MR:F020 zh preferred term [Z3]
    assert "闭孔淋巴结、髂外淋巴结" in zh  # list separator and N003 / N005 zh terms
    assert "阴道上2/3受累" in zh
    assert "可疑盆腔淋巴结转移：是" in zh


def test_unknown_language() -> None:
    with pytest.raises(ConfigError, match="report language must be one of en, zh"):
        render_text(_example("pelvic-floor"), "fr")


def test_numbers_keep_their_digits() -> None:
    report = _example("adnexa-orads-mri")
    rmi = get_template("adnexa-orads-mri").field("rmi")
    assert field_text(rmi, 1234567.5, report, GRAPH, "en") == "1234567.5"
    size = get_template("adnexa-orads-mri").field("lesion_max_diameter_mm")
    assert field_text(size, 12.25, report, GRAPH, "zh") == "12.25 mm"
    angle = get_template("pelvic-floor").field("anorectal_angle_deg")
    assert field_text(angle, 128, report, GRAPH, "en") == "128°"
