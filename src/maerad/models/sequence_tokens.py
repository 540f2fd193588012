"""The per-sequence token layout: each MRI sequence's patch is its own token.

In the default layout an MAE token holds one patch of every sequence (sequences are channels). Here
a study of ``S`` sequences on a spatial token grid ``G`` (``P = prod(G)`` positions) becomes
``L = S · P`` tokens, **sequence-major** (token ``s · P + p`` is position ``p`` of sequence ``s``, the
order of ``maerad.masking.multisequence``). Every token is a one-channel patch, embedded by one shared
projection plus a learned sequence embedding; the encoder adds the spatial sin-cos position of ``p``
and the decoder its own position and sequence embeddings, so a mask token knows where it is and which
sequence to draw. Masks are drawn on the layout grid ``(S, *G)``: the ``joint``, ``independent`` and
``drop_sequence`` strategies (``drop_sequence`` hides a whole sequence, e.g. T1c, to be synthesised from
the others), or any score-based strategy. The reconstruction target of a token is its own patch, so
norm-pix statistics never mix sequences.

With norm-pix targets, a sequence that is hidden **whole** in a sample (``drop_sequence``) is
normalised with the mean and standard deviation of that sequence's whole image, not patch by patch:
per-patch statistics would take each patch's brightness and contrast from the hidden original, so the
loss could not see whether the model synthesises them (an enhancing lesion is exactly such a
difference between patches), and :meth:`~SequenceTokenMAE.reconstruct` would copy them back. The
synthesised sequence thus takes only its overall level and spread (two numbers, a window) from the
original; every difference between its patches is predicted. Partly hidden sequences keep MAE's
per-patch targets.

Examples::

    >>> import torch
    >>> from maerad.masking import create_masking
    >>> from maerad.models import create_model
    >>> model = create_model("mae_vit_tiny", token_layout="per_sequence", img_size=32, patch_size=8,
    ...                      in_chans=3, depth=1, decoder_depth=1, decoder_embed_dim=32,
    ...                      decoder_num_heads=2)
    >>> model.mask_grid                                        # 3 sequences × a 4 × 4 grid
    (3, 4, 4)
    >>> spec = create_masking("drop_sequence", drop=2)(2, model.mask_grid)   # hide sequence 2 (T1c)
    >>> out = model(torch.randn(2, 3, 32, 32), mask=spec)
    >>> out.pred.shape                                         # (B, L = 3 · 16, one-channel 8 × 8 patch)
    torch.Size([2, 48, 64])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maerad.errors import InputError
from maerad.losses.reconstruction import patch_statistics
from maerad.masking.spec import check_grid
from maerad.models.mae import MAE
from maerad.models.patch import PatchEmbed, PatchGeometry, patchify, unpatchify
from maerad.models.pos_embed import repeat_per_sequence, sincos_pos_embed

__all__ = ["SequencePatchEmbed", "SequenceTokenMAE", "sequence_patchify", "sequence_unpatchify"]



def sequence_patchify(x: torch.Tensor, patch_size: Sequence[int]) -> torch.Tensor:
    """``(B, S, *spatial)`` → ``(B, S · P, prod(patch_size))``: one-channel patches, sequence-major."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2 + len(patch_size):
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"expected an image batch (B, S, {len(patch_size)} spatial axes), got {got}")
    batch, sequences = x.shape[:2]
    patches = patchify(x.reshape(batch * sequences, 1, *x.shape[2:]), patch_size)
    return patches.reshape(batch, sequences * patches.shape[1], patches.shape[2])


def sequence_unpatchify(
    patches: torch.Tensor, patch_size: Sequence[int], grid: Sequence[int], sequences: int
) -> torch.Tensor:
    """Inverse of :func:`sequence_patchify`: ``(B, S · P, prod(patch_size))`` → ``(B, S, *spatial)``."""
    positions, volume = math.prod(grid), math.prod(patch_size)
    if patches.ndim != 3 or tuple(patches.shape[1:]) != (sequences * positions, volume):
        raise InputError(
            f"expected patches of shape (B, {sequences * positions}, {volume}), got {tuple(patches.shape)}"
        )
    batch = patches.shape[0]
    image = unpatchify(patches.reshape(batch * sequences, positions, volume), patch_size, grid, 1)
    return image.reshape(batch, sequences, *image.shape[2:])


