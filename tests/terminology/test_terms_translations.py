"""Chinese terms: SPEC-sourced ones untouched, maerad translations complete and marked as such."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maerad.errors import InputError
from maerad.terminology import BUNDLED_OWL, TRANSLATION, Concept, Term, load_bundled, load_owl
from maerad.terminology.source import parse_source, parse_translation_cell
from maerad.terminology.text import has_cjk

# The Chinese terms SPEC §6.2 gives (zh column, markers removed), written from the SPEC tables; every
# other concept of the bundled ontology has no sourced Chinese term. "—" rows are left out.
SPEC_ZH = {
    "MR:A000": ["解剖结构"],
    "MR:A001": ["子宫"],
    "MR:A002": ["宫体"],
    "MR:A003": ["宫底"],
    "MR:A004": ["子宫内膜"],
    "MR:A005": ["结合带"],
    "MR:A006": ["子宫肌层", "肌层"],
    "MR:A007": ["浆膜"],
    "MR:A008": ["子宫颈", "宫颈"],
    "MR:A009": ["宫颈间质", "宫颈基质"],
    "MR:A010": ["宫颈内口"],
    "MR:A011": ["宫旁组织"],
    "MR:A012": ["阴道"],
    "MR:A013": ["阴道上2/3"],
    "MR:A014": ["阴道下1/3"],
    "MR:A015": ["卵巢"],
    "MR:A016": ["输卵管"],
    "MR:A017": ["附件"],
    "MR:A018": ["膀胱"],
    "MR:A019": ["直肠"],
    "MR:A020": ["肛管"],
    "MR:A021": ["输尿管"],
    "MR:A022": ["肾"],
    "MR:A023": ["盆壁"],
    "MR:A024": ["耻骨联合"],
    "MR:A025": ["尾骨"],
    "MR:A026": ["肛提肌"],
    "MR:A027": ["髂腰肌"],
    "MR:A028": ["子宫直肠陷凹"],
    "MR:A029": ["腹膜"],
    "MR:A030": ["盆腔"],
    "MR:N001": ["盆腔淋巴结"],
    "MR:N002": ["宫旁淋巴结"],
    "MR:N003": ["闭孔淋巴结"],
    "MR:N004": ["髂内淋巴结"],
    "MR:N005": ["髂外淋巴结"],
    "MR:N006": ["髂总淋巴结"],
    "MR:N007": ["骶前淋巴结"],
    "MR:N008": ["主动脉旁淋巴结"],
    "MR:N009": ["腹股沟淋巴结"],
    "MR:F001": ["肿块", "病灶"],
    "MR:F002": ["病灶最大径线"],
    "MR:F003": ["间质浸润深度"],
    "MR:F020": ["宫旁侵犯", "宫旁浸润"],
    "MR:F021": ["无宫旁侵犯"],
    "MR:F031": ["阴道上2/3受累"],
    "MR:F032": ["阴道下1/3受累"],
    "MR:F040": ["侵犯盆壁"],
    "MR:F041": ["肾盂积水"],
    "MR:F042": ["膀胱侵犯"],
    "MR:F043": ["直肠侵犯"],
    "MR:F050": ["淋巴结转移"],
    "MR:F051": ["远处转移"],
    "MR:F053": ["腹水"],
    "MR:F060": ["肌层浸润"],
    "MR:F062": ["浅肌层浸润", "子宫肌层浸润深度<50%"],
    "MR:F063": ["深肌层浸润", "深肌层侵犯", "子宫肌层浸润深度≥50%"],
    "MR:F064": ["结合带中断"],
    "MR:F066": ["累及宫颈间质", "宫颈间质浸润"],
    "MR:F068": ["浆膜层浸润"],
    "MR:F069": ["附件受累"],
    "MR:F070": ["前倾"],
    "MR:F071": ["后倾"],
    "MR:F072": ["前屈"],
    "MR:F073": ["后屈"],
    "MR:O001": ["卵泡"],
    "MR:O002": ["黄体"],
    "MR:O003": ["附件肿块"],
    "MR:O010": ["囊性病变"],
    "MR:O011": ["囊实性病变"],
    "MR:O012": ["实性病变"],
    "MR:O020": ["单房"],
    "MR:O021": ["多房", "囊性伴分隔"],
    "MR:O030": ["实性成分"],
    "MR:O031": ["乳头状突起"],
    "MR:O032": ["壁结节"],
    "MR:O050": ["I型曲线"],
    "MR:O051": ["II型曲线"],
    "MR:O052": ["III型曲线"],
    "MR:P001": ["耻尾线", "PCL线"],
    "MR:P002": ["LH线", "H线"],
    "MR:P003": ["M线"],
    "MR:P004": ["肛直肠连接"],
    "MR:P005": ["肛直角"],
    "MR:P006": ["肛提肌裂孔"],
    "MR:P010": ["盆腔器官脱垂"],
    "MR:P011": ["膀胱脱垂与膨出"],
    "MR:P012": ["子宫和阴道脱垂", "子宫或阴道穹窿脱垂"],
    "MR:P013": ["肠疝"],
    "MR:P014": ["直肠前膨出"],
    "MR:P015": ["会阴体下降"],
    "MR:P030": ["HMO分度系统"],
    "MR:S001": ["宫颈癌FIGO分期"],
    "MR:S010": ["卵巢-附件影像报告和数据系统"],
    "MR:S020.premenopausal": ["绝经前"],
    "MR:S020.postmenopausal": ["绝经后"],
    "MR:S031": ["脉管内癌栓", "LVSI"],
    "MR:D001": ["宫颈癌"],
    "MR:D002": ["子宫内膜癌"],
    "MR:D003": ["卵巢癌"],
    "MR:D004": ["子宫腺肌病"],
    "MR:D005": ["子宫肌瘤"],
}


def _zh(concept: Concept, *, translated: bool) -> list[str]:
    return [t.text for t in concept.terms if t.lang == "zh" and t.translated == translated]


def test_spec_sourced_chinese_terms_are_unchanged_and_stay_preferred() -> None:
    graph = load_bundled()
    assert set(SPEC_ZH) <= set(graph)
    for concept in graph.concepts():
        sourced = _zh(concept, translated=False)
        assert sourced == SPEC_ZH.get(concept.id, []), concept.id
        preferred = concept.preferred_term("zh")
        if sourced:  # a translation never displaces a SPEC term
            assert preferred is not None and not preferred.translated, concept.id


def test_every_concept_has_a_chinese_preferred_term_with_honest_provenance() -> None:
    graph = load_bundled()
    translated_preferred = 0
    for concept in graph.concepts():
        preferred = concept.preferred_term("zh")
        assert preferred is not None and has_cjk(preferred.text), concept.id
        zh = [t for t in concept.terms if t.lang == "zh"]
        assert sum(t.preferred for t in zh) == 1, concept.id
        for term in concept.translated_terms():
            # a translation cites no SPEC source and is no "(var.)" sighting
            assert term.lang == "zh" and term.provenance == TRANSLATION, concept.id
            assert not term.sources and not term.variant, concept.id
        translated_preferred += preferred.translated
    # SPEC §6.2 leaves 165 of the 267 concepts without a Chinese term (section roots and values included)
    assert len(graph) == 267 and translated_preferred == 165


def test_translation_style_is_consistent_per_system() -> None:
    graph = load_bundled()
    styles = {
        "MR:S001": r"FIGO 2018 宫颈癌 (?P<v>[IVABC0-9]+)期",
        "MR:S002": r"FIGO 2009 子宫内膜癌 (?P<v>[IVABC0-9]+)期",
        "MR:S003": r"FIGO 2023 子宫内膜癌 (?P<v>[IVABCi0-9]+(mPOLEmut|mp53abn)?)期",
        "MR:S004": r"FIGO 2014 卵巢癌 (?P<v>[IVABCi0-9]+)期",
        "MR:S010": r"O-RADS MRI 评分 (?P<v>[0-5])",
        "MR:S040": r"ESGO/ESTRO/ESP 2020 \w+组",
    }
    for system, pattern in styles.items():
        values = graph.descendants(system)
        assert values, system
        for cid in values:
            text = graph.preferred(cid, "zh")
            m = re.fullmatch(pattern, text or "")
            assert m is not None, (cid, text)
            if "v" in m.groupdict():
                assert m.group("v") == cid.split(".", 1)[1], (cid, text)  # the value code is kept
    for axis in "HMO":
        for grade in "0123":
            assert graph.preferred(f"MR:P030.{axis}{grade}", "zh") == f"HMO分度 {axis} {grade}级"


@pytest.mark.parametrize(
    ("cid", "text"),
    [
        ("MR:F010", "宫颈间质环完整"),
        ("MR:F011", "宫颈间质环变薄"),
        ("MR:F012", "宫颈间质环中断"),
        ("MR:F030", "未见阴道侵犯"),
        ("MR:O040", "单纯液体"),
        ("MR:O041", "出血性液体"),
        ("MR:O042", "子宫内膜异位性液体"),
        ("MR:O043", "蛋白性（黏液性）液体"),
        ("MR:P020", "轻度脱垂"),
        ("MR:P021", "中度脱垂"),
        ("MR:P022", "重度脱垂"),
        ("MR:S010.4", "O-RADS MRI 评分 4"),
        ("MR:S001.IIB", "FIGO 2018 宫颈癌 IIB期"),
        ("MR:S031.none", "无脉管内癌栓"),
    ],
)
def test_preferred_translations_of_the_brief(cid: str, text: str) -> None:
    term = load_bundled().concept(cid).preferred_term("zh")
    assert term is not None and (term.text, term.provenance) == (text, TRANSLATION)


def test_owl_round_trip_keeps_the_provenance() -> None:
    owl_text = BUNDLED_OWL.read_text(encoding="utf-8")
    annotation = '<mr:termProvenance xml:lang="zh">宫颈间质环完整 | maerad-translation</mr:termProvenance>'
    assert annotation in owl_text
    assert "子宫颈 | maerad-translation" not in owl_text  # SPEC term [Z1][Z11]
    from_owl, from_json = load_owl(BUNDLED_OWL), load_bundled()
    for cid in ("MR:F010", "MR:A009", "MR:S001.IIIC1", "MR:S020.premenopausal", "MR:F063"):
        a, b = from_owl.concept(cid), from_json.concept(cid)
        assert sorted((t.text, t.lang, t.provenance) for t in a.terms) == sorted(
            (t.text, t.lang, t.provenance) for t in b.terms
        )
        assert a.preferred_term("zh") == b.preferred_term("zh")


def test_model_defaults_stay_backward_compatible() -> None:
    term = Term("子宫", "zh", True, ("Z2",))
    assert term.provenance == "" and not term.translated
    concept = Concept("X:1", (Term("womb", "en", True), term, Term("子宫体", "zh", provenance=TRANSLATION)))
    assert concept.preferred("zh") == "子宫" and concept.preferred_term("fr") is None
    assert [t.text for t in concept.translated_terms()] == ["子宫体"]
    assert concept.translated_terms("en") == ()


def test_translation_cell_grammar_and_errors() -> None:
    terms = parse_translation_cell("宫颈间质环完整; 宫颈低信号间质环完整")
    assert [(t.text, t.preferred, t.translated) for t in terms] == [
        ("宫颈间质环完整", True, True),
        ("宫颈低信号间质环完整", False, True),
    ]
    sourced = (Term("宫旁侵犯", "zh", True, ("Z3",)),)
    assert not parse_translation_cell("宫旁受侵", sourced=sourced)[0].preferred  # never over a SPEC term
    with pytest.raises(InputError, match="source key"):
        parse_translation_cell("宫旁受侵 [Z3]", where="c.zh_translation")
    with pytest.raises(InputError, match="source key"):
        parse_translation_cell("宫旁受侵 (var.)")
    with pytest.raises(InputError, match="already a SPEC-sourced term"):
        parse_translation_cell("宫旁侵犯", sourced=sourced)
    with pytest.raises(InputError, match="at least one"):
        parse_translation_cell(" ; ")


def _source(**extra: object) -> dict[str, object]:
    return {
        "format": "maerad-terminology-source/1",
        "groups": [{"id": "E-X"}],
        "concepts": [{"id": "MR:X000", "en": "stage", "zh": "分期 [Z1]", **extra}],
        "value_sets": [
            {
                "system": "MR:X000",
                "groups": ["E-X"],
                "label": "stage {v}",
                "zh_translation": "X {v}期; {v}期",
                "values": ["I", {"v": "II", "zh_translation": "第二期"}, {"v": "III", "zh": "三期 [Z2]"}],
            }
        ],
    }


def test_value_set_templates_and_overrides(tmp_path: Path) -> None:
    data = parse_source(_source(zh_translation="分期系统"), origin="s.json")
    by_id = {c.id: c for c in data.concepts}
    assert by_id["MR:X000"].preferred("zh") == "分期"  # the SPEC-sourced term stays preferred
    assert [t.text for t in by_id["MR:X000"].translated_terms()] == ["分期系统"]
    assert [t.text for t in by_id["MR:X000.I"].translated_terms()] == ["X I期", "I期"]
    assert by_id["MR:X000.I"].preferred("zh") == "X I期"
    assert [t.text for t in by_id["MR:X000.II"].terms if t.lang == "zh"] == ["第二期"]
    iii = by_id["MR:X000.III"]
    assert iii.preferred("zh") == "三期" and [t.text for t in iii.translated_terms()] == ["X III期", "III期"]
    with pytest.raises(InputError, match=r"s\.json: concepts\[0\]\.zh_translation"):
        parse_source(_source(zh_translation="分期 [Z3]"), origin="s.json")
    with pytest.raises(InputError, match="zh_translation"):
        parse_source(_source(zh_translation=""), origin="s.json")
