"""The MAE decoder: mask tokens + position table + transformer blocks + a per-token pixel head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn

from maerad.errors import ConfigError
from maerad.models.blocks import Activation, make_blocks, make_norm
from maerad.models.pos_embed import repeat_per_sequence, sincos_pos_embed

__all__ = ["MAEDecoder", "block_for_queries"]


class MAEDecoder(nn.Module):
    """Lightweight MAE decoder over the full token sequence (visible latents + mask tokens).

    The prediction head is applied to the hidden tokens only (the loss is over hidden tokens), or to
    every token when ``ids_hidden`` is ``None``.

    Args:
        grid: token grid shape (2 or 3 axes).
        embed_dim: width ``D`` of the encoder output.
        patch_dim: length ``P`` of a pixel patch vector (``prod(patch_size) * C``).
        decoder_embed_dim: decoder width.
        decoder_depth: decoder blocks (0 gives a linear decoder).
        decoder_num_heads: attention heads; must divide ``decoder_embed_dim``.
        mlp_ratio: MLP width / decoder width.
        qkv_bias: bias on q/k/v.
        norm_eps: LayerNorm epsilon.
        act: MLP activation.
        sequences: ``S > 1`` for the per-sequence token layout (:class:`~maerad.models.SequenceTokenMAE`):
            the ``L = S · prod(grid)`` tokens are sequence-major, the position table is repeated per
            sequence and a learned sequence embedding (``decoder_sequence_embed``, ``(S, Dd)``) tells
            each mask token which sequence to predict.

    Examples::

        >>> import torch
        >>> dec = MAEDecoder(grid=(4, 4), embed_dim=32, patch_dim=48, decoder_embed_dim=16,
        ...                  decoder_depth=1, decoder_num_heads=2)
        >>> latent = torch.zeros(2, 1 + 4, 32)                      # cls + K = 4 visible tokens
        >>> ids = torch.arange(16).repeat(2, 1)
        >>> dec(latent, ids[:, :4], ids[:, 4:]).shape               # predict the 12 hidden tokens
        torch.Size([2, 12, 48])
    """

    def __init__(
        self,
        *,
        grid: Sequence[int],
        embed_dim: int,
        patch_dim: int,
        decoder_embed_dim: int = 512,
        decoder_depth: int = 8,
        decoder_num_heads: int = 16,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        act: Activation = "gelu",
        sequences: int = 1,
    ) -> None:
        super().__init__()
        if embed_dim < 1 or patch_dim < 1 or decoder_embed_dim < 1:
            raise ConfigError(
                f"decoder widths must be positive, got embed_dim={embed_dim}, patch_dim={patch_dim}, "
                f"decoder_embed_dim={decoder_embed_dim}"
            )
        self.grid = tuple(int(g) for g in grid)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        if sequences < 1:
            raise ConfigError(f"sequences must be >= 1, got {sequences}")
        table = sincos_pos_embed(self.grid, decoder_embed_dim, cls_token=True)
        if sequences > 1:
            table = repeat_per_sequence(table, sequences)
            self.decoder_sequence_embed = nn.Parameter(torch.zeros(sequences, decoder_embed_dim))
            nn.init.normal_(self.decoder_sequence_embed, std=0.02)
        self.sequences = sequences
        self.decoder_pos_embed = nn.Parameter(table.unsqueeze(0), requires_grad=False)
        self.decoder_blocks = make_blocks(
            decoder_embed_dim,
            decoder_depth,
            decoder_num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            norm_eps=norm_eps,
            act=act,
        )
        self.decoder_norm = make_norm(decoder_embed_dim, norm_eps)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_dim)

    def forward(
        self, latent: torch.Tensor, ids_keep: torch.Tensor, ids_hidden: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict pixel patches.

        Args:
            latent: ``(B, 1 + K, D)`` encoder output, class token first, then the visible tokens in
                the order of ``ids_keep``.
            ids_keep: ``(B, K)`` grid indices of the visible tokens.
            ids_hidden: ``(B, M)`` grid indices of the tokens to predict; ``None`` = all tokens.

        Returns:
            ``(B, M, P)`` predictions for ``ids_hidden`` (in that order), or ``(B, L, P)`` in grid
            order when ``ids_hidden`` is ``None``.
        """
        h = self.decoder_embed(latent)  # (B, 1 + K, Dd)
        batch, width = h.shape[0], h.shape[-1]
        num_tokens = self.decoder_pos_embed.shape[1] - 1
        # every grid position starts as the mask token; visible positions get their latent
        seq = (
            self.mask_token.to(h.dtype)
            .expand(batch, num_tokens, width)
            .scatter(1, ids_keep.unsqueeze(-1).expand(-1, -1, width), h[:, 1:])
        )
        seq = torch.cat([h[:, :1], seq], dim=1) + self.decoder_pos_embed
        if self.sequences > 1:  # token s·P + p belongs to sequence s (class token: none)
            per_token = self.decoder_sequence_embed.repeat_interleave(num_tokens // self.sequences, dim=0)
            seq = torch.cat([seq[:, :1], seq[:, 1:] + per_token.to(seq.dtype)], dim=1)
        if ids_hidden is None:
            for block in self.decoder_blocks:
                seq = block(seq)
            tokens = seq[:, 1:]
        else:
            # only the hidden tokens' outputs are used: the last block computes just those rows
            positions = ids_hidden + 1  # skip the class token
            blocks = list(self.decoder_blocks)
            for block in blocks[:-1]:
                seq = block(seq)
            if blocks:
                last = blocks[-1]
                assert isinstance(last, Block)
                tokens = block_for_queries(last, seq, positions)
            else:
                tokens = torch.gather(seq, 1, positions.unsqueeze(-1).expand(-1, -1, width))
        return self.decoder_pred(self.decoder_norm(tokens))  # type: ignore[no-any-return]


def block_for_queries(block: Block, seq: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """A timm ``Block`` evaluated only at some query rows: ``block(seq)[b, positions[b]]``.

    Keys and values still come from every token, so the result equals running the full block and
    gathering, at a fraction of the cost (no q projection, attention rows, output projection or MLP
    for the rows nobody reads). Blocks with features this shortcut does not model (attention gates,
    q/k norms) fall back to the full block.

    Args:
        block: a timm ``Block``.
        seq: ``(B, N, W)`` input tokens.
        positions: ``(B, M)`` rows of ``seq`` whose outputs are wanted.

    Returns:
        ``(B, M, W)``.
    """
    width = seq.shape[-1]
    index = positions.unsqueeze(-1).expand(-1, -1, width)
    attn = getattr(block, "attn", None)
    plain = (
        attn is not None
        and isinstance(getattr(attn, "qkv", None), nn.Linear)
        and getattr(attn, "gate", None) is None
        and isinstance(getattr(attn, "q_norm", None), nn.Identity)
        and isinstance(getattr(attn, "k_norm", None), nn.Identity)
        and all(
            hasattr(block, name)
            for name in ("norm1", "norm2", "mlp", "ls1", "ls2", "drop_path1", "drop_path2")
        )
    )
    if not plain or attn is None:
        return torch.gather(block(seq), 1, index)
    batch, num_tokens, _ = seq.shape
    heads, head_dim = int(attn.num_heads), int(attn.head_dim)
    attn_dim = heads * head_dim
    normed = block.norm1(seq)
    weight, bias = attn.qkv.weight, attn.qkv.bias
    q = F.linear(torch.gather(normed, 1, index), weight[:attn_dim], None if bias is None else bias[:attn_dim])
    kv = F.linear(normed, weight[attn_dim:], None if bias is None else bias[attn_dim:])
    q = q.reshape(batch, -1, heads, head_dim).transpose(1, 2)
    k, v = kv.view(batch, num_tokens, 2, heads, head_dim).unbind(2)  # see maerad.models.attention
    dropout = float(attn.attn_drop.p) if attn.training else 0.0
    out = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2), dropout_p=dropout)
    out = out.transpose(1, 2).reshape(batch, -1, attn_dim)
    norm = getattr(attn, "norm", None)  # timm < 1.0 attention has no output norm
    out = attn.proj_drop(attn.proj(out if norm is None else norm(out)))
    x = torch.gather(seq, 1, index) + block.drop_path1(block.ls1(out))
    return x + block.drop_path2(block.ls2(block.mlp(block.norm2(x))))  # type: ignore[no-any-return]
