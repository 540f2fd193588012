"""``Normalizer``: map a free-text mention (English or Chinese) to a concept of a :class:`TermGraph`.

Order of the steps, each applied only when the previous one found nothing:

1. **exact** — the normalised mention (:func:`~maerad.terminology.text.normalize_text`) equals a
   normalised term;
2. **canonical** — same polarity and same sorted content words, negation cues and laterality removed
   (``"without parametrial invasion"`` = ``"parametrial invasion absent"``); terms stripped of a
   parenthesis or of a ``"label:"`` prefix are also indexed here;
3. **fuzzy** — rapidfuzz ``ratio`` on the cores and on their sorted words (the better of the two),
   after the qualifier and negation guard (:func:`~maerad.terminology.qualifiers.compatibility`) has
   removed terms that disagree on polarity, qualifiers, laterality or values; the best concept must
   reach ``cutoff`` and lead the second by ``margin``, else the result is ambiguous / no match.

A mention whose negation is uncertain (first word a mistyped "no"/"not") is never a match.

Examples::

    >>> from maerad.terminology import Normalizer, load_bundled
    >>> n = Normalizer(load_bundled())
    >>> n.normalize("Deep myometrial invasion").concept
    'MR:F063'
    >>> n.normalize("未见宫旁侵犯").concept
    'MR:F021'
    >>> n.normalize("no deep myometrial invasion").status
    'no_match'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

from maerad.errors import ConfigError, InputError
from maerad.terminology.graph import TermGraph
from maerad.terminology.qualifiers import Analysis, QualifierLexicon, compatibility
from maerad.terminology.text import has_cjk, normalize_text, strip_parenthetical

__all__ = ["Candidate", "NormalizationResult", "Normalizer", "Status"]

Status = Literal["match", "ambiguous", "no_match"]
Method = Literal["exact", "canonical", "fuzzy", "none"]


class Candidate(NamedTuple):
    """A scored concept for a mention: ``concept`` id, its ``preferred`` term, ``score`` (0–100) and
    the ``term`` of the concept that scored best (a named tuple: cheap to create in bulk)."""

    concept: str
    preferred: str
    score: float
    term: str


@dataclass(frozen=True)
class NormalizationResult:
    """Outcome for one mention.

    Attributes:
        mention: the input text.
        status: ``match``, ``ambiguous`` or ``no_match``.
        concept: the matched id (None unless ``status == "match"``).
        preferred: preferred term of ``concept`` in the mention's language (English fallback).
        score: score of the best candidate (100 for exact and canonical matches).
        candidates: best candidates, best first (up to five).
        method: the step that decided (``exact``, ``canonical``, ``fuzzy``, ``none``).
        matched_term: the term of ``concept`` that matched.
        laterality: ``left`` / ``right`` / ``bilateral`` when the mention states one.
    """

    mention: str
    status: Status
    concept: str | None
    preferred: str | None
    score: float
    candidates: tuple[Candidate, ...]
    method: Method
    matched_term: str | None = None
    laterality: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (keys ``mention status concept preferred score candidates method …``)."""
        return {
            "mention": self.mention,
            "status": self.status,
            "concept": self.concept,
            "preferred": self.preferred,
            "score": self.score,
            "method": self.method,
            "matched_term": self.matched_term,
            "laterality": self.laterality,
            "candidates": [
                {"concept": c.concept, "preferred": c.preferred, "score": c.score, "term": c.term}
                for c in self.candidates
            ],
        }


@dataclass(frozen=True)
class _Entry:
    concept: str
    term: str
    lang: str
    analysis: Analysis
    words: tuple[str, ...]


