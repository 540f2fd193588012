"""``maerad report``: render, validate and describe structured reports.

Examples::

    maerad report render case.json --lang zh --format text
    maerad report render case.json --format fhir --option figo2018-cervix.boundaries=original_2018
    maerad report render case.json --format fhir --snomed-codes   # needs a SNOMED CT licence
    maerad report validate case.json
    maerad report schema cervix-figo2018

Each action is a small ``_add_<action>(actions)`` function registered in ``_ACTIONS``; a new action
(e.g. ``generate``) adds one function and one entry.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from maerad.atomic import write_text_atomic
from maerad.cli.report_generate import add_generate_parser
from maerad.errors import ConfigError
from maerad.report.cross_check import check_report
from maerad.report.render_fhir import render_fhir, with_snomed_codes
from maerad.report.render_text import LANGUAGES, render_text
from maerad.report.report_schema import template_schema
from maerad.report.structured_report import StructuredReport, read_report
from maerad.report.templates import get_template, template_ids
from maerad.terminology import load_bundled, load_snomed_mapping

__all__ = ["add_parser", "parse_rule_options", "run"]

FORMATS = ("text", "json", "fhir")


def add_parser(subparsers: Any) -> None:
    """Register the ``report`` sub-command (with its actions) on ``subparsers``."""
    parser = subparsers.add_parser(
        "report",
        help="render, validate and describe structured reports (text en|zh, JSON, FHIR)",
        description="Structured reports: validate against the template, compute the derived fields with "
        "the rule engines, flag contradictions, and render as English/Chinese text, JSON or FHIR R4. "
        "Research tool, not clinical advice.",
    )
    actions = parser.add_subparsers(dest="report_action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    for _name, add in _ACTIONS:
        add(actions)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the selected ``report`` action."""
    handler: Callable[[argparse.Namespace], int] = args.report_handler
    return handler(args)


def _report_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", metavar="REPORT.json",
                        help="structured report JSON ('-' reads standard input)")
    parser.add_argument("--option", action="append", default=[], metavar="SYSTEM.KEY=VALUE",
                        help="rule-engine option, e.g. figo2018-cervix.boundaries=original_2018 (repeatable)")


def _add_render(actions: Any) -> None:
    p = actions.add_parser("render", help="check a report and render it as text, JSON or FHIR",
                           description="Validate and check a report (derived fields, flags), then print it.")
    _report_argument(p)
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="report language (default en)")
    p.add_argument("--format", choices=FORMATS, default="text", dest="fmt",
                   help="output format (default text)")
    p.add_argument("--output", metavar="FILE", help="write to FILE (atomically) instead of standard output")
    p.add_argument("--snomed-codes", nargs="?", const="bundled", metavar="MAPPING.tsv",
                   help="add SNOMED CT codes to the FHIR codings from the maerad-SNOMED mapping "
                   "(default: the bundled one); needs your own SNOMED CT licence")
    p.set_defaults(report_handler=_render)


def _add_validate(actions: Any) -> None:
    p = actions.add_parser("validate", help="validate a report against its template and list its flags",
                           description="Exit status 0 when the report is valid (flags are listed, they are "
                           "not errors); 2 with one line naming the problem otherwise.")
    _report_argument(p)
    p.set_defaults(report_handler=_validate)


def _add_schema(actions: Any) -> None:
    p = actions.add_parser("schema", help="print the JSON Schema of a template's reports",
                           description="Print the JSON Schema of the reports of TEMPLATE "
                           f"(one of: {', '.join(template_ids())}; 'ID@VERSION' for a given version).")
    p.add_argument("template", metavar="TEMPLATE", help="template id, optionally ID@VERSION")
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="language of the descriptions")
    p.set_defaults(report_handler=_schema)


_ACTIONS: tuple[tuple[str, Callable[[Any], None]], ...] = (
    ("render", _add_render),
    ("validate", _add_validate),
    ("schema", _add_schema),
    ("generate", add_generate_parser),
)


def parse_rule_options(items: list[str]) -> dict[str, dict[str, str]]:
    """``["figo2018-cervix.boundaries=original_2018"]`` → ``{"figo2018-cervix": {"boundaries": ...}}``.

    Raises:
        ConfigError: an item not of the form ``SYSTEM.KEY=VALUE`` or given twice.
    """
    options: dict[str, dict[str, str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        system, dot, key = name.strip().rpartition(".")
        if not sep or not dot or not system or not key:
            raise ConfigError(f"--option expects SYSTEM.KEY=VALUE, got {item!r}")
        if key in options.setdefault(system, {}):
            raise ConfigError(f"--option {system}.{key} given more than once")
        options[system][key] = value.strip()
    return options


def _checked(args: argparse.Namespace) -> StructuredReport:
    report = read_report(args.report)
    source = "<stdin>" if args.report == "-" else str(args.report)
    return check_report(report, options=parse_rule_options(args.option), source=source)


def _emit(text: str, output: str | None) -> None:
    if output:
        write_text_atomic(output, text + "\n")
    else:
        print(text)


def _render(args: argparse.Namespace) -> int:
    report = _checked(args)
    if args.snomed_codes is not None and args.fmt != "fhir":
        raise ConfigError("--snomed-codes applies to --format fhir only")
    if args.fmt == "text":
        text = render_text(report, args.lang)
    elif args.fmt == "json":
        text = report.to_json()
    else:
        graph = load_bundled()
        if args.snomed_codes is not None:
            path = None if args.snomed_codes == "bundled" else args.snomed_codes
            graph = with_snomed_codes(graph, load_snomed_mapping(path))
        doc = render_fhir(report, lang=args.lang, graph=graph)
        text = json.dumps(doc, ensure_ascii=False, indent=2)
    _emit(text, args.output)
    return 0


def _validate(args: argparse.Namespace) -> int:
    report = _checked(args)
    source = "<stdin>" if args.report == "-" else args.report
    print(f"{source}: valid {report.template_id} {report.template_version} report, "
          f"{len(report.fields)} fields, {len(report.flags)} flags")
    for flag in report.flags:
        where = f" [{flag.field}]" if flag.field else ""
        print(f"  {flag.kind}{where}: {flag.message}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    template_id, _, version = args.template.partition("@")
    template = get_template(template_id, version or None)
    print(json.dumps(template_schema(template, lang=args.lang), ensure_ascii=False, indent=2))
    return 0
