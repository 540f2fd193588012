"""Entry point of the ``maerad`` command.

Each sub-command lives in its own module of this package and exposes ``add_parser(subparsers)``,
which registers its parser and sets ``func`` (a callable taking the parsed namespace and returning
an exit status). User mistakes (:class:`~maerad.errors.MaeradError`) become one line on stderr and
exit status 2 (under ``torchrun``, printed by rank 0 only); nothing else is caught, so real bugs keep
their tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from maerad import __version__
from maerad.errors import MaeradError

__all__ = ["build_parser", "main"]

# Sub-command modules, in the order `maerad --help` lists them.
_COMMAND_MODULES = (
    "demo",
    "phantom",
    "info",
    "stage",
    "terms",
    "report",
    "pretrain",
    "train_lesion",
    "finetune",
    "evaluate",
)


class _Parser(argparse.ArgumentParser):
    """argparse exits with status 2 on usage errors already; keep that, with a one-line message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full ``maerad`` parser with every sub-command."""
    parser = _Parser(
        prog="maerad",
        description="MAE pre-training on pelvic MRI and structured, terminology-consistent reports.",
    )
    parser.add_argument("--version", action="version", version=f"maerad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(f"maerad.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``maerad`` command; returns the process exit status."""
    try:
        # building the parser imports every sub-command (a second or two): a Ctrl-C there is handled too
        args = build_parser().parse_args(argv)
        status: int = args.func(args)
    except MaeradError as exc:
        if _is_main_process():  # under torchrun every rank meets the same error: say it once
            print(f"maerad: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("maerad: interrupted", file=sys.stderr)
        return 130
    return status


def _is_main_process() -> bool:
    """False on the ranks other than 0 of a ``torchrun`` launch (``RANK`` is set and not 0)."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
