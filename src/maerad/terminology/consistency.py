"""Terminology consistency checks for the concepts (or raw phrases) asserted in one report.

Flags, each as a typed :class:`ConsistencyIssue` with the offending terms and a suggested fix:

* ``non_preferred_term`` — a phrase is a synonym where the preferred term is required;
* ``redundant_ancestor`` — a concept is asserted together with its own ancestor (``myometrial
  invasion`` with ``deep myometrial invasion``); ``is_a`` ancestors only by default, since naming an
  organ and one of its parts is not redundant;
* ``exclusion_conflict`` — two members of one exclusion group for the same subject (SPEC §6.3);
* ``implication_violated`` — an implication rule is broken (lower-third vaginal invasion with a FIGO
  2018 stage below IIIA, SPEC §6.3);
* ``unresolved_term`` / ``unknown_concept`` — a phrase the normalizer cannot map, an unknown id.

Examples::

    >>> from maerad.terminology import ConsistencyChecker, load_bundled
    >>> issues = ConsistencyChecker(load_bundled()).check(["myometrial invasion", "deep myometrial invasion"])
    >>> sorted(i.kind for i in issues)
    ['non_preferred_term', 'redundant_ancestor']
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

from maerad.errors import InputError
from maerad.terminology.constraints import RuleViolation, violations
from maerad.terminology.graph import TermGraph
from maerad.terminology.model import IS_A_ONLY, Relation
from maerad.terminology.normalizer import Normalizer
from maerad.terminology.text import has_cjk, normalize_text

__all__ = ["Assertion", "ConsistencyChecker", "ConsistencyIssue", "IssueKind", "assertions_from_report"]

IssueKind = Literal[
    "non_preferred_term",
    "redundant_ancestor",
    "exclusion_conflict",
    "implication_violated",
    "unresolved_term",
    "unknown_concept",
]
_ID_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*:\S+$")


@dataclass(frozen=True)
class Assertion:
    """A concept id or a raw phrase asserted in a report, optionally for a ``subject`` (``"left"``,
    ``"lesion 2"``): exclusion groups only compare assertions of the same subject (SPEC §6.3 scopes)."""

    value: str
    subject: str | None = None


@dataclass(frozen=True)
class ConsistencyIssue:
    """One problem found in a report.

    Attributes:
        kind: see the module docstring.
        concepts: the concept ids involved.
        terms: the offending phrases as written (preferred terms for assertions given as ids).
        message: one sentence describing the problem.
        suggestion: the suggested fix.
        rule: the exclusion group or implication rule concerned, if any.
    """

    kind: IssueKind
    concepts: tuple[str, ...]
    terms: tuple[str, ...]
    message: str
    suggestion: str
    rule: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "concepts": list(self.concepts),
            "terms": list(self.terms),
            "message": self.message,
            "suggestion": self.suggestion,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class _Resolved:
    concept: str
    written: str
    subject: str | None


class ConsistencyChecker:
    """Checks the assertions of one report against a terminology.

    Args:
        graph: the terminology.
        normalizer: maps raw phrases to concepts (built from ``graph`` when None).
        require_preferred: flag synonyms where the preferred term is required.
        ancestor_relations: hierarchy links that make an asserted ancestor redundant.
    """

    def __init__(
        self,
        graph: TermGraph,
        normalizer: Normalizer | None = None,
        *,
        require_preferred: bool = True,
        ancestor_relations: Collection[Relation] = IS_A_ONLY,
    ) -> None:
        self.graph = graph
        self.normalizer = normalizer if normalizer is not None else Normalizer(graph)
        self.require_preferred = require_preferred
        self.ancestor_relations = tuple(ancestor_relations)

    def check(self, items: Iterable[str | Assertion], *, lang: str | None = None) -> list[ConsistencyIssue]:
        """All issues of a report's assertions (ids or phrases), in a stable order."""
        issues: list[ConsistencyIssue] = []
        resolved: list[_Resolved] = []
        for item in items:
            assertion = item if isinstance(item, Assertion) else Assertion(item)
            if not isinstance(assertion.value, str) or not assertion.value.strip():
                raise InputError(f"asserted value must be a non-empty string, got {assertion.value!r}")
            found = self._resolve(assertion, lang, issues)
            if found is not None and all(
                r.concept != found.concept or r.subject != found.subject for r in resolved
            ):
                resolved.append(found)
        issues.extend(self._redundant(resolved))
        issues.extend(self._exclusions(resolved))
        for violation in violations(self.graph, {r.concept for r in resolved}):
            issues.append(self._implication_issue(violation, resolved))
        return issues

    # ---------------------------------------------------------------- steps
    def _resolve(self, a: Assertion, lang: str | None, issues: list[ConsistencyIssue]) -> _Resolved | None:
        text = a.value.strip()
        if text in self.graph:
            return _Resolved(text, self._label(text), a.subject)
        if _ID_LIKE.match(text) and " " not in text:
            issues.append(
                ConsistencyIssue(
                    "unknown_concept",
                    (text,),
                    (text,),
                    f"{text} is not a concept of the terminology",
                    "use a known concept id (see `maerad terms show`)",
                )
            )
            return None
        result = self.normalizer.normalize(text, lang=lang)
        if result.status != "match" or result.concept is None:
            options = ", ".join(f"{c.concept} '{c.preferred}'" for c in result.candidates[:3])
            issues.append(
                ConsistencyIssue(
                    "unresolved_term",
                    tuple(c.concept for c in result.candidates[:3]),
                    (text,),
                    f"'{text}' does not map to one concept ({result.status.replace('_', ' ')})",
                    f"write the preferred term of the intended concept ({options})"
                    if options
                    else "write a term of the terminology",
                )
            )
            return None
        term_lang = "zh" if has_cjk(text) else "en"
        preferred = self.graph.concept(result.concept).preferred(term_lang)
        if (
            self.require_preferred
            and preferred is not None
            and normalize_text(preferred) != normalize_text(text)
        ):
            issues.append(
                ConsistencyIssue(
                    "non_preferred_term",
                    (result.concept,),
                    (text,),
                    f"'{text}' is a synonym of {result.concept}; the preferred term is '{preferred}'",
                    f"replace '{text}' with '{preferred}'",
                )
            )
        return _Resolved(result.concept, text, a.subject)

    def _redundant(self, items: list[_Resolved]) -> list[ConsistencyIssue]:
        out = []
        for a, b in combinations(items, 2):
            if a.subject != b.subject or a.concept == b.concept:
                continue
            for general, specific in ((a, b), (b, a)):
                if self.graph.subsumes(general.concept, specific.concept, self.ancestor_relations):
                    out.append(
                        ConsistencyIssue(
                            "redundant_ancestor",
                            (general.concept, specific.concept),
                            (general.written, specific.written),
                            f"'{general.written}' ({general.concept}) is an ancestor of '{specific.written}' "
                            f"({specific.concept}) and adds nothing",
                            f"remove '{general.written}' and keep the more specific '{specific.written}'",
                        )
                    )
                    break
        return out

    def _exclusions(self, items: list[_Resolved]) -> list[ConsistencyIssue]:
        out = []
        for a, b in combinations(items, 2):
            if a.subject != b.subject:
                continue
            for group in self.graph.conflicts(a.concept, b.concept):
                info = self.graph.group(group)
                scope = f" ({info.scope})" if info.scope else ""
                out.append(
                    ConsistencyIssue(
                        "exclusion_conflict",
                        (a.concept, b.concept),
                        (a.written, b.written),
                        f"'{a.written}' and '{b.written}' are both members of {group}: at most one may be "
                        f"asserted{scope}, SPEC §6.3",
                        f"keep one of {a.concept} and {b.concept}, or give them different subjects if they "
                        "describe different sides / lesions",
                        group,
                    )
                )
        return out

    def _implication_issue(self, v: RuleViolation, items: list[_Resolved]) -> ConsistencyIssue:
        written = {r.concept: r.written for r in items}
        rule, g = v.rule, self.graph
        target = f"{rule.target} '{self._label(rule.target)}'"
        if rule.kind == "at_least":
            suggestion = f"raise the stage to {target} or later, or revise " + ", ".join(v.antecedents)
        elif rule.kind == "equals":
            suggestion = f"set the value to {target}, or revise " + ", ".join(v.antecedents)
        else:
            suggestion = f"remove {', '.join(v.offending)} (it contradicts {target}) or revise " + ", ".join(
                v.antecedents
            )
        concepts = tuple(dict.fromkeys((*v.antecedents, *v.offending)))
        return ConsistencyIssue(
            "implication_violated",
            concepts,
            tuple(written.get(c, g.concept(c).label()) for c in concepts),
            f"{rule.text or rule.id} ({rule.source or rule.id}), but {', '.join(v.offending)} is asserted",
            suggestion,
            rule.id,
        )

    def _label(self, cid: str) -> str:
        return self.graph.concept(cid).label()