class Normalizer:
    """Maps mentions to concepts of ``graph`` (see the module docstring).

    Args:
        graph: the terminology (e.g. :func:`~maerad.terminology.bundled.load_bundled`).
        cutoff: minimum fuzzy score (0–100) of a match for Latin-script mentions.
        cjk_cutoff: the same for Chinese mentions (one wrong character weighs more in a short word).
        margin: minimum lead of the best concept over the second one.
        strict_signs: if False, ``≤`` matches ``<`` and ``>`` matches ``≥`` (SPEC §0: strict by default).
        axis_penalty: score penalty per qualifier of the mention that a term does not state.
        word_penalty: score penalty per word of the mention (3+ letters) with no similar word in the
            term (``vaginal`` vs ``vesical``: whole-string similarity alone is high).
        cache_size: results kept per mention (0 disables the cache).
    """

    def __init__(
        self,
        graph: TermGraph,
        *,
        cutoff: float = 80.0,
        cjk_cutoff: float = 66.0,
        margin: float = 4.0,
        strict_signs: bool = True,
        axis_penalty: float = 8.0,
        word_penalty: float = 12.0,
        cache_size: int = 100_000,
    ) -> None:
        for name, value in (("cutoff", cutoff), ("cjk_cutoff", cjk_cutoff), ("margin", margin)):
            if not 0 <= value <= 100:
                raise ConfigError(f"Normalizer {name} must lie in [0, 100], got {value}")
        self.graph = graph
        self.cutoff, self.cjk_cutoff, self.margin = cutoff, cjk_cutoff, margin
        self.strict_signs, self.axis_penalty, self.word_penalty = strict_signs, axis_penalty, word_penalty
        self._cache_size = cache_size
        self._cache: dict[tuple[str, str | None], NormalizationResult] = {}
        self._preferred_cache: dict[tuple[str, str], str] = {}
        raw: list[tuple[str, str, str, bool]] = []  # concept, term text, lang, derived alias?
        for concept in graph.concepts():
            cid = self._canonical_id(concept.id)
            for term in concept.terms:
                raw.append((cid, term.text, term.lang, False))
                for alias in _aliases(term.text):
                    raw.append((cid, alias, term.lang, True))
        words = [normalize_text(text).split() for _, text, _, _ in raw]
        zh_terms = {text for text in (" ".join(ws) for ws in words) if has_cjk(text)}
        self._lexicon = QualifierLexicon(
            {w for ws in words for w in ws}, {ws[0] for ws in words if ws}, zh_terms
        )
        self._exact: dict[str, set[str]] = {}
        self._term_of: dict[tuple[str, object], str] = {}  # (concept, normalised text or key) → term
        self._canon: dict[tuple[str, str, bool], set[str]] = {}
        self._alias_canon: dict[tuple[str, str, bool], set[str]] = {}
        self._entries: dict[bool, list[_Entry]] = {False: [], True: []}
        for cid, text, lang, derived in raw:
            norm = normalize_text(text)
            if not norm:
                continue
            cjk = has_cjk(norm)
            analysis = self._lexicon.analyse(norm, cjk=cjk)
            key = (analysis.polarity, analysis.key, cjk)
            if not derived:
                self._exact.setdefault(norm, set()).add(cid)
                self._term_of.setdefault((cid, norm), text)
            table = self._alias_canon if derived else self._canon
            table.setdefault(key, set()).add(cid)
            self._term_of.setdefault((cid, key), text)
            self._entries[cjk].append(_Entry(cid, text, lang, analysis, _content_words(analysis.core)))
        self._choices = {cjk: [e.analysis.core for e in entries] for cjk, entries in self._entries.items()}
        self._sorted_choices = {
            cjk: [" ".join(sorted(c.split())) for c in choices] for cjk, choices in self._choices.items()
        }

    # ------------------------------------------------------------------ API
    def normalize(self, mention: str, *, lang: str | None = None) -> NormalizationResult:
        """Normalise one mention; ``lang`` (``"en"``/``"zh"``) picks the terms compared in the fuzzy step
        (default: Chinese terms when the mention contains Chinese characters)."""
        return self.normalize_many([mention], lang=lang)[0]

    def normalize_many(
        self, mentions: Iterable[str], *, lang: str | None = None
    ) -> list[NormalizationResult]:
        """Normalise many mentions at once (the fuzzy step runs as one rapidfuzz ``cdist`` per script).

        Raises:
            InputError: a mention is not a string, or ``lang`` is not ``en``/``zh``/None.
        """
        if lang not in (None, "en", "zh"):
            raise InputError(f"lang must be 'en' or 'zh', got {lang!r}")
        items = list(mentions)
        results: list[NormalizationResult | None] = [None] * len(items)
        pending: dict[bool, list[tuple[int, str, Analysis]]] = {False: [], True: []}
        # a mention repeated within the call is matched once (the cache only holds finished results)
        waiting: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        for i, mention in enumerate(items):
            if not isinstance(mention, str):
                raise InputError(f"mention #{i} must be a string, got {type(mention).__name__}")
            cached = self._cache.get((mention, lang))
            if cached is not None:
                results[i] = cached
                continue
            if mention in waiting:
                repeats.append((i, waiting[mention]))
                continue
            norm = normalize_text(mention)
            exact = self._exact.get(norm)
            if exact:  # equal to a term: no qualifier analysis needed
                scored = [(cid, 100.0, self._term_of.get((cid, norm), "")) for cid in sorted(exact)]
                status: Status = "match" if len(exact) == 1 else "ambiguous"
                results[i] = self._remember(
                    mention, lang, self._result(mention, status, scored, "exact", None)
                )
                continue
            cjk_text = has_cjk(norm)
            analysis = self._lexicon.analyse(norm, cjk=cjk_text)
            direct = self._direct(mention, analysis, cjk_text)
            if direct is not None:
                results[i] = self._remember(mention, lang, direct)
            elif not norm:
                results[i] = self._remember(
                    mention, lang, self._result(mention, "no_match", [], "none", None)
                )
            else:
                waiting[mention] = i
                pending[cjk_text if lang is None else lang == "zh"].append((i, mention, analysis))
        for cjk, batch in pending.items():
            if batch:
                for (i, mention, _), result in zip(batch, self._fuzzy(batch, cjk), strict=True):
                    results[i] = self._remember(mention, lang, result)
        for i, first in repeats:
            results[i] = results[first]
        return [r for r in results if r is not None]

    # -------------------------------------------------------------- internals
    def _direct(self, mention: str, analysis: Analysis, cjk: bool) -> NormalizationResult | None:
        if analysis.polarity == "uncertain":
            return None
        key = (analysis.polarity, analysis.key, cjk)
        for found in (self._canon.get(key), self._alias_canon.get(key)):
            if found:
                scored = [(cid, 100.0, self._term_of.get((cid, key), "")) for cid in sorted(found)]
                status: Status = "match" if len(found) == 1 else "ambiguous"
                return self._result(mention, status, scored, "canonical", analysis.side)
        return None

    def _fuzzy(self, batch: Sequence[tuple[int, str, Analysis]], cjk: bool) -> list[NormalizationResult]:
        entries = self._entries[cjk]
        if not entries:
            return [self._result(m, "no_match", [], "none", a.side) for _, m, a in batch]
        cores = [a.core for _, _, a in batch]
        plain = process.cdist(cores, self._choices[cjk], scorer=fuzz.ratio, dtype=np.float32, workers=1)
        ordered = process.cdist(
            [" ".join(sorted(c.split())) for c in cores],
            self._sorted_choices[cjk],
            scorer=fuzz.ratio,
            dtype=np.float32,
            workers=1,
        )
        scores = np.maximum(plain, ordered)
        cutoff = self.cjk_cutoff if cjk else self.cutoff
        k = min(40, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        rank = np.argsort(-top_scores, axis=1, kind="stable")
        all_ids = np.take_along_axis(top, rank, axis=1).tolist()
        all_raw = np.take_along_axis(top_scores, rank, axis=1).tolist()
        out = []
        for row, (_, mention, analysis) in enumerate(batch):
            words = () if cjk else _content_words(analysis.core)
            best: dict[str, tuple[float, str]] = {}
            first = -1.0
            for seen, (j, raw) in enumerate(zip(all_ids[row], all_raw[row], strict=True)):
                # penalties only lower scores, so nothing after these points can change the outcome
                if first >= cutoff and raw < first - self.margin:
                    break
                if raw < cutoff and (len(best) >= 2 or seen >= 10 or raw < cutoff - 30):
                    break
                entry = entries[j]
                previous = best.get(entry.concept)
                if previous is not None and raw <= previous[0]:
                    continue
                penalty = compatibility(
                    analysis, entry.analysis, strict_signs=self.strict_signs, axis_penalty=self.axis_penalty
                )
                if penalty is None:
                    continue
                if words:
                    penalty += self.word_penalty * _uncovered(words, entry.words)
                score = round(raw - penalty, 1)
                if previous is None or score > previous[0]:
                    best[entry.concept] = (score, entry.term)
                    first = max(first, score)
            scored = sorted(((c, s, t) for c, (s, t) in best.items()), key=lambda x: (-x[1], x[0]))
            status: Status = "no_match"
            if scored and scored[0][1] >= cutoff:
                lead = scored[0][1] - scored[1][1] if len(scored) > 1 else 100.0
                status = "match" if lead >= self.margin and analysis.polarity != "uncertain" else "ambiguous"
            out.append(self._result(mention, status, scored, "fuzzy" if scored else "none", analysis.side))
        return out

    def _result(
        self,
        mention: str,
        status: Status,
        scored: Sequence[tuple[str, float, str]],
        method: Method,
        side: str | None,
    ) -> NormalizationResult:
        lang = "zh" if has_cjk(mention) else "en"
        candidates = tuple(Candidate(c, self._preferred(c, lang), s, t) for c, s, t in scored[:5])
        best = candidates[0] if candidates else None
        matched = best if status == "match" else None
        return NormalizationResult(
            mention=mention,
            status=status,
            concept=matched.concept if matched else None,
            preferred=matched.preferred if matched else None,
            score=best.score if best else 0.0,
            candidates=candidates,
            method=method,
            matched_term=matched.term if matched else None,
            laterality=side,
        )

    def _preferred(self, cid: str, lang: str) -> str:
        found = self._preferred_cache.get((cid, lang))
        if found is None:
            concept = self.graph.concept(cid)
            found = self._preferred_cache[(cid, lang)] = concept.preferred(lang) or concept.label()
        return found

    def _canonical_id(self, cid: str) -> str:
        same = self.graph.equivalents(cid)
        if not same:
            return cid
        return min({cid, *same}, key=lambda c: (not c.startswith("MR:"), c))

    def _remember(self, mention: str, lang: str | None, result: NormalizationResult) -> NormalizationResult:
        if self._cache_size > 0:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[(mention, lang)] = result
        return result


def _content_words(core: str) -> tuple[str, ...]:
    """Latin-script words of 3+ characters (Chinese text has no word boundaries: empty)."""
    return tuple(w for w in core.split() if len(w) >= 3 and not has_cjk(w))


def _uncovered(words: Sequence[str], term_words: Sequence[str], similarity: float = 60.0) -> int:
    """How many of ``words`` have no word of ``term_words`` at least ``similarity`` % alike."""
    missing = 0
    for w in words:
        if w not in term_words and not any(fuzz.ratio(w, t, score_cutoff=similarity) for t in term_words):
            missing += 1
    return missing


def _aliases(text: str) -> list[str]:
    """Derived look-up forms of a term: without parentheses, and the value after a ``"label: "`` prefix."""
    found = []
    stripped = strip_parenthetical(text)
    if stripped and stripped != text:
        found.append(stripped)
    if ": " in text:
        tail = text.split(": ", 1)[1].strip()
        if tail:
            found.append(tail)
    return found
