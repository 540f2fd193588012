"""Tokenisation (English and Chinese), corpus BLEU and ROUGE-L, against arithmetic done by hand."""

from __future__ import annotations

import math

import pytest

from maerad.errors import ConfigError, InputError
from maerad.eval import corpus_bleu, rouge_l, tokenize
from maerad.eval.rouge import lcs_length

CAT = "the cat sat on the mat"
CAT_REF = "the cat is on the mat"


def test_tokenize_english_words_numbers_and_punctuation() -> None:
    assert tokenize("Tumour 3.5cm, FIGO IIIC1 (para-aortic).") == [
        "Tumour", "3.5", "cm", ",", "FIGO", "IIIC1", "(", "para", "-", "aortic", ")", ".",
    ]
    assert tokenize("T2W  b800\tADC 10%") == ["T2W", "b800", "ADC", "10", "%"]
    assert tokenize("The Cat", lowercase=True) == ["the", "cat"]
    assert tokenize("   ") == []


def test_tokenize_chinese_per_character() -> None:
    assert tokenize("宫颈肿瘤，最大径3.5cm。") == [
        "宫", "颈", "肿", "瘤", "，", "最", "大", "径", "3.5", "cm", "。",
    ]
    assert tokenize("FIGO分期IB2期") == ["FIGO", "分", "期", "IB2", "期"]


def test_bleu_identical_text_is_one() -> None:
    r = corpus_bleu([CAT, "宫颈肿瘤"], [CAT, "宫颈肿瘤"])
    assert r.score == pytest.approx(1.0)
    assert r.brevity_penalty == 1.0


