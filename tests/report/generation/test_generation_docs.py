"""docs/generation.md stays in step with the code: its Python parses and its command lines parse."""

from __future__ import annotations

import argparse
import ast
import importlib
import re
from pathlib import Path

from maerad.cli import evaluate, finetune, report_generate

DOC = Path(__file__).resolve().parents[3] / "docs" / "generation.md"


def _blocks(lang: str) -> list[str]:
    """Contents of the fenced code blocks whose info string is ``lang`` ("" = no language)."""
    blocks: list[str] = []
    current: list[str] | None = None
    keep = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if current is None:
                current, keep = [], line[3:].strip() == lang
            else:
                if keep:
                    blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_python_examples_parse_and_name_real_objects() -> None:
    blocks = _blocks("python")
    assert blocks
    for block in blocks:
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module}.{alias.name}"


def _options() -> dict[str, set[str]]:
    """Option strings of each documented command."""
    parser = argparse.ArgumentParser(prog="maerad")
    sub = parser.add_subparsers(dest="command")
    finetune.add_parser(sub)
    evaluate.add_parser(sub)
    actions = sub.add_parser("report").add_subparsers(dest="action")
    report_generate.add_generate_parser(actions)
    found = {}
    for name, command in (("finetune", sub.choices["finetune"]), ("evaluate", sub.choices["evaluate"]),
                          ("report generate", actions.choices["generate"])):
        found[name] = {o for action in command._actions for o in action.option_strings}
    return found


def test_command_synopses_use_real_options() -> None:
    options = _options()
    text = "\n".join(_blocks(""))
    commands = re.split(r"^maerad ", text, flags=re.M)[1:]
    seen = set()
    for chunk in commands:
        name = "report generate" if chunk.startswith("report generate") else chunk.split()[0]
        assert name in options, name
        seen.add(name)
        for flag in re.findall(r"--[a-z0-9][a-z0-9-]*", chunk):
            assert flag in options[name], f"maerad {name}: {flag} is not an option"
    assert seen == set(options)
