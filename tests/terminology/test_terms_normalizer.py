"""Normalizer: synonyms, the qualifier / negation guard, typos, batch API and options."""

from __future__ import annotations

from collections import Counter

import pytest
from terms_perturb import adversarial_set, typo_set

from maerad.errors import ConfigError, InputError
from maerad.terminology import Normalizer, load_bundled
from maerad.terminology.text import has_cjk, normalize_text


@pytest.fixture(scope="module")
def n() -> Normalizer:
    return Normalizer(load_bundled())


def test_every_term_of_the_ontology_maps_to_its_concept(n: Normalizer) -> None:
    graph = load_bundled()
    pairs = [(t.text, c.id, t.lang) for c in graph.concepts() for t in c.terms]
    assert {lang for _, _, lang in pairs} == {"en", "zh"}
    results = n.normalize_many([text for text, _, _ in pairs])
    wrong = [
        (text, cid, r.status, r.concept)
        for (text, cid, _), r in zip(pairs, results, strict=True)
        if r.concept != cid
    ]
    assert wrong == []
    assert len(pairs) > 500


def test_adversarial_set_has_no_cross_qualifier_or_negation_error(n: Normalizer) -> None:
    cases = adversarial_set(load_bundled())
    kinds = Counter(c.kind for c in cases)
    assert kinds["surface"] > 500 and kinds["negate"] > 300 and kinds["swap"] > 50 and kinds["typo"] > 300
    results = n.normalize_many([c.mention for c in cases])
    errors = [
        (c.kind, c.mention, r.concept)
        for c, r in zip(cases, results, strict=True)
        if r.concept in c.forbidden
    ]
    assert errors == []
    misses = [
        (c.mention, c.truth, r.concept)
        for c, r in zip(cases, results, strict=True)
        if c.truth is not None and r.concept != c.truth
    ]
    assert misses == []  # case, spacing, full-width and sign variants all map to their concept


def test_typos_of_the_synonyms(n: Normalizer) -> None:
    cases = typo_set(load_bundled())
    results = n.normalize_many([c.mention for c in cases])
    right = Counter(c.kind for c, r in zip(cases, results, strict=True) if r.concept == c.truth)
    total = Counter(c.kind for c in cases)
    assert total["typo1"] > 1000 and total["typo2"] > 700
    assert sum(right.values()) / len(cases) >= 0.95
    assert right["typo1"] / total["typo1"] >= 0.95
    wrong = sum(
        1 for c, r in zip(cases, results, strict=True) if r.status == "match" and r.concept != c.truth
    )
    assert wrong / len(cases) < 0.005  # a typo is mostly right or unresolved, rarely another concept


@pytest.mark.parametrize(
    ("mention", "concept"),
    [
        ("Deep myometrial invasion", "MR:F063"),  # the seed problem: not "myometrial invasion"
        ("myometrial invasion", "MR:F060"),
        ("deap myometrial invasion", "MR:F063"),  # mistyped qualifier still read
        ("MI >= 1/2", "MR:F063"),
        ("MI ＞＝ 50 ％", "MR:F063"),
        ("ＭＩ＜１／２", "MR:F062"),
        ("MI < 50%", "MR:F062"),
        ("子宫肌层浸润深度>=50%", "MR:F063"),
        ("深肌层浸润", "MR:F063"),
        ("without parametrial invasion", "MR:F021"),
        ("parametrial invasion", "MR:F020"),
        ("未见宫旁侵犯", "MR:F021"),
        ("宫旁侵犯", "MR:F020"),
        ("bullous edema", "MR:F044"),
        ("tumor confined to the endometrium", "MR:F061"),
        ("internal iliac lymph node", "MR:N004"),
        ("intrenal iliac lymph nodes", "MR:N004"),
        ("anteverted", "MR:F070"),
        ("II型曲线", "MR:O051"),
        ("Ⅲ型曲线", "MR:O052"),
        ("FIGO 2018 cervical stage IIIB", "MR:S001.IIIB"),
        # maerad's Chinese translations: negation cues, qualifiers and stage codes are read
        ("FIGO 2018宫颈癌IIIB期", "MR:S001.IIIB"),
        ("宫颈癌 FIGO 2018 IB1期", "MR:S001.IB1"),
        ("FIGO 2023 子宫内膜癌 IIIC1ii期", "MR:S003.IIIC1ii"),
        ("O-RADS MRI 4分", "MR:S010.4"),
        ("未见阴道侵犯", "MR:F030"),
        ("无阴道侵犯", "MR:F030"),
        ("宫颈间质环完整", "MR:F010"),
        ("宫颈间质环中断", "MR:F012"),
        ("宫颈间质环", "MR:A009"),
        ("右侧宫旁可疑受侵", "MR:F022"),
        ("未见可疑宫旁侵犯", "MR:F021"),
        ("囊壁不规则", "MR:O034"),
        ("腹膜不规则增厚", "MR:F052"),
        ("中度脱垂", "MR:P021"),
        ("LVSI阴性", "MR:S031.none"),
        ("未见脉管内癌栓", "MR:S031.none"),
        ("非侵袭性组织学类型", "MR:S030.non-aggressive"),
        ("未见侵袭性组织学类型", "MR:S030.non-aggressive"),
        ("ESGO/ESTRO/ESP 2020 高中危组", "MR:S040.high-intermediate"),
        ("ESGO/ESTRO/ESP 2020 高危中组", "MR:S040.high-intermediate"),  # transposed, still 中+高
    ],
)
def test_known_mentions(n: Normalizer, mention: str, concept: str) -> None:
    result = n.normalize(mention)
    assert (result.status, result.concept) == ("match", concept)


