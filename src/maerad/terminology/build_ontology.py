"""Generate the bundled OWL ontology (RDF/XML) from the authored concept source.

Run ``python -m maerad.terminology.build_ontology`` after editing ``data/concepts.json``;
``--check`` only reports whether the shipped ``maerad-gyn.owl`` is up to date (exit status 1 if not).

Modelling (OWL 2, loadable with owlready2 and Protégé):

* each concept is an ``owl:Class`` ``<iri>#MR_F063`` with ``mr:conceptId "MR:F063"``;
* ``is_a`` → ``rdfs:subClassOf`` the parent; ``part_of`` / ``measurement_of`` → ``rdfs:subClassOf`` an
  existential restriction on ``mr:partOf`` / ``mr:measurementOf`` (a part is not a kind of its whole);
* terms → ``skos:prefLabel`` / ``skos:altLabel`` with ``xml:lang`` (``rdfs:label`` repeats the English
  preferred term); source keys and ``(var.)`` flags → ``mr:termSource "term | Z13 | var."``; terms
  written by maerad's authors (no SPEC source) → ``mr:termProvenance "term | maerad-translation"``;
* ``mr:exclusionGroup``, ``mr:radlex``, ``mr:ncit``, ``mr:order``, ``mr:note`` annotations;
* exclusion-group descriptions and implication rules → ontology annotations holding one JSON object
  each (``mr:exclusionGroupInfo``, ``mr:implicationRule``).

SNOMED CT identifiers are deliberately absent (SPEC §6.1): they live in ``snomed-mapping.tsv``.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from maerad.atomic import write_text_atomic
from maerad.terminology.bundled import BUNDLED_OWL, BUNDLED_SOURCE
from maerad.terminology.model import Concept
from maerad.terminology.source import OntologyData, read_source

__all__ = ["MR_PROPERTIES", "main", "ontology_xml"]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MR_PROPERTIES = (
    "conceptId",
    "exclusionGroup",
    "radlex",
    "ncit",
    "order",
    "note",
    "termSource",
    "termProvenance",
    "exclusionGroupInfo",
    "implicationRule",
    "license",
)
_REL_PROPERTY = {"part_of": "partOf", "measurement_of": "measurementOf"}


def ontology_xml(data: OntologyData) -> str:
    """The RDF/XML text of the ontology (deterministic: same source, same bytes)."""
    iri = data.meta.get("iri", "https://maerad.example/ontology/maerad-gyn")
    mr = iri + "#"
    for prefix, ns in (("rdf", RDF), ("rdfs", RDFS), ("owl", OWL), ("xsd", XSD), ("skos", SKOS), ("mr", mr)):
        ET.register_namespace(prefix, ns)
    root = ET.Element(f"{{{RDF}}}RDF")
    onto = ET.SubElement(root, f"{{{OWL}}}Ontology", {f"{{{RDF}}}about": iri})
    _text(onto, f"{{{OWL}}}versionInfo", data.meta.get("version", ""))
    _text(onto, f"{{{RDFS}}}label", data.meta.get("title", ""), "en")
    _text(onto, f"{{{RDFS}}}comment", data.meta.get("description", ""), "en")
    _text(onto, f"{{{mr}}}license", data.meta.get("license", ""))
    _text(onto, f"{{{RDFS}}}seeAlso", data.meta.get("source", ""))
    for group in data.groups:
        _text(onto, f"{{{mr}}}exclusionGroupInfo", json.dumps(asdict(group), ensure_ascii=False))
    for rule in data.rules:
        payload = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(rule).items()}
        _text(onto, f"{{{mr}}}implicationRule", json.dumps(payload, ensure_ascii=False))
    for prop in (f"{SKOS}prefLabel", f"{SKOS}altLabel", *(mr + p for p in MR_PROPERTIES)):
        ET.SubElement(root, f"{{{OWL}}}AnnotationProperty", {f"{{{RDF}}}about": prop})
    for rel, prop in _REL_PROPERTY.items():
        el = ET.SubElement(root, f"{{{OWL}}}ObjectProperty", {f"{{{RDF}}}about": mr + prop})
        _text(el, f"{{{RDFS}}}label", rel.replace("_", " "), "en")
    for concept in data.concepts:
        _concept(root, concept, mr)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def class_iri(base: str, cid: str) -> str:
    """IRI of the class of concept ``cid`` (``MR:F063`` → ``<base>#MR_F063``)."""
    return base + cid.replace(":", "_", 1)


def _concept(root: ET.Element, c: Concept, mr: str) -> None:
    el = ET.SubElement(root, f"{{{OWL}}}Class", {f"{{{RDF}}}about": class_iri(mr, c.id)})
    for parent, rel in c.parents:
        sub = ET.SubElement(el, f"{{{RDFS}}}subClassOf")
        if rel == "is_a":
            sub.set(f"{{{RDF}}}resource", class_iri(mr, parent))
        else:
            restriction = ET.SubElement(sub, f"{{{OWL}}}Restriction")
            ET.SubElement(
                restriction, f"{{{OWL}}}onProperty", {f"{{{RDF}}}resource": mr + _REL_PROPERTY[rel]}
            )
            ET.SubElement(
                restriction, f"{{{OWL}}}someValuesFrom", {f"{{{RDF}}}resource": class_iri(mr, parent)}
            )
    _text(el, f"{{{mr}}}conceptId", c.id)
    _text(el, f"{{{RDFS}}}label", c.label(), "en")
    for term in c.terms:
        prop = "prefLabel" if term.preferred else "altLabel"
        _text(el, f"{{{SKOS}}}{prop}", term.text, term.lang)
        if term.sources or term.variant:
            parts = [term.text, " ".join(term.sources)] + (["var."] if term.variant else [])
            _text(el, f"{{{mr}}}termSource", " | ".join(parts), term.lang)
        if term.provenance:
            _text(el, f"{{{mr}}}termProvenance", f"{term.text} | {term.provenance}", term.lang)
    for group in c.exclusion_groups:
        _text(el, f"{{{mr}}}exclusionGroup", group)
    for system, code in c.codes:
        code_property = {"RadLex": "radlex", "NCIt": "ncit"}.get(system)
        if code_property is not None:
            _text(el, f"{{{mr}}}{code_property}", code)
    if c.order is not None:
        order = ET.SubElement(el, f"{{{mr}}}order", {f"{{{RDF}}}datatype": XSD + "integer"})
        order.text = str(c.order)
    if c.note:
        _text(el, f"{{{mr}}}note", c.note)


def _text(parent: ET.Element, tag: str, text: str, lang: str | None = None) -> None:
    if not text:
        return
    el = ET.SubElement(parent, tag, {XML_LANG: lang} if lang else {})
    el.text = text


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the bundled OWL file; returns the exit status."""
    parser = argparse.ArgumentParser(description="Generate maerad-gyn.owl from concepts.json.")
    parser.add_argument("--source", type=Path, default=BUNDLED_SOURCE)
    parser.add_argument("--out", type=Path, default=BUNDLED_OWL)
    parser.add_argument("--check", action="store_true", help="only check that --out is up to date")
    args = parser.parse_args(argv)
    text = ontology_xml(read_source(args.source))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(
                f"{args.out} is out of date: run python -m maerad.terminology.build_ontology", file=sys.stderr
            )
            return 1
        return 0
    write_text_atomic(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
