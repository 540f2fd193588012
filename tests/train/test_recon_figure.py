"""The reconstruction figure says "synthetic data" for phantom studies, and only for them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from maerad.data import Study, save_study
from maerad.data.datasets import StudyDataset
from maerad.data.phantom import PhantomConfig, write_phantom_dataset
from maerad.train.recon_figure import reconstruction_figure, save_reconstruction_figure


def _title(synthetic: bool, title: str = "MAE reconstruction, step 3") -> str:
    x = torch.rand(2, 4, 16, 16)
    masked = x.clone()
    masked[:, :, :8] = float("nan")
    fig = reconstruction_figure(x, masked, x, ["t2w", "adc"], title=title, synthetic=synthetic)
    return fig._suptitle.get_text() if fig._suptitle is not None else ""


def test_title_names_synthetic_data_only_when_it_is() -> None:
    assert _title(True) == "MAE reconstruction, step 3 (synthetic data)"
    assert _title(False) == "MAE reconstruction, step 3"
    assert _title(True, title="") == "(synthetic data)" and _title(False, title="") == ""


def test_datasets_know_which_studies_are_synthetic(tmp_path: Path) -> None:
    small = PhantomConfig(size=(4, 32, 32))
    write_phantom_dataset(tmp_path / "phantom", 2, seed=0, config=small, progress=False)
    rng = np.random.default_rng(0)
    real = Study({s: rng.normal(size=(4, 32, 32)) for s in ("t2w", "adc")}, spacing=(4, 1, 1),
                 metadata={"source": "scanner export"})
    save_study(real, tmp_path / "mixed" / "a-real")
    save_study(Study({s: rng.normal(size=(4, 32, 32)) for s in ("t2w", "adc")}, spacing=(4, 1, 1),
                     metadata={"synthetic": True}), tmp_path / "mixed" / "b-synthetic")
    assert [StudyDataset(tmp_path / "phantom").is_synthetic(i) for i in range(2)] == [True, True]
    mixed = StudyDataset(tmp_path / "mixed", mode="2d")
    assert [mixed.is_synthetic(i) for i in (0, 3, 4, 7)] == [False, False, True, True]
    path = save_reconstruction_figure(tmp_path / "fig.png", torch.rand(1, 8, 8), torch.rand(1, 8, 8),
                                      torch.rand(1, 8, 8), ["t2w"], title="t", synthetic=False)
    assert path.read_bytes()[:4] == b"\x89PNG"
