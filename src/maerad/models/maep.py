"""`MAEP`: a pyramid MAE (HiViT-style) whose early stages work inside each token.

Each token (patch) is split into ``4`` cells per axis. Stage 1 embeds every cell (a convolution with
kernel = stride = patch/4 restricted to the token, i.e. a linear map of the cell's voxels) and runs
per-cell MLP blocks; a 2×(×2) cell merge gives stage 2 (patch/2) and another merge gives the token
embedding at stride = patch, which enters the ordinary transformer. Nothing mixes information
between tokens before the transformer, so masking still drops whole tokens and the stages run on
visible tokens only. For a 16×16 patch the stages have strides 4, 8 and 16; for an anisotropic
``(4, 16, 16)`` patch the strides are ``(1, 4, 4)``, ``(2, 8, 8)`` and ``(4, 16, 16)``.

Without masking, :meth:`MAEP.forward_pyramid` returns the three feature maps for dense tasks.

``stage_mixer="unit_attention"`` is the Hiera-style mask-unit variant (names ``maep_hiera_*``): the
stage blocks are transformer blocks whose attention spans the cells of one token (the mask unit, see
:mod:`maerad.models.unit_attention`), with a learned position embedding over the cells, instead of
per-cell MLPs. Cells then exchange information inside their token, and still never across tokens.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from timm.layers.drop import DropPath
from timm.layers.mlp import Mlp
from torch import nn

from maerad.errors import ConfigError, InputError
from maerad.masking.spec import as_int_tuple
from maerad.models.blocks import (
    check_count,
    check_drop_rate,
    check_heads,
    check_real,
    drop_path_rates,
    make_norm,
)
from maerad.models.mae import MAE
from maerad.models.patch import PatchGeometry
from maerad.models.unit_attention import UnitAttentionBlock

__all__ = ["MAEP", "PyramidStem", "StageMixer", "default_stage_heads"]

CELLS = 4  # cells per token axis at stage 1 (two 2× merges reach the token)

StageMixer = Literal["mlp", "unit_attention"]


class _MLPBlock(nn.Module):
    """Pre-norm residual MLP over the last axis (no attention, so nothing crosses cells); stochastic
    depth drops the residual branch of whole images (the first axis), as in HiViT's stem."""

    def __init__(self, dim: int, mlp_ratio: float, eps: float, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm = make_norm(dim, eps)
        self.mlp = Mlp(dim, hidden_features=max(1, int(dim * mlp_ratio)))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mlp(self.norm(x)))  # type: ignore[no-any-return]


