"""``maerad terms``: normalise mentions, check a report's terminology, show a concept, import SNOMED CT.

Examples::

    maerad terms normalize "deep myometrial invasion" "未见宫旁侵犯" --json
    maerad terms check report.json
    maerad terms show MR:F063
    maerad terms import-rf2 SnomedCT_InternationalRF2_PRODUCTION_20240101T120000Z.zip \
        --out ~/.cache/maerad/sct
    maerad terms show SCTID:35039007 --rf2-cache ~/.cache/maerad/sct
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from maerad.errors import InputError
from maerad.terminology import (
    ConsistencyChecker,
    Normalizer,
    TermGraph,
    assertions_from_report,
    import_rf2,
    load_bundled,
    load_owl,
    load_rf2_cache,
    load_snomed_mapping,
)

__all__ = ["add_parser", "run_check", "run_import", "run_normalize", "run_show"]


def add_parser(subparsers: Any) -> None:
    """Register ``terms`` and its sub-commands on ``subparsers`` (an argparse sub-parsers action)."""
    parser = subparsers.add_parser(
        "terms",
        help="terminology: normalise mentions, check reports, show concepts",
        description="Work with the gyn-onc MRI terminology (bundled ontology, your OWL "
        "file or your licensed SNOMED CT release).",
    )
    sub = parser.add_subparsers(dest="terms_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True

    p = sub.add_parser(
        "normalize",
        help="map mentions to concepts",
        description="Map each mention to a concept: "
        "status match, ambiguous or no_match, with candidates and scores.",
    )
    p.add_argument("mentions", nargs="+", metavar="TEXT", help="mention(s), English or Chinese")
    p.add_argument(
        "--lang", choices=("en", "zh"), help="compare with terms of this language (default: by script)"
    )
    _common(p)
    p.set_defaults(func=run_normalize)

    p = sub.add_parser(
        "check",
        help="check the terminology of a report JSON",
        description="Flag synonyms where the preferred term is required, concepts asserted with "
        "their ancestor, exclusion-group conflicts and violated implications. Exit status 1 when "
        "issues are found.",
    )
    p.add_argument(
        "report",
        metavar="REPORT.json",
        help="a JSON list of ids/phrases, or an object with 'concepts' and/or 'fields'",
    )
    p.add_argument("--lang", choices=("en", "zh"), help="language of the phrases (default: by script)")
    p.add_argument("--allow-synonyms", action="store_true", help="do not flag non-preferred synonyms")
    _common(p)
    p.set_defaults(func=run_check)

    p = sub.add_parser(
        "show",
        help="show one concept",
        description="Show a concept: terms, hierarchy, groups, codes and implication rules.",
    )
    p.add_argument("concept", metavar="ID", help="concept id, e.g. MR:F063 or SCTID:35039007")
    p.add_argument(
        "--rf2-cache", type=Path, metavar="CACHE", help="merge a SNOMED CT cache made by import-rf2"
    )
    _common(p)
    p.set_defaults(func=run_show)

    p = sub.add_parser(
        "import-rf2",
        help="parse a SNOMED CT RF2 snapshot into a cache",
        description="Parse your licensed SNOMED CT release (folder or zip) into a fast cache.",
    )
    p.add_argument("path", type=Path, metavar="PATH", help="release folder or zip")
    p.add_argument("--out", type=Path, required=True, metavar="CACHE", help="cache folder to write")
    p.add_argument(
        "--refset",
        action="append",
        default=None,
        metavar="ID",
        help="language refset id, in priority order (repeatable; default: US, GB English, others)",
    )
    p.set_defaults(func=run_import)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ontology", type=Path, metavar="OWL", help="use this OWL file instead of the bundled ontology"
    )
    p.add_argument("--json", action="store_true", help="print JSON")


def _graph(args: argparse.Namespace) -> TermGraph:
    graph = load_owl(args.ontology) if args.ontology is not None else load_bundled()
    cache = getattr(args, "rf2_cache", None)
    if cache is not None:
        graph = load_snomed_mapping().merge(graph, load_rf2_cache(cache).to_graph())
    return graph


def run_normalize(args: argparse.Namespace) -> int:
    """Print one result per mention (text or JSON list)."""
    results = Normalizer(_graph(args)).normalize_many(args.mentions, lang=args.lang)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
        return 0
    for r in results:
        head = f"{r.mention}\t{r.status}\t{r.concept or '-'}\t{r.preferred or '-'}\t{r.score:.1f}"
        if r.status != "match" and r.candidates:
            head += "\tcandidates: " + "; ".join(
                f"{c.concept} {c.preferred} ({c.score:.1f})" for c in r.candidates
            )
        print(head)
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Print the issues of a report; exit status 1 if there are any."""
    path = Path(args.report)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the report JSON ({exc})") from exc
    if isinstance(data, dict) and "template_id" in data:
        # a StructuredReport (maerad report …): its fields assert concepts with their template scopes
        from maerad.report.assertions import report_assertions
        from maerad.report.structured_report import StructuredReport

        assertions = report_assertions(StructuredReport.from_json(json.dumps(data), source=str(path)))
    else:
        assertions = assertions_from_report(data, where=str(path))
    checker = ConsistencyChecker(_graph(args), require_preferred=not args.allow_synonyms)
    issues = checker.check(assertions, lang=args.lang)
    if args.json:
        print(
            json.dumps(
                {"report": str(path), "issues": [i.to_dict() for i in issues]}, ensure_ascii=False, indent=2
            )
        )
    elif not issues:
        print(f"{path}: no terminology issues")
    else:
        for issue in issues:
            print(f"{path}: {issue.kind}: {issue.message}\n    fix: {issue.suggestion}")
    return 1 if issues else 0


def run_show(args: argparse.Namespace) -> int:
    """Print one concept."""
    graph = _graph(args)
    cid = args.concept.strip()
    if cid.isdigit():
        cid = f"SCTID:{cid}"
    c = graph.concept(cid)
    info: dict[str, Any] = {
        "id": c.id,
        "preferred": {lang: c.preferred(lang) for lang in dict.fromkeys(t.lang for t in c.terms)},
        "synonyms": {lang: list(c.synonyms(lang)) for lang in dict.fromkeys(t.lang for t in c.terms)},
        "parents": [{"id": p, "relation": r, "label": graph.concept(p).label()} for p, r in c.parents],
        "children": sorted(graph.children(cid)),
        "equivalents": sorted(graph.equivalents(cid)),
        "exclusion_groups": {g: [m for m in graph.group_members(g) if m != cid] for g in c.exclusion_groups},
        "codes": [{"system": s, "code": code} for s, code in c.codes],
        "note": c.note,
        "implications": [{"id": r.id, "text": r.text} for r in graph.implications(cid)],
    }
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"{c.id}  {c.label()}")
    for key, value in info.items():
        if key not in ("id",) and value:
            print(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Parse the release and write the cache; print a one-line summary."""
    started = time.perf_counter()
    snapshot = import_rf2(args.path, args.out, language_refsets=args.refset)
    counts = snapshot.meta.get("counts", {})
    elapsed = time.perf_counter() - started
    print(
        f"imported {counts.get('concepts', 0):,} concepts, {counts.get('is_a', 0):,} is-a links, "
        f"{counts.get('descriptions', 0):,} descriptions into {args.out} in {elapsed:.1f} s"
    )
    return 0
