"""Deterministic test sets for the normalizer, generated from the ontology itself.

* :func:`typo_set` — one- and two-character typos (substitution, deletion, insertion, transposition)
  of every term long enough to survive them;
* :func:`adversarial_set` — from every exclusion group: surface variants of each member's terms,
  negated / un-negated terms, qualifier swaps (deep↔superficial, < ↔ ≥, upper↔lower, …) and typos.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from maerad.terminology import TermGraph
from maerad.terminology.text import has_cjk, normalize_text

_ROMAN = re.compile(r"(?<![a-z])(?:iv|i{1,3})(?:[abc](?:[123](?:i{1,2})?)?)?(?![a-z])")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
_SWAPS_EN = [
    ("deep", "superficial"),
    ("superficial", "deep"),
    ("upper two-thirds", "lower third"),
    ("lower third", "upper two-thirds"),
    ("upper", "lower"),
    ("lower", "upper"),
    ("inner", "outer"),
    ("outer", "inner"),
    ("anteverted", "retroverted"),
    ("retroverted", "anteverted"),
    ("anteflexed", "retroflexed"),
    ("retroflexed", "anteflexed"),
    ("premenopausal", "postmenopausal"),
    ("postmenopausal", "premenopausal"),
    ("unilocular", "multilocular"),
    ("multilocular", "unilocular"),
    ("intact", "disrupted"),
    ("disrupted", "intact"),
    ("thinned", "intact"),
    ("low", "high"),
    ("high", "low"),
    ("intermediate", "high"),
    ("mild", "severe"),
    ("severe", "mild"),
    ("moderate", "mild"),
    ("focal", "substantial"),
    ("substantial", "focal"),
    ("equivocal", "present"),
    ("present", "absent"),
    ("absent", "present"),
    ("internal", "external"),
    ("external", "internal"),
    ("<", "≥"),
    ("≥", "<"),
    ("1", "3"),
    ("2", "1"),
    ("3", "1"),
]
_SWAPS_ZH = [
    ("深肌层", "浅肌层"),
    ("浅肌层", "深肌层"),
    ("上2/3", "下1/3"),
    ("下1/3", "上2/3"),
    ("前倾", "后倾"),
    ("后倾", "前倾"),
    ("前屈", "后屈"),
    ("后屈", "前屈"),
    ("单房", "多房"),
    ("多房", "单房"),
    ("绝经前", "绝经后"),
    ("绝经后", "绝经前"),
    ("≥", "<"),
    ("<", "≥"),
    ("^III型", "I型"),
    ("^II型", "III型"),
    ("^I型", "II型"),
    ("完整", "中断"),
    ("中断", "完整"),
    ("变薄", "完整"),
    ("低危", "高危"),
    ("中高危", "高危"),
    ("高危", "低危"),
    ("中危", "高危"),
    ("轻度", "重度"),
    ("中度", "轻度"),
    ("重度", "轻度"),
    ("局灶", "广泛"),
    ("广泛", "局灶"),
    ("可疑", ""),
]
_NEGATED = re.compile(r"^(no |non-|without )|( absent)$|^无|^未见|^非|阴性$", re.IGNORECASE)


@dataclass(frozen=True)
class Case:
    """A mention, the concept it must map to (None: no requirement) and concepts it must never map to."""

    mention: str
    truth: str | None
    forbidden: frozenset[str]
    kind: str


def _typo_positions(text: str) -> list[int]:
    """Letters that may be mistyped: not digits, signs or Roman stage codes (those change the meaning)."""
    positions = []
    for m in re.finditer(r"\S+", text):
        token = m.group(0)
        if not has_cjk(token) and (_ROMAN.fullmatch(token.lower()) or any(ch.isdigit() for ch in token)):
            continue
        protected = {m.start() + i for r in _ROMAN.finditer(token.lower()) for i in range(r.start(), r.end())}
        for i in range(m.start(), m.end()):
            ch = text[i]
            if i not in protected and ch.isalpha() and (ch.isascii() or has_cjk(ch)):
                positions.append(i)
    return positions


def one_typo(text: str, rng: random.Random, cjk_pool: str) -> str:
    """``text`` with one random substitution, deletion, insertion or adjacent transposition."""
    positions = _typo_positions(text)
    if not positions:
        return text
    i = rng.choice(positions)
    ch = text[i]
    pool = cjk_pool if has_cjk(ch) else _LETTERS
    op = rng.choice(["sub", "del", "ins", "swap"])
    if op == "sub":
        return text[:i] + rng.choice([c for c in pool if c != ch.lower()]) + text[i + 1 :]
    if op == "ins":
        return text[:i] + rng.choice(pool) + text[i:]
    if op == "swap" and i + 1 in positions and text[i + 1] != ch:
        return text[:i] + text[i + 1] + ch + text[i + 2 :]
    return text[:i] + text[i + 1 :]


def typo_set(graph: TermGraph, *, seed: int = 0, per_term: int = 3) -> list[Case]:
    """Typos of every term: one typo for terms of ≥ 5 letters (Chinese ≥ 4 characters), two typos for
    ≥ 10 letters (Chinese ≥ 8); typos that spell another term are dropped."""
    rng = random.Random(seed)
    pool = "".join(sorted({ch for c in graph.concepts() for t in c.terms for ch in t.text if has_cjk(ch)}))
    known = {normalize_text(t.text) for c in graph.concepts() for t in c.terms}
    cases = []
    for concept in graph.concepts():
        for term in concept.terms:
            size = len(normalize_text(term.text).replace(" ", ""))
            cjk = has_cjk(term.text)
            for n_typos, minimum in ((1, 4 if cjk else 5), (2, 8 if cjk else 10)):
                if size < minimum:
                    continue
                for _ in range(per_term):
                    text = term.text
                    for _ in range(n_typos):
                        text = one_typo(text, rng, pool)
                    if normalize_text(text) not in known:
                        cases.append(Case(text, concept.id, frozenset(), f"typo{n_typos}"))
    return cases


def _surface(text: str) -> list[str]:
    variants = [
        text.upper(),
        text.title(),
        "  " + text.replace(" ", "  ") + " ",
        "".join(_FULLWIDTH.get(ch, ch) for ch in text),
    ]
    for a, b in (("≥", ">="), ("≥", "＞＝"), ("≥", "≧"), ("<", "＜"), ("-", " ")):
        if a in text:
            variants.append(text.replace(a, b))
    return variants


def adversarial_set(graph: TermGraph, *, seed: int = 0) -> list[Case]:
    """Cases built from the exclusion groups (see the module docstring)."""
    rng = random.Random(seed)
    known = {normalize_text(t.text) for c in graph.concepts() for t in c.terms}
    cases: list[Case] = []
    for group in graph.exclusion_groups():
        members = graph.group_members(group.id)
        negative = {c for c in members if any(_NEGATED.search(t.text) for t in graph.concept(c).terms)}
        for m in members:
            rivals = frozenset(o for o in members if o != m and graph.conflicts(o, m))
            for term in graph.concept(m).terms:
                text, cjk = term.text, has_cjk(term.text)
                cases.extend(Case(s, m, rivals, "surface") for s in _surface(text))
                for _ in range(2):
                    typo = one_typo(text, rng, "宫颈阴道肌层浸润")
                    if normalize_text(typo) not in known:  # a typo that spells another term is that term
                        cases.append(Case(typo, None, rivals, "typo"))
                if _NEGATED.search(text):
                    stripped = _NEGATED.sub("", text)
                    cases.append(Case(stripped, None, frozenset({m}), "unnegate"))
                else:
                    # "no <member>" may map to a negative member ("no parametrial invasion present" → absent),
                    # never to the member itself nor to another positive member of the group
                    forbidden = (rivals | {m}) - negative
                    for prefix in ["未见", "无"] if cjk else ["no ", "without ", "absent "]:
                        cases.append(Case(prefix + text, None, frozenset(forbidden), "negate"))
                for a, b in _SWAPS_ZH if cjk else _SWAPS_EN:
                    pattern = (
                        a
                        if cjk
                        else (rf"(?<![\w-]){re.escape(a)}(?![\w-])" if a[0].isalnum() else re.escape(a))
                    )
                    if re.search(pattern, text, flags=re.IGNORECASE):
                        swapped = re.sub(pattern, b, text, count=1, flags=re.IGNORECASE)
                        if normalize_text(swapped) != normalize_text(text):
                            cases.append(Case(swapped, None, frozenset({m}), "swap"))
    return cases
