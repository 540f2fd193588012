"""Read a Hugging Face ``ViTMAEForPreTraining`` checkpoint directory into a maerad :class:`MAE`.

Only ``config.json`` and the weights are read (``model.safetensors``, a sharded
``model.safetensors.index.json``, or ``pytorch_model.bin`` loaded with ``weights_only=True``);
``transformers`` is not needed. Both key layouts are understood: the saved layout
(``vit.encoder.layer.N.attention.attention.query`` …, ``decoder.decoder_layers.N`` or
``decoder.decoder_encoder.layer.N``) and the in-memory layout of transformers 5
(``vit.layers.N.attention.q_proj`` …). Separate q/k/v projections are concatenated into timm's fused
``qkv``. The model keeps HF's ``layer_norm_eps``, activation, and the joint norm-pix of ViTMAE.
Dropout settings are ignored (inference/pre-training without dropout, as MAE).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from maerad.errors import CheckpointError, ConfigError
from maerad.models.blocks import Activation
from maerad.models.mae import MAE

__all__ = ["convert_hf_vitmae_state_dict", "load_hf_vitmae", "mae_kwargs_from_hf_config"]

_ACTIVATIONS: dict[str, Activation] = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
}
_LAYER = re.compile(
    r"^(?:vit\.(?:encoder\.layer|layers)|(decoder)\.(?:decoder_layers|decoder_encoder\.layer))\.(\d+)\.(.+)$"
)
_SUBKEYS = {
    "attention.attention.query": "q",
    "attention.q_proj": "q",
    "attention.attention.key": "k",
    "attention.k_proj": "k",
    "attention.attention.value": "v",
    "attention.v_proj": "v",
    "attention.output.dense": "attn.proj",
    "attention.o_proj": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "mlp.fc1": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "mlp.fc2": "mlp.fc2",
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
}
_TOP = {
    "vit.embeddings.cls_token": "cls_token",
    "vit.embeddings.position_embeddings": "pos_embed",
    "vit.embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "vit.embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "vit.layernorm.weight": "norm.weight",
    "vit.layernorm.bias": "norm.bias",
    "decoder.mask_token": "decoder.mask_token",
    "decoder.decoder_pos_embed": "decoder.decoder_pos_embed",
}
_DECODER_TOP = ("decoder_embed", "decoder_norm", "decoder_pred")


def _ratio(config: dict[str, Any], inner: str, outer: str) -> float:
    """The MLP ratio that rebuilds the width ``config[inner]``: timm's ``Block`` makes
    ``int(outer * ratio)`` hidden units, so when ``inner / outer`` loses a unit to rounding (88 wide, 30
    hidden), half a unit more is added, which truncates back to ``inner`` exactly."""
    inner_width, outer_width = int(config[inner]), int(config[outer])
    ratio = inner_width / outer_width
    if int(outer_width * ratio) != inner_width:
        ratio = (inner_width + 0.5) / outer_width
    return ratio


def _flag(config: dict[str, Any], name: str, default: bool, where: str) -> bool:
    """A JSON boolean field; a string such as ``"false"`` is refused rather than read as true."""
    value = config.get(name, default)
    if not isinstance(value, bool):
        raise CheckpointError(f"{where}: {name} must be true or false (a JSON boolean), got {value!r}")
    return value


def _check_head_dim(config: dict[str, Any], where: str) -> None:
    """Transformers reads an optional ``head_dim`` for the encoder and the decoder; maerad's attention
    splits the width evenly, so any other ``head_dim`` is refused by name."""
    head_dim = config.get("head_dim")
    if head_dim is None:
        return
    for width, heads in (("hidden_size", "num_attention_heads"),
                         ("decoder_hidden_size", "decoder_num_attention_heads")):
        if int(config[width]) != int(config[heads]) * head_dim:
            raise CheckpointError(
                f"{where}: head_dim={head_dim!r} differs from {width} / {heads} = "
                f"{config[width]} / {config[heads]}; maerad supports head_dim = width / heads only"
            )


def mae_kwargs_from_hf_config(config: dict[str, Any], where: str = "config.json") -> dict[str, Any]:
    """The :class:`MAE` constructor arguments equivalent to a ViTMAE ``config.json`` mapping.

    Raises:
        CheckpointError: a missing field, a boolean field that is not a JSON boolean, or an unsupported
            setting (activation, ``head_dim``); names the field.
    """
    try:
        act = str(config.get("hidden_act", "gelu"))
        if act not in _ACTIVATIONS:
            raise CheckpointError(
                f"{where}: hidden_act {act!r} is not supported (expected one of {sorted(_ACTIVATIONS)})"
            )
        _check_head_dim(config, where)
        return {
            "spatial_dims": 2,
            "img_size": config["image_size"],
            "patch_size": config["patch_size"],
            "in_chans": int(config.get("num_channels", 3)),
            "embed_dim": int(config["hidden_size"]),
            "depth": int(config["num_hidden_layers"]),
            "num_heads": int(config["num_attention_heads"]),
            "mlp_ratio": _ratio(config, "intermediate_size", "hidden_size"),
            "qkv_bias": _flag(config, "qkv_bias", True, where),
            "decoder_embed_dim": int(config["decoder_hidden_size"]),
            "decoder_depth": int(config["decoder_num_hidden_layers"]),
            "decoder_num_heads": int(config["decoder_num_attention_heads"]),
            "decoder_mlp_ratio": _ratio(config, "decoder_intermediate_size", "decoder_hidden_size"),
            "norm_eps": float(config.get("layer_norm_eps", 1e-12)),
            "act": _ACTIVATIONS[act],
            "mask_ratio": float(config.get("mask_ratio", 0.75)),
            "norm_pix_loss": _flag(config, "norm_pix_loss", False, where),
            "norm_pix_mode": "joint",
        }
    except KeyError as exc:
        raise CheckpointError(f"{where}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: invalid value ({exc})") from None


def convert_hf_vitmae_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a ViTMAE state dict to maerad's :class:`MAE` keys, fusing q/k/v.

    Raises:
        CheckpointError: an unknown key or a layer with an incomplete q/k/v set.
    """
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key in _TOP:
            out[_TOP[key]] = value
            continue
        top = key.split(".")
        if len(top) == 3 and top[0] == "decoder" and top[1] in _DECODER_TOP:
            out[key] = value
            continue
        match = _LAYER.match(key)
        if match is None:
            raise CheckpointError(f"unexpected weight {key!r} in the ViTMAE checkpoint")
        prefix = f"decoder.decoder_blocks.{match[2]}" if match[1] else f"blocks.{match[2]}"
        sub, _, kind = match[3].rpartition(".")
        if sub not in _SUBKEYS or kind not in ("weight", "bias"):
            raise CheckpointError(f"unexpected weight {key!r} in the ViTMAE checkpoint")
        target = _SUBKEYS[sub]
        if target in ("q", "k", "v"):
            qkv.setdefault((prefix, kind), {})[target] = value
        else:
            out[f"{prefix}.{target}.{kind}"] = value
    for (prefix, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise CheckpointError(f"{prefix}: the checkpoint lacks some of query/key/value {kind}")
        out[f"{prefix}.attn.qkv.{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out


def _read_weights(directory: Path) -> dict[str, torch.Tensor]:
    single = directory / "model.safetensors"
    index = directory / "model.safetensors.index.json"
    legacy = directory / "pytorch_model.bin"
    try:
        if single.is_file():
            return dict(load_file(str(single)))
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state: dict[str, torch.Tensor] = {}
            for shard in shards:
                state.update(load_file(str(directory / shard)))
            return state
        if legacy.is_file():
            loaded = torch.load(legacy, map_location="cpu", weights_only=True)
            if not isinstance(loaded, dict):
                raise CheckpointError(f"{legacy}: expected a state dict, got {type(loaded).__name__}")
            return {str(k): v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    except CheckpointError:
        raise
    except Exception as exc:  # corrupt or truncated files surface as many exception types
        raise CheckpointError(f"{directory}: cannot read the weights ({type(exc).__name__}: {exc})") from None
    raise CheckpointError(
        f"{directory}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin found"
    )


def load_hf_vitmae(path: str | os.PathLike[str]) -> MAE:
    """Build a maerad :class:`MAE` with the weights of a Hugging Face ViTMAE checkpoint directory.

    Args:
        path: a directory written by ``ViTMAEForPreTraining.save_pretrained`` (``config.json`` plus
            weights).

    Returns:
        An :class:`MAE` (2D, joint norm-pix like ViTMAE) on the CPU in training mode; with the same
        ``noise`` its loss and predictions equal those of ``ViTMAEForPreTraining``.

    Raises:
        CheckpointError: missing/corrupt files, unsupported configuration or mismatched weights.

    Examples::

        model = load_hf_vitmae("checkpoints/vit-mae-base")
        out = model(images, noise=noise, return_full_pred=True)   # out.pred_full == HF logits
    """
    directory = Path(path)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{directory}: not a Hugging Face checkpoint directory (no config.json)")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_path}: cannot read JSON ({exc})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_path}: expected a JSON object")
    if config.get("model_type", "vit_mae") != "vit_mae":
        raise CheckpointError(
            f"{config_path}: model_type is {config.get('model_type')!r}, expected 'vit_mae'"
        )
    try:
        model = MAE(**mae_kwargs_from_hf_config(config, str(config_path)))
    except ConfigError as exc:
        raise CheckpointError(f"{config_path}: {exc}") from None
    weights = _read_weights(directory)
    if any(key.startswith(("embeddings.", "encoder.layer.", "layers.")) for key in weights):
        raise CheckpointError(
            f"{directory}: an encoder-only ViTMAEModel checkpoint (no 'vit.' prefix, no decoder); "
            "load_hf_vitmae needs a ViTMAEForPreTraining checkpoint (encoder and decoder)"
        )
    state = convert_hf_vitmae_state_dict(weights)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise CheckpointError(f"{directory}: the checkpoint lacks {len(missing)} weights, e.g. {missing[:3]}")
    for key, value in state.items():
        if key not in own:
            raise CheckpointError(f"{directory}: weight {key!r} has no place in the model")
        if tuple(value.shape) != tuple(own[key].shape):
            raise CheckpointError(
                f"{directory}: weight {key!r} has shape {tuple(value.shape)}, "
                f"the config implies {tuple(own[key].shape)}"
            )
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model
