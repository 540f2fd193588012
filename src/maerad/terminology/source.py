"""Read the authored concept source (``data/concepts.json``, transcribed from SPEC §6) into typed records.

The source keeps the SPEC's own notation where that is the most faithful transcription: a Chinese
cell such as ``"宫颈间质 [Z5][Z7]; 宫颈基质 [Z4]"`` is stored verbatim and parsed here (``;`` separates
items, `` / `` separates alternatives that share the markers after them, ``[Zn]`` is a source key,
``(var.)`` marks a variant, any other parenthesis holds one more alternative, SPEC §6.1).

Ordinal values (stages, scores, grades) have no ``MR:`` id of their own in the SPEC; they are derived
as ``<system id>.<value>`` (``MR:S001.IIIA``, ``MR:P030.H2``) from the ``value_sets`` section, with
``order`` = pre-order rank in the listed value tree (``ASSUMPTION``: a modelling choice, not a SPEC id).

Chinese terms that no SPEC source gives are written by maerad's authors and kept apart from the SPEC's:
a concept's ``zh_translation`` cell (same grammar, but no ``[Zn]`` key and no ``(var.)``: a translation
cites no source), and for a value set a ``zh_translation`` template with ``{v}`` for the value
(``"FIGO 2018 宫颈癌 {v}期"``), which a value may override with its own ``zh_translation``. Such terms
get provenance :data:`~maerad.terminology.model.TRANSLATION`; one is preferred only when the concept
has no SPEC-sourced Chinese term (``ASSUMPTION``, to be reviewed by a Chinese-speaking radiologist).
Use full-width parentheses ``（…）`` inside a translated term: ASCII ones mark an alternative.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from maerad.errors import InputError
from maerad.terminology.model import (
    RELATIONS,
    TRANSLATION,
    Concept,
    ExclusionGroup,
    ImplicationRule,
    Relation,
    Term,
)

__all__ = [
    "SOURCE_FORMAT",
    "OntologyData",
    "parse_source",
    "parse_translation_cell",
    "parse_zh_cell",
    "read_source",
]

SOURCE_FORMAT = "maerad-terminology-source/1"
_MARKER = re.compile(r"\[([A-Z]+\d+)\]|\(var\.\)|\(([^()]*)\)")


@dataclass(frozen=True)
class OntologyData:
    """Everything an ontology source holds, in source order.

    Attributes:
        concepts: every concept (SPEC rows first, then derived ordinal values).
        groups: the exclusion groups with scope and rule text (SPEC §6.3).
        rules: the implication rules (SPEC §6.3).
        meta: ontology metadata (``iri``, ``version``, ``title``, ``description``, ``license``, ``source``).
    """

    concepts: tuple[Concept, ...]
    groups: tuple[ExclusionGroup, ...]
    rules: tuple[ImplicationRule, ...]
    meta: Mapping[str, str]


def read_source(path: str | Path) -> OntologyData:
    """Read and validate a concept source JSON file.

    Raises:
        InputError: unreadable file, malformed JSON, or a field with an unexpected value (the message
            names the file and the field).
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the terminology source JSON ({exc})") from exc
    return parse_source(raw, origin=str(path))


def parse_source(raw: object, *, origin: str = "<source>") -> OntologyData:
    """Validate a decoded concept source (see :func:`read_source`)."""
    top = _mapping(raw, origin)
    if top.get("format") != SOURCE_FORMAT:
        raise InputError(f"{origin}: field 'format' must be {SOURCE_FORMAT!r}, got {top.get('format')!r}")
    meta = {str(k): str(v) for k, v in _mapping(top.get("ontology", {}), f"{origin}: ontology").items()}
    groups = tuple(
        _group(g, f"{origin}: groups[{i}]") for i, g in enumerate(_list(top.get("groups"), origin))
    )
    concepts: list[Concept] = []
    for i, item in enumerate(_list(top.get("concepts"), origin)):
        concepts.append(_concept(item, f"{origin}: concepts[{i}]"))
    for i, vs in enumerate(_list(top.get("value_sets", []), origin)):
        concepts.extend(_value_set(vs, f"{origin}: value_sets[{i}]"))
    rules = tuple(
        _rule(r, f"{origin}: rules[{i}]") for i, r in enumerate(_list(top.get("rules", []), origin))
    )
    _check_references(concepts, groups, rules, origin)
    return OntologyData(tuple(concepts), groups, rules, meta)


