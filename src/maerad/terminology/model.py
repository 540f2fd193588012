"""Typed records of the terminology: terms, concepts, exclusion groups and implication rules.

These are plain frozen dataclasses with no behaviour beyond small look-ups; :class:`TermGraph`
(``maerad.terminology.graph``) puts them together. Identifiers are strings: ``MR:F063`` for the
bundled gyn-onc ontology (SPEC §6.1), ``SCTID:<digits>`` for SNOMED CT concepts loaded from a release,
or whatever a user's OWL file uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "IS_A_ONLY",
    "RELATIONS",
    "TRANSLATION",
    "Concept",
    "ExclusionGroup",
    "ImplicationRule",
    "Relation",
    "RuleKind",
    "Term",
]

Relation = Literal["is_a", "part_of", "measurement_of"]
"""How a concept hangs below its parent (SPEC §6.1: single parent, ``(part)`` / ``(measurement)`` noted)."""

RELATIONS: tuple[Relation, ...] = ("is_a", "part_of", "measurement_of")
IS_A_ONLY: tuple[Relation, ...] = ("is_a",)
"""Follow only ``is_a`` links (subsumption: a part is not a kind of its whole)."""

TRANSLATION = "maerad-translation"
"""Provenance of a term that maerad's authors wrote themselves (a translation of the English preferred
term), as opposed to a term transcribed from the ontology's source (SPEC §6 for the bundled ontology).
Such terms are an ``ASSUMPTION`` awaiting review by a Chinese-speaking radiologist (docs/terminology.md)."""

RuleKind = Literal["requires", "at_least", "equals"]
"""``requires``: the target concept must hold; ``at_least``: an ordinal value (a stage) must rank at
least the target; ``equals``: an ordinal value must be the target (or refine it)."""


@dataclass(frozen=True)
class Term:
    """One surface form of a concept in one language.

    Attributes:
        text: the term as written in the source (``"deep myometrial invasion (≥ 50 %)"``).
        lang: ``"en"`` or ``"zh"`` (any BCP-47 primary tag for user ontologies).
        preferred: True for the one preferred term of its language.
        sources: source keys backing the term (``("Z6",)``, SPEC §9).
        variant: True for ``(var.)`` terms, seen only in non-authoritative material (SPEC §6.1).
        provenance: ``""`` for a term of the ontology's own source (SPEC §6 for the bundled ontology,
            the file for a user's ontology); :data:`TRANSLATION` for a term maerad's authors wrote.
    """

    text: str
    lang: str
    preferred: bool = False
    sources: tuple[str, ...] = ()
    variant: bool = False
    provenance: str = ""

    @property
    def translated(self) -> bool:
        """True for a maerad translation (``provenance == TRANSLATION``), not a sourced term."""
        return self.provenance == TRANSLATION


@dataclass(frozen=True)
class Concept:
    """A concept with its terms, parents, exclusion groups and codes.

    Attributes:
        id: the identifier (``"MR:F063"``).
        terms: every term, preferred ones included, in source order.
        parents: ``(parent_id, relation)`` pairs; the bundled ontology has at most one (SPEC §6.1).
        exclusion_groups: ids of the mutual-exclusion groups the concept belongs to (SPEC §6.3).
        codes: ``(system, code)`` pairs such as ``("RadLex", "RID302")`` or ``("NCIt", "C96256")``.
        note: free-text remark carried over from the source (scope notes, ``PATH``, …).
        order: rank of an ordinal value (a stage, a score) in its value set; None otherwise.
    """

    id: str
    terms: tuple[Term, ...]
    parents: tuple[tuple[str, Relation], ...] = ()
    exclusion_groups: tuple[str, ...] = ()
    codes: tuple[tuple[str, str], ...] = ()
    note: str = ""
    order: int | None = None

    def preferred(self, lang: str = "en") -> str | None:
        """The preferred term in ``lang``, or None when the concept has no term in that language."""
        term = self.preferred_term(lang)
        return term.text if term is not None else None

    def preferred_term(self, lang: str = "en") -> Term | None:
        """The :class:`Term` behind :meth:`preferred` (with its sources and provenance), or None."""
        for term in self.terms:
            if term.lang == lang and term.preferred:
                return term
        for term in self.terms:
            if term.lang == lang:
                return term
        return None

    def translated_terms(self, lang: str | None = None) -> tuple[Term, ...]:
        """The terms maerad's authors wrote (provenance :data:`TRANSLATION`), in source order."""
        return tuple(t for t in self.terms if t.translated and (lang is None or t.lang == lang))

    def label(self) -> str:
        """A display label: the English preferred term, else any term, else the id."""
        return self.preferred("en") or (self.terms[0].text if self.terms else self.id)

    def synonyms(self, lang: str | None = None) -> tuple[str, ...]:
        """Non-preferred terms, in source order (all languages when ``lang`` is None)."""
        return tuple(t.text for t in self.terms if not t.preferred and (lang is None or t.lang == lang))

    def texts(self, lang: str | None = None) -> tuple[str, ...]:
        """Every term text (preferred first within its language when the source lists it first)."""
        return tuple(t.text for t in self.terms if lang is None or t.lang == lang)

    def code(self, system: str) -> tuple[str, ...]:
        """The codes of one coding system (``"RadLex"``, ``"NCIt"``, ``"SNOMED"``)."""
        return tuple(c for s, c in self.codes if s == system)


@dataclass(frozen=True)
class ExclusionGroup:
    """A mutual-exclusion group: at most one member per subject (SPEC §6.3).

    Attributes:
        id: ``"E-MI"``.
        scope: the subject the rule applies to (``"per uterus"``, ``"per side (L, R)"``).
        rule: the group's rule text from SPEC §6.3 (may be empty).
    """

    id: str
    scope: str = ""
    rule: str = ""


@dataclass(frozen=True)
class ImplicationRule:
    """An implication between findings and a classification value (SPEC §6.3 "implication rules").

    The rule fires when every concept of ``if_all`` is asserted (a descendant counts), at least one of
    ``if_any`` is asserted (when given) and, with ``only_within``, every asserted concept below that
    root is ``if_all[0]`` or one of its ancestors. A fired rule then demands:

    * ``requires``: ``target`` holds, i.e. nothing asserted shares an exclusion group with it;
    * ``at_least``: every asserted value below ``system`` may still rank ≥ ``target``;
    * ``equals``: every asserted value below ``system`` is ``target``, refines it or is refined by it.

    Attributes:
        id: stable rule id (``"IMP-F032-FIGO-CX"``).
        kind: see above.
        target: the implied concept or value id.
        system: value-set root for ``at_least`` / ``equals`` (``"MR:S001"``), None for ``requires``.
        if_all: concepts that must all be asserted.
        if_any: concepts of which one must be asserted (empty: no condition).
        only_within: optional root limiting the other concepts that may be asserted below it.
        text: the rule as a sentence.
        source: where it comes from (``"SPEC §6.3"``).
    """

    id: str
    kind: RuleKind
    target: str
    if_all: tuple[str, ...]
    system: str | None = None
    if_any: tuple[str, ...] = ()
    only_within: str | None = None
    text: str = ""
    source: str = ""
