"""Terminology for terminology-consistent structured reports of gynecologic / pelvic MRI.

* a bundled gyn-onc MRI ontology (SPEC §6): ``MR:`` concepts with English and Chinese terms,
  hierarchy, mutual-exclusion groups and implication rules — :func:`load_bundled`, or as OWL
  (``BUNDLED_OWL``, loadable with owlready2 through :func:`load_owl`); Chinese terms that SPEC §6 does
  not give are maerad translations, marked with provenance :data:`TRANSLATION`;
* loaders for a user's OWL file (:func:`load_owl`) and for the user's own licensed SNOMED CT RF2
  snapshot (:func:`load_rf2`, cached), merged with the bundled ontology through the optional mapping
  file (:func:`load_snomed_mapping`);
* :class:`TermGraph` — look-up, hierarchy, subsumption, exclusion groups, implications and the
  allowed-value constraint used by report decoding;
* :class:`Normalizer` — mention → concept with a qualifier / negation guard;
* :class:`ConsistencyChecker` — non-preferred terms, redundant ancestors, exclusion conflicts and
  violated implications in one report.

Examples::

    >>> from maerad.terminology import ConsistencyChecker, Normalizer, load_bundled
    >>> g = load_bundled()
    >>> Normalizer(g).normalize("MI >= 1/2").concept
    'MR:F063'
    >>> [i.kind for i in ConsistencyChecker(g).check(["MR:F032", "MR:S001.IIB"])]
    ['implication_violated']
"""

from __future__ import annotations

from maerad.terminology.bundled import BUNDLED_OWL, BUNDLED_SOURCE, SNOMED_MAPPING, load_bundled
from maerad.terminology.consistency import (
    Assertion,
    ConsistencyChecker,
    ConsistencyIssue,
    assertions_from_report,
)
from maerad.terminology.constraints import RuleViolation, allowed_concepts, violations
from maerad.terminology.graph import TermGraph
from maerad.terminology.model import TRANSLATION, Concept, ExclusionGroup, ImplicationRule, Term
from maerad.terminology.normalizer import Candidate, NormalizationResult, Normalizer
from maerad.terminology.owl_loader import load_owl
from maerad.terminology.rf2 import import_rf2, load_rf2
from maerad.terminology.rf2_store import load_rf2_cache
from maerad.terminology.snomed_mapping import SnomedMapping, load_snomed_mapping

__all__ = [
    "BUNDLED_OWL",
    "BUNDLED_SOURCE",
    "SNOMED_MAPPING",
    "TRANSLATION",
    "Assertion",
    "Candidate",
    "Concept",
    "ConsistencyChecker",
    "ConsistencyIssue",
    "ExclusionGroup",
    "ImplicationRule",
    "NormalizationResult",
    "Normalizer",
    "RuleViolation",
    "SnomedMapping",
    "Term",
    "TermGraph",
    "allowed_concepts",
    "assertions_from_report",
    "import_rf2",
    "load_bundled",
    "load_owl",
    "load_rf2",
    "load_rf2_cache",
    "load_snomed_mapping",
    "violations",
]
