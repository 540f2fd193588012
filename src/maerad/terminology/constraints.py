"""Implication-rule evaluation and the allowed-value constraint used by report decoding (SPEC §6.3).

A report asserts a set of concepts. :func:`violations` lists the implication rules that set breaks
(e.g. lower-third vaginal invasion with FIGO 2018 stage IIB); :func:`allowed_concepts` tells a decoder
which concepts a template field may still take: members of an exclusion group already used are
excluded, and so are concepts that would break a rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from maerad.errors import InputError
from maerad.terminology.model import IS_A_ONLY, ImplicationRule

if TYPE_CHECKING:
    from maerad.terminology.graph import TermGraph

__all__ = ["RuleViolation", "allowed_concepts", "fired_by", "violations"]


@dataclass(frozen=True)
class RuleViolation:
    """An implication rule broken by a set of asserted concepts.

    Attributes:
        rule: the rule.
        antecedents: asserted concepts that made the rule fire.
        offending: asserted concepts contradicting the rule's consequent.
    """

    rule: ImplicationRule
    antecedents: tuple[str, ...]
    offending: tuple[str, ...]


def fired_by(graph: TermGraph, rule: ImplicationRule, asserted: Iterable[str]) -> tuple[str, ...] | None:
    """The asserted concepts that make ``rule`` fire, or None when its condition does not hold.

    A condition concept is met by itself, an ``is_a`` descendant or a merged equivalent of either.
    """
    items = sorted(set(asserted))
    hits: list[str] = []
    for needed in rule.if_all:
        found = [a for a in items if graph.subsumes(needed, a)]
        if not found:
            return None
        hits.extend(found)
    if rule.if_any:
        found = [a for a in items if any(graph.subsumes(n, a) for n in rule.if_any)]
        if not found:
            return None
        hits.extend(found)
    if rule.only_within is not None:
        key = rule.if_all[0]
        for a in items:
            if graph.subsumes(rule.only_within, a) and not graph.related(a, key, IS_A_ONLY):
                return None
    return tuple(dict.fromkeys(hits))


def violations(graph: TermGraph, asserted: Iterable[str]) -> tuple[RuleViolation, ...]:
    """Every rule of ``graph`` broken by ``asserted`` (unknown ids raise :class:`InputError`)."""
    items = _known(graph, asserted)
    found: list[RuleViolation] = []
    for rule in graph.rules:
        antecedents = fired_by(graph, rule, items)
        if antecedents is None:
            continue
        offending = _offending(graph, rule, items)
        if offending:
            found.append(RuleViolation(rule, antecedents, offending))
    return tuple(found)


def allowed_concepts(
    graph: TermGraph, root: str, asserted: Iterable[str], *, include_root: bool = False
) -> frozenset[str]:
    """Concepts a field whose value set is rooted at ``root`` may take, given what is asserted.

    The value set is every descendant of ``root`` (all hierarchy relations), or ``root`` itself when
    it has none; ``include_root`` adds ``root``. Removed from it: members of an exclusion group that an
    asserted concept already uses (SPEC §6.3, members that refine each other excepted) and concepts
    whose addition would break an implication rule that ``asserted`` alone does not break.

    The result is never empty: when the constraints remove everything (the report already contradicts
    itself), the implication filter is dropped first, then the exclusion filter, and the plain value
    set is returned; the consistency checker reports the contradiction.

    Examples::

        >>> from maerad.terminology import load_bundled
        >>> g = load_bundled()
        >>> "MR:S001.IIB" in allowed_concepts(g, "MR:S001", ["MR:F032"])
        False
    """
    items = _known(graph, asserted)
    graph.concept(root)
    value_set = set(graph.descendants(root)) or {root}
    if include_root:
        value_set.add(root)
    blocked = {m for m in value_set if any(graph.conflicts(m, a) for a in items)}
    open_set = value_set - blocked
    base = {v.rule.id for v in violations(graph, items)}
    relevant = _rule_roots(graph)
    contradicted = set()
    for cand in open_set:
        if cand in items or not (relevant & (graph.ancestors(cand, IS_A_ONLY) | {cand})):
            continue
        if {v.rule.id for v in violations(graph, items | {cand})} - base:
            contradicted.add(cand)
    for option in (open_set - contradicted, open_set, value_set):
        if option:
            return frozenset(option)
    return frozenset({root})  # unreachable: value_set always holds at least root


def _offending(graph: TermGraph, rule: ImplicationRule, items: frozenset[str]) -> tuple[str, ...]:
    if rule.kind == "requires":
        return tuple(sorted(a for a in items if graph.conflicts(a, rule.target)))
    assert rule.system is not None  # checked by the source parser
    values = sorted(a for a in items if a != rule.system and graph.subsumes(rule.system, a))
    if rule.kind == "equals":
        return tuple(v for v in values if not graph.related(v, rule.target, IS_A_ONLY))
    floor = _leaf_orders(graph, rule.target)
    if not floor:
        return ()
    bad = []
    for v in values:
        orders = _leaf_orders(graph, v)
        if orders and max(orders) < min(floor):
            bad.append(v)
    return tuple(bad)


def _leaf_orders(graph: TermGraph, cid: str) -> list[int]:
    """Ranks of the most specific values at or below ``cid`` (a stage covers its sub-stages)."""
    nodes = graph.descendants(cid, IS_A_ONLY) | {cid}
    orders = []
    for n in nodes:
        concept = graph.concept(n)
        if concept.order is not None and not graph.children(n, IS_A_ONLY):
            orders.append(concept.order)
    return orders


def _rule_roots(graph: TermGraph) -> set[str]:
    roots: set[str] = set()
    for r in graph.rules:
        roots.update(r.if_all, r.if_any, [r.target])
        roots.update(x for x in (r.system, r.only_within) if x is not None)
        if r.kind == "requires":
            for g in graph.groups_of(r.target):
                roots.update(graph.group_members(g))
    return roots


def _known(graph: TermGraph, asserted: Iterable[str]) -> frozenset[str]:
    if isinstance(asserted, str):
        raise InputError("asserted concepts must be a list of ids, not a single string")
    items = frozenset(asserted)
    for cid in items:
        if cid not in graph:
            graph.concept(cid)  # raises InputError naming the id
    return items
