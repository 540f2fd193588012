"""The ``python`` examples of the docs that have no test file of their own run as written (blocks that
need files the user must supply, such as a licensed SNOMED CT release, are left out)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from maerad.data.phantom import PhantomConfig, write_phantom_dataset

DOCS = Path(__file__).resolve().parents[1] / "docs"
# docs/models.md, masking.md, evaluation.md, generation.md and reports.md have tests of their own
NAMES = ("data-io", "losses", "pretraining", "rules", "terminology")
NEEDS_USER_FILES = ("SnomedCT_", "~/.cache/maerad/sct", "path/to/")


def _blocks(name: str) -> list[str]:
    text = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    return [textwrap.dedent(b) for b in re.findall(r"^[ \t]*```python\n(.*?)^[ \t]*```", text, re.M | re.S)]


CASES = [
    pytest.param(name, i, id=f"{name}[{i}]")
    for name in NAMES
    for i, block in enumerate(_blocks(name))
    if not any(marker in block for marker in NEEDS_USER_FILES)
]


def _promised(block: str) -> list[str]:
    """What the block's top-level ``print`` lines promise in their trailing comments (two spaces before
    ``#``; a comment after one space is a remark, not an output)."""
    return [line.split("  # ", 1)[1].strip() for line in block.splitlines()
            if line.startswith("print(") and "  # " in line]


def test_every_listed_doc_has_runnable_examples() -> None:
    assert {case.values[0] for case in CASES} == set(NAMES)


@pytest.mark.parametrize(("name", "index"), CASES)
def test_doc_example_runs(
    name: str, index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    block = _blocks(name)[index]
    if "phantom/train" in block:  # made by the doc's shell example just above (small here, for speed)
        small = PhantomConfig(size=(4, 32, 32))
        write_phantom_dataset("phantom/train", 4, seed=0, config=small, progress=False)
    exec(compile(block, f"docs/{name}.md[python block {index}]", "exec"), {"__name__": "__doc_example__"})
    printed = iter(capsys.readouterr().out.splitlines())
    for promise in _promised(block):  # in order, among the lines printed (loops print more)
        assert any(line == promise for line in printed), f"no printed line {promise!r} (in order)"