def parse_zh_cell(cell: str) -> tuple[Term, ...]:
    """Parse a SPEC §6.2 Chinese cell into terms; the first non-variant term is preferred.

    Examples::

        >>> [t.text for t in parse_zh_cell("子宫颈 / 宫颈 [Z1][Z11]")]
        ['子宫颈', '宫颈']
        >>> parse_zh_cell("宫底 (var.)")[0].variant
        True
    """
    parsed: list[tuple[str, tuple[str, ...], bool]] = []
    for item in (part.strip() for part in cell.split(";")):
        if not item:
            continue
        alternatives: list[str] = []
        sources: list[str] = []
        variant = False
        for alt in (a.strip() for a in item.split(" / ")):
            extra: list[str] = []
            for m in _MARKER.finditer(alt):
                if m.group(1):
                    sources.append(m.group(1))
                elif m.group(0) == "(var.)":
                    variant = True
                elif m.group(2):
                    extra.append(m.group(2).strip())
            text = _MARKER.sub("", alt).strip()
            if text:
                alternatives.append(text)
            alternatives.extend(extra)
        parsed.extend((text, tuple(sources), variant) for text in alternatives)
    preferred_index = next((i for i, (_, _, var) in enumerate(parsed) if not var), 0)
    return tuple(
        Term(text, "zh", i == preferred_index, src, var) for i, (text, src, var) in enumerate(parsed)
    )


def parse_translation_cell(
    cell: str, *, sourced: Sequence[Term] = (), where: str = "<cell>"
) -> tuple[Term, ...]:
    """Parse a ``zh_translation`` cell: terms written by maerad's authors (provenance ``TRANSLATION``).

    The grammar is that of :func:`parse_zh_cell` without source keys and ``(var.)``. The first term is
    preferred only when ``sourced`` (the concept's SPEC-sourced Chinese terms) is empty: a translation
    never displaces a sourced term.

    Examples::

        >>> [(t.text, t.preferred, t.provenance) for t in parse_translation_cell("宫颈间质环完整")]
        [('宫颈间质环完整', True, 'maerad-translation')]

    Raises:
        InputError: the cell cites a source key or ``(var.)``, repeats a sourced term, or holds no term.
    """
    parsed = parse_zh_cell(cell)
    if not parsed:
        raise InputError(f"{where}: expected at least one Chinese term, got {cell!r}")
    known = {t.text for t in sourced}
    out = []
    for term in parsed:
        if term.sources or term.variant:
            raise InputError(
                f"{where}: a translated term cites no source key or (var.), got {cell!r} "
                "(SPEC-sourced terms belong in 'zh')"
            )
        if term.text in known:
            raise InputError(f"{where}: {term.text!r} is already a SPEC-sourced term of the concept")
        known.add(term.text)
        out.append(Term(term.text, "zh", term.preferred and not sourced, provenance=TRANSLATION))
    return tuple(out)


def _zh_terms(sourced_cell: str | None, translated_cell: str | None, where: str) -> list[Term]:
    sourced = list(parse_zh_cell(sourced_cell)) if sourced_cell is not None else []
    if translated_cell is not None:
        sourced.extend(parse_translation_cell(translated_cell, sourced=sourced, where=where))
    return sourced


def _concept(item: object, where: str) -> Concept:
    d = _mapping(item, where)
    cid = _str(d, "id", where)
    terms = [Term(_str(d, "en", where), "en", True)]
    terms.extend(Term(s, "en") for s in _strings(d.get("syn", []), f"{where}.syn"))
    terms.extend(
        _zh_terms(
            _str(d, "zh", where) if "zh" in d else None,
            _str(d, "zh_translation", where) if "zh_translation" in d else None,
            f"{where}.zh_translation",
        )
    )
    parents: tuple[tuple[str, Relation], ...] = ()
    if "parent" in d:
        rel = d.get("rel", "is_a")
        if rel not in RELATIONS:
            raise InputError(f"{where}.rel: expected one of {RELATIONS}, got {rel!r}")
        parents = ((_str(d, "parent", where), cast(Relation, rel)),)
    codes = tuple(
        (system, str(d[key])) for key, system in (("radlex", "RadLex"), ("ncit", "NCIt")) if key in d
    )
    return Concept(
        cid,
        tuple(terms),
        parents,
        tuple(_strings(d.get("groups", []), f"{where}.groups")),
        codes,
        str(d.get("note", "")),
    )


