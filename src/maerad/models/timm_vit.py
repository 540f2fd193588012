"""Convert the weights of a timm ``VisionTransformer`` into maerad MAE encoder weights.

maerad's encoder uses timm's own ``Block`` and the same parameter names (``patch_embed.proj``,
``cls_token``, ``pos_embed``, ``blocks.N.*``, ``norm``), so the conversion keeps the encoder keys,
drops the classifier (``head``, ``fc_norm``) and adds a zero class-token row to a position table
that has none (timm's ``no_embed_class``). Features timm has and maerad's encoder has not (register
tokens, layer scale, q/k norm, a pre-norm, no final norm) are refused with a clear error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from maerad.errors import CheckpointError
from maerad.models.mae import MAE

__all__ = ["load_timm_vit"]

_DROPPED = ("head.", "fc_norm.", "head_drop.")
_UNSUPPORTED = (
    "reg_token",
    ".ls1.",
    ".ls2.",
    ".q_norm.",
    ".k_norm.",
    "norm_pre.",
    "attn_pool.",
    ".attn.norm.",
)


def _infer_grid(source: nn.Module | Mapping[str, torch.Tensor], rows: int) -> tuple[int, ...]:
    """Token grid from a timm module, else the square grid that fits the table (with a class row first)."""
    grid = getattr(getattr(source, "patch_embed", None), "grid_size", None)
    if grid is not None:
        return tuple(int(g) for g in grid)
    for body in (rows - 1, rows):
        side = math.isqrt(max(body, 0))
        if side > 0 and side * side == body:
            return (side, side)
    raise CheckpointError(f"cannot infer the token grid of a {rows}-row position table; pass source_grid")


def load_timm_vit(
    source: nn.Module | Mapping[str, torch.Tensor],
    *,
    model: MAE | None = None,
    source_grid: Sequence[int] | None = None,
) -> dict[str, torch.Tensor]:
    """Encoder weights for a maerad :class:`MAE` from a timm ViT (module or state dict).

    Args:
        source: a ``timm`` ``VisionTransformer`` or its ``state_dict()``.
        model: if given, the weights are loaded into this model's encoder (the position table is
            resampled when the grids differ) and the returned dict is what was loaded.
        source_grid: token grid of ``source`` (inferred from a module, or square from the table).

    Returns:
        ``{maerad encoder key: tensor}`` (keys of :meth:`MAE.encoder_state_dict`).

    Raises:
        CheckpointError: an unsupported timm feature, missing weights, or weights that do not fit.

    Examples::

        import timm
        vit = timm.create_model("vit_base_patch16_224", pretrained=False)
        mae = create_model("mae_vit_base")
        load_timm_vit(vit, model=mae)          # mae.forward_tokens(x) == vit.forward_features(x)
    """
    state = source.state_dict() if isinstance(source, nn.Module) else dict(source)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(_DROPPED):
            continue
        if any(marker in key or key.startswith(marker) for marker in _UNSUPPORTED):
            raise CheckpointError(
                f"timm weight {key!r} belongs to a ViT feature maerad's encoder does not have"
            )
        out[key] = value.detach()
    for required in ("cls_token", "pos_embed", "patch_embed.proj.weight", "norm.weight"):
        if required not in out:
            raise CheckpointError(
                f"timm state dict lacks {required!r} "
                "(maerad needs a class token, a position table and a final norm)"
            )
    pos = out["pos_embed"]
    grid = (
        tuple(int(g) for g in source_grid) if source_grid is not None else _infer_grid(source, pos.shape[1])
    )
    if pos.shape[1] == math.prod(grid):  # no_embed_class: the class token gets no position
        out["pos_embed"] = torch.cat([pos.new_zeros(1, 1, pos.shape[-1]), pos], dim=1)
    elif pos.shape[1] != math.prod(grid) + 1:
        raise CheckpointError(f"timm pos_embed has {pos.shape[1]} rows, which does not fit grid {grid}")
    if model is not None:
        model.load_encoder_state_dict(out, source_grid=grid)
    return out