class _CellMerge(nn.Module):
    """Merge 2 cells per axis: ``(B, K, *cells, C)`` → ``(B, K, *cells/2, C_out)`` (LN + linear)."""

    def __init__(self, spatial_dims: int, dim_in: int, dim_out: int, eps: float) -> None:
        super().__init__()
        self.spatial_dims = spatial_dims
        self.norm = make_norm(dim_in * 2**spatial_dims, eps)
        self.reduce = nn.Linear(dim_in * 2**spatial_dims, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nd = self.spatial_dims
        cells = x.shape[2 : 2 + nd]
        split: list[int] = []
        for c in cells:
            split += [c // 2, 2]
        x = x.reshape(*x.shape[:2], *split, x.shape[-1])
        perm = [0, 1, *(2 + 2 * i for i in range(nd)), *(3 + 2 * i for i in range(nd)), 2 + 2 * nd]
        x = x.permute(perm).reshape(*x.shape[:2], *(c // 2 for c in cells), -1)
        return self.reduce(self.norm(x))  # type: ignore[no-any-return]


def default_stage_heads(width: int) -> int:
    """Default attention heads of a ``"unit_attention"`` stage ``width`` wide: one per full 64 channels (at
    least one), lowered to the nearest divisor of ``width``. The one rule for every way of building the
    stem, so that weights move between them with the same heads (the head count is not in the weights)."""
    heads = max(1, width // 64)
    while width % heads:
        heads -= 1
    return heads


def _two_ints(value: object, name: str, *, minimum: int) -> tuple[int, int]:
    """``value`` as the ints of stages 1 and 2, each ``>= minimum``; else ``ConfigError`` naming ``name``."""
    items = as_int_tuple(value)
    if items is None or len(items) != 2 or min(items) < minimum:
        raise ConfigError(f"{name} must be two ints >= {minimum} (stages 1 and 2), got {value!r}")
    return items[0], items[1]


def _cells_to_map(cells: torch.Tensor, grid: Sequence[int]) -> torch.Tensor:
    """``(B, L, *cells, C)`` → dense ``(B, C, *(grid * cells))``."""
    nd = len(grid)
    per = cells.shape[2 : 2 + nd]
    x = cells.reshape(cells.shape[0], *grid, *per, cells.shape[-1])
    perm = [0, 1 + 2 * nd]
    for i in range(nd):
        perm += [1 + i, 1 + nd + i]
    return x.permute(perm).reshape(
        cells.shape[0], cells.shape[-1], *(g * c for g, c in zip(grid, per, strict=True))
    )


class PyramidStem(nn.Module):
    """Per-token pyramid embedding: stage 1 (patch/4) → stage 2 (patch/2) → token (patch).

    Args:
        geometry: image/patch geometry; every patch side must be divisible by 4.
        in_chans: input channels.
        embed_dim: token width ``D``.
        stage_dims: widths of stages 1 and 2 (default ``(D // 4, D // 2)``).
        stage_depths: blocks in stages 1 and 2.
        mlp_ratio: MLP ratio of the stage blocks.
        norm_eps: LayerNorm epsilon.
        stage_mixer: ``"mlp"`` (HiViT: per-cell MLP blocks) or ``"unit_attention"`` (Hiera: attention
            among the cells of each token, plus a learned cell position embedding).
        stage_heads: attention heads of stages 1 and 2 (``"unit_attention"`` only; each must divide
            its stage width); default :func:`default_stage_heads` of each stage's width. Refused with
            ``"mlp"``, which has no attention.
        drop_path_rates: stochastic-depth rate of each stage block, stage 1's first (default: none);
            :class:`MAEP` sets them from its ``drop_path_rate``.
    """

    def __init__(
        self,
        geometry: PatchGeometry,
        in_chans: int,
        embed_dim: int,
        stage_dims: Sequence[int] | None = None,
        stage_depths: Sequence[int] = (2, 2),
        mlp_ratio: float = 4.0,
        norm_eps: float = 1e-6,
        stage_mixer: StageMixer = "mlp",
        stage_heads: Sequence[int] | None = None,
        drop_path_rates: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if stage_mixer not in ("mlp", "unit_attention"):
            raise ConfigError(f"stage_mixer must be 'mlp' or 'unit_attention', got {stage_mixer!r}")
        if any(p % CELLS for p in geometry.patch_size):
            raise ConfigError(
                f"MAE-P needs every patch side divisible by {CELLS}, got patch_size {geometry.patch_size}"
            )
        in_chans = check_count(in_chans, "in_chans", minimum=1)
        embed_dim = check_count(embed_dim, "embed_dim", minimum=1)
        dims = _two_ints(
            (max(1, embed_dim // 4), max(1, embed_dim // 2)) if stage_dims is None else stage_dims,
            "stage_dims",
            minimum=1,
        )
        depths = _two_ints(stage_depths, "stage_depths", minimum=0)
        mlp_ratio = check_real(mlp_ratio, "stage mlp_ratio", positive=True)
        norm_eps = check_real(norm_eps, "norm_eps", positive=False)
        self.geometry = geometry
        self.in_chans = in_chans
        self.stage_dims = dims
        nd = geometry.spatial_dims
        self.cell_size = tuple(p // CELLS for p in geometry.patch_size)
        self.stage_mixer = stage_mixer
        self.stem = nn.Linear(in_chans * math.prod(self.cell_size), dims[0])
        self.cell_pos: nn.Parameter | None = None
        heads = (1, 1)  # MLP stages: unused
        if stage_mixer == "mlp" and stage_heads is not None:
            raise ConfigError(f"stage_heads={stage_heads!r} is for stage_mixer='unit_attention'; the 'mlp' "
                              "stages have no attention (leave stage_heads out, or use unit_attention)")
        if stage_mixer == "unit_attention":
            chosen = tuple(default_stage_heads(d) for d in dims) if stage_heads is None else stage_heads
            heads = _two_ints(chosen, "stage_heads", minimum=1)
            for i, (dim, h) in enumerate(zip(dims, heads, strict=True)):
                check_heads(dim, h, f"MAE-P stage {i + 1}")
            # attention is order-blind: cells need to know where they sit inside their token
            self.cell_pos = nn.Parameter(torch.zeros(1, 1, *([CELLS] * nd), dims[0]))
            nn.init.trunc_normal_(self.cell_pos, std=0.02)
        self.stage_heads = heads
        if drop_path_rates is not None and not isinstance(drop_path_rates, (list, tuple)):
            raise ConfigError(
                f"drop_path_rates must be a list of rates, one per stage block, got {drop_path_rates!r}"
            )
        rates = [0.0] * sum(depths) if drop_path_rates is None else [
            check_drop_rate(rate, "drop_path_rates") for rate in drop_path_rates
        ]
        if len(rates) != sum(depths):
            raise ConfigError(f"drop_path_rates lists {len(rates)} rates for {sum(depths)} stage blocks")
        self.stage1 = self._stage(dims[0], heads[0], rates[: depths[0]], mlp_ratio, norm_eps)
        self.stage2 = self._stage(dims[1], heads[1], rates[depths[0] :], mlp_ratio, norm_eps)
        self.merge1 = _CellMerge(nd, dims[0], dims[1], norm_eps)
        self.merge2 = _CellMerge(nd, dims[1], embed_dim, norm_eps)

    def _stage(self, dim: int, heads: int, rates: list[float], ratio: float, eps: float) -> nn.Sequential:
        """One stage, a block per stochastic-depth rate: per-cell MLPs (HiViT) or attention within a
        token (Hiera)."""
        if self.stage_mixer == "unit_attention":
            return nn.Sequential(
                *(UnitAttentionBlock(dim, heads, mlp_ratio=ratio, norm_eps=eps, drop_path=r) for r in rates)
            )
        return nn.Sequential(*(_MLPBlock(dim, ratio, eps, drop_path=rate) for rate in rates))

    @property
    def num_layers(self) -> int:
        """The stem's depth for layer-wise lr decay: its stage blocks and its two merges (as HiViT counts
        the blocks of its stem among the model's layers)."""
        return len(self.stage1) + len(self.stage2) + 2

    def layer_of(self, name: str) -> int:
        """Depth (``0 … num_layers``) of stem parameter ``name`` (relative to the stem) for layer decay:
        the cell embedding and cell positions 0, then the stage-1 blocks, merge 1, the stage-2 blocks,
        merge 2."""
        part, _, rest = name.partition(".")
        d1 = len(self.stage1)
        if part == "stage1":
            return 1 + int(rest.split(".")[0])
        if part == "merge1":
            return d1 + 1
        if part == "stage2":
            return d1 + 2 + int(rest.split(".")[0])
        if part == "merge2":
            return self.num_layers
        return 0

    def _cells(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, *img)`` → ``(B, L, *[4]*nd, prod(cell_size) * C)`` (channel-last inside a cell)."""
        expected = (self.in_chans, *self.geometry.img_size)
        if x.ndim != 2 + self.geometry.spatial_dims or tuple(x.shape[1:]) != expected:
            raise InputError(f"PyramidStem expects input (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        nd = self.geometry.spatial_dims
        split: list[int] = []
        for g, s in zip(self.geometry.grid, self.cell_size, strict=True):
            split += [g, CELLS, s]
        x = x.reshape(x.shape[0], x.shape[1], *split)
        # axes: 0 batch, 1 chans, then (g, n, s) triples at 2+3i, 3+3i, 4+3i
        perm = [
            0,
            *(2 + 3 * i for i in range(nd)),
            *(3 + 3 * i for i in range(nd)),
            *(4 + 3 * i for i in range(nd)),
            1,
        ]
        x = x.permute(perm)
        return x.reshape(x.shape[0], self.geometry.num_tokens, *([CELLS] * nd), -1)

    def forward_stages(
        self, x: torch.Tensor, ids_keep: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All stage outputs: ``(B, K, *[4]*nd, d1)``, ``(B, K, *[2]*nd, d2)``, ``(B, K, D)``."""
        cells = self._cells(x)
        if ids_keep is not None:
            flat = cells.flatten(2)
            flat = torch.gather(flat, 1, ids_keep.unsqueeze(-1).expand(-1, -1, flat.shape[-1]))
            cells = flat.reshape(flat.shape[0], flat.shape[1], *cells.shape[2:])
        s1 = self.stem(cells)
        if self.cell_pos is not None:
            s1 = s1 + self.cell_pos
        s1 = self.stage1(s1)
        s2 = self.stage2(self.merge1(s1))
        tokens = self.merge2(s2)
        return s1, s2, tokens.reshape(tokens.shape[0], tokens.shape[1], -1)

    def forward(self, x: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, C, *img)`` → ``(B, K, D)`` token embeddings of the visible tokens (all if ``None``)."""
        return self.forward_stages(x, ids_keep)[2]


class MAEP(MAE):
    """Pyramid MAE (HiViT-style stem + ViT encoder + MAE decoder); same interface as :class:`MAE`.

    Args:
        stage_dims: stage 1 / 2 widths (default ``(embed_dim // 4, embed_dim // 2)``).
        stage_depths: blocks per stage.
        stage_mlp_ratio: MLP ratio of the stage blocks.
        stage_mixer: ``"mlp"`` (HiViT-style, default) or ``"unit_attention"`` (Hiera-style mask-unit
            attention among the cells of each token).
        stage_heads: attention heads of stages 1 and 2 for ``"unit_attention"`` (default: one per full
            64 channels of the stage's width, :func:`default_stage_heads`).
        **kwargs: every :class:`MAE` argument.

    For layer-wise lr decay (:func:`~maerad.models.param_groups_lrd`) the stem's stage blocks and merges
    count as layers below the encoder blocks, as in HiViT. So does stochastic depth: ``drop_path_rate``
    is reached by the last encoder block on one linear schedule from 0 that runs over the stem's stage
    blocks first and then the encoder blocks (HiViT's rule); each stem block drops its branch for
    whole images.

    Examples::

        >>> import torch
        >>> model = MAEP(img_size=32, patch_size=16, in_chans=1, embed_dim=32, depth=1, num_heads=2,
        ...              decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)
        >>> out = model(torch.randn(2, 1, 32, 32))                  # masked pre-training step
        >>> [tuple(f.shape) for f in model.forward_pyramid(torch.randn(2, 1, 32, 32))]
        [(2, 8, 8, 8), (2, 16, 4, 4), (2, 32, 2, 2)]
    """

    _stem_args: dict[str, Any]

    def __init__(
        self,
        *,
        stage_dims: Sequence[int] | None = None,
        stage_depths: Sequence[int] = (2, 2),
        stage_mlp_ratio: float = 4.0,
        stage_mixer: StageMixer = "mlp",
        stage_heads: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        # read by _make_patch_embed, which MAE.__init__ calls before nn.Module attributes exist
        # PyramidStem checks these; MAE.__init__ checks norm_eps before it builds the stem
        stem_args = {
            "stage_dims": stage_dims,
            "stage_depths": stage_depths,
            "mlp_ratio": check_real(stage_mlp_ratio, "stage_mlp_ratio", positive=True),
            "norm_eps": kwargs.get("norm_eps", 1e-6),
            "stage_mixer": stage_mixer,
            "stage_heads": stage_heads,
        }
        object.__setattr__(self, "_stem_args", stem_args)
        super().__init__(**kwargs)

    def _encoder_drop_path_rates(self, drop_path_rate: float, depth: int) -> list[float]:
        # HiViT: one schedule over the stem's stage blocks, then the encoder's; the stem's share is
        # handed to _make_patch_embed, which MAE.__init__ calls next
        stem_blocks = sum(_two_ints(self._stem_args["stage_depths"], "stage_depths", minimum=0))
        rates = drop_path_rates(drop_path_rate, stem_blocks + depth)
        self._stem_args["drop_path_rates"] = rates[:stem_blocks]
        return rates[stem_blocks:]

    def _make_patch_embed(self) -> nn.Module:
        return PyramidStem(self.geometry, self.in_chans, self.embed_dim, **self._stem_args)

    def forward_pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Multi-scale feature maps without masking, for dense downstream tasks.

        Args:
            x: ``(B, C, *img_size)``.

        Returns:
            ``[(B, d1, *img/(patch/4)), (B, d2, *img/(patch/2)), (B, D, *grid)]`` — strides
            patch/4, patch/2 and patch (4, 8, 16 for 16-voxel patches); the last is the
            transformer output (final norm applied, class token dropped).
        """
        x = self._check_input(x)
        stem = self.patch_embed
        assert isinstance(stem, PyramidStem)
        s1, s2, tokens = stem.forward_stages(x)
        h = self._encode_tokens(tokens, None)[:, 1:]  # (B, L, D)
        last = h.transpose(1, 2).reshape(h.shape[0], h.shape[-1], *self.grid)
        maps = [_cells_to_map(s1, self.grid), _cells_to_map(s2, self.grid), last]
        # one dtype for all levels (under autocast the stages may come out in bf16, the last in fp32)
        dtype = functools.reduce(torch.promote_types, (m.dtype for m in maps))
        return [m.to(dtype) for m in maps]
