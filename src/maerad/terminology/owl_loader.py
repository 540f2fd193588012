"""Load an OWL ontology (RDF/XML or OWL/XML) into a :class:`TermGraph` through owlready2, offline.

What is read, per class of the file:

* id: ``mr:conceptId`` (maerad's own files), else ``oboInOwl:id``, else the class IRI;
* terms: ``skos:prefLabel`` (preferred, per ``xml:lang``), ``rdfs:label`` (preferred where no
  ``skos:prefLabel`` of that language exists), ``skos:altLabel`` and ``oboInOwl:hasExactSynonym``;
  literals without a language tag count as ``default_lang``;
* parents: named superclasses (``is_a``) and existential restrictions on a *part of* property
  (``mr:partOf``, BFO ``BFO_0000050``) or on ``mr:measurementOf``; other axioms are ignored;
* maerad annotations when present: exclusion groups, RadLex / NCIt codes, value order, notes, term
  sources and term provenance (``mr:termProvenance``: maerad translations), and the ontology-level
  exclusion-group descriptions and implication rules.

``owl:imports`` are never fetched: an import is read from ``import_dirs`` when a file there has the
import's last path segment as its name, and skipped otherwise (listed in ``graph.meta["skipped_imports"]``).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maerad.errors import InputError, MissingDependencyError
from maerad.terminology.graph import TermGraph
from maerad.terminology.model import Concept, ExclusionGroup, ImplicationRule, Relation, Term
from maerad.terminology.source import OntologyData

__all__ = ["load_owl", "read_owl"]

_MR = "https://maerad.example/ontology/maerad-gyn#"
_SKOS = "http://www.w3.org/2004/02/skos/core#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_OBO = "http://www.geneontology.org/formats/oboInOwl#"
_OWL = "http://www.w3.org/2002/07/owl#"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_PART_OF = ("partOf", "part_of", "BFO_0000050")
_MEASUREMENT_OF = ("measurementOf",)


def load_owl(
    path: str | os.PathLike[str],
    *,
    default_lang: str = "en",
    import_dirs: Sequence[str | os.PathLike[str]] = (),
) -> TermGraph:
    """Load an OWL file as a :class:`TermGraph` (see the module docstring for what is read).

    Examples::

        >>> from maerad.terminology import BUNDLED_OWL, load_owl
        >>> load_owl(BUNDLED_OWL).preferred("MR:F063")
        'deep myometrial invasion (≥ 50 %)'

    Raises:
        InputError: missing or unparsable file, or a maerad annotation with a malformed value.
    """
    return TermGraph.from_data(read_owl(path, default_lang=default_lang, import_dirs=import_dirs))


def read_owl(
    path: str | os.PathLike[str],
    *,
    default_lang: str = "en",
    import_dirs: Sequence[str | os.PathLike[str]] = (),
) -> OntologyData:
    """Read an OWL file into ontology records (see :func:`load_owl`)."""
    try:
        import owlready2
    except ImportError as exc:  # pragma: no cover - owlready2 is a core dependency
        raise MissingDependencyError("reading OWL files needs owlready2 (pip install owlready2)") from exc
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: OWL file not found")
    world = owlready2.World()
    skipped = _prepare_imports(world, path, [Path(d) for d in import_dirs])
    try:
        with path.open("rb") as fh:
            onto = world.get_ontology(path.resolve().as_uri()).load(fileobj=fh)
    except Exception as exc:  # owlready2 raises assorted errors on malformed input
        raise InputError(f"{path}: not a readable OWL file (RDF/XML or OWL/XML expected): {exc}") from exc
    classes = list(onto.classes())
    values = _Annotations(world)
    ids = {
        cls: _first(values.get(cls, _MR + "conceptId") + values.get(cls, _OBO + "id")) or str(cls.iri)
        for cls in classes
    }
    concepts = [_concept(cls, ids, values, default_lang, str(path)) for cls in classes]
    header = next(
        (
            i
            for i in (onto.base_iri, onto.base_iri.rstrip("#/"), onto.base_iri.rstrip("#"))
            if values.get(i, _RDF_TYPE)
        ),
        onto.base_iri.rstrip("#/"),
    )
    meta = {"iri": header, "source": str(path)}
    for key, prop in (
        ("version", _OWL + "versionInfo"),
        ("title", _RDFS + "label"),
        ("description", _RDFS + "comment"),
        ("license", _MR + "license"),
    ):
        if found := _first(values.get(header, prop)):
            meta[key] = found
    if skipped:
        meta["skipped_imports"] = " ".join(skipped)
    groups = tuple(_group(raw, path) for raw in values.get(header, _MR + "exclusionGroupInfo"))
    rules = tuple(_rule(raw, path) for raw in values.get(header, _MR + "implicationRule"))
    known = {c.id for c in concepts}
    for r in rules:
        for ref in (*r.if_all, *r.if_any, r.target, r.system, r.only_within):
            if ref is not None and ref not in known:
                raise InputError(f"{path}: implication rule {r.id} refers to unknown concept {ref}")
    return OntologyData(tuple(concepts), groups, rules, meta)


class _Annotations:
    """All values of a few annotation properties, fetched once per property with SPARQL."""

    def __init__(self, world: Any) -> None:
        self._world = world
        self._cache: dict[str, dict[Any, list[Any]]] = {}

    def get(self, subject: Any, prop: str) -> list[Any]:
        table = self._cache.get(prop)
        if table is None:
            table = {}
            query = f"SELECT ?s ?o WHERE {{ ?s <{prop}> ?o }}"
            for s, o in self._world.sparql(query, error_on_undefined_entities=False):
                table.setdefault(s, []).append(o)
                if isinstance(getattr(s, "iri", None), str):  # the ontology header is found by its IRI
                    table.setdefault(s.iri, []).append(o)
            self._cache[prop] = table
        return table.get(subject, [])


def _concept(cls: Any, ids: dict[Any, str], values: _Annotations, default_lang: str, where: str) -> Concept:
    cid = ids[cls]
    by_lang: dict[str, tuple[list[str], list[str]]] = {}

    def add(literal: Any, preferred: bool) -> None:
        text = str(literal).strip()
        lang = (getattr(literal, "lang", "") or default_lang).split("-")[0].lower()
        pref, alt = by_lang.setdefault(lang, ([], []))
        if text and text not in pref and text not in alt:
            (pref if preferred else alt).append(text)

    for lit in values.get(cls, _SKOS + "prefLabel"):
        add(lit, True)
    for lit in values.get(cls, _RDFS + "label"):
        lang = (getattr(lit, "lang", "") or default_lang).split("-")[0].lower()
        add(lit, not by_lang.get(lang, ([], []))[0])
    for prop in (_SKOS + "altLabel", _OBO + "hasExactSynonym"):
        for lit in values.get(cls, prop):
            add(lit, False)
    provenance: dict[tuple[str, str], tuple[tuple[str, ...], bool]] = {}
    for lit in values.get(cls, _MR + "termSource"):
        parts = [p.strip() for p in str(lit).split("|")]
        lang = (getattr(lit, "lang", "") or default_lang).split("-")[0].lower()
        provenance[(parts[0], lang)] = (
            tuple(parts[1].split()) if len(parts) > 1 else (),
            "var." in parts[2:],
        )
    origin: dict[tuple[str, str], str] = {}
    for lit in values.get(cls, _MR + "termProvenance"):
        text, _, value = str(lit).rpartition("|")
        lang = (getattr(lit, "lang", "") or default_lang).split("-")[0].lower()
        origin[(text.strip(), lang)] = value.strip()
    terms: list[Term] = []
    for lang, (pref, alt) in by_lang.items():
        for i, text in enumerate(pref + alt):
            sources, variant = provenance.get((text, lang), ((), False))
            terms.append(Term(text, lang, i == 0, sources, variant, origin.get((text, lang), "")))
    parents: list[tuple[str, Relation]] = []
    for sup in cls.is_a:
        if sup in ids:
            parents.append((ids[sup], "is_a"))
        elif hasattr(sup, "property") and getattr(sup, "value", None) in ids:
            name = str(getattr(sup.property, "name", ""))
            if name in _PART_OF:
                parents.append((ids[sup.value], "part_of"))
            elif name in _MEASUREMENT_OF:
                parents.append((ids[sup.value], "measurement_of"))
    codes = tuple(
        (system, str(v))
        for system, prop in (("RadLex", "radlex"), ("NCIt", "ncit"))
        for v in values.get(cls, _MR + prop)
    )
    order_values = values.get(cls, _MR + "order")
    try:
        order = int(order_values[0]) if order_values else None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: {cid} mr:order must be an integer, got {order_values[0]!r}") from exc
    return Concept(
        cid,
        tuple(terms),
        tuple(parents),
        tuple(str(g) for g in values.get(cls, _MR + "exclusionGroup")),
        codes,
        _first(values.get(cls, _MR + "note")) or "",
        order,
    )


def _group(raw: Any, path: Path) -> ExclusionGroup:
    d = _json(raw, path, "mr:exclusionGroupInfo")
    return ExclusionGroup(str(d.get("id", "")), str(d.get("scope", "")), str(d.get("rule", "")))


def _rule(raw: Any, path: Path) -> ImplicationRule:
    d = _json(raw, path, "mr:implicationRule")
    try:
        kind = d["kind"]
        if kind not in ("requires", "at_least", "equals"):
            raise ValueError(f"unknown kind {kind!r}")
        return ImplicationRule(
            id=str(d["id"]),
            kind=kind,
            target=str(d["target"]),
            if_all=tuple(str(x) for x in d["if_all"]),
            system=d.get("system"),
            if_any=tuple(str(x) for x in d.get("if_any", [])),
            only_within=d.get("only_within"),
            text=str(d.get("text", "")),
            source=str(d.get("source", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: malformed mr:implicationRule {raw!r} ({exc})") from exc


def _json(raw: Any, path: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: {what} must hold a JSON object, got {raw!r}") from exc
    if not isinstance(value, dict):
        raise InputError(f"{path}: {what} must hold a JSON object, got {raw!r}")
    return value


def _first(items: list[Any]) -> str | None:
    return str(items[0]) if items else None


def _prepare_imports(world: Any, path: Path, import_dirs: list[Path]) -> list[str]:
    """Pre-load or neutralise every ``owl:imports`` so that owlready2 never goes to the network."""
    iris: list[str] = []
    try:
        for _, el in ET.iterparse(path, events=("end",)):
            if el.tag == f"{{{_OWL}}}imports":
                iris.append(
                    el.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource") or (el.text or "")
                )
            elif el.tag == f"{{{_OWL}}}Import":
                iris.append(el.text or "")
    except ET.ParseError as exc:
        raise InputError(f"{path}: not well-formed XML (RDF/XML or OWL/XML expected): {exc}") from exc
    skipped = []
    for iri in (i.strip() for i in iris if i.strip()):
        name = iri.rstrip("/#").rsplit("/", 1)[-1]
        local = next((d / name for d in import_dirs if (d / name).is_file()), None)
        imported = world.get_ontology(iri)
        if local is not None:
            with local.open("rb") as fh:
                imported.load(fileobj=fh)
        else:
            imported.loaded = True  # owlready2 then treats it as already loaded and fetches nothing
            skipped.append(iri)
    return skipped
