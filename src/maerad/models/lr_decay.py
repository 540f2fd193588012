"""Optimizer parameter groups with layer-wise learning-rate decay and the MAE weight-decay rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

from maerad.errors import ConfigError
from maerad.models.blocks import check_real
from maerad.models.maep import PyramidStem

__all__ = ["NO_WEIGHT_DECAY", "layer_id", "param_groups_lrd"]

#: parameter names (last component) never weight-decayed, besides every 1-D tensor (norms, biases)
NO_WEIGHT_DECAY = (
    "pos_embed",
    "cls_token",
    "mask_token",
    "decoder_pos_embed",
    "cell_pos",
    "sequence_embed",
    "decoder_sequence_embed",
)
_EMBEDDING_PREFIXES = ("cls_token", "pos_embed", "patch_embed")


def layer_id(name: str, num_layers: int, stem: PyramidStem | None = None) -> int:
    """Depth index of a parameter for layer decay.

    ``0`` for the embedding (``patch_embed.*``, ``cls_token``, ``pos_embed``), ``i + 1`` for
    ``blocks.i.*``, ``num_layers + 1`` for everything after the encoder blocks (final norm, decoder,
    heads). MAE-P's pyramid ``stem`` (:class:`~maerad.models.maep.PyramidStem`) has layers of its own:
    its parameters go to its depths ``0 … S`` and the blocks after them (``S + i + 1``); ``num_layers``
    then counts both (``S + len(blocks)``).
    """
    stem_layers = 0 if stem is None else stem.num_layers
    if stem is not None and name.startswith("patch_embed."):
        return stem.layer_of(name[len("patch_embed."):])
    if name.startswith(_EMBEDDING_PREFIXES):
        return 0
    if name.startswith("blocks."):
        return stem_layers + int(name.split(".")[1]) + 1
    return num_layers + 1


def param_groups_lrd(
    model: nn.Module,
    *,
    weight_decay: float = 0.05,
    layer_decay: float = 0.75,
    base_lr: float | None = None,
    no_weight_decay: Iterable[str] = NO_WEIGHT_DECAY,
) -> list[dict[str, Any]]:
    """Parameter groups for AdamW with layer-wise lr decay (BEiT/MAE fine-tuning recipe).

    Parameter ``p`` at depth ``i`` (see :func:`layer_id`) gets ``lr_scale = layer_decay ** (N + 1 - i)``
    with ``N = len(model.blocks)`` (plus, for MAE-P, the layers of its pyramid stem: its stage blocks
    and merges, as HiViT counts them); no weight decay for 1-D parameters (norm weights, biases) and
    for the names in ``no_weight_decay`` (position tables, class and mask tokens). Frozen parameters
    are skipped. With ``layer_decay=1.0`` every group has one lr; MAE's pre-training rule decays every
    parameter that is not 1-D, class and mask tokens included, which ``no_weight_decay=()`` gives.

    Args:
        model: a model with a ``blocks`` ``ModuleList`` or ``Sequential`` (an :class:`MAE`, MAE-P or
            timm ``VisionTransformer``), also inside ``torch.compile`` or DDP.
        weight_decay: decay for the decayed groups (a finite number >= 0).
        layer_decay: per-layer lr factor in ``(0, 1]``.
        base_lr: if given, each group also gets ``lr = base_lr * lr_scale``.
        no_weight_decay: parameter-name components exempt from weight decay (a collection of
            strings, not one string).

    Returns:
        A list of dicts with ``params``, ``weight_decay``, ``lr_scale`` (and ``lr``), ready for
        ``torch.optim.AdamW``; a scheduler should multiply its lr by ``lr_scale``.

    Examples::

        >>> import torch
        >>> from maerad.models import create_model
        >>> model = create_model("mae_vit_tiny", img_size=32, patch_size=8, depth=2, decoder_depth=1)
        >>> groups = param_groups_lrd(model, layer_decay=0.5, base_lr=1e-3)
        >>> opt = torch.optim.AdamW(groups, betas=(0.9, 0.95))
        >>> sorted({g["lr_scale"] for g in groups})
        [0.125, 0.25, 0.5, 1.0]
    """
    layer_decay = check_real(layer_decay, "layer_decay", positive=True)
    if layer_decay > 1.0:
        raise ConfigError(f"layer_decay must be in (0, 1], got {layer_decay}")
    weight_decay = check_real(weight_decay, "weight_decay", positive=False)
    if base_lr is not None:
        base_lr = check_real(base_lr, "base_lr", positive=False)
    if isinstance(no_weight_decay, str):  # a bare string would exempt its letters, not the name
        raise ConfigError(
            f"no_weight_decay must be a collection of names, got the string {no_weight_decay!r}; "
            f"write ({no_weight_decay!r},)"
        )
    try:
        exempt: set[str] | None = set(no_weight_decay)
    except TypeError:  # not iterable, or unhashable items
        exempt = None
    if exempt is None or not all(isinstance(name, str) for name in exempt):
        raise ConfigError(f"no_weight_decay must be a collection of parameter names (strings), "
                          f"got {no_weight_decay!r}")
    model = _unwrapped(model)  # torch.compile / DDP prefix the names, which would hide the depth
    blocks = getattr(model, "blocks", None)
    # timm's VisionTransformer keeps its blocks in an nn.Sequential
    num_layers = len(blocks) if isinstance(blocks, (nn.ModuleList, nn.Sequential)) else 0
    # with one lr for all, the stem's depths would only split the groups, and change their number, which
    # optimizer states saved before the stem had depths must keep
    stem = getattr(model, "patch_embed", None) if layer_decay < 1.0 else None
    stem = stem if isinstance(stem, PyramidStem) else None
    if num_layers and stem is not None:
        num_layers += stem.num_layers
    if layer_decay < 1.0 and num_layers == 0:
        raise ConfigError(f"layer_decay={layer_decay} needs a model with a `blocks` ModuleList or Sequential "
                          f"(an MAE, MAE-P or timm ViT); {type(model).__name__} has none")
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = param.ndim > 1 and name.split(".")[-1] not in exempt
        depth = layer_id(name, num_layers, stem)
        key = (depth, decay)
        if key not in groups:
            scale = layer_decay ** (num_layers + 1 - depth)
            group: dict[str, Any] = {
                "params": [],
                "weight_decay": weight_decay if decay else 0.0,
                "lr_scale": scale,
                "layer_id": depth,
            }
            if base_lr is not None:
                group["lr"] = base_lr * scale
            groups[key] = group
        groups[key]["params"].append(param)
    return [groups[k] for k in sorted(groups)]


def _unwrapped(model: nn.Module) -> nn.Module:
    """The model inside ``torch.compile`` and (Distributed)DataParallel wrappers (same parameters)."""
    while True:
        inner = getattr(model, "_orig_mod", None)
        if inner is None and isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            inner = model.module
        if not isinstance(inner, nn.Module):
            return model
        model = inner
