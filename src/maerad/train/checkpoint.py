"""Training checkpoints as safetensors + JSON (never pickle), written atomically.

A checkpoint is a folder::

    ckpt/
        model.safetensors       model weights
        optimizer.safetensors   optimizer state tensors (``state.<param index>.<name>``)
        state.json              format version, step, config, optimizer hyper-parameters, extras

The folder is written to a temporary sibling and renamed into place, so a crash never leaves a
half-written checkpoint, and an interrupted run resumes from the last complete one. Replacing an older
checkpoint moves it aside to ``.<name>.old-<pid>`` first; if a crash strikes between that and moving
the new one in, :func:`load_checkpoint` reads the aside copy (in place; the next save clears it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from maerad.atomic import atomic_directory, interrupted_swaps
from maerad.errors import CheckpointError, ConfigError
from maerad.masking.spec import as_int

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "maerad-checkpoint"
_VERSION = 1


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    step: int
    config: dict[str, Any]
    extra: dict[str, Any]


def save_checkpoint(
    folder: str | os.PathLike[str],
    model: torch.nn.Module,
    *,
    step: int,
    config: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder atomically (replacing an older checkpoint at the same path).

    Raises:
        ConfigError: ``config``, ``extra`` or the optimizer's hyper-parameters hold a value JSON cannot
            store (a ``Path``, a tensor learning rate); the message names where.
    """
    folder = Path(folder)
    model_tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    state: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "format_version": _VERSION,
        "step": int(step),
        "config": config,
        "extra": extra or {},
        "optimizer": None,
    }
    optim_tensors: dict[str, torch.Tensor] = {}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for idx, per_param in sd["state"].items():
            for name, value in per_param.items():
                if isinstance(value, torch.Tensor):
                    optim_tensors[f"state.{idx}.{name}"] = value.detach().contiguous().cpu()
                else:
                    scalars.setdefault(str(idx), {})[name] = value
        state["optimizer"] = {"param_groups": sd["param_groups"], "scalars": scalars}
    try:
        text = json.dumps(state, indent=2, sort_keys=True)
    except (TypeError, ValueError):
        raise ConfigError(
            f"cannot save the checkpoint: {_not_json(state, '') or 'a value'} cannot be written to "
            "state.json, which holds numbers, strings, lists and dicts only (pass str(path) for a path, "
            "a float rather than a tensor for a learning rate)"
        ) from None
    with atomic_directory(folder, overwrite=True) as tmp:
        save_file(model_tensors, str(tmp / "model.safetensors"))
        if optimizer is not None:
            save_file(optim_tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "state.json").write_text(text + "\n", encoding="utf-8")
    return folder


def load_checkpoint(folder: str | os.PathLike[str], *, with_optimizer: bool = True) -> Checkpoint:
    """Read a checkpoint folder written by :func:`save_checkpoint`.

    If ``folder`` is missing because a :func:`save_checkpoint` crashed while swapping checkpoints, the
    previous complete checkpoint left aside (``.<name>.old-<pid>``) is loaded where it lies.

    Raises:
        CheckpointError: the folder, a file in it, or its format is missing or corrupt.
    """
    folder = Path(folder)
    if not folder.exists():
        folder = _recover_interrupted_save(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: a file; give the checkpoint folder (the one holding state.json and "
                              "model.safetensors) or the run folder above it")
    state_path = folder / "state.json"
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: not a maerad checkpoint (no state.json)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{state_path}: not valid JSON ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{state_path}: not a {CHECKPOINT_FORMAT} state file")
    if state.get("format_version") != _VERSION:
        raise CheckpointError(f"{state_path}: unsupported format_version {state.get('format_version')!r}")
    if "step" not in state:
        raise CheckpointError(f"{state_path}: no 'step' field (the training step it was saved at)")
    step = as_int(state["step"])
    if step is None or step < 0:
        raise CheckpointError(f"{state_path}: 'step' must be an int >= 0, got {state.get('step')!r}")
    sections: dict[str, dict[str, Any]] = {}
    for field in ("config", "extra"):
        value = state.get(field) or {}
        if not isinstance(value, dict):
            raise CheckpointError(f"{state_path}: {field!r} must be an object, got {type(value).__name__}")
        sections[field] = value
    model_state = _load_tensors(folder / "model.safetensors")
    optimizer_state: dict[str, Any] | None = None
    if with_optimizer and state.get("optimizer") is not None:
        tensors = _load_tensors(folder / "optimizer.safetensors")
        optimizer_state = _optimizer_state(state["optimizer"], tensors, state_path)
    return Checkpoint(
        model_state=model_state,
        optimizer_state=optimizer_state,
        step=step,
        config=dict(sections["config"]),
        extra=dict(sections["extra"]),
    )


def _optimizer_state(saved: Any, tensors: dict[str, torch.Tensor], state_path: Path) -> dict[str, Any]:
    """The optimizer ``state_dict`` from state.json's ``optimizer`` entry and the tensors saved beside it.

    Raises:
        CheckpointError: a malformed entry or tensor name (a hand-edited or foreign file).
    """
    per_param: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        parts = key.split(".", 2)
        index = int(parts[1]) if len(parts) == 3 and parts[0] == "state" and parts[1].isdigit() else None
        if index is None:
            raise CheckpointError(
                f"{state_path.parent / 'optimizer.safetensors'}: tensor {key!r} is not named "
                "'state.<param index>.<name>'"
            )
        per_param.setdefault(index, {})[parts[2]] = value
    try:
        scalars = saved["scalars"]
        groups = saved["param_groups"]
        for idx, values in scalars.items():
            per_param.setdefault(int(idx), {}).update(values)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(
            f"{state_path}: malformed 'optimizer' entry ({type(exc).__name__}: {exc}); expected "
            "{'param_groups': [...], 'scalars': {<param index>: {...}}}"
        ) from None
    if not isinstance(groups, list):
        raise CheckpointError(
            f"{state_path}: optimizer 'param_groups' must be a list, got {type(groups).__name__}"
        )
    return {"state": per_param, "param_groups": groups}


def _not_json(value: Any, where: str) -> str | None:
    """Where the first thing JSON cannot hold sits in ``value`` (``config.out (PosixPath)``), or ``None``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"{where or 'the state'} key {key!r} ({type(key).__name__})"
            found = _not_json(item, f"{where}.{key}" if where else str(key))
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _not_json(item, f"{where}[{i}]")
            if found:
                return found
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return None
    return f"{where} ({type(value).__name__})"


def _recover_interrupted_save(folder: Path) -> Path:
    """The folder to load when ``folder`` is missing: the complete copy an interrupted save left aside.

    It is read where it lies, never moved back: a reader must not race the writer (or other ranks)
    for the name; the writer's next save puts a new checkpoint in place and clears the aside copy.
    """
    aside = interrupted_swaps(folder)
    complete = [p for p in aside if (p / "state.json").is_file()]
    if complete:
        return complete[0]
    if aside:
        names = ", ".join(p.name for p in aside)
        raise CheckpointError(
            f"{folder}: not a maerad checkpoint (folder missing; the copies an interrupted save left "
            f"aside, {names}, hold no state.json)"
        )
    raise CheckpointError(f"{folder}: not a maerad checkpoint (no state.json; the folder does not exist)")


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable safetensors file ({exc})") from None
