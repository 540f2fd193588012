"""`PretrainConfig`: every knob of ``maerad pretrain``, from a JSON file plus ``key=value`` overrides."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from maerad.errors import ConfigError, FindingsError
from maerad.strict_json import parse_json

__all__ = [
    "MODEL_KEYS_SET_BY_CONFIG",
    "Beta",
    "FiniteFloat",
    "PretrainConfig",
    "apply_overrides",
    "default_patch_size",
    "load_pretrain_config",
    "read_config_file",
    "saved_pretrain_config",
    "validate_config",
]

ConfigT = TypeVar("ConfigT", bound=BaseModel)

# Config scalars are strict: JSON ``true`` is no step count and ``"off"`` no boolean (lax pydantic would
# turn them into 1 and False without a word). A float field takes an int (``1`` is 1.0), never a bool or
# a string, and never NaN / Infinity (a rate of Infinity would only fail steps into the run).
FiniteFloat = Annotated[float, Strict(), AllowInfNan(False)]
"""A finite float that accepts ints but neither bools nor strings."""
Beta = Annotated[float, Strict(), AllowInfNan(False), Field(ge=0.0, lt=1.0)]
"""One AdamW beta: in [0, 1), as torch requires (checked here, not as torch's traceback at step 0)."""


def min_lr_at_most_lr(cls: type[BaseModel], value: float, info: ValidationInfo) -> float:
    """Pydantic validator of a ``min_lr`` field: not above the config's ``lr`` (declared before it, so
    validated first), or the cosine "decay" would climb."""
    lr = info.data.get("lr")
    if lr is not None and value > lr:
        raise ValueError(f"min_lr {value:g} is above lr {lr:g}, the peak learning rate")
    return value


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
    patch_size: list[StrictInt] | None = Field(None, description="default (4, 16, 16) in 3D, (16, 16) in 2D")
    model_kwargs: dict[str, Any] = Field(default_factory=dict, description="extra create_model kwargs")
    mask_ratio: FiniteFloat = Field(0.75, ge=0.0, lt=1.0)
    norm_pix_loss: StrictBool = True
    background_weight: FiniteFloat = Field(
        1.0, ge=0.0, le=1.0, description="loss weight of background voxels, foreground 1 (1: unweighted, "
        "as MAE; MRI is mostly background); foreground: a voxel where some sequence exceeds "
        "foreground_threshold of its maximum in the sample"
    )
    foreground_threshold: FiniteFloat = Field(
        0.05, ge=0.0, lt=1.0, description="fraction of each sequence's maximum (after normalisation)"
    )

    masking: str = "random"
    masking_kwargs: dict[str, Any] = Field(default_factory=dict)
    lesion_labels: list[StrictInt] | None = Field(
        None, min_length=1, description="label values of lesions (lesion_aware)"
    )
    roi_labels: list[StrictInt] | None = Field(
        None, min_length=1, description="label values kept visible (roi_prior)"
    )
    lesion_detector: str | None = Field(
        None, description="`maerad train-lesion` checkpoint: lesion_aware weights from it, not from labels"
    )

    epochs: StrictInt = Field(
        1, ge=1, description="passes over the data, rounded up to whole optimizer steps (accum_steps "
        "micro-batches each)"
    )
    max_steps: StrictInt | None = Field(None, ge=1, description="optimizer steps; overrides epochs")
    batch_size: StrictInt = Field(4, ge=1, description="per process and micro-batch")
    accum_steps: StrictInt = Field(1, ge=1, description="gradient accumulation micro-batches per step")
    base_lr: FiniteFloat = Field(1.5e-4, gt=0)
    lr: FiniteFloat | None = Field(None, gt=0, description="absolute peak lr (skips batch scaling)")
    min_lr: FiniteFloat = Field(0.0, ge=0, description="the cosine's floor; at most the peak lr")
    warmup_steps: StrictInt | None = Field(
        None, ge=0, description="linear warm-up steps, fewer than the run's; default: 5 % of the run, as "
        "MAE's 40 of 800 epochs"
    )
    weight_decay: FiniteFloat = Field(0.05, ge=0)
    betas: tuple[Beta, Beta] = (0.9, 0.95)
    bf16: StrictBool = Field(False, description="bfloat16 autocast for forward/backward")
    compile: StrictBool = Field(
        False, description="torch.compile the model (inductor): faster steps after compiling (a minute or so)"
    )
    device: str = "cpu"
    seed: StrictInt = 0
    num_threads: StrictInt | None = Field(None, ge=1, description="torch intra-op threads")

    log_every: StrictInt = Field(10, ge=1)
    image_every: StrictInt = Field(
        0, ge=0, description="reconstruction PNG every N steps (0: only at the end)"
    )
    save_every: StrictInt = Field(0, ge=0, description="checkpoint every N steps (0: only at the end)")
    val_data: str | None = Field(
        None, description="folder of held-out study folders (none of them trained on): the masked "
        "reconstruction loss on them, with the same masks at every evaluation, and a held-out "
        "reconstruction figure"
    )
    val_every: StrictInt = Field(
        0, ge=0, description="held-out loss every N steps (0: only at the end); needs val_data"
    )
    cache_dir: str | None = Field(
        None, min_length=1, description="keep the normalised studies (data and val_data) memory-mapped in "
        "this folder instead of in each process's memory: shared by torchrun processes, paged as memory "
        "allows, and not decoded again by later runs (maerad.data.study_cache)"
    )

    # a peak scaled from base_lr is known only to the engine (it depends on the number of processes),
    # which checks that case
    _min_lr_at_most_lr = field_validator("min_lr")(min_lr_at_most_lr)

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

    @model_validator(mode="after")
    def _val_every_needs_val_data(self) -> PretrainConfig:
        if self.val_every and not self.val_data:
            raise ValueError("val_every needs val_data (a folder of held-out studies)")
        return self

    @field_validator("masking_kwargs")
    @classmethod
    def _masking_kwargs_leave_mask_ratio_alone(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "mask_ratio" in value:
            raise ValueError("set 'mask_ratio' as a top-level key, not in masking_kwargs")
        return value


_FROM_DATA = frozenset({"spatial_dims", "in_chans", "img_size"})
_TOP_LEVEL_MODEL_KEYS = frozenset({"patch_size", "mask_ratio", "norm_pix_loss"})
MODEL_KEYS_SET_BY_CONFIG = _FROM_DATA | _TOP_LEVEL_MODEL_KEYS
"""``create_model`` keywords the engine sets from the data or top-level keys: refused in model_kwargs."""


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
    # before the run recorded its stage heads, a MAE-P stem with unit attention built by another name
    # than maep_hiera_* had heads (1, 2) (maep_hiera_* had today's rule): the head count is not in the
    # weights, so the model is rebuilt as it was trained
    model = config.get("model")
    if (kwargs.get("stage_mixer") == "unit_attention" and "stage_heads" not in kwargs
            and not (isinstance(model, str) and model.startswith("maep_hiera_"))):
        kwargs["stage_heads"] = [1, 2]
    return config


def default_patch_size(mode: str) -> list[int]:
    """(4, 16, 16) for 3D volumes with thick slices, (16, 16) for 2D slices."""
    return [4, 16, 16] if mode == "3d" else [16, 16]


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in config file ``path``.

    Raises:
        ConfigError: missing or unreadable file, malformed JSON, a key given twice in one object, nesting
            too deep to parse, or not a JSON object.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: a folder; a config is a JSON file")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid JSON ({exc})") from None
    try:
        # strict: a key given twice would silently lose one value, and deep nesting a RecursionError
        loaded = parse_json(text, source=str(p))
    except FindingsError as exc:  # strict_json speaks of findings; here it is a config
        raise ConfigError(str(exc)) from None
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
    """JSON when it parses; a number as a shell user types it (``.75``, ``1.``, ``+5``, which JSON
    refuses); a flat ``[a, b]`` of bare words a list of its items (each parsed alike); else the string
    itself."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    text = raw.strip()
    for number in (int, float):
        try:
            value = number(text)
        except ValueError:
            continue
        if math.isfinite(value):  # "nan" / "inf" stay strings, refused by the finite float fields
            return value
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
