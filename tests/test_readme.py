"""The README's Python example runs as written (keeps the front page true)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README has no python example"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    case = namespace["case"]
    assert case.outputs["figo2018"].stage == "IIB"  # type: ignore[attr-defined]
    loss = namespace["mae"](namespace["x"], mask=namespace["spec"]).loss.detach()  # type: ignore[operator]
    assert 0.0 < float(loss) < 10.0  # norm-pix loss on normalised input: order 1
