"""Every ``python`` example of docs/evaluation.md runs, and the ``Examples::`` blocks of maerad.eval pass."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import maerad.eval

DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
SUBMODULES = {m.name for m in pkgutil.walk_packages(maerad.eval.__path__, "maerad.eval.")}
MODULES = sorted(SUBMODULES | {"maerad.eval"})


def test_the_doc_has_examples_and_the_disclaimer() -> None:
    assert len(BLOCKS) >= 8
    assert "not clinical validation" in TEXT


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"{DOC.name}[python block {index}]", "exec"), {"__name__": "__doc_example__"})


def test_every_public_function_has_a_docstring_and_a_place_in_the_doc() -> None:
    for name in maerad.eval.__all__:
        obj = getattr(maerad.eval, name)
        if inspect.isfunction(obj):
            assert obj.__doc__, f"{name} has no docstring"
            assert f"`{name}" in TEXT, f"{name} is not mentioned in {DOC.name}"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
