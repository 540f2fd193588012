"""Convert the weights of a timm ``VisionTransformer`` into maerad MAE encoder weights.

maerad's encoder uses timm's own ``Block`` and the same parameter names (``patch_embed.proj``,
``cls_token``, ``pos_embed``, ``blocks.N.*``, ``norm``), so the conversion keeps the encoder keys,
drops the classifier (``head``, ``fc_norm``) and adds a zero class-token row to a position table
that has none (timm's ``no_embed_class``). Features timm has and maerad's encoder has not (register
tokens, a distillation token, layer scale, q/k norm, a pre-norm, no final norm) are refused with a
clear error. From a module, settings that leave no trace in the weights are checked as well: it must
be a timm ``VisionTransformer`` of pre-norm ``Block`` modules with LayerNorms and a GELU MLP, whose
activation (exact or tanh GELU) and LayerNorm eps equal those of ``model``. A bare state dict shows
none of these: its activation and eps must match ``model``'s (``act``, ``norm_eps``) and are not
checked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import cast

import timm.layers
import torch

# Attention and Mlp through vision_transformer: they moved into timm.layers in later timm releases
from timm.models.vision_transformer import Attention, Block, Mlp, VisionTransformer  # type: ignore[attr-defined]
from torch import nn

from maerad.errors import CheckpointError
from maerad.masking.spec import check_grid
from maerad.models.mae import MAE
from maerad.models.pos_embed import interpolate_pos_embed, is_sincos_table

__all__ = ["load_timm_vit"]

_DROPPED = ("head.", "fc_norm.", "head_drop.")
_UNSUPPORTED = (
    "reg_token",
    "dist_token",
    ".ls1.",
    ".ls2.",
    ".q_norm.",
    ".k_norm.",
    "norm_pre.",
    "attn_pool.",
    ".attn.norm.",
)


def _activation(act: object) -> str | None:
    """``"gelu"`` or ``"gelu_tanh"`` for the GELU modules of torch and timm, else ``None``."""
    if type(act) is nn.GELU:
        return {"none": "gelu", "tanh": "gelu_tanh"}.get(act.approximate)
    # timm's own GELU modules (GELUTanh only in newer timm releases; pyproject allows timm >= 0.9)
    for name, code in (("GELU", "gelu"), ("GELUTanh", "gelu_tanh")):
        cls = getattr(timm.layers, name, None)
        if cls is not None and type(act) is cls:
            return code
    return None


def _check_module(source: nn.Module, model: MAE | None) -> None:
    """Refuse a timm module whose computation differs from maerad's encoder in ways its weights do
    not show (class, block type, activation, LayerNorm eps); compare with ``model`` when given."""
    if type(source) is not VisionTransformer:
        raise CheckpointError(
            f"load_timm_vit reads timm VisionTransformer models, got a {type(source).__name__}, whose "
            "encoder differs from maerad's"
        )
    norms: list[tuple[str, nn.Module]] = []
    if not isinstance(source.norm, nn.Identity):  # final_norm=False: reported as a missing norm.weight
        norms.append(("norm", source.norm))
    acts: set[str] = set()
    for i, block in enumerate(source.blocks):
        if type(block) is not Block:
            raise CheckpointError(
                f"timm block {i} is a {type(block).__name__}; maerad's encoder matches timm's pre-norm "
                "Block only"
            )
        if type(block.attn) is not Attention or type(block.mlp) is not Mlp:
            raise CheckpointError(
                f"timm block {i} has a {type(block.attn).__name__} attention and a "
                f"{type(block.mlp).__name__} MLP; maerad's encoder matches timm's Attention and Mlp only"
            )
        act = _activation(block.mlp.act)
        if act is None:
            raise CheckpointError(
                f"timm block {i} uses the activation {type(block.mlp.act).__name__}; maerad supports "
                "GELU (exact or tanh) only"
            )
        acts.add(act)
        norms += [(f"blocks.{i}.norm1", block.norm1), (f"blocks.{i}.norm2", block.norm2)]
    for name, norm in norms:
        if not isinstance(norm, nn.LayerNorm):
            raise CheckpointError(f"timm {name} is a {type(norm).__name__}; maerad's encoder uses LayerNorm")
    if model is None:
        return
    model_acts = {_activation(getattr(getattr(b, "mlp", None), "act", None)) for b in model.blocks}
    if acts and model_acts and acts != model_acts:
        raise CheckpointError(
            f"the timm model's activation is {', '.join(sorted(acts))}, the model's "
            f"{', '.join(sorted(map(str, model_acts)))}; build the MAE with act={sorted(acts)[0]!r}"
        )
    eps = model.norm.eps
    for name, norm in norms:
        assert isinstance(norm, nn.LayerNorm)  # checked above
        if norm.eps != eps:
            raise CheckpointError(
                f"timm {name} has LayerNorm eps {norm.eps}, the model {eps}; build the MAE with "
                f"norm_eps={norm.eps}"
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
        source: a ``timm`` ``VisionTransformer`` or its ``state_dict()``. A module is also checked for
            settings its weights do not show (module docstring); a state dict cannot be, so its
            activation and LayerNorm eps must match ``model``'s.
        model: if given, a 2D :class:`MAE`: the weights are loaded into its encoder and the returned
            dict is what was loaded. When the grids differ, a learned position table is resampled as
            timm resamples it (``timm.layers.resample_abs_pos_embed``: bicubic, anti-aliased), so the
            features equal those of the timm model run at this size; a fixed sin-cos table is rebuilt
            for the new grid instead.
        source_grid: token grid of ``source``. Without it the grid comes from a module, else from
            ``model`` when the table has ``1 + L`` or ``L`` rows for its grid, else it must be square
            after a class row; any other state dict raises ``CheckpointError`` asking for it.

    Returns:
        ``{maerad encoder key: tensor}`` (keys of :meth:`MAE.encoder_state_dict`).

    Raises:
        CheckpointError: not a timm module or state dict, a 3D ``model``, an unsupported timm
            feature or setting, missing weights, or weights that do not fit.

    Examples::

        import timm
        vit = timm.create_model("vit_base_patch16_224", pretrained=False)
        mae = create_model("mae_vit_base")
        load_timm_vit(vit, model=mae)          # mae.forward_tokens(x) == vit.forward_features(x)
    """
    given: object = source  # the annotation is not enforced at run time
    if not isinstance(given, (nn.Module, Mapping)):
        path = isinstance(given, (str, os.PathLike))
        hint = "; read the file first (e.g. with safetensors.torch.load_file)" if path else ""
        raise CheckpointError(
            f"load_timm_vit takes a timm VisionTransformer or its state_dict(), got {type(given).__name__}"
            f"{hint}"
        )
    state = source.state_dict() if isinstance(source, nn.Module) else dict(source)
    for key, value in cast(dict[object, object], state).items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"load_timm_vit needs a state dict of names to tensors; entry {key!r} has type "
                f"{type(value).__name__}"
            )
    if model is not None and model.geometry.spatial_dims != 2:
        raise CheckpointError(
            f"timm ViTs are 2D and the model is {model.geometry.spatial_dims}D; load into a 2D MAE"
        )
    if isinstance(source, nn.Module):
        _check_module(source, model)
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
        if grid != model.grid and not is_sincos_table(out["pos_embed"], grid):
            # timm's own resampling (anti-aliased), so features equal a timm model run at this size
            out["pos_embed"] = interpolate_pos_embed(out["pos_embed"], grid, model.grid, antialias=True)
            grid = model.grid
        model.load_encoder_state_dict(out, source_grid=grid)
    return out
