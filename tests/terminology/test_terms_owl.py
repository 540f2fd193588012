"""Loading a user's OWL file (RDF/XML or OWL/XML) with owlready2, offline."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from maerad.errors import InputError
from maerad.terminology import Normalizer, load_owl

RDF_XML = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:owl="http://www.w3.org/2002/07/owl#"
         xmlns:oboInOwl="http://www.geneontology.org/formats/oboInOwl#">
  <owl:Ontology rdf:about="http://example.org/user-onto">
    <owl:imports rdf:resource="http://example.org/not-reachable.owl"/>
    <owl:imports rdf:resource="http://example.org/local-import.owl"/>
  </owl:Ontology>
  <owl:ObjectProperty rdf:about="http://purl.obolibrary.org/obo/BFO_0000050"/>
  <owl:Class rdf:about="http://example.org/user-onto#Organ">
    <rdfs:label xml:lang="en">organ</rdfs:label>
  </owl:Class>
  <owl:Class rdf:about="http://example.org/user-onto#Uterus">
    <rdfs:subClassOf rdf:resource="http://example.org/user-onto#Organ"/>
    <rdfs:label xml:lang="en">uterus</rdfs:label>
    <rdfs:label xml:lang="zh">子宫</rdfs:label>
    <oboInOwl:hasExactSynonym xml:lang="en">womb</oboInOwl:hasExactSynonym>
    <oboInOwl:id>USR:0001</oboInOwl:id>
  </owl:Class>
  <owl:Class rdf:about="http://example.org/user-onto#Cervix">
    <rdfs:subClassOf>
      <owl:Restriction>
        <owl:onProperty rdf:resource="http://purl.obolibrary.org/obo/BFO_0000050"/>
        <owl:someValuesFrom rdf:resource="http://example.org/user-onto#Uterus"/>
      </owl:Restriction>
    </rdfs:subClassOf>
    <rdfs:label>cervix</rdfs:label>
  </owl:Class>
</rdf:RDF>
"""

LOCAL_IMPORT = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#" xmlns:owl="http://www.w3.org/2002/07/owl#">
  <owl:Ontology rdf:about="http://example.org/local-import.owl"/>
  <owl:Class rdf:about="http://example.org/local-import.owl#Imported"><rdfs:label>imported</rdfs:label></owl:Class>
</rdf:RDF>
"""

OWL_XML = """<?xml version="1.0"?>
<Ontology xmlns="http://www.w3.org/2002/07/owl#" xml:base="http://example.org/owx"
          ontologyIRI="http://example.org/owx">
  <Prefix name="rdfs" IRI="http://www.w3.org/2000/01/rdf-schema#"/>
  <Prefix name="owl" IRI="http://www.w3.org/2002/07/owl#"/>
  <Declaration><Class IRI="#Finding"/></Declaration>
  <Declaration><Class IRI="#Ascites"/></Declaration>
  <SubClassOf><Class IRI="#Ascites"/><Class IRI="#Finding"/></SubClassOf>
  <AnnotationAssertion>
    <AnnotationProperty abbreviatedIRI="rdfs:label"/><IRI>#Ascites</IRI>
    <Literal xml:lang="en">ascites</Literal>
  </AnnotationAssertion>
  <AnnotationAssertion>
    <AnnotationProperty abbreviatedIRI="rdfs:label"/><IRI>#Finding</IRI>
    <Literal xml:lang="en">finding</Literal>
  </AnnotationAssertion>
</Ontology>
"""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the OWL loader tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_rdf_xml_user_file(tmp_path: Path, no_network: None) -> None:
    path = tmp_path / "user.owl"
    path.write_text(RDF_XML, encoding="utf-8")
    imports = tmp_path / "imports"
    imports.mkdir()
    (imports / "local-import.owl").write_text(LOCAL_IMPORT, encoding="utf-8")
    g = load_owl(path, import_dirs=[imports])
    uterus = g.concept("USR:0001")  # oboInOwl:id wins over the IRI
    assert uterus.preferred("en") == "uterus" and uterus.preferred("zh") == "子宫"
    assert uterus.synonyms("en") == ("womb",)
    cervix = "http://example.org/user-onto#Cervix"
    assert g.concept(cervix).preferred("en") == "cervix"  # untagged literal: default language
    assert g.concept(cervix).parents == (("USR:0001", "part_of"),)
    assert g.parents("USR:0001") == ("http://example.org/user-onto#Organ",)
    assert g.meta["skipped_imports"] == "http://example.org/not-reachable.owl"
    assert Normalizer(g).normalize("womb").concept == "USR:0001"


def test_owl_xml_user_file(tmp_path: Path, no_network: None) -> None:
    path = tmp_path / "user.owx"
    path.write_text(OWL_XML, encoding="utf-8")
    g = load_owl(path)
    ascites = "http://example.org/owx#Ascites"
    assert g.concept(ascites).preferred("en") == "ascites"
    assert g.parents(ascites) == ("http://example.org/owx#Finding",)


def test_bad_owl_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_owl(tmp_path / "missing.owl")
    broken = tmp_path / "broken.owl"
    broken.write_text("<rdf:RDF", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.owl"):
        load_owl(broken)
    rule = tmp_path / "rule.owl"
    rule.write_text(
        RDF_XML.replace(
            "<owl:imports",
            '<mr:implicationRule xmlns:mr="https://maerad.example/ontology/'
            'maerad-gyn#">{"id": 1}</mr:implicationRule><owl:imports',
            1,
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="implicationRule"):
        load_owl(rule)
