"""`PretrainConfig`: every knob of ``maerad pretrain``, from a JSON file plus ``key=value`` overrides."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from maerad.errors import ConfigError

__all__ = [
    "PretrainConfig",
    "apply_overrides",
    "default_patch_size",
    "load_pretrain_config",
    "read_config_file",
    "saved_pretrain_config",
    "validate_config",
]

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class PretrainConfig(BaseModel):
    """Configuration of MAE pre-training (the MAE recipe by default).

    Learning rate: ``lr = base_lr * effective_batch / 256`` unless ``lr`` is given, where
    ``effective_batch = batch_size * accum_steps * world_size`` (He et al., MAE). AdamW with
    ``betas=(0.9, 0.95)``, weight decay 0.05 except on norms, biases, position embeddings and
    cls/mask tokens; linear warm-up (default 5 % of the steps) then cosine decay.
    """

    model_config = ConfigDict(extra="forbid")

    data: str = Field("", description="folder of study folders (e.g. from `maerad phantom`)")
    out: str = Field("maerad-pretrain", description="output folder: checkpoint, figures, log")
    sequences: list[str] | None = Field(None, description="channel order; default: the first study's")
    mode: Literal["2d", "3d"] = "3d"
    normalization: Literal["percentile", "zscore", "none"] = "percentile"

    model: str = "mae_vit_tiny"
    patch_size: list[int] | None = Field(None, description="default (4, 16, 16) in 3D, (16, 16) in 2D")
    model_kwargs: dict[str, Any] = Field(default_factory=dict, description="extra create_model kwargs")
    mask_ratio: float = Field(0.75, ge=0.0, lt=1.0)
    norm_pix_loss: bool = True

    masking: str = "random"
    masking_kwargs: dict[str, Any] = Field(default_factory=dict)
    lesion_labels: list[int] | None = Field(
        None, min_length=1, description="label values of lesions (lesion_aware)"
    )
    roi_labels: list[int] | None = Field(
        None, min_length=1, description="label values kept visible (roi_prior)"
    )
    lesion_detector: str | None = Field(
        None, description="`maerad train-lesion` checkpoint: lesion_aware weights from it, not from labels"
    )

    epochs: int = Field(1, ge=1)
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; overrides epochs")
    batch_size: int = Field(4, ge=1, description="per process and micro-batch")
    accum_steps: int = Field(1, ge=1, description="gradient accumulation micro-batches per step")
    base_lr: float = Field(1.5e-4, gt=0)
    lr: float | None = Field(None, gt=0, description="absolute peak lr (skips batch scaling)")
    min_lr: float = Field(0.0, ge=0)
    warmup_steps: int | None = Field(
        None, ge=0, description="linear warm-up steps; default: 5 % of the run, as MAE's 40 of 800 epochs"
    )
    weight_decay: float = Field(0.05, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    bf16: bool = Field(False, description="bfloat16 autocast for forward/backward")
    compile: bool = Field(
        False, description="torch.compile the model (inductor): faster steps after compiling (a minute or so)"
    )
    device: str = "cpu"
    seed: int = 0
    num_threads: int | None = Field(None, ge=1, description="torch intra-op threads")

    log_every: int = Field(10, ge=1)
    image_every: int = Field(0, ge=0, description="reconstruction PNG every N steps (0: only at the end)")
    save_every: int = Field(0, ge=0, description="checkpoint every N steps (0: only at the end)")


    @field_validator("model_kwargs")
    @classmethod
    def _model_kwargs_leave_config_keys_alone(cls, value: dict[str, Any]) -> dict[str, Any]:
        # build_model sets these; a second value here would silently win over the top-level key
        for key in sorted(value):
            if key in _FROM_DATA:
                raise ValueError(f"{key!r} is taken from the data, it cannot be set in model_kwargs")
            if key in _TOP_LEVEL_MODEL_KEYS:
                raise ValueError(f"set {key!r} as a top-level key, not in model_kwargs")
        return value

    @field_validator("masking_kwargs")
    @classmethod
    def _masking_kwargs_leave_mask_ratio_alone(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "mask_ratio" in value:
            raise ValueError("set 'mask_ratio' as a top-level key, not in masking_kwargs")
        return value


_FROM_DATA = frozenset({"spatial_dims", "in_chans", "img_size"})
_TOP_LEVEL_MODEL_KEYS = frozenset({"patch_size", "mask_ratio", "norm_pix_loss"})


def load_pretrain_config(
    path: str | os.PathLike[str] | None, overrides: Sequence[str] = (), **fields: Any
) -> PretrainConfig:
    """Read a JSON config file (optional), apply ``fields`` then ``key=value`` overrides, validate.

    Raises:
        ConfigError: unreadable file, malformed JSON, unknown key or invalid value (named).
    """
    data = read_config_file(path) if path is not None else {}
    data.update({k: v for k, v in fields.items() if v is not None})
    return validate_config(PretrainConfig, apply_overrides(data, overrides))


def saved_pretrain_config(saved: Mapping[str, Any]) -> dict[str, Any]:
    """A config recorded in a checkpoint, with the keys added to :class:`PretrainConfig` since it was
    written filled in with their defaults (so older checkpoints resume and load)."""
    config = {**PretrainConfig.model_construct().model_dump(mode="json"), **saved}
    # earlier versions let model_kwargs repeat these keys (and win over them): move them where they
    # belong, so that those runs still load and resume as they were built
    kwargs = dict(config.get("model_kwargs") or {})
    for key in _TOP_LEVEL_MODEL_KEYS:
        if key in kwargs:
            config[key] = kwargs.pop(key)
    for key in _FROM_DATA:
        kwargs.pop(key, None)
    config["model_kwargs"] = kwargs
    if config.get("patch_size") is None:  # earlier versions recorded the default patch size as null
        config["patch_size"] = default_patch_size(str(config.get("mode")))
    return config


def default_patch_size(mode: str) -> list[int]:
    """(4, 16, 16) for 3D volumes with thick slices, (16, 16) for 2D slices."""
    return [4, 16, 16] if mode == "3d" else [16, 16]


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in config file ``path``.

    Raises:
        ConfigError: missing or unreadable file, malformed JSON, or not a JSON object.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: a folder; a config is a JSON file")
    try:
        loaded = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{p}: a config file must hold a JSON object")
    return loaded


def validate_config(model: type[ConfigT], data: dict[str, Any], what: str = "config") -> ConfigT:
    """``model`` validated from ``data``; the first error becomes a one-line :class:`ConfigError`
    naming the field (``<what> field 'lr': ...``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise ConfigError(f"{what} field {where!r}: {err['msg']} (got {err.get('input')!r})") from None


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings (``value`` parsed as JSON when it parses, else kept as a string;
    ``[t2w,adc]`` with bare words is the list ``["t2w", "adc"]``, as a shell user would type it).

    Dotted keys reach into dicts: ``model_kwargs.decoder_depth=2``.
    """
    out = dict(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like key=value")
        value = _parse_value(raw)
        target = out
        *parents, leaf = key.split(".")
        for part in parents:
            nxt = target.get(part)
            target[part] = dict(nxt) if isinstance(nxt, dict) else {}
            target = target[part]
        target[leaf] = value
    return out


def _parse_value(raw: str) -> Any:
    """JSON when it parses; a flat ``[a, b]`` of bare words a list of its items (each parsed alike);
    else the string itself."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    text = raw.strip()
    inner = text[1:-1]
    if text.startswith("[") and text.endswith("]") and not any(c in inner for c in '[]{}"'):
        if not inner.strip():
            return []
        parts = [part.strip() for part in inner.split(",")]
        if not all(parts):
            raise ConfigError(f"list value {raw!r} has an empty item")
        return [_parse_value(part) for part in parts]
    return raw
