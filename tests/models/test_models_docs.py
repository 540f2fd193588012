"""Every ``python`` example in docs/models.md runs (except the one that needs a downloaded checkpoint),
and prints what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
RUNNABLE = [i for i, block in enumerate(BLOCKS) if "path/to/" not in block]


def expected_output(block: str) -> list[str]:
    """What each ``print`` line promises: its trailing comment, or a comment on the next line."""
    lines = block.splitlines()
    promised = []
    for i, line in enumerate(lines):
        if line.startswith("print("):
            if "  # " in line:
                promised.append(line.split("  # ", 1)[1])
            elif i + 1 < len(lines) and lines[i + 1].startswith("# "):
                promised.append(lines[i + 1][2:])
    return promised


def test_the_doc_has_examples() -> None:
    assert len(RUNNABLE) >= 6 and any("maep_hiera" in BLOCKS[i] for i in RUNNABLE)


@pytest.mark.parametrize("index", RUNNABLE)
def test_doc_example_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"{DOC.name}[python block {index}]", "exec"), {"__name__": "__doc_example__"})
    assert capsys.readouterr().out.splitlines() == expected_output(BLOCKS[index])
