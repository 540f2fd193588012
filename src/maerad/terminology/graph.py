"""``TermGraph``: typed access to a terminology — concepts, hierarchy, exclusion groups, rules.

The graph is immutable once built. Hierarchy links live in networkx for small ontologies (see
``maerad.terminology.hierarchy`` for the SNOMED CT-sized storage); concepts are looked up through a
mapping id → :class:`~maerad.terminology.model.Concept`. Two graphs are merged through the SNOMED CT
mapping file: ``same_as`` rows make the two concepts equivalent, so that navigation and subsumption
cross from the bundled ontology into SNOMED CT and back.

Examples::

    >>> from maerad.terminology import load_bundled
    >>> g = load_bundled()
    >>> g.preferred("MR:F063")
    'deep myometrial invasion (≥ 50 %)'
    >>> g.subsumes("MR:F060", "MR:F063")
    True
    >>> sorted(g.allowed_concepts("MR:F060", ["MR:F063"]))
    ['MR:F063']
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

import networkx as nx

from maerad.errors import InputError
from maerad.terminology.hierarchy import CompositeHierarchy, Hierarchy, NxHierarchy
from maerad.terminology.model import IS_A_ONLY, Concept, ExclusionGroup, ImplicationRule, Relation
from maerad.terminology.source import OntologyData

__all__ = ["TermGraph"]


class TermGraph:
    """A terminology: concepts, hierarchy, exclusion groups, implication rules and equivalences.

    Args:
        concepts: id → concept (a plain dict, or a lazy mapping for SNOMED CT).
        hierarchy: the parent/child links of the same ids.
        groups: exclusion-group descriptions (SPEC §6.3).
        group_members: group id → member ids; computed from ``concepts`` when None.
        rules: implication rules (SPEC §6.3).
        meta: ontology metadata (iri, version, title, …).
        equivalents: id → ids of the same meaning in another terminology (set by :meth:`merge`).
    """

    def __init__(
        self,
        concepts: Mapping[str, Concept],
        hierarchy: Hierarchy,
        *,
        groups: Sequence[ExclusionGroup] = (),
        group_members: Mapping[str, tuple[str, ...]] | None = None,
        rules: Sequence[ImplicationRule] = (),
        meta: Mapping[str, str] | None = None,
        equivalents: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self._concepts = concepts
        self._hierarchy = hierarchy
        self._groups = {g.id: g for g in groups}
        if group_members is None:
            found: dict[str, list[str]] = {}
            for c in concepts.values():
                for g in c.exclusion_groups:
                    found.setdefault(g, []).append(c.id)
            group_members = {g: tuple(m) for g, m in found.items()}
        self._members = dict(group_members)
        for gid in self._members:
            self._groups.setdefault(gid, ExclusionGroup(gid))
        self._rules = tuple(rules)
        self.meta: Mapping[str, str] = dict(meta or {})
        self._equivalents = dict(equivalents or {})
        self._closure_cache: dict[tuple[str, bool, tuple[Relation, ...] | None], frozenset[str]] = {}

    @classmethod
    def from_data(cls, data: OntologyData) -> TermGraph:
        """Build a networkx-backed graph from parsed ontology records."""
        links = [(c.id, p, r) for c in data.concepts for p, r in c.parents]
        hierarchy = NxHierarchy.from_links([c.id for c in data.concepts], links)
        return cls(
            {c.id: c for c in data.concepts}, hierarchy, groups=data.groups, rules=data.rules, meta=data.meta
        )

    # ----------------------------------------------------------------- look-up
    def __contains__(self, cid: object) -> bool:
        return isinstance(cid, str) and cid in self._concepts

    def __len__(self) -> int:
        return len(self._concepts)

    def __iter__(self) -> Iterator[str]:
        return iter(self._concepts)

    def concepts(self) -> Iterator[Concept]:
        """Every concept (materialises all of them for a SNOMED CT graph)."""
        return iter(self._concepts.values())

    def get(self, cid: str) -> Concept | None:
        """The concept with id ``cid``, or None."""
        return self._concepts.get(cid)

    def concept(self, cid: str) -> Concept:
        """The concept with id ``cid``.

        Raises:
            InputError: unknown id (the message suggests close ids of small ontologies).
        """
        found = self._concepts.get(cid)
        if found is None:
            hint = ""
            if len(self._concepts) < 5000:
                close = difflib.get_close_matches(cid, list(self._concepts), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InputError(f"unknown concept id {cid!r}{hint}")
        return found

    def _require(self, cid: str) -> None:
        if cid not in self._concepts:
            self.concept(cid)  # raises with a suggestion

    def preferred(self, cid: str, lang: str = "en") -> str | None:
        """Preferred term of ``cid`` in ``lang`` (None when the concept has no term in that language)."""
        return self.concept(cid).preferred(lang)

    def synonyms(self, cid: str, lang: str | None = None) -> tuple[str, ...]:
        """Non-preferred terms of ``cid`` (all languages when ``lang`` is None)."""
        return self.concept(cid).synonyms(lang)

    # -------------------------------------------------------------- hierarchy
    def parents(self, cid: str, relations: Collection[Relation] | None = None) -> tuple[str, ...]:
        """Direct parents of ``cid``, optionally only through the given relations."""
        self._require(cid)
        return tuple(p for p, r in self._hierarchy.parents(cid) if relations is None or r in relations)

    def children(self, cid: str, relations: Collection[Relation] | None = None) -> tuple[str, ...]:
        """Direct children of ``cid``, optionally only through the given relations."""
        self._require(cid)
        return tuple(c for c, r in self._hierarchy.children(cid) if relations is None or r in relations)

    def ancestors(self, cid: str, relations: Collection[Relation] | None = None) -> frozenset[str]:
        """Every concept above ``cid`` (transitively, across merged equivalents, ``cid`` excluded)."""
        return self._closure(cid, up=True, relations=relations)

    def descendants(self, cid: str, relations: Collection[Relation] | None = None) -> frozenset[str]:
        """Every concept below ``cid`` (transitively, across merged equivalents, ``cid`` excluded)."""
        return self._closure(cid, up=False, relations=relations)

    def subsumes(
        self, general: str, specific: str, relations: Collection[Relation] | None = IS_A_ONLY
    ) -> bool:
        """True if ``specific`` is ``general``, an equivalent of it, or below it.

        Subsumption follows ``is_a`` links only by default (a part is not a kind of its whole);
        pass ``relations=None`` to follow every hierarchy link.
        """
        if general == specific or general in self.equivalents(specific):
            return True
        return general in self.ancestors(specific, relations)

    def related(self, a: str, b: str, relations: Collection[Relation] | None = None) -> bool:
        """True if ``a`` and ``b`` are the same concept or one lies above the other."""
        return self.subsumes(a, b, relations) or self.subsumes(b, a, relations)

    def equivalents(self, cid: str) -> frozenset[str]:
        """Ids declared ``same_as`` ``cid`` by a merge mapping (``cid`` excluded)."""
        return self._equivalents.get(cid, frozenset()) - {cid}

    def roots(self) -> tuple[str, ...]:
        """Concepts without parents (for a SNOMED CT graph this walks every id)."""
        return tuple(c for c in self._hierarchy if not self._hierarchy.parents(c))

    def to_networkx(self) -> nx.DiGraph:
        """The hierarchy as a networkx graph (edges child → parent, attribute ``relation``).

        For the bundled ontology this is the stored graph itself: treat it as read-only.
        """
        return self._hierarchy.to_networkx()

    def _closure(self, cid: str, *, up: bool, relations: Collection[Relation] | None) -> frozenset[str]:
        key = (cid, up, tuple(sorted(relations)) if relations is not None else None)
        cached = self._closure_cache.get(key)
        if cached is not None:
            return cached
        self._require(cid)
        start = {cid} | self.equivalents(cid)
        seen = set(start)
        frontier = list(start)
        step = self._hierarchy.parents if up else self._hierarchy.children
        while frontier:
            node = frontier.pop()
            for nxt, rel in step(node):
                if (relations is None or rel in relations) and nxt not in seen:
                    for same in (nxt, *self.equivalents(nxt)):
                        if same not in seen:
                            seen.add(same)
                            frontier.append(same)
        result = frozenset(seen - start)
        if len(self._closure_cache) < 200_000:
            self._closure_cache[key] = result
        return result

    # ------------------------------------------------------ exclusion groups
    def exclusion_groups(self) -> tuple[ExclusionGroup, ...]:
        """Every exclusion group, in source order."""
        return tuple(self._groups.values())

    def group(self, gid: str) -> ExclusionGroup:
        """One exclusion group (raises :class:`InputError` for an unknown id)."""
        if gid not in self._groups:
            raise InputError(f"unknown exclusion group {gid!r}; known: {', '.join(self._groups)}")
        return self._groups[gid]

    def group_members(self, gid: str) -> tuple[str, ...]:
        """Members of an exclusion group, in source order."""
        self.group(gid)
        return self._members.get(gid, ())

    def groups_of(self, cid: str) -> tuple[str, ...]:
        """Exclusion groups ``cid`` belongs to."""
        return self.concept(cid).exclusion_groups

    def conflicts(self, a: str, b: str) -> tuple[str, ...]:
        """Groups in which ``a`` and ``b`` exclude each other.

        Two members of one group exclude each other unless one lies above the other: a classification
        concept and its own values (``MR:S001`` and ``MR:S001.IIIA``), or a stage and its sub-stage
        (``III`` and ``IIIA``), refine rather than contradict.
        """
        shared = set(self.groups_of(a)) & set(self.groups_of(b))
        if not shared or self.related(a, b, None):
            return ()
        return tuple(g for g in self.groups_of(a) if g in shared)

    # ------------------------------------------------------------------ rules
    @property
    def rules(self) -> tuple[ImplicationRule, ...]:
        """Every implication rule."""
        return self._rules

    def implications(self, cid: str) -> tuple[ImplicationRule, ...]:
        """Rules whose condition mentions ``cid`` or one of its ancestors (``is_a``)."""
        above = self.ancestors(cid, IS_A_ONLY) | {cid}
        return tuple(r for r in self._rules if above & {*r.if_all, *r.if_any})

    def value_concept(self, system: str, value: str) -> str:
        """Id of the value ``value`` of an ordinal value set (``("MR:S001", "IIIA")`` → ``MR:S001.IIIA``).

        Raises:
            InputError: the system has no such value.
        """
        wanted = value.strip().casefold()
        for cid in sorted(self.descendants(system, IS_A_ONLY)):
            if (
                cid.rsplit(".", 1)[-1].casefold() == wanted
                or (self.preferred(cid) or "").casefold() == wanted
            ):
                return cid
        raise InputError(f"{system} has no value {value!r}")

    def allowed_concepts(
        self, root: str, asserted: Iterable[str], *, include_root: bool = False
    ) -> frozenset[str]:
        """Concepts a report field rooted at ``root`` may still take (never empty).

        See :func:`maerad.terminology.constraints.allowed_concepts`.
        """
        from maerad.terminology.constraints import allowed_concepts

        return allowed_concepts(self, root, asserted, include_root=include_root)

    # ------------------------------------------------------------------ merge
    def merge(
        self, other: TermGraph, same_as: Iterable[tuple[str, str]], codes: Iterable[tuple[str, str, str]] = ()
    ) -> TermGraph:
        """Join this graph with ``other`` (disjoint ids), linking ``same_as`` pairs as equivalents.

        Args:
            other: typically a SNOMED CT graph from :func:`~maerad.terminology.rf2.load_rf2`.
            same_as: ``(id_here, id_there)`` pairs; pairs with an id missing from either graph are
                skipped (see :meth:`SnomedMapping.missing`).
            codes: ``(id_here, system, code)`` codes to add to concepts of this graph.

        Raises:
            InputError: the two graphs share an id.
        """
        clash = next((c for c in self._small_ids() if c in other), None)
        if clash is not None:
            raise InputError(f"cannot merge: concept id {clash} exists in both graphs")
        extra: dict[str, list[tuple[str, str]]] = {}
        for cid, system, code in codes:
            if cid in self:
                extra.setdefault(cid, []).append((system, code))
        own = {
            cid: (
                dataclasses.replace(c, codes=c.codes + tuple(x for x in extra[cid] if x not in c.codes))
                if cid in extra
                else c
            )
            for cid, c in self._concepts.items()
        }
        classes: dict[str, set[str]] = {}
        for a, b in same_as:
            if a in self and b in other:
                joined = classes.get(a, {a}) | classes.get(b, {b})
                for member in joined:
                    classes[member] = joined
        equivalents = {**self._equivalents, **other._equivalents}
        equivalents.update({k: frozenset(v) for k, v in classes.items()})
        members = {**other._members, **self._members}
        return TermGraph(
            _Chained(own, other._concepts),
            CompositeHierarchy([self._hierarchy, other._hierarchy]),
            groups=(*self._groups.values(), *other._groups.values()),
            group_members=members,
            rules=(*self._rules, *other._rules),
            meta=self.meta,
            equivalents=equivalents,
        )

    def _small_ids(self) -> Iterable[str]:
        return self._concepts if len(self._concepts) < 100_000 else ()


class _Chained(Mapping[str, Concept]):
    """Read-only union of two concept mappings with disjoint keys."""

    def __init__(self, first: Mapping[str, Concept], second: Mapping[str, Concept]) -> None:
        self._first = first
        self._second = second

    def __getitem__(self, key: str) -> Concept:
        found = self._first.get(key)
        return found if found is not None else self._second[key]

    def __contains__(self, key: object) -> bool:
        return key in self._first or key in self._second

    def __iter__(self) -> Iterator[str]:
        yield from self._first
        yield from self._second

    def __len__(self) -> int:
        return len(self._first) + len(self._second)
