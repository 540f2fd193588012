"""`maerad pretrain` in the per-sequence layout: drop_sequence's `drop` by sequence name, and an inner tube
refused on 2D slices (it would hide whole image columns)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from helpers_models import TINY

from maerad.data import Study, save_study
from maerad.errors import ConfigError
from maerad.masking.multisequence import DropSequenceMasking
from maerad.train import pretrain as pretrain_module
from maerad.train.config import load_pretrain_config
from maerad.train.pretrain import pretrain
from maerad.train.recon_figure import reconstruction_figure


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sequences")
    rng = np.random.default_rng(0)
    for i in range(2):
        shape = (8, 32, 32)
        save_study(Study({name: rng.normal(size=shape) for name in ("t2w", "adc", "t1c")}, spacing=(4, 1, 1)),
                   root / f"case-{i}")
    return root


def _config(studies: Path, out: Path, **kw: Any) -> Any:
    base: dict[str, Any] = {"data": str(studies), "out": str(out), "patch_size": [4, 8, 8], "max_steps": 1,
                            "batch_size": 2, "lr": 1e-3, "warmup_steps": 0, "masking": "drop_sequence",
                            "model_kwargs": {**TINY, "token_layout": "per_sequence"},
                            "sequences": ["t2w", "adc", "t1c"]}
    return load_pretrain_config(None, **{**base, **kw})


def test_drop_takes_sequence_names(studies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[DropSequenceMasking] = []
    real = pretrain_module.create_masking

    def spy(*args: Any, **kwargs: Any) -> Any:
        strategy = real(*args, **kwargs)
        built.append(strategy)
        return strategy

    monkeypatch.setattr(pretrain_module, "create_masking", spy)
    config = _config(studies, tmp_path / "a", masking_kwargs={"drop": ["t1c"]},
                     sequences=["t1c", "t2w", "adc"])  # T1c is channel 0 here, not 2 as on the phantom
    assert pretrain(config, progress=False).steps == 1
    assert built[0].drop == (0,)
    one_name = _config(studies, tmp_path / "b", masking_kwargs={"drop": "adc"})
    assert pretrain(one_name, progress=False).steps == 1
    assert built[-1].drop == (1,)
    with pytest.raises(ConfigError, match=r"drop names sequence 'dwi', .*its sequences: t2w, adc, t1c"):
        pretrain(_config(studies, tmp_path / "c", masking_kwargs={"drop": ["dwi"]}), progress=False)
    assert not (tmp_path / "c").exists()


def test_an_inner_tube_on_2d_slices_is_refused(studies: Path, tmp_path: Path) -> None:
    config = _config(studies, tmp_path / "run", mode="2d", patch_size=[8, 8], masking="independent",
                     masking_kwargs={"inner": "tube"})
    with pytest.raises(ConfigError, match=r"inner strategy tube repeats a mask along the slice axis"):
        pretrain(config, progress=False)
    assert not (tmp_path / "run").exists()
    # in 3D there is a slice axis to repeat along
    three_d = _config(studies, tmp_path / "3d", masking="independent", masking_kwargs={"inner": "tube"})
    assert pretrain(three_d, progress=False).steps == 1


def test_the_figure_says_which_sequence_is_synthesised(studies: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    real = pretrain_module.save_reconstruction_figure

    def spy(*args: Any, **kwargs: Any) -> Path:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pretrain_module, "save_reconstruction_figure", spy)
    pretrain(_config(studies, tmp_path / "run", masking_kwargs={"drop": ["t1c"]}), progress=False)
    assert calls[-1]["hidden_whole"] == ["t1c"]
    image = torch.rand(3, 32, 32)
    masked = image.clone()
    masked[2] = float("nan")
    fig = reconstruction_figure(image, masked, image, ["t2w", "adc", "t1c"], norm_target=masked,
                                norm_prediction=masked, hidden_whole=["t1c"])
    footnote = fig._supxlabel.get_text()  # type: ignore[attr-defined]
    assert "t1c hidden whole: synthesised, rescaled with its whole image's mean and std only" in footnote
    plain = reconstruction_figure(image, masked, image, ["t2w", "adc", "t1c"], norm_target=masked,
                                  norm_prediction=masked)
    assert "hidden whole" not in plain._supxlabel.get_text()  # type: ignore[attr-defined]