class SequencePatchEmbed(PatchEmbed):
    """One-channel patch projection shared by every sequence, plus a learned sequence embedding.

    Called like :class:`PatchEmbed`: ``(x (B, S, *img_size), ids_keep (B, K) | None) → (B, K, D)``
    with token indices in the sequence-major layout.
    """

    def __init__(self, geometry: PatchGeometry, sequences: int, embed_dim: int) -> None:
        super().__init__(geometry, 1, embed_dim)
        self.sequences = sequences
        self.sequence_embed = nn.Parameter(torch.zeros(sequences, embed_dim))
        nn.init.normal_(self.sequence_embed, std=0.02)

    def forward(self, x: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        patches = sequence_patchify(x, self.geometry.patch_size)  # (B, S·P, prod(patch))
        positions = self.geometry.num_tokens
        if ids_keep is None:
            ids_keep = torch.arange(patches.shape[1], device=x.device).expand(x.shape[0], -1)
        else:
            patches = torch.gather(patches, 1, ids_keep.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))
        flat = self.proj.weight.reshape(self.embed_dim, -1)  # one channel: the same order as the patch
        return F.linear(patches, flat, self.proj.bias) + self.sequence_embed[ids_keep // positions]


class SequenceTokenMAE(MAE):
    """An :class:`MAE` in the per-sequence token layout (module docstring); ``in_chans`` = sequences.

    Built by the ``mae_vit_*`` factories with ``token_layout="per_sequence"``. Everything else is the
    MAE interface: ``model(x, noise=None, mask=None)`` with ``noise`` / ``mask`` over the ``S · P``
    tokens, ``reconstruct``, ``forward_features`` (mean over every sequence's tokens).
    """

    def _make_patch_embed(self) -> nn.Module:
        return SequencePatchEmbed(self.geometry, self.in_chans, self.embed_dim)

    def _pos_table(self, width: int) -> torch.Tensor:
        return repeat_per_sequence(sincos_pos_embed(self.grid, width, cls_token=True), self.in_chans)

    @property
    def mask_grid(self) -> tuple[int, ...]:
        return (self.in_chans, *self.grid)

    @property
    def token_channels(self) -> int:
        return 1

    def target_statistics(self, patches: torch.Tensor, ids_hidden: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`MAE.target_statistics`, except that the tokens of a sequence hidden whole in their
        sample get the statistics of that sequence's whole image (module docstring)."""
        mean, std = super().target_statistics(patches, ids_hidden)
        batch, sequences = patches.shape[0], self.in_chans
        positions = patches.shape[1] // sequences
        sequence_of = torch.div(ids_hidden, positions, rounding_mode="floor")  # (B, N)
        hidden_count = torch.zeros(batch, sequences, dtype=torch.long, device=patches.device)
        hidden_count.scatter_add_(1, sequence_of, torch.ones_like(sequence_of))
        whole = hidden_count == positions  # (B, S): every token of the sequence hidden
        # computed for every batch (no data-dependent branch: no host sync, one graph under compile)
        # each sequence's image as one "patch": norm-pix's own statistics and epsilon, (B, S, 1) each
        image_mean, image_std = patch_statistics(patches.reshape(batch, sequences, -1), 1, "joint")
        index = sequence_of[..., None]  # (B, N, 1)
        dropped = torch.gather(whole, 1, sequence_of)[..., None]
        mean = torch.where(dropped, torch.gather(image_mean, 1, index), mean)
        std = torch.where(dropped, torch.gather(image_std, 1, index), std)
        return mean, std

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S, *img_size)`` → ``(B, S · P, prod(patch_size))``."""
        return sequence_patchify(x, self.geometry.patch_size)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """``(B, S · P, prod(patch_size))`` → ``(B, S, *img_size)``."""
        return sequence_unpatchify(patches, self.geometry.patch_size, self.grid, self.in_chans)

    def load_encoder_state_dict(
        self, state: Mapping[str, torch.Tensor], *, source_grid: Sequence[int] | None = None
    ) -> None:
        """Like :meth:`MAE.load_encoder_state_dict`; the position table is the fixed sin-cos table of
        this model's grid (repeated per sequence), so one from another grid (``source_grid`` other than
        this model's, even with as many tokens) is rebuilt, not resampled."""
        state = dict(state)
        pos = state.get("pos_embed")
        grid = None if source_grid is None else check_grid(source_grid, field="source_grid")
        if pos is not None and grid is not None and grid != self.grid:
            state["pos_embed"] = self.pos_embed.detach().clone()
        super().load_encoder_state_dict(state)