@pytest.mark.parametrize(
    "mention",
    [
        "no deep myometrial invasion",  # neither "no MI" nor "deep MI"
        "superficial myometrial invasion (≥ 50 %)",  # contradictory qualifiers
        "MI > 1/2",  # strict signs: ">" is not "≥"
        "stromal ring",  # anatomy, but not E-RING
        "nop parametrial invasion",  # mistyped negation: never guessed
        "无肌层浸润 extra words here",
    ],
)
def test_guarded_mentions_do_not_match_the_wrong_concept(n: Normalizer, mention: str) -> None:
    result = n.normalize(mention)
    assert result.concept not in {
        "MR:F060",
        "MR:F061",
        "MR:F062",
        "MR:F063",
        "MR:F020",
        "MR:F021",
        "MR:F010",
        "MR:F011",
        "MR:F012",
    }


@pytest.mark.parametrize(
    ("mention", "forbidden"),
    [
        ("宫旁无侵犯", {"MR:F020", "MR:F021"}),  # a negation character inside the phrase
        ("阴宫旁侵犯", {"MR:F020", "MR:F021"}),  # the cue of 无宫旁侵犯 mistyped: never guessed
        ("见阴道侵犯", {"MR:F030", "MR:F031", "MR:F032"}),  # 未见 lost a character
        ("宫颈间质环不完整", {"MR:F010", "MR:F011", "MR:F012"}),  # 不完整 is not 完整
        ("未见宫颈间质环完整", {"MR:F010", "MR:F011", "MR:F012"}),
        ("侵袭性组织学类型阴性", {"MR:S030.aggressive"}),
        ("宫颈间质环变厚", {"MR:F011"}),
        ("ESGO/ESTRO/ESP 2020 低危", {"MR:S040.intermediate", "MR:S040.high", "MR:S040.high-intermediate"}),
        ("FIGO 2018 宫颈癌 IIIB期", {"MR:S001.IIB", "MR:S001.IIIA", "MR:S001.III"}),
        ("FIGO 2009 宫颈癌 IIB期", {"MR:S001.IIB"}),  # no FIGO 2009 cervical system
    ],
)
def test_chinese_qualifiers_and_negation_are_respected(
    n: Normalizer, mention: str, forbidden: set[str]
) -> None:
    assert n.normalize(mention).concept not in forbidden


def test_chinese_mistyped_cue_keeps_known_heads(n: Normalizer) -> None:
    # heads that some term puts before a negated core are words, not mistyped cues
    assert n.normalize("浅肌层浸润").concept == "MR:F062"
    assert n.normalize("可见宫旁侵犯").concept == "MR:F020"
    result = n.normalize("阴宫旁侵犯")
    assert result.status == "ambiguous"
    assert {c.concept for c in result.candidates[:2]} == {"MR:F020", "MR:F021"}


