"""``maerad stage``: run a clinical rule engine on a findings JSON file and print the result as JSON.

Example::

    maerad stage --system figo2018-cervix --findings case.json --option boundaries=original_2018
    echo '{"myometrial_invasion_ratio": 0.5}' | maerad stage --system figo2009-endometrium --findings -
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from maerad.errors import ConfigError, FindingsError
from maerad.report.rules import RULE_SYSTEMS, evaluate
from maerad.strict_json import parse_json

__all__ = ["add_parser", "read_findings", "run"]


def add_parser(subparsers: Any) -> None:
    """Register the ``stage`` sub-command on ``subparsers`` (an argparse sub-parsers action)."""
    names = RULE_SYSTEMS.names()
    parser = subparsers.add_parser(
        "stage",
        help="stage / score findings with a clinical rule engine (FIGO, O-RADS, RMI, pelvic floor, ESGO)",
        description="Apply a deterministic rule engine to a findings JSON object and print the result "
        "as JSON. Research tool, not clinical advice.",
    )
    parser.add_argument("--system", required=True, choices=names, metavar="SYSTEM",
                        help=f"rule system: {', '.join(names)}")
    parser.add_argument("--findings", required=True, metavar="FILE",
                        help="findings JSON object ('-' reads standard input)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="rule option, e.g. boundaries=original_2018 (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the findings, evaluate the system and print the result JSON on stdout."""
    options = _parse_options(args.option)
    source = "<stdin>" if args.findings == "-" else str(args.findings)
    data = read_findings(args.findings)
    result = evaluate(args.system, data, source=source, **options)
    print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    return 0


def read_findings(path: str) -> object:
    """Decode the JSON value in ``path`` (``"-"``: standard input).

    Raises:
        FindingsError: unreadable file, invalid UTF-8, empty or malformed JSON, duplicate keys.
    """
    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except FileNotFoundError:
        raise FindingsError(f"{source}: findings file not found") from None
    except IsADirectoryError:
        raise FindingsError(f"{source}: is a directory, expected a findings JSON file") from None
    except UnicodeDecodeError as exc:
        raise FindingsError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise FindingsError(f"{source}: cannot read findings file ({exc.strerror or exc})") from None
    return parse_json(text, source=source, expected="a JSON object of findings")


def _parse_options(items: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--option expects KEY=VALUE, got {item!r}")
        if key in options:
            raise ConfigError(f"--option {key} given more than once")
        options[key] = value.strip()
    return options
