"""The preview montage: one row per case, Agg canvas, no pyplot global state."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
from helpers_phantom import SMALL

from maerad.data.phantom import generate_case, preview_figure
from maerad.errors import InputError


def test_preview_figure(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    cases = [
        generate_case("cervical", seed=1, config=SMALL, stage="IIB"),
        generate_case("pelvic_floor", seed=1, config=SMALL),
    ]
    fig = preview_figure(cases)
    assert plt.get_fignums() == before  # no pyplot figure was created
    # 4 axial + t2w and label sagittal columns + a strain column (pelvic-floor case)
    assert len(fig.axes) == 2 * 7
    titles = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert any("FIGO 2018 IIB" in t for t in titles) and any("pelvic_floor" in t for t in titles)
    out = tmp_path / "p.png"
    fig.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend()  # backend untouched


def test_preview_needs_cases() -> None:
    with pytest.raises(InputError, match="no phantom cases"):
        preview_figure([])