def test_uncertain_negation_is_ambiguous_with_candidates(n: Normalizer) -> None:
    result = n.normalize("nop parametrial invasion")
    assert result.status == "ambiguous" and result.concept is None
    assert {c.concept for c in result.candidates[:2]} == {"MR:F020", "MR:F021"}


def test_laterality_is_reported_not_matched(n: Normalizer) -> None:
    left = n.normalize("left parametrial invasion")
    assert (left.concept, left.laterality) == ("MR:F020", "left")
    assert n.normalize("左侧宫旁侵犯").laterality == "left"


def test_result_fields_and_json(n: Normalizer) -> None:
    r = n.normalize("vagina spared")
    assert r.to_dict()["status"] == "match" and r.preferred == "no vaginal invasion" and r.score == 100.0
    assert r.method == "exact" and r.matched_term == "vagina spared"
    zh = n.normalize("宫颈")
    assert zh.preferred == "子宫颈"  # preferred term in the mention's language
    miss = n.normalize("liver segment VIII")
    assert (miss.status, miss.concept, miss.preferred) == ("no_match", None, None)
    assert set(miss.to_dict()) >= {"status", "concept", "preferred", "score", "candidates"}


def test_batch_equals_single_and_cache(n: Normalizer) -> None:
    mentions = ["deep myometrial invasoin", "宫颈", "hello", "MI < 1/2", "宫旁侵犯"] * 3
    batch = n.normalize_many(mentions)
    fresh = Normalizer(load_bundled(), cache_size=0)
    assert [r.concept for r in batch] == [fresh.normalize(m).concept for m in mentions]
    assert [r.status for r in batch] == [fresh.normalize(m).status for m in mentions]


def test_a_mention_repeated_within_one_call_is_matched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # the cache holds finished results only: without de-duplication, 1000 copies of a typo in one call
    # went through the fuzzy matcher 1000 times (10 s for a 100,000-mention stream, 0.8 s in batches)
    fresh = Normalizer(load_bundled(), cache_size=0)
    sizes: list[int] = []
    fuzzy = fresh._fuzzy
    monkeypatch.setattr(fresh, "_fuzzy", lambda batch, cjk: sizes.append(len(batch)) or fuzzy(batch, cjk))
    mentions = ["deep myometrial invasoin", "parametrail invasion"] * 500 + ["宫旁浸润侵犯"] * 3
    results = fresh.normalize_many(mentions)
    assert sum(sizes) == 3
    assert len(results) == len(mentions)
    single = {m: fresh.normalize(m) for m in set(mentions)}
    assert [(r.mention, r.concept, r.status) for r in results] == [
        (m, single[m].concept, single[m].status) for m in mentions]


def test_lang_option_and_errors(n: Normalizer) -> None:
    assert n.normalize("LVSI", lang="zh").concept == "MR:S031"  # also a Chinese term
    with pytest.raises(InputError, match="lang"):
        n.normalize("x", lang="fr")
    with pytest.raises(InputError, match="string"):
        n.normalize_many(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="cutoff"):
        Normalizer(load_bundled(), cutoff=120)
    assert n.normalize("   ").status == "no_match"


def test_relaxed_signs_option() -> None:
    relaxed = Normalizer(load_bundled(), strict_signs=False)
    assert relaxed.normalize("MI > 1/2").concept == "MR:F063"
    assert relaxed.normalize("MI ≤ 1/2").concept == "MR:F062"


def test_text_normalisation_keeps_what_distinguishes() -> None:
    assert normalize_text("MI < 1/2") != normalize_text("MI ≥ 1/2")
    assert normalize_text("MI >= 1/2") == normalize_text("MI ≥ 1/2") == normalize_text("ＭＩ ＞＝ 1/2")
    assert normalize_text("No Parametrial  Invasion") == "no parametrial invasion"
    assert normalize_text("residual stroma ≤ 3 mm") == "residual stroma ≤3mm"
    assert normalize_text("Bullous oedema") == "bullous edema"
    assert has_cjk("阴道上2/3") and not has_cjk("MI")
