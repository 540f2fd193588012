"""Qualifier and negation analysis of a normalised term or mention (the normalizer's guard).

Fuzzy scores cannot tell "no parametrial invasion" from "parametrial invasion" or "< 50 %" from
"≥ 50 %": the strings differ by a few characters. :class:`QualifierLexicon` therefore extracts, from a
normalised string (see :mod:`maerad.terminology.text`):

* polarity — ``neg`` when an odd number of negation cues leads the text (no, not, without, non,
  absent, negative; 未见, 无, 没有, 未, 非, …) or ``absent`` / ``negative`` / ``none`` (阴性) ends it,
  ``pos`` otherwise; a cue inside the text (``"cystic lesion without solid tissue"``) negates only a part
  and is kept as content (``inner_negation``, which must agree between mention and term); ``uncertain``
  when the first word looks like a mistyped "no"/"not"/"non", when a Chinese negation character sits
  inside the text outside a known compound of the terms (``不规则`` is a word, ``宫旁无侵犯`` is not), or
  when a Chinese mention is a negated term whose cue is mistyped (``阴宫旁侵犯`` for ``无宫旁侵犯``: the
  head before the negated core is one edit from a cue and starts no term with that core). The
  normalizer then never returns a match: it does not guess negation;
* qualifier axes with one value each — depth (deep/outer vs superficial/inner), vertical (upper vs
  lower), internal vs external, anterior vs posterior, ante- vs retro-version/flexion, pre- vs
  post-menopausal, uni- vs multilocular, ring integrity, risk level, severity, LVSI amount, certainty
  (in Chinese: 深/浅, 上2/3/下1/3, 髂内/髂外, 前倾/后倾, 绝经前/后, 单房/多房, 完整/变薄/中断,
  低危/中危/中高危/高危, 轻度/中度/重度, 局灶/广泛, 可疑);
* laterality (left, right, bilateral) — reported, never part of a concept;
* values — numbers with their comparison sign and unit (``<50%``, ``≤3mm``, ``2018``) and FIGO-style
  Roman stage codes (``iiia``, ``ib1``);
* ``core`` — the text without polarity cues and laterality, and ``key``, its content words sorted.

An out-of-vocabulary word one or two edits away from a cue or qualifier word (``deap``, ``withuot``)
counts as that word, so a typo does not hide a qualifier. :func:`compatibility` then compares a mention
with a candidate term: different polarity, a different value on a shared axis or a mention value the
term lacks rejects the term; a mention axis the term does not mention costs a score penalty.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import process
from rapidfuzz.distance import OSA

__all__ = ["Analysis", "Polarity", "QualifierLexicon", "compatibility"]

Polarity = Literal["pos", "neg", "uncertain"]

_NEG_EN = frozenset({"no", "not", "without", "absent", "absence", "none", "non", "negative"})
_POS_EN = frozenset({"present", "presence", "positive"})
_TRAILING_NEG = frozenset({"absent", "negative", "none"})
_FILLER_EN = frozenset({"of", "for", "evidence", "sign", "signs", "any"})
_SIDE_EN = {"left": "left", "right": "right", "bilateral": "bilateral", "bilaterally": "bilateral"}
_STOP_EN = frozenset({"of", "the", "a", "an", "in", "with", "to", "for", "and", "or", "at", "on", "by"})
_FUNCTION_EN = (_STOP_EN - {"on"}) | {
    "is",
    "are",
    "was",
    "be",
    "as",
    "it",
    "its",
    "per",
    "seen",
    "noted",
    "both",
    "side",
}
_AXES_EN = {
    "deep": ("depth", "deep"),
    "outer": ("depth", "deep"),
    "superficial": ("depth", "superficial"),
    "inner": ("depth", "superficial"),
    "shallow": ("depth", "superficial"),
    "upper": ("vertical", "upper"),
    "lower": ("vertical", "lower"),
    "internal": ("inex", "internal"),
    "external": ("inex", "external"),
    "anterior": ("ap", "anterior"),
    "posterior": ("ap", "posterior"),
    "anteverted": ("tilt", "ante"),
    "anteflexed": ("tilt", "ante"),
    "anteversion": ("tilt", "ante"),
    "anteflexion": ("tilt", "ante"),
    "retroverted": ("tilt", "retro"),
    "retroflexed": ("tilt", "retro"),
    "retroversion": ("tilt", "retro"),
    "retroflexion": ("tilt", "retro"),
    "premenopausal": ("menopause", "pre"),
    "postmenopausal": ("menopause", "post"),
    "unilocular": ("locules", "uni"),
    "multilocular": ("locules", "multi"),
    "intact": ("integrity", "intact"),
    "thinned": ("integrity", "thinned"),
    "thin": ("integrity", "thinned"),
    "disrupted": ("integrity", "disrupted"),
    "disruption": ("integrity", "disrupted"),
    "interrupted": ("integrity", "disrupted"),
    "interruption": ("integrity", "disrupted"),
    "low": ("level", "low"),
    "intermediate": ("level", "intermediate"),
    "high": ("level", "high"),
    "mild": ("severity", "mild"),
    "moderate": ("severity", "moderate"),
    "severe": ("severity", "severe"),
    "focal": ("amount", "focal"),
    "substantial": ("amount", "substantial"),
    "extensive": ("amount", "substantial"),
    "equivocal": ("certainty", "equivocal"),
    "indeterminate": ("certainty", "equivocal"),
    "questionable": ("certainty", "equivocal"),
}
_ZH_NEG_PREFIX = ("未见明显", "未见", "未发现", "无明显", "没有", "不伴有", "不伴", "否认", "无", "未", "非")
_ZH_CUE_CHARS = frozenset("无未没不非")
_ZH_POS_PREFIX = ("可见", "伴有")
_ZH_NEG_SUFFIX = ("阴性",)
_ZH_SIDE = re.compile(r"^(左侧|右侧|双侧|两侧|左|右)")
_ZH_SIDE_VALUE = {"左": "left", "右": "right", "双": "bilateral", "两": "bilateral"}
_ZH_AXES = (
    (re.compile(r"深(?!度)"), ("depth", "deep")),
    (re.compile(r"浅"), ("depth", "superficial")),
    (re.compile(r"上(?=\d|三|段)"), ("vertical", "upper")),
    (re.compile(r"下(?=\d|三|段)"), ("vertical", "lower")),
    (re.compile(r"髂内"), ("inex", "internal")),
    (re.compile(r"髂外"), ("inex", "external")),
    (re.compile(r"前倾|前屈"), ("tilt", "ante")),
    (re.compile(r"后倾|后屈"), ("tilt", "retro")),
    (re.compile(r"绝经前"), ("menopause", "pre")),
    (re.compile(r"绝经后"), ("menopause", "post")),
    (re.compile(r"单房"), ("locules", "uni")),
    (re.compile(r"多房"), ("locules", "multi")),
    (re.compile(r"完整"), ("integrity", "intact")),
    (re.compile(r"变薄"), ("integrity", "thinned")),
    (re.compile(r"中断|破坏"), ("integrity", "disrupted")),
    (re.compile(r"低危"), ("level", "low")),
    (re.compile(r"(?<![高中])中危(?!高)"), ("level", "intermediate")),
    # any order of 中, 高, 危: a transposed "中高危" still reads high-intermediate, not high
    (re.compile(r"中高危|高中危|高危中|中危高|危中高|危高中"), ("level", "high-intermediate")),
    (re.compile(r"(?<![中危])高危(?!中)"), ("level", "high")),
    (re.compile(r"轻度"), ("severity", "mild")),
    (re.compile(r"中度"), ("severity", "moderate")),
    (re.compile(r"重度"), ("severity", "severe")),
    (re.compile(r"局灶"), ("amount", "focal")),
    (re.compile(r"广泛"), ("amount", "substantial")),
    (re.compile(r"可疑|待定"), ("certainty", "equivocal")),
)
_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"([<>≤≥]?)(\d+(?:\.\d+)?(?:/\d+)?)(%|mm|cm|ml)?")
_ROMAN_EN = re.compile(r"(?<!\S)(?:iv|i{1,3})(?:[abc](?:[123](?:i{1,2})?)?)?(?!\S)")
_ROMAN_ZH = re.compile(r"(?<![a-z])(?:iv|i{1,3})(?:[abc](?:[123](?:i{1,2})?)?)?(?![a-z])")
_RELAXED_SIGN = str.maketrans({"≤": "<", ">": "≥"})


@dataclass(frozen=True)
class Analysis:
    """Qualifiers of one normalised string (see the module docstring).

    Attributes:
        text: the normalised string.
        core: ``text`` without polarity cues and laterality words.
        key: content words of ``core`` without stop words, sorted (Chinese: ``core`` itself).
        polarity: ``pos``, ``neg`` or ``uncertain``.
        axes: ``(axis, value)`` pairs.
        side: ``left``, ``right``, ``bilateral`` or None.
        values: numbers with sign and unit, and Roman stage codes.
        inner_negation: a negation cue inside the text that negates only a part of it (``"cystic
            lesion without solid tissue"``); it must agree between a mention and a term.
    """

    text: str
    core: str
    key: str
    polarity: Polarity
    axes: frozenset[tuple[str, str]]
    side: str | None
    values: frozenset[str]
    inner_negation: bool = False


class QualifierLexicon:
    """Analyses normalised strings.

    Args:
        vocabulary: every word of the ontology's terms; a known word is never read as a mistyped
            qualifier or negation cue.
        first_words: the first words of the terms; at the start of a mention any other word one edit
            away from "no"/"not"/"non" (``on``, ``o``, ``nto``) makes the polarity uncertain.
        zh_terms: the normalised Chinese terms: the compounds in which a negation character is part
            of a word (``不规则``) and the cores of negated terms (``宫旁侵犯`` of ``无宫旁侵犯``) with the
            heads that precede them in some term (``浅`` of ``浅肌层浸润``) come from them.
    """

    def __init__(
        self,
        vocabulary: Collection[str] = (),
        first_words: Collection[str] = (),
        zh_terms: Collection[str] = (),
    ) -> None:
        self._vocabulary = frozenset(vocabulary)
        self._first_words = frozenset(first_words)
        targets = set(_AXES_EN) | set(_SIDE_EN) | set(_POS_EN)
        self._fuzzy_targets = sorted(targets)
        self._fuzzy_negations = sorted(w for w in _NEG_EN if len(w) >= 6)
        self._targets_by_length: dict[tuple[int, int], list[str]] = {}
        self._known = frozenset(targets | _NEG_EN | _FILLER_EN | _FUNCTION_EN)
        # words of the ontology with no cue or qualifier role: the fast path of the analysis
        self._plain = self._vocabulary - self._known
        self._zh_compounds: frozenset[str] = frozenset()
        self._zh_heads: dict[str, frozenset[str]] = {}
        self._init_zh(zh_terms)

    def _init_zh(self, zh_terms: Collection[str]) -> None:
        """Compounds with a negation character and negated cores with their known heads."""
        stripped = []
        cores: set[str] = set()
        compounds: set[str] = set()
        for term in zh_terms:
            body, _ = _strip_zh_side(term)
            prefix = _zh_neg_prefix(body)
            if prefix:
                cores.add(body[len(prefix) :])
            stripped.append(body)
            core = body[len(prefix) :]
            for suffix in _ZH_NEG_SUFFIX:
                if core.endswith(suffix) and len(core) > len(suffix):
                    core = core[: -len(suffix)]
            compounds.update(core[i : i + 2] for i, ch in enumerate(core) if ch in _ZH_CUE_CHARS)
        self._zh_compounds = frozenset(compounds)
        heads: dict[str, set[str]] = {c: set() for c in cores}
        for body in stripped:
            for core in cores:
                if body.endswith(core):
                    heads[core].add(body[: len(body) - len(core)])
        self._zh_heads = {c: frozenset(h) for c, h in heads.items()}

    def analyse(self, text: str, *, cjk: bool) -> Analysis:
        """Analyse a string produced by :func:`~maerad.terminology.text.normalize_text`."""
        return self._analyse_zh(text) if cjk else self._analyse_en(text)

    def _analyse_en(self, text: str) -> Analysis:
        tokens = text.split()
        uncertain = False
        negations = 0
        inner = False
        side: str | None = None
        axes: dict[str, str] = {}
        keep: list[str] = []
        leading, after_cue = True, False
        last_index = len(tokens) - 1
        for idx, tok in enumerate(tokens):
            if tok in self._plain:  # an ordinary word of the ontology: content, the common case
                keep.append(tok)
                leading = after_cue = False
                continue
            word = tok
            if tok not in self._known and (
                (idx == 0 and tok not in self._first_words) or tok not in self._vocabulary
            ):
                if len(tok) <= 3 and any(OSA.distance(tok, cue) <= 1 for cue in ("no", "not", "non")):
                    uncertain = True  # a mistyped negation cue: never guess the polarity
                    continue
                if tok not in self._vocabulary and len(tok) >= 3:
                    word = self._fuzzy(tok) or tok
            last = idx == last_index
            if word in _NEG_EN:
                if leading or (last and word in _TRAILING_NEG):
                    negations += 1
                    after_cue = True
                else:  # "cystic lesion without solid tissue": negates a part, stays content
                    inner = True
                    keep.append(tok)
                continue
            if (word in _POS_EN and (leading or last)) or (after_cue and word in _FILLER_EN):
                continue
            after_cue = False
            if word in _SIDE_EN:
                side = _SIDE_EN[word]
                continue
            leading = False
            if word in _AXES_EN:
                axis, value = _AXES_EN[word]
                old = axes.get(axis)
                axes[axis] = value if old is None or old == value else "-".join(sorted((old, value)))
            keep.append(tok)
        polarity: Polarity = "uncertain" if uncertain else ("neg" if negations % 2 else "pos")
        values = {_value(m) for m in _NUMBER.finditer(text)} if _DIGIT.search(text) else set()
        if "i" in text:
            values.update(_ROMAN_EN.findall(text))
        key = " ".join(sorted(t for t in keep if t not in _STOP_EN))
        return Analysis(
            text, " ".join(keep), key, polarity, frozenset(axes.items()), side, frozenset(values), inner
        )

    def _analyse_zh(self, text: str) -> Analysis:
        s, side = _strip_zh_side(text)
        negations = 0
        uncertain = False
        prefix = _zh_neg_prefix(s)
        if prefix:
            negations += 1
            s = s[len(prefix) :]
        else:
            for pos in _ZH_POS_PREFIX:
                if s.startswith(pos) and len(s) > len(pos):
                    s = s[len(pos) :]
                    break
            uncertain = self._mistyped_cue(s)
        for suffix in _ZH_NEG_SUFFIX:
            if s.endswith(suffix) and len(s) > len(suffix):
                negations += 1
                s = s[: -len(suffix)]
        # a negation character after the start, outside a compound of the terms (不规则): a negated part
        uncertain = uncertain or any(
            ch in _ZH_CUE_CHARS and s[i : i + 2] not in self._zh_compounds for i, ch in enumerate(s)
        )
        axes = {axis: value for pattern, (axis, value) in _ZH_AXES if pattern.search(s)}
        values = {_value(m) for m in _NUMBER.finditer(s)}
        values.update(m.group(0) for m in _ROMAN_ZH.finditer(s))
        polarity: Polarity = "uncertain" if uncertain else ("neg" if negations % 2 else "pos")
        return Analysis(text, s, s, polarity, frozenset(axes.items()), side, frozenset(values))

    def _mistyped_cue(self, s: str) -> bool:
        """True when ``s`` is a negated core behind an unknown head one edit from a negation cue."""
        for core, heads in self._zh_heads.items():
            if len(s) > len(core) and s.endswith(core):
                head = s[: len(s) - len(core)]
                if head not in heads and any(OSA.distance(head, cue) <= 1 for cue in _ZH_NEG_PREFIX):
                    return True
        return False

    def _fuzzy(self, token: str) -> str | None:
        """The qualifier word ``token`` is a typo of, if any (negation cues only from 5+ letters)."""
        limit = 1 if len(token) <= 8 else 2
        key = (len(token), limit)
        targets = self._targets_by_length.get(key)
        if targets is None:  # only words whose length is within ``limit`` edits can match
            pool = self._fuzzy_targets + self._fuzzy_negations if len(token) >= 5 else self._fuzzy_targets
            targets = self._targets_by_length[key] = [w for w in pool if abs(len(w) - len(token)) <= limit]
        if not targets:
            return None
        found = process.extractOne(token, targets, scorer=OSA.distance, score_cutoff=limit)
        return str(found[0]) if found is not None else None


def compatibility(
    mention: Analysis, term: Analysis, *, strict_signs: bool = True, axis_penalty: float = 8.0
) -> float | None:
    """Score penalty for matching ``mention`` to ``term``, or None when the term must be rejected.

    Rejected: polarities or inner negations differ (an ``uncertain`` mention is compared with both
    polarities), laterality differs
    when both state one, a shared axis has different values, or a value of the mention (number with
    sign and unit, Roman stage code) is absent from the term. With ``strict_signs=False``, ``≤`` counts
    as ``<`` and ``>`` as ``≥`` (SPEC §0 makes inequalities normative, hence strict by default).
    Penalty: ``axis_penalty`` per qualifier axis stated by the mention but not by the term, and per value
    of the term absent from the mention (the term is then more specific than the mention).
    """
    if mention.polarity != "uncertain" and mention.polarity != term.polarity:
        return None
    if mention.inner_negation != term.inner_negation:
        return None
    if mention.side and term.side and mention.side != term.side:
        return None
    term_axes = dict(term.axes)
    penalty = 0.0
    for axis, value in mention.axes:
        other = term_axes.get(axis)
        if other is None:
            penalty += axis_penalty
        elif other != value:
            return None
    wanted, offered = mention.values, term.values
    if not strict_signs:
        wanted = frozenset(v.translate(_RELAXED_SIGN) for v in wanted)
        offered = frozenset(v.translate(_RELAXED_SIGN) for v in offered)
    if not wanted <= offered:
        return None
    return penalty + axis_penalty * len(offered - wanted)


def _strip_zh_side(text: str) -> tuple[str, str | None]:
    """``text`` without a leading laterality word, and the side it stated."""
    m = _ZH_SIDE.match(text)
    if m is None:
        return text, None
    return text[m.end() :], _ZH_SIDE_VALUE[m.group(1)[0]]


def _zh_neg_prefix(text: str) -> str:
    """The negation cue that leads ``text`` (longest first), or ``""``."""
    for prefix in _ZH_NEG_PREFIX:
        if text.startswith(prefix) and len(text) > len(prefix):
            return prefix
    return ""


def _value(m: re.Match[str]) -> str:
    number = "50" if m.group(2) == "1/2" else m.group(2)
    unit = "%" if m.group(2) == "1/2" else (m.group(3) or "")
    return f"{m.group(1)}{number}{unit}"