def _value_set(item: object, where: str) -> list[Concept]:
    d = _mapping(item, where)
    system = _str(d, "system", where)
    label = _str(d, "label", where)
    groups = tuple(_strings(d.get("groups", []), f"{where}.groups"))
    infix = str(d.get("id_infix", ""))
    zh_template = _str(d, "zh_translation", where) if "zh_translation" in d else None
    ncit = {str(k): str(v) for k, v in _mapping(d.get("ncit", {}), f"{where}.ncit").items()}
    source = str(d.get("source", ""))
    note = f"value of {system}" + (f" ({source})" if source else "")
    out: list[Concept] = []

    def walk(nodes: object, parent: str, path: str) -> None:
        for i, node in enumerate(_list(nodes, path)):
            here = f"{path}[{i}]"
            spec: Mapping[str, Any] = {"v": node} if isinstance(node, str) else _mapping(node, here)
            value = _str(spec, "v", here)
            cid = f"{system}.{infix}{value}"
            terms = [Term(str(spec.get("en", label.format(v=value))), "en", True)]
            translated = _str(spec, "zh_translation", here) if "zh_translation" in spec else zh_template
            terms.extend(
                _zh_terms(
                    _str(spec, "zh", here) if "zh" in spec else None,
                    translated.replace("{v}", value) if translated is not None else None,
                    f"{here}.zh_translation",
                )
            )
            codes = (("NCIt", ncit[value]),) if value in ncit else ()
            out.append(Concept(cid, tuple(terms), ((parent, "is_a"),), groups, codes, note, len(out) + 1))
            walk(spec.get("sub", []), cid, f"{here}.sub")

    walk(d.get("values"), system, f"{where}.values")
    return out


def _rule(item: object, where: str) -> ImplicationRule:
    d = _mapping(item, where)
    kind = _str(d, "kind", where)
    if kind not in ("requires", "at_least", "equals"):
        raise InputError(f"{where}.kind: expected requires, at_least or equals, got {kind!r}")
    system = d.get("system")
    if kind != "requires" and not isinstance(system, str):
        raise InputError(f"{where}.system: a {kind} rule needs the value-set root id")
    if_all = tuple(_strings(d.get("if_all", []), f"{where}.if_all"))
    if not if_all:
        raise InputError(f"{where}.if_all: expected at least one concept id")
    only = d.get("only_within")
    return ImplicationRule(
        id=_str(d, "id", where),
        kind=cast(Any, kind),
        target=_str(d, "target", where),
        if_all=if_all,
        system=system if isinstance(system, str) else None,
        if_any=tuple(_strings(d.get("if_any", []), f"{where}.if_any")),
        only_within=only if isinstance(only, str) else None,
        text=str(d.get("text", "")),
        source=str(d.get("source", "")),
    )


def _group(item: object, where: str) -> ExclusionGroup:
    d = _mapping(item, where)
    return ExclusionGroup(_str(d, "id", where), str(d.get("scope", "")), str(d.get("rule", "")))


def _check_references(
    concepts: Sequence[Concept],
    groups: Sequence[ExclusionGroup],
    rules: Sequence[ImplicationRule],
    origin: str,
) -> None:
    ids: set[str] = set()
    for c in concepts:
        if c.id in ids:
            raise InputError(f"{origin}: concept id {c.id} is defined twice")
        ids.add(c.id)
    group_ids = {g.id for g in groups}
    used: set[str] = set()
    for c in concepts:
        for parent, _ in c.parents:
            if parent not in ids:
                raise InputError(f"{origin}: {c.id}.parent {parent} is not a concept of the source")
        for g in c.exclusion_groups:
            if g not in group_ids:
                raise InputError(
                    f"{origin}: {c.id} names exclusion group {g}, which 'groups' does not declare"
                )
            used.add(g)
    if unused := sorted(group_ids - used):
        raise InputError(f"{origin}: exclusion groups without members: {', '.join(unused)}")
    for r in rules:
        for ref in (*r.if_all, *r.if_any, r.target, r.system, r.only_within):
            if ref is not None and ref not in ids:
                raise InputError(f"{origin}: rule {r.id} refers to unknown concept {ref}")


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return cast(Mapping[str, Any], value)


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"{where}: expected a JSON array, got {type(value).__name__}")
    return value


def _str(d: Mapping[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value


def _strings(value: object, where: str) -> list[str]:
    items = _list(value, where)
    if not all(isinstance(s, str) and s.strip() for s in items):
        raise InputError(f"{where}: expected an array of non-empty strings")
    return [str(s) for s in items]