def assertions_from_report(report: object, *, where: str = "<report>") -> list[Assertion]:
    """Collect assertions from a decoded report JSON.

    Accepted shapes: a list of items, or an object with ``concepts`` (list of items) and/or ``fields``
    (name → item or list of items; numbers, booleans and null are skipped). An item is a string (id or
    phrase) or an object ``{"concept" | "text": str, "subject": str?}``.

    Raises:
        InputError: another shape (the message names ``where`` and the offending field).
    """
    if isinstance(report, list):
        return [_item(x, f"{where}[{i}]") for i, x in enumerate(report)]
    if not isinstance(report, Mapping):
        raise InputError(f"{where}: expected a JSON list or object with 'concepts' / 'fields'")
    out: list[Assertion] = []
    concepts = report.get("concepts", [])
    if not isinstance(concepts, list):
        raise InputError(f"{where}.concepts: expected a list")
    out.extend(_item(x, f"{where}.concepts[{i}]") for i, x in enumerate(concepts))
    fields = report.get("fields", {})
    if not isinstance(fields, Mapping):
        raise InputError(f"{where}.fields: expected an object")
    for name, value in fields.items():
        values = value if isinstance(value, list) else [value]
        for i, x in enumerate(values):
            if x is None or isinstance(x, (bool, int, float)):
                continue
            out.append(_item(x, f"{where}.fields.{name}" + (f"[{i}]" if isinstance(value, list) else "")))
    if "concepts" not in report and "fields" not in report:
        raise InputError(f"{where}: expected a 'concepts' list and/or a 'fields' object")
    return out


def _item(x: Any, where: str) -> Assertion:
    if isinstance(x, str):
        return Assertion(x)
    if isinstance(x, Mapping):
        value = x.get("concept", x.get("text"))
        subject = x.get("subject")
        if isinstance(value, str) and (subject is None or isinstance(subject, str)):
            return Assertion(value, subject)
    raise InputError(
        f"{where}: expected a string or an object with 'concept' (or 'text') and optional 'subject'"
    )