def test_bleu_clipped_precisions_by_hand() -> None:
    r = corpus_bleu([CAT], [CAT_REF])
    # 1-grams: the×2 (ref has 2), cat, on, mat match; sat does not -> 5/6
    # 2-grams: the-cat, on-the, the-mat of 5 -> 3/5; 3-grams: on-the-mat of 4 -> 1/4; 4-grams 0/3
    assert r.matches == (5, 3, 1, 0) and r.totals == (6, 5, 4, 3)
    assert r.score == 0.0  # no smoothing: a zero 4-gram precision gives 0
    add1 = corpus_bleu([CAT], [CAT_REF], smoothing="add1")
    # add-one for n >= 2: 5/6, 4/6, 2/5, 1/4; equal lengths so BP = 1
    assert add1.precisions == pytest.approx((5 / 6, 4 / 6, 2 / 5, 1 / 4))
    assert add1.score == pytest.approx((5 / 6 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25)  # = 0.4855
    eps = corpus_bleu([CAT], [CAT_REF], smoothing="epsilon", epsilon=0.1)
    assert eps.score == pytest.approx((5 / 6 * 3 / 5 * 1 / 4 * 0.1 / 3) ** 0.25)


def test_bleu_clipping_of_repeated_words() -> None:
    # Papineni's example: 7 × "the" against a reference with 2 × "the" -> p1 = 2/7
    r = corpus_bleu(["the the the the the the the"], ["the cat is on the mat"], max_order=1)
    assert r.precisions == pytest.approx((2 / 7,))
    # c = 7 > r = 6: no brevity penalty
    assert r.score == pytest.approx(2 / 7)


def test_bleu_brevity_penalty_by_hand() -> None:
    r = corpus_bleu([CAT], [CAT + " today ."])
    # all precisions 1, c = 6, r = 8 -> BP = exp(1 - 8/6)
    assert r.precisions == (1.0, 1.0, 1.0, 1.0)
    assert (r.hypothesis_length, r.reference_length) == (6, 8)
    assert r.score == pytest.approx(math.exp(1 - 8 / 6))  # = 0.7165


def test_bleu_is_corpus_level_not_a_mean_of_sentences() -> None:
    r = corpus_bleu(["a b c d", "e f"], ["a b c d", "e g"])
    # pooled: 1-grams 5/6, 2-grams 3/4, 3-grams 2/2, 4-grams 1/1; c = r = 6
    assert r.score == pytest.approx((5 / 6 * 3 / 4 * 1 * 1) ** 0.25)  # 0.8891, not (1 + 0) / 2


def test_bleu_multiple_references() -> None:
    r = corpus_bleu(["the the the"], [["the cat", "the the dog"]], max_order=2)
    # clip by the maximum count in any one reference: "the" 2 -> 2/3; "the the" once -> 1/2
    # lengths 2 and 3: the closest to 3 is 3 -> BP 1
    assert r.precisions == pytest.approx((2 / 3, 1 / 2))
    assert r.score == pytest.approx(math.sqrt(2 / 3 * 1 / 2))
    # equally close references (5 and 7 for a hypothesis of 6): the shorter one is r -> BP = 1
    tie = corpus_bleu(["a b c d e f"], [["a b c d e", "a b c d e f g"]])
    assert tie.reference_length == 5 and tie.brevity_penalty == 1.0


def test_bleu_chinese_by_hand() -> None:
    r = corpus_bleu(["肿瘤侵犯宫旁"], ["肿瘤未侵犯宫旁"])
    # characters: 1-grams 6/6; 2-grams 肿瘤 侵犯 犯宫 宫旁 = 4/5; 3-grams 侵犯宫 犯宫旁 = 2/4;
    # 4-grams 侵犯宫旁 = 1/3; c = 6, r = 7
    assert r.matches == (6, 4, 2, 1) and r.totals == (6, 5, 4, 3)
    expected = math.exp(1 - 7 / 6) * (1 * 4 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert r.score == pytest.approx(expected)  # 0.5115
    # with whitespace tokens the sentence would be a single token, and BLEU 0
    assert corpus_bleu(["肿瘤侵犯宫旁"], ["肿瘤未侵犯宫旁"], tokenizer=str.split).score == 0.0


def test_bleu_empty_hypothesis_and_errors() -> None:
    assert corpus_bleu([""], ["a b"]).score == 0.0
    with pytest.raises(InputError, match="one per hypothesis"):
        corpus_bleu(["a"], ["a", "b"])
    with pytest.raises(InputError, match="non-empty list"):
        corpus_bleu([], [])
    with pytest.raises(InputError, match=r"references\[0\]"):
        corpus_bleu(["a"], [[]])
    with pytest.raises(InputError, match=r"hypotheses\[0\]"):
        corpus_bleu([3], ["a"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="smoothing"):
        corpus_bleu(["a"], ["a"], smoothing="floor")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_order"):
        corpus_bleu(["a"], ["a"], max_order=0)


def test_lcs_length() -> None:
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4  # e.g. B C B A
    assert lcs_length([], ["a"]) == 0
    assert lcs_length(["a", "b"], ["b", "a"]) == 1


def test_rouge_l_by_hand() -> None:
    r = rouge_l([CAT], [CAT_REF])
    # LCS "the cat on the mat" = 5 of 6 tokens on each side: P = R = F = 5/6
    assert (r.precision, r.recall, r.f) == pytest.approx((5 / 6, 5 / 6, 5 / 6))
    zh = rouge_l(["肿瘤侵犯宫旁"], ["肿瘤未侵犯宫旁"])
    # LCS 6 characters: P = 6/6, R = 6/7, F = 2·(6/7) / (1 + 6/7) = 12/13
    assert zh.f == pytest.approx(12 / 13)
    # beta = 2 weighs recall: F = 5·P·R / (R + 4·P) = 5·(6/7) / (6/7 + 4) = 15/17
    assert rouge_l(["肿瘤侵犯宫旁"], ["肿瘤未侵犯宫旁"], beta=2.0).f == pytest.approx(15 / 17)


def test_rouge_l_corpus_mean_and_multiple_references() -> None:
    r = rouge_l([CAT, "a b"], [CAT_REF, "c d"])
    assert r.per_pair == pytest.approx((5 / 6, 0.0))
    assert r.f == pytest.approx(5 / 12)
    best = rouge_l([CAT], [["x y", CAT, CAT_REF]])
    assert best.f == 1.0
    assert rouge_l([""], [""]).f == 1.0 and rouge_l([""], ["a"]).f == 0.0
    with pytest.raises(InputError, match="one per hypothesis"):
        rouge_l(["a"], [])
    with pytest.raises(ConfigError, match="beta"):
        rouge_l(["a"], ["a"], beta=0.0)
