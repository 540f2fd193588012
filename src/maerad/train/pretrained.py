"""The model a ``maerad pretrain`` run trained, rebuilt from its checkpoint folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from pydantic import ValidationError

from maerad.errors import CheckpointError, ConfigError
from maerad.masking.spec import as_int, check_grid
from maerad.models import MAE
from maerad.train.checkpoint import Checkpoint, load_checkpoint
from maerad.train.config import PretrainConfig, saved_pretrain_config
from maerad.train.pretrain import build_model

__all__ = ["load_pretrained", "read_pretrain_checkpoint"]


def load_pretrained(
    path: str | os.PathLike[str],
    *,
    img_size: int | Sequence[int] | None = None,
    device: str | torch.device = "cpu",
) -> MAE:
    """The MAE (or MAE-P) of a ``maerad pretrain`` checkpoint, with its weights, in eval mode.

    The model is rebuilt from the run's recorded config (model name, ``model_kwargs``, patch size,
    sequences as input channels) and the input grid the checkpoint records.

    Args:
        path: the checkpoint folder (``<out>/checkpoint``) or the run folder ``<out>``.
        img_size: the spatial input size, only for checkpoints written before the grid was recorded
            (``(D, H, W)`` in 3D mode, ``(H, W)`` in 2D mode; an int is that size on every axis);
            otherwise it must match the record.
        device: where to put the model.

    Raises:
        ConfigError: ``img_size`` is not a positive int or a sequence of them (a string, a float).
        CheckpointError: not a ``maerad pretrain`` checkpoint, an unusable config, no recorded grid and
            no ``img_size``, an ``img_size`` that differs from the recorded one, or weights that do not
            fit the rebuilt model.

    Examples::

        >>> mae = load_pretrained("runs/mae")                      # doctest: +SKIP
        >>> features = mae.forward_features(x)                     # doctest: +SKIP
        >>> vit.load_state_dict(mae.encoder_state_dict())          # doctest: +SKIP  (a timm ViT, 2D)
    """
    folder, ckpt = read_pretrain_checkpoint(path)
    try:
        config = PretrainConfig.model_validate(saved_pretrain_config(ckpt.config))
    except ValidationError as exc:
        raise CheckpointError(f"{folder}/state.json: unusable config ({exc.errors()[0]['msg']})") from None
    if not config.sequences:
        raise CheckpointError(f"{folder}/state.json: the config records no sequences")
    recorded = ckpt.extra.get("img_size")
    grid = _grid(folder, recorded, img_size, axes=3 if config.mode == "3d" else 2)
    try:
        model = build_model(config, len(config.sequences), grid)
    except ConfigError as exc:
        raise CheckpointError(f"{folder}: cannot rebuild its model for inputs {grid}: {exc}") from None
    try:
        model.load_state_dict(ckpt.model_state, strict=True)
    except RuntimeError as exc:
        message = f"{folder}: the weights do not fit the model its config describes: {exc}"
        raise CheckpointError(message) from None
    return model.to(device).eval()


def read_pretrain_checkpoint(path: str | os.PathLike[str]) -> tuple[Path, Checkpoint]:
    """The checkpoint folder (``path`` itself, or ``path/checkpoint`` for a run folder) and its weights
    and config, without the optimizer state.

    Raises:
        CheckpointError: no readable checkpoint there, or one that ``maerad pretrain`` did not write.
    """
    folder = Path(path)
    if not (folder / "state.json").is_file() and (folder / "checkpoint" / "state.json").is_file():
        folder = folder / "checkpoint"
    ckpt = load_checkpoint(folder, with_optimizer=False)
    kind = ckpt.extra.get("kind")
    if kind not in (None, "mae-pretrain"):  # None: written before checkpoints recorded their kind
        raise CheckpointError(f"{folder}: a {kind!r} checkpoint, expected a `maerad pretrain` one "
                              "(kind 'mae-pretrain')")
    return folder, ckpt


def _grid(
    folder: Path, recorded: object, img_size: int | Sequence[int] | None, *, axes: int
) -> tuple[int, ...]:
    """The input size to rebuild the model for: the recorded one, checked against ``img_size`` if given.
    An int ``img_size`` is broadcast to the recorded number of axes (else to the run's ``axes``)."""
    record: tuple[int, ...] | None = None
    if isinstance(recorded, list) and all(isinstance(n, int) for n in recorded):
        record = tuple(recorded)
    given: tuple[int, ...] | None = None
    if img_size is not None:
        try:
            given = check_grid(img_size, field="img_size")  # refuses strings, floats and bools
        except ConfigError:
            raise ConfigError(
                f"img_size must be a positive int or a sequence of them ((D, H, W) or (H, W)), "
                f"got {img_size!r}"
            ) from None
        if as_int(img_size) is not None:
            given = given * (axes if record is None else len(record))
    if record is not None:
        if given is not None and given != record:
            raise CheckpointError(
                f"{folder}: trained on inputs of size {record}, not {given}; load it as recorded "
                "and move the encoder to another grid with load_encoder_state_dict(..., source_grid=...)"
            )
        return record
    if given is None:
        raise CheckpointError(f"{folder}: written before checkpoints recorded the input size; pass img_size= "
                              "(the training studies' (D, H, W), or (H, W) for 2D slices)")
    return given
