"""The bundled gyn-onc MRI ontology: where its files are and how to load it.

Package data (``maerad/terminology/data``):

* ``concepts.json`` — the authored source, transcribed from SPEC §6;
* ``maerad-gyn.owl`` — the same content as OWL 2 (RDF/XML), generated from the source by
  ``python -m maerad.terminology.build_ontology``; a test keeps the two in step;
* ``snomed-mapping.tsv`` — optional SNOMED CT identifiers with their licence note (SPEC §6.1).

:func:`load_bundled` reads the JSON source (fast, no owlready2); ``load_owl(BUNDLED_OWL)`` yields an
equal graph through owlready2.
"""

from __future__ import annotations

import functools
from pathlib import Path

from maerad.terminology.graph import TermGraph
from maerad.terminology.source import OntologyData, read_source

__all__ = ["BUNDLED_OWL", "BUNDLED_SOURCE", "DATA_DIR", "SNOMED_MAPPING", "bundled_data", "load_bundled"]

DATA_DIR = Path(__file__).resolve().parent / "data"
BUNDLED_SOURCE = DATA_DIR / "concepts.json"
BUNDLED_OWL = DATA_DIR / "maerad-gyn.owl"
SNOMED_MAPPING = DATA_DIR / "snomed-mapping.tsv"


@functools.lru_cache(maxsize=1)
def bundled_data() -> OntologyData:
    """The parsed bundled source (cached)."""
    return read_source(BUNDLED_SOURCE)


@functools.lru_cache(maxsize=1)
def load_bundled() -> TermGraph:
    """The bundled ontology as a :class:`TermGraph` (cached; the graph is immutable).

    Examples::

        >>> from maerad.terminology import load_bundled
        >>> load_bundled().preferred("MR:A008", "zh")
        '子宫颈'
    """
    return TermGraph.from_data(bundled_data())
