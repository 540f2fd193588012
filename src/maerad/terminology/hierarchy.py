"""Parent/child storage behind :class:`~maerad.terminology.graph.TermGraph`.

A small ontology (the bundled one, a user's OWL file) lives in a :class:`networkx.DiGraph` with one edge
``child → parent`` per hierarchy link, carrying its ``relation`` (``is_a`` / ``part_of`` /
``measurement_of``). A SNOMED CT release has ≈350k concepts and ≈500k is-a links: building networkx
dicts for it costs seconds and hundreds of MB, so an RF2 graph keeps its links in compressed sparse
rows (numpy) and builds a networkx view only when :meth:`Hierarchy.to_networkx` is asked for. Both
implement the same :class:`Hierarchy` protocol, and :class:`CompositeHierarchy` joins hierarchies with
disjoint identifiers (the bundled ontology plus SNOMED CT).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import networkx as nx
import numpy as np
import numpy.typing as npt

from maerad.terminology.model import Relation

__all__ = ["ArrayHierarchy", "CompositeHierarchy", "Hierarchy", "NxHierarchy"]

Links = tuple[tuple[str, Relation], ...]


class Hierarchy(Protocol):
    """Read access to parent and child links of a set of concept ids."""

    def __contains__(self, cid: object) -> bool: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[str]: ...

    def parents(self, cid: str) -> Links:
        """``(parent_id, relation)`` pairs of ``cid`` (empty for a root or an unknown id)."""
        ...

    def children(self, cid: str) -> Links:
        """``(child_id, relation)`` pairs of ``cid``."""
        ...

    def to_networkx(self) -> nx.DiGraph:
        """The links as a networkx graph, edges ``child → parent`` with a ``relation`` attribute."""
        ...


class NxHierarchy:
    """A hierarchy stored in a networkx ``DiGraph`` (edges child → parent, attribute ``relation``)."""

    def __init__(self, graph: nx.DiGraph) -> None:
        self.graph = graph

    @classmethod
    def from_links(cls, nodes: Sequence[str], links: Sequence[tuple[str, str, Relation]]) -> NxHierarchy:
        """Build from node ids and ``(child, parent, relation)`` links."""
        graph = nx.DiGraph()
        graph.add_nodes_from(nodes)
        graph.add_edges_from((c, p, {"relation": r}) for c, p, r in links)
        return cls(graph)

    def __contains__(self, cid: object) -> bool:
        return cid in self.graph

    def __len__(self) -> int:
        return int(self.graph.number_of_nodes())

    def __iter__(self) -> Iterator[str]:
        return iter(self.graph.nodes)

    def parents(self, cid: str) -> Links:
        """See :meth:`Hierarchy.parents`."""
        if cid not in self.graph:
            return ()
        return tuple((p, d["relation"]) for p, d in self.graph.succ[cid].items())

    def children(self, cid: str) -> Links:
        """See :meth:`Hierarchy.children`."""
        if cid not in self.graph:
            return ()
        return tuple((c, d["relation"]) for c, d in self.graph.pred[cid].items())

    def to_networkx(self) -> nx.DiGraph:
        """The stored graph itself (not a copy)."""
        return self.graph


class ArrayHierarchy:
    """An is-a hierarchy of integer-identified concepts (SNOMED CT) in compressed sparse rows.

    Args:
        ids: ``(N,)`` int64, sorted ascending, unique concept identifiers.
        child_idx: ``(E,)`` int32 index into ``ids`` of the child of each is-a link.
        parent_idx: ``(E,)`` int32 index of the parent of each link.
        prefix: string prefix of the public ids (``"SCTID:"``).
    """

    def __init__(
        self,
        ids: npt.NDArray[np.int64],
        child_idx: npt.NDArray[np.int32],
        parent_idx: npt.NDArray[np.int32],
        prefix: str = "SCTID:",
    ) -> None:
        self.ids = ids
        self.prefix = prefix
        self._up = _csr(child_idx, parent_idx, len(ids))
        self._down = _csr(parent_idx, child_idx, len(ids))
        self._nx: nx.DiGraph | None = None

    def index(self, cid: object) -> int:
        """Row of ``cid`` in :attr:`ids`, or -1 when it is not a concept of this hierarchy."""
        if not isinstance(cid, str) or not cid.startswith(self.prefix):
            return -1
        digits = cid[len(self.prefix) :]
        if not digits.isdigit() or len(digits) > 18:
            return -1
        value = int(digits)
        row = int(np.searchsorted(self.ids, value))
        return row if row < len(self.ids) and int(self.ids[row]) == value else -1

    def __contains__(self, cid: object) -> bool:
        return self.index(cid) >= 0

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[str]:
        return (f"{self.prefix}{i}" for i in self.ids.tolist())

    def parents(self, cid: str) -> Links:
        """See :meth:`Hierarchy.parents`."""
        return self._links(self._up, self.index(cid))

    def children(self, cid: str) -> Links:
        """See :meth:`Hierarchy.children`."""
        return self._links(self._down, self.index(cid))

    def to_networkx(self) -> nx.DiGraph:
        """Build (once) and return the networkx view; seconds for a full SNOMED CT release."""
        if self._nx is None:
            names = [f"{self.prefix}{i}" for i in self.ids.tolist()]
            indptr, indices = self._up
            graph = nx.DiGraph()
            graph.add_nodes_from(names)
            counts = np.diff(indptr)
            rows = np.repeat(np.arange(len(names)), counts).tolist()
            graph.add_edges_from(
                (names[c], names[p], {"relation": "is_a"})
                for c, p in zip(rows, indices.tolist(), strict=True)
            )
            self._nx = graph
        return self._nx

    def _links(self, csr: tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]], row: int) -> Links:
        if row < 0:
            return ()
        indptr, indices = csr
        found = indices[indptr[row] : indptr[row + 1]]
        return tuple((f"{self.prefix}{int(self.ids[j])}", "is_a") for j in found.tolist())


class CompositeHierarchy:
    """Several hierarchies with disjoint identifiers seen as one (links never cross parts)."""

    def __init__(self, parts: Sequence[Hierarchy]) -> None:
        self.parts = tuple(parts)

    def _part(self, cid: str) -> Hierarchy | None:
        return next((p for p in self.parts if cid in p), None)

    def __contains__(self, cid: object) -> bool:
        return any(cid in p for p in self.parts)

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __iter__(self) -> Iterator[str]:
        for part in self.parts:
            yield from part

    def parents(self, cid: str) -> Links:
        """See :meth:`Hierarchy.parents`."""
        part = self._part(cid)
        return part.parents(cid) if part is not None else ()

    def children(self, cid: str) -> Links:
        """See :meth:`Hierarchy.children`."""
        part = self._part(cid)
        return part.children(cid) if part is not None else ()

    def to_networkx(self) -> nx.DiGraph:
        """The union of the parts' networkx graphs (a new graph)."""
        return nx.compose_all([p.to_networkx() for p in self.parts])


def _csr(
    rows: npt.NDArray[np.int32], cols: npt.NDArray[np.int32], n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols[order].astype(np.int32, copy=False)
