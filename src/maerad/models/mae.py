"""`MAE`: an N-D masked autoencoder whose encoder sees the visible tokens only."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn

from maerad.errors import CheckpointError, ConfigError, InputError
from maerad.losses.reconstruction import (
    LossKind,
    NormPixMode,
    masked_reconstruction_loss,
    patch_statistics,
)
from maerad.masking.spec import MaskSpec, as_int, check_grid, check_ratio
from maerad.models.blocks import (
    Activation,
    check_count,
    check_flag,
    check_heads,
    check_real,
    drop_path_rates,
    init_mae_weights,
    make_blocks,
    make_norm,
)
from maerad.models.decoder import MAEDecoder
from maerad.models.mask_input import hidden_indices, resolve_mask
from maerad.models.output import MAEOutput
from maerad.models.patch import PatchEmbed, PatchGeometry, patchify, unpatchify
from maerad.models.pos_embed import interpolate_pos_embed, is_sincos_table, sincos_pos_embed

__all__ = ["MAE"]


def _describe(value: object) -> str:
    """A tensor's dtype and shape, else the type's name, for error messages."""
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} {tuple(value.shape)}"
    return type(value).__name__


def _gather_tokens(tokens: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``(B, L, W)`` gathered at ``(B, M)`` indices → ``(B, M, W)``."""
    return torch.gather(tokens, 1, ids.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


class MAE(nn.Module):
    """Masked autoencoder for 2D or 3D images with any number of channels (MRI sequences).

    The encoder (timm blocks, fused SDPA attention) runs on the visible tokens plus a class token;
    the decoder re-inserts mask tokens and predicts pixel patches; the head runs on hidden tokens
    only. Weights are initialised as in MAE: fixed sin-cos position tables, xavier-uniform linear
    layers (the patch projection treated as a linear layer), ``normal(0.02)`` class and mask tokens.

    Args:
        spatial_dims: 2 or 3.
        img_size: image size per axis (int = same for every axis).
        patch_size: patch size per axis, anisotropic allowed, e.g. ``(4, 16, 16)``.
        in_chans: channels (sequences).
        embed_dim, depth, num_heads, mlp_ratio, qkv_bias: encoder.
        decoder_embed_dim, decoder_depth, decoder_num_heads: decoder (MAE's names).
        decoder_mlp_ratio: decoder MLP ratio (default: ``mlp_ratio``).
        norm_eps: LayerNorm epsilon (MAE/timm 1e-6; Hugging Face checkpoints carry their own).
        act: MLP activation, ``"gelu"`` or ``"gelu_tanh"``.
        mask_ratio: fraction of hidden tokens for random masking, ``K = int(L * (1 - mask_ratio))``.
        norm_pix_loss: reconstruct per-patch normalised pixels.
        norm_pix_mode: ``"per_channel"`` (default, never mixes sequences) or ``"joint"`` (MAE / HF).
        loss_type: ``"l2"`` or ``"l1"``.
        drop_path_rate: encoder stochastic depth (fine-tuning), reached by the last block on a linear
            schedule from 0.
        decoder: a replacement decoder (then the ``decoder_*`` arguments are unused): a module called
            as ``decoder(latent (B, 1+K, D), ids_keep (B, K), ids_hidden (B, M) | None)`` returning
            ``(B, M, P)`` predictions for ``ids_hidden`` (or ``(B, L, P)`` for ``None``), like
            :class:`MAEDecoder`.

    Raises:
        ConfigError: an inconsistent configuration (sizes, heads, ratios) or an argument of the wrong
            type (a float depth, the string "false" for a flag); the message names it.

    Examples::

        >>> import torch
        >>> from maerad.models import MAE
        >>> model = MAE(img_size=32, patch_size=8, in_chans=2, embed_dim=32, depth=2, num_heads=4,
        ...             decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2, norm_pix_loss=True)
        >>> out = model(torch.randn(3, 2, 32, 32))
        >>> out.loss.shape, out.pred.shape, out.mask.shape, int(out.mask[0].sum())
        (torch.Size([]), torch.Size([3, 16, 128]), torch.Size([3, 16]), 12)
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 2,
        img_size: int | Sequence[int] = 224,
        patch_size: int | Sequence[int] = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        decoder_embed_dim: int = 512,
        decoder_depth: int = 8,
        decoder_num_heads: int = 16,
        decoder_mlp_ratio: float | None = None,
        norm_eps: float = 1e-6,
        act: Activation = "gelu",
        mask_ratio: float = 0.75,
        norm_pix_loss: bool = False,
        norm_pix_mode: NormPixMode = "per_channel",
        loss_type: LossKind = "l2",
        drop_path_rate: float = 0.0,
        decoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.geometry = PatchGeometry.create(spatial_dims, img_size, patch_size)
        chans = as_int(in_chans)
        if chans is None or chans < 1:
            raise ConfigError(f"in_chans must be a positive int, got {in_chans!r}")
        in_chans = chans
        check_heads(embed_dim, num_heads, "encoder (embed_dim / num_heads)")
        embed_dim, num_heads = int(embed_dim), int(num_heads)
        # checked here so that the messages name MAE's own arguments (make_blocks checks them again)
        depth = check_count(depth, "depth")
        decoder_depth = check_count(decoder_depth, "decoder_depth")
        mlp_ratio = check_real(mlp_ratio, "mlp_ratio", positive=True)
        if decoder_mlp_ratio is not None:
            decoder_mlp_ratio = check_real(decoder_mlp_ratio, "decoder_mlp_ratio", positive=True)
        norm_eps = check_real(norm_eps, "norm_eps", positive=False)
        qkv_bias = check_flag(qkv_bias, "qkv_bias")
        norm_pix_loss = check_flag(norm_pix_loss, "norm_pix_loss")
        if decoder is not None and not isinstance(decoder, nn.Module):
            raise ConfigError(
                f"decoder must be an nn.Module (or None for MAE's decoder), got {type(decoder).__name__}"
            )
        mask_ratio = check_ratio(mask_ratio)
        if norm_pix_mode not in ("per_channel", "joint"):
            raise ConfigError(f"norm_pix_mode must be 'per_channel' or 'joint', got {norm_pix_mode!r}")
        if loss_type not in ("l2", "l1"):
            raise ConfigError(f"loss_type must be 'l2' or 'l1', got {loss_type!r}")
        if norm_pix_loss and self.geometry.patch_volume < 2:
            raise ConfigError("norm_pix_loss needs patches of at least 2 voxels")
        self.in_chans = in_chans
        self.embed_dim = embed_dim
        self.mask_ratio = mask_ratio
        self.norm_pix_loss = norm_pix_loss
        self.norm_pix_mode: NormPixMode = norm_pix_mode
        self.loss_type: LossKind = loss_type

        encoder_drop_rates = self._encoder_drop_path_rates(drop_path_rate, depth)
        self.patch_embed: nn.Module = self._make_patch_embed()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        table = self._pos_table(embed_dim)
        self.pos_embed = nn.Parameter(table.unsqueeze(0), requires_grad=False)
        self.blocks = make_blocks(
            embed_dim,
            depth,
            num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            norm_eps=norm_eps,
            act=act,
            drop_path_rate=encoder_drop_rates,
        )
        self.norm = make_norm(embed_dim, norm_eps)
        check_heads(decoder_embed_dim, decoder_num_heads, "decoder (decoder_embed_dim / decoder_num_heads)")
        self.decoder: nn.Module = MAEDecoder(
            grid=self.grid,
            embed_dim=embed_dim,
            patch_dim=self.patch_dim,
            decoder_embed_dim=decoder_embed_dim,
            decoder_depth=decoder_depth,
            decoder_num_heads=decoder_num_heads,
            mlp_ratio=mlp_ratio if decoder_mlp_ratio is None else decoder_mlp_ratio,
            qkv_bias=qkv_bias,
            norm_eps=norm_eps,
            act=act,
            sequences=self.num_tokens // self.geometry.num_tokens,  # > 1: per-sequence layout
        )
        self._init_weights()
        if decoder is not None:  # a user decoder keeps its own initialisation
            self.decoder = decoder

    # -- construction -------------------------------------------------------------------------------
    def _encoder_drop_path_rates(self, drop_path_rate: float, depth: int) -> list[float]:
        """Stochastic-depth rate of each encoder block (called before :meth:`_make_patch_embed`)."""
        return drop_path_rates(drop_path_rate, depth)

    def _make_patch_embed(self) -> nn.Module:
        """The token embedder: ``(x (B, C, *S), ids_keep (B, K) | None) → (B, K, D)``."""
        return PatchEmbed(self.geometry, self.in_chans, self.embed_dim)

    def _pos_table(self, width: int) -> torch.Tensor:
        """``(1 + L, width)`` fixed position table, class token first (MAE's sin-cos layout)."""
        return sincos_pos_embed(self.grid, width, cls_token=True)

    def _init_weights(self) -> None:
        self.apply(init_mae_weights)
        if isinstance(self.patch_embed, PatchEmbed):
            weight = self.patch_embed.proj.weight
            nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))
            if self.patch_embed.proj.bias is not None:
                nn.init.zeros_(self.patch_embed.proj.bias)
        nn.init.normal_(self.cls_token, std=0.02)
        if isinstance(self.decoder, MAEDecoder):
            nn.init.normal_(self.decoder.mask_token, std=0.02)

    # -- geometry -----------------------------------------------------------------------------------
    @property
    def grid(self) -> tuple[int, ...]:
        """Token grid shape."""
        return self.geometry.grid

    @property
    def mask_grid(self) -> tuple[int, ...]:
        """The grid masks are drawn on: the token grid (``(S, *grid)`` in the per-sequence layout)."""
        return self.grid

    @property
    def num_tokens(self) -> int:
        return math.prod(self.mask_grid)

    @property
    def token_channels(self) -> int:
        """Channels inside one token's patch: every sequence here, one in the per-sequence layout."""
        return self.in_chans

    @property
    def patch_dim(self) -> int:
        """``P = prod(patch_size) * token_channels``."""
        return self.geometry.patch_dim(self.token_channels)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, *img_size)`` → ``(B, L, P)`` channel-last patches."""
        return patchify(x, self.geometry.patch_size)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """``(B, L, P)`` → ``(B, C, *img_size)``."""
        return unpatchify(patches, self.geometry.patch_size, self.grid, self.in_chans)

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` checked against the model's input shape, in the dtype of its weights (a float64 tensor
        from nibabel's ``get_fdata`` works as is; autocast still chooses the dtype of each operation)."""
        if not isinstance(x, torch.Tensor):
            raise InputError(
                f"expected the image batch as a torch.Tensor (torch.from_numpy for an array), "
                f"got {type(x).__name__}"
            )
        expected = (self.in_chans, *self.geometry.img_size)
        if x.ndim != 2 + self.geometry.spatial_dims or tuple(x.shape[1:]) != expected:
            raise InputError(
                f"expected input of shape (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}"
            )
        if x.shape[0] < 1:
            raise InputError(f"expected at least one sample in the batch, got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise InputError(f"expected a floating-point image, got {x.dtype}")
        return x.to(self.cls_token.dtype)

    # -- encoder ------------------------------------------------------------------------------------
    def forward_encoder(self, x: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Encode the visible tokens.

        Args:
            x: ``(B, C, *img_size)``.
            ids_keep: ``(B, K)`` visible token indices; ``None`` = every token (no masking).

        Returns:
            ``(B, 1 + K, D)``: class token first, final LayerNorm applied.

        Raises:
            InputError: ``x`` or ``ids_keep`` do not fit the model (shape, dtype, index range).
        """
        x = self._check_input(x)
        if ids_keep is not None:
            self._check_ids(ids_keep, x.shape[0], "ids_keep")
        return self._encode(x, ids_keep)

    def _encode(self, x: torch.Tensor, ids_keep: torch.Tensor | None) -> torch.Tensor:
        """:meth:`forward_encoder` without the checks, for inputs already checked."""
        return self._encode_tokens(self.patch_embed(x, ids_keep), ids_keep)

    def _check_ids(self, ids: torch.Tensor, batch: int, name: str) -> None:
        """``ids`` must be ``(batch, n)`` integer token indices with ``1 <= n <= L``, each in ``[0, L)``."""
        length = self.num_tokens
        if (
            not isinstance(ids, torch.Tensor)
            or ids.dtype != torch.int64
            or ids.ndim != 2
            or ids.shape[0] != batch
            or not 1 <= ids.shape[1] <= length
        ):
            raise InputError(
                f"{name} must be an int64 tensor of shape ({batch}, n) with 1 <= n <= {length} token "
                f"indices, got {_describe(ids)}"
            )
        if ids.device.type != "meta" and bool(((ids < 0) | (ids >= length)).any()):
            raise InputError(f"{name} holds token indices outside [0, {length})")

    def _encode_tokens(self, tokens: torch.Tensor, ids_keep: torch.Tensor | None) -> torch.Tensor:
        """Add positions and the class token to embedded tokens ``(B, K, D)``, run the blocks."""
        pos = self.pos_embed[:, 1:]
        tokens = tokens + (pos if ids_keep is None else pos[0][ids_keep])
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(tokens.shape[0], -1, -1)
        h = torch.cat([cls, tokens], dim=1)
        for block in self.blocks:
            h = block(h)
        return self.norm(h)  # type: ignore[no-any-return]

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Per-token features without masking: ``(B, C, *img_size)`` → ``(B, 1 + L, D)`` (class first)."""
        x = self._check_input(x)
        return self._encode(x, None)

    def forward_features(self, x: torch.Tensor, pool: Literal["avg", "cls"] = "avg") -> torch.Tensor:
        """Global features for fine-tuning / linear probing, no masking.

        Args:
            x: ``(B, C, *img_size)``.
            pool: ``"avg"`` (mean of the patch tokens, MAE's fine-tuning default) or ``"cls"``.

        Returns:
            ``(B, D)``.
        """
        if pool not in ("avg", "cls"):  # before the encoder runs: a full pass can take long in 3D
            raise ConfigError(f"pool must be 'avg' or 'cls', got {pool!r}")
        tokens = self.forward_tokens(x)
        return tokens[:, 1:].mean(dim=1) if pool == "avg" else tokens[:, 0]

    # -- pre-training forward -----------------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        noise: torch.Tensor | None = None,
        mask: MaskSpec | torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        mask_ratio: float | None = None,
        token_weights: torch.Tensor | None = None,
        voxel_weights: torch.Tensor | None = None,
        return_full_pred: bool = False,
    ) -> MAEOutput:
        """Mask, encode, decode and compute the reconstruction loss over the hidden tokens.

        Args:
            x: ``(B, C, *img_size)``.
            noise: ``(B, L)`` scores, the ``K`` lowest stay visible (Hugging Face ViTMAE's ``noise``).
            mask: a :class:`MaskSpec` or a ``(B, L)`` bool tensor (``True`` = hidden, same count per row).
            generator: random source when neither ``noise`` nor ``mask`` is given.
            mask_ratio: per-call override of the model's ratio (random / noise masking).
            token_weights: ``(B, L)`` per-token loss weights (e.g. ``foreground_token_weights``).
            voxel_weights: ``(B, 1 or C, *img_size)`` per-voxel loss weights (e.g. a foreground mask).
            return_full_pred: also apply the head to visible tokens (``pred_full``, HF's ``logits``).

        Returns:
            :class:`MAEOutput`.
        """
        x = self._check_input(x)
        if mask is not None and mask_ratio is not None:
            raise ConfigError("mask_ratio applies to random or noise masking; a given mask fixes the ratio")
        batch = x.shape[0]
        spec = resolve_mask(
            batch_size=batch,
            grid=self.mask_grid,
            device=x.device,
            mask_ratio=self.mask_ratio if mask_ratio is None else mask_ratio,
            noise=noise,
            mask=mask,
            generator=generator,
        )
        ids_hidden = hidden_indices(spec)
        latent = self._encode(x, spec.ids_keep)
        pred_full: torch.Tensor | None = None
        if return_full_pred:
            pred_full = self.decoder(latent, spec.ids_keep, None)
            pred_hidden = _gather_tokens(pred_full, ids_hidden)
        else:
            pred_hidden = self.decoder(latent, spec.ids_keep, ids_hidden)
        target = self.hidden_targets(self.patchify(x), ids_hidden)
        loss = masked_reconstruction_loss(
            pred_hidden,
            target,
            kind=self.loss_type,
            token_weights=None if token_weights is None else self._token_weights(token_weights, ids_hidden),
            element_weights=None if voxel_weights is None else self._voxel_weights(voxel_weights, ids_hidden),
        )
        return MAEOutput(
            loss=loss,
            pred_hidden=pred_hidden,
            ids_hidden=ids_hidden,
            mask=spec.mask,
            ids_keep=spec.ids_keep,
            ids_restore=spec.ids_restore,
            latent=latent,
            pred_full=pred_full,
        )

    def _token_weights(self, weights: torch.Tensor, ids_hidden: torch.Tensor) -> torch.Tensor:
        if not isinstance(weights, torch.Tensor) or weights.shape != (ids_hidden.shape[0], self.num_tokens):
            raise InputError(
                f"token_weights must be a tensor of shape ({ids_hidden.shape[0]}, {self.num_tokens}), "
                f"got {_describe(weights)}"
            )
        return torch.gather(weights, 1, ids_hidden)

    def _voxel_weights(self, weights: torch.Tensor, ids_hidden: torch.Tensor) -> torch.Tensor:
        batch = ids_hidden.shape[0]
        if (
            not isinstance(weights, torch.Tensor)
            or weights.ndim != 2 + self.geometry.spatial_dims
            or weights.shape[0] != batch
            or weights.shape[1] not in (1, self.in_chans)
            or tuple(weights.shape[2:]) != self.geometry.img_size
        ):
            raise InputError(
                f"voxel_weights must be (B, 1 or {self.in_chans}, "
                f"{', '.join(map(str, self.geometry.img_size))}), "
                f"got {_describe(weights)}"
            )
        weights = weights.to(torch.get_default_dtype()).expand(-1, self.in_chans, *self.geometry.img_size)
        return _gather_tokens(self.patchify(weights), ids_hidden)

    def hidden_targets(self, patches: torch.Tensor, ids_hidden: torch.Tensor) -> torch.Tensor:
        """What the loss compares the prediction with: the hidden tokens' patches ``(B, N, patch_dim)``,
        normalised as ``(patch - mean) / std`` with :meth:`target_statistics` when ``norm_pix_loss``.

        Args:
            patches: ``(B, L, patch_dim)`` every token's patch (:meth:`patchify` of the input).
            ids_hidden: ``(B, N)`` the hidden tokens.
        """
        target = _gather_tokens(patches, ids_hidden)
        if not self.norm_pix_loss:
            return target
        mean, std = self.target_statistics(patches, ids_hidden)
        return (target - mean) / std

    def target_statistics(self, patches: torch.Tensor, ids_hidden: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """The norm-pix mean and standard deviation of the hidden tokens' targets.

        Args:
            patches: ``(B, L, patch_dim)`` every token's patch (:meth:`patchify` of the input).
            ids_hidden: ``(B, N)`` the hidden tokens.

        Returns:
            ``(mean, std)``, each broadcastable against the ``(B, N, patch_dim)`` hidden patches: the
            statistics of each hidden patch, per channel (``norm_pix_mode="per_channel"``) or over the
            whole patch (``"joint"``). The loss compares the prediction with ``(patch - mean) / std``,
            and :meth:`reconstruct` maps it back with ``pred * std + mean``.
        """
        return patch_statistics(_gather_tokens(patches, ids_hidden), self.token_channels, self.norm_pix_mode)

    def reconstruct(self, x: torch.Tensor, output: MAEOutput) -> torch.Tensor:
        """The reconstructed image: original voxels at visible tokens, predictions at hidden tokens
        (mapped back to intensities with the norm-pix statistics of :meth:`target_statistics` when
        ``norm_pix_loss``: each true patch's own, which carry most of the picture).
        Differentiable with respect to ``output.pred_hidden`` (for image-space losses).

        Args:
            x: ``(B, C, *img_size)`` the input of the forward pass.
            output: its :class:`MAEOutput`.

        Returns:
            ``(B, C, *img_size)``.

        Raises:
            InputError: ``x`` does not fit the model, or ``output`` is not one of its outputs for a batch
                of ``x``'s size (batch size, token count, patch length).
        """
        x = self._check_input(x)
        self._check_output(output, x.shape[0])
        patches = self.patchify(x)
        pred = output.pred_hidden
        if self.norm_pix_loss:
            mean, std = self.target_statistics(patches, output.ids_hidden)
            pred = pred * std + mean
        index = output.ids_hidden.unsqueeze(-1).expand(-1, -1, patches.shape[-1])
        return self.unpatchify(patches.scatter(1, index, pred.to(patches.dtype)))

    def _check_output(self, output: MAEOutput, batch: int) -> None:
        """``output`` must come from this model's forward pass on a batch of ``batch`` samples: the scatter
        in :meth:`reconstruct` would otherwise leave samples unreconstructed or index out of range."""
        if not isinstance(output, MAEOutput):
            raise InputError(f"output must be the MAEOutput of a forward pass, got {type(output).__name__}")
        mask = output.mask
        if isinstance(mask, torch.Tensor) and mask.ndim == 2 and mask.shape[0] != batch:
            raise InputError(
                f"output is for a batch of {mask.shape[0]} samples but x holds {batch}; pass the output "
                "of the forward pass on x"
            )
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (batch, self.num_tokens):
            raise InputError(
                f"output.mask must be ({batch}, {self.num_tokens}) for this model and x, got "
                f"{_describe(mask)} (an output of a model with another token grid?)"
            )
        self._check_ids(output.ids_hidden, batch, "output.ids_hidden")
        expected = (batch, output.ids_hidden.shape[1], self.patch_dim)
        pred = output.pred_hidden
        if not isinstance(pred, torch.Tensor) or tuple(pred.shape) != expected:
            raise InputError(
                f"output.pred_hidden must be {expected} (batch, hidden tokens, patch length) for this "
                f"model and x, got {_describe(pred)}"
            )

    # -- encoder export -----------------------------------------------------------------------------
    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's weights only (no ``decoder.*``), detached, for fine-tuning."""
        return {k: v.detach() for k, v in self.state_dict().items() if not k.startswith("decoder.")}

    def load_encoder_state_dict(
        self, state: Mapping[str, torch.Tensor], *, source_grid: Sequence[int] | None = None
    ) -> None:
        """Load encoder weights (e.g. from :meth:`encoder_state_dict` or ``load_timm_vit``).

        A ``pos_embed`` for another grid is adapted when ``source_grid`` names a grid other than this
        model's, even one with as many tokens (``(6, 4)`` into ``(4, 6)``): the fixed sin-cos table of
        ``source_grid`` (maerad's and MAE / HF ViTMAE checkpoints') is replaced by this grid's exact
        table, any other table (a learned timm one) is resampled. The table stays frozen either way, so
        an approximate copy of a fixed table would stay approximate.

        Raises:
            CheckpointError: missing or unexpected encoder keys, or mismatched shapes.
            ConfigError: ``source_grid`` is not a grid of positive ints, or does not fit the table.
        """
        state = dict(state)
        pos = state.get("pos_embed")
        grid = None if source_grid is None else check_grid(source_grid, field="source_grid")
        if pos is not None and grid is not None and grid != self.grid:
            if is_sincos_table(pos, grid):
                state["pos_embed"] = self._pos_table(pos.shape[-1]).unsqueeze(0)
            else:
                state["pos_embed"] = interpolate_pos_embed(pos, grid, self.grid)
        own = {k for k in self.state_dict() if not k.startswith("decoder.")}
        missing = sorted(own - set(state))
        unexpected = sorted(set(state) - own)
        if missing or unexpected:
            raise CheckpointError(
                f"encoder weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        try:
            self.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())
            raise CheckpointError(f"encoder weights do not fit the model: {detail}") from None
