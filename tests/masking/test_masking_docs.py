"""Every ``python`` example in docs/masking.md runs, and the strategy gallery figure renders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maerad.masking.figure import save_strategy_gallery

DOC = Path(__file__).resolve().parents[2] / "docs" / "masking.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"{DOC.name}[python block {index}]", "exec"), {"__name__": "__doc_example__"})


def test_strategy_gallery_renders(tmp_path: Path) -> None:
    out = tmp_path / "gallery.png"
    save_strategy_gallery(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery.png"]  # no temporary file left
