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
from maerad.masking.spec import check_grid
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


def _infer_grid(
    source: nn.Module | Mapping[str, torch.Tensor], rows: int, model: MAE | None
) -> tuple[int, ...]:
    """Token grid of a ``rows``-row timm position table.

    From a timm module its ``patch_embed.grid_size``; else the grid of ``model`` when the table fits it
    (with a class row or, timm's ``no_embed_class``, without); else a square grid after a class row.
    A table fits several grids (4 x 6 with a class row has 25 rows, like 5 x 5 without one), so nothing
    else is guessed.
    """
    grid = getattr(getattr(source, "patch_embed", None), "grid_size", None)
    if grid is not None:
        return tuple(int(g) for g in grid)
    if model is not None and rows in (math.prod(model.grid), math.prod(model.grid) + 1):
        return model.grid
    side = math.isqrt(max(rows - 1, 0))
    if side > 0 and side * side == rows - 1:
        return (side, side)
    target = "" if model is None else f" and does not fit the model's grid {model.grid}"
    raise CheckpointError(
        f"cannot infer the token grid of a {rows}-row timm position table: {rows} - 1 is not a square"
        f"{target}; pass source_grid (the timm model's patch_embed.grid_size)"
    )


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
        source_grid: token grid of ``source``. Without it the grid comes from a module, else from
            ``model`` when the table has ``1 + L`` or ``L`` rows for its grid, else it must be square
            after a class row; any other state dict raises ``CheckpointError`` asking for it.

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
        check_grid(source_grid, field="source_grid")
        if source_grid is not None
        else _infer_grid(source, pos.shape[1], model)
    )
    if pos.shape[1] == math.prod(grid):  # no_embed_class: the class token gets no position
        out["pos_embed"] = torch.cat([pos.new_zeros(1, 1, pos.shape[-1]), pos], dim=1)
    elif pos.shape[1] != math.prod(grid) + 1:
        raise CheckpointError(f"timm pos_embed has {pos.shape[1]} rows, which does not fit grid {grid}")
    if model is not None:
        model.load_encoder_state_dict(out, source_grid=grid)
    return out
