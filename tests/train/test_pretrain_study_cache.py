"""Pre-training with the studies on disk (``cache_dir``): the same run as with them in memory, and a
run may take the cache up or drop it when it is resumed."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers_models import TINY
from helpers_studies import pretrain_until_crash, tiny_pretrain_config

from maerad.cli.main import main
from maerad.data.datasets import StudyDataset
from maerad.train import pretrain as pretrain_module
from maerad.train.distributed import DistInfo
from maerad.train.pretrain import pretrain


def _config(train: Path, out: Path, **kw: Any) -> Any:
    return tiny_pretrain_config(train, out, masking="lesion_aware", **kw)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "checkpoint" / "model.safetensors"))


def test_a_run_from_the_disk_cache_equals_one_from_memory(train_and_held_out: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    train, val = train_and_held_out
    memory = pretrain(_config(train, tmp_path / "memory", val_data=str(val)), progress=False)
    disk = pretrain(_config(train, tmp_path / "disk", val_data=str(val), cache_dir=str(tmp_path / "cache")),
                    progress=False)
    assert disk.losses == memory.losses and disk.val_losses == memory.val_losses
    a, b = _weights(tmp_path / "memory"), _weights(tmp_path / "disk")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(list((tmp_path / "cache").iterdir())) == 7  # 4 training and 3 held-out studies
    saved = json.loads((tmp_path / "disk" / "config.json").read_text())
    assert saved["cache_dir"] == str((tmp_path / "cache").resolve())


def test_resuming_may_take_up_or_drop_the_cache(train_and_held_out: tuple[Path, Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    train, _ = train_and_held_out
    whole = pretrain(_config(train, tmp_path / "whole"), progress=False)
    for name, first, then in (("up", None, str(tmp_path / "cache")), ("drop", str(tmp_path / "cache"), None)):
        pretrain_until_crash(_config(train, tmp_path / name, save_every=2, cache_dir=first), 2, monkeypatch)
        resumed = pretrain(_config(train, tmp_path / name, save_every=2, cache_dir=then), resume=True,
                           progress=False)
        assert resumed.losses == whole.losses[2:]
        a, b = _weights(tmp_path / "whole"), _weights(tmp_path / name)
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_cache_dir_flag(train_and_held_out: tuple[Path, Path], tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = train_and_held_out
    args = ["pretrain", "--data", str(train), "--cache-dir", str(tmp_path / "cache"), "--max-steps", "1",
            "--batch-size", "2", "--set", "patch_size=[4,8,8]", "--set", f"model_kwargs={json.dumps(TINY)}",
            "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    outline = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("model: encoder"))
    assert f"4 studies memory-mapped from {tmp_path / 'cache'}, 0.2 MiB shared by every process" in outline
    (tmp_path / "file").write_text("not a folder")
    args[args.index("--cache-dir") + 1] = str(tmp_path / "file")
    assert main([*args, "--out", str(tmp_path / "b")]) == 2
    assert "cache folder" in capsys.readouterr().err and not (tmp_path / "b").exists()
    args[args.index("--cache-dir") + 1] = ""  # not the working folder
    assert main([*args, "--out", str(tmp_path / "c")]) == 2
    assert "cache_dir" in capsys.readouterr().err and not (tmp_path / "c").exists()


def test_the_run_outline_suggests_the_cache_where_it_would_help(train_and_held_out: tuple[Path, Path],
                                                                tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    train, _ = train_and_held_out
    dataset = StudyDataset(train)
    dataset.preload()
    model = pretrain_module.build_model(_config(train, tmp_path), dataset.in_chans, dataset.spatial_shape)
    alone = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    assert "--cache-dir" not in pretrain_module._run_outline(model, dataset, None, alone)
    ranks = dataclasses.replace(alone, world_size=2)
    assert ("4 studies in memory, 0.2 MiB per process (--cache-dir keeps one copy for every process)"
            in pretrain_module._run_outline(model, dataset, None, ranks))
    monkeypatch.setattr(pretrain_module, "_physical_memory_bytes", lambda: dataset.cached_bytes * 2)
    assert ("0.2 MiB, 50% of this machine's memory (--cache-dir maps them from disk)"
            in pretrain_module._run_outline(model, dataset, None, alone))
