"""Tissue supervision: an auxiliary head that predicts what each image token is made of.

Report fields such as tumour size, parametrial invasion or suspicious nodes depend on where the
tumour is and what it touches. A handful of report labels is a weak signal for learning that; a label
map is a dense one. When a study ships a label map (the phantom always does), the share of every
voxel block covered by each **tissue group** (tumour, cervix, bladder, …) is a target for every token:
``token_composition`` pools the label map to the token grid, :class:`TissueHead` predicts the shares
from the encoder's tokens (one linear layer, so the information must be in the tokens themselves,
where the decoder's attention reads them), and :func:`tissue_loss` is the KL divergence between the
two (0 for a perfect prediction). Label values in no group count as the last class, ``other``.

Optionally (``tissue_summary``) the predicted shares are also *read*: :func:`tissue_statistics`
turns them into per-study numbers a report needs — the volume of every group (in tokens) and the
contact between every pair of groups (how much tumour shares tokens with the bladder, the vagina, the
pelvic wall, …) — and :class:`TissueSummary` adds a learned projection of them to the pooled study
feature that starts the decoder and feeds the stage, template and alignment heads.

The groups are part of the generator config (:attr:`~.config.GeneratorConfig.tissue_groups`); the
default :data:`PHANTOM_TISSUE_GROUPS` uses the phantom's label table
(:data:`maerad.data.phantom.LABELS`). Studies with their own label maps give their own groups.

Examples::

    >>> import torch
    >>> labels = torch.zeros(1, 4, 8, 8, dtype=torch.long)
    >>> labels[0, :, :4, :4] = 100                                   # tumour in one corner
    >>> shares = token_composition(labels, [[100]], (4, 4, 4))
    >>> tuple(shares.shape), shares[0, :, 0].tolist()                # 4 tokens, tumour share of each
    ((1, 4, 2), [1.0, 0.0, 0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maerad.data.phantom.labels import LABELS
from maerad.errors import ConfigError

__all__ = ["PHANTOM_TISSUE_GROUPS", "TissueHead", "TissueSummary", "check_tissue_groups", "group_fractions",
           "tissue_loss", "tissue_statistics", "token_composition"]

PHANTOM_TISSUE_GROUPS: dict[str, list[int]] = {
    "tumour_cervix": [LABELS["tumour_cervix"]],
    "tumour_endometrium": [LABELS["tumour_endometrium"]],
    "adnexal_lesion": [LABELS["adnexal_lesion_fluid"], LABELS["adnexal_lesion_solid"],
                       LABELS["adnexal_lesion_wall"]],
    "node_suspicious": [LABELS["node_suspicious"]],
    "other_lesion": [LABELS["bone_metastasis"], LABELS["peritoneal_implant"]],
    "cervix": [LABELS["cervical_stroma"], LABELS["cervical_canal"]],
    "uterine_body": [LABELS["endometrium"], LABELS["junctional_zone"], LABELS["outer_myometrium"]],
    "vagina": [LABELS["vagina"]],
    "bladder": [LABELS["bladder_wall"], LABELS["bladder_lumen"]],
    "rectum": [LABELS["rectum_wall"], LABELS["rectum_lumen"]],
    "ureter": [LABELS["ureter"]],
    "lymph_node": [LABELS["lymph_node"]],
    "vessel": [LABELS["vessel"]],
    "ovary": [LABELS["ovary_left"], LABELS["ovary_right"], LABELS["follicle"]],
    "pelvic_wall": [LABELS["obturator_internus"], LABELS["levator_ani"], LABELS["piriformis"],
                    LABELS["iliopsoas"], LABELS["bone_pelvic_ring"], LABELS["bone_sacrum_coccyx"]],
}
"""Tissue groups of the phantom label table: the lesions, and the organs the staging rules name."""


def check_tissue_groups(groups: Mapping[str, Sequence[int]]) -> None:
    """Raise :class:`~maerad.errors.ConfigError` unless every group is a non-empty list of distinct
    non-negative label values and no value is in two groups."""
    seen: dict[int, str] = {}
    for name, values in groups.items():
        if not values:
            raise ConfigError(f"tissue group {name!r} has no label value")
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"tissue group {name!r}: label values must be non-negative integers, "
                                  f"got {value!r}")
            if value in seen:
                raise ConfigError(f"label value {value} is in tissue groups {seen[value]!r} and {name!r}")
            seen[value] = name


def group_fractions(labels: torch.Tensor, groups: Sequence[Sequence[int]],
                    block: Sequence[int]) -> torch.Tensor:
    """The share of each tissue group in every ``block`` of voxels: ``(B, len(groups) + 1, d, h, w)``.

    Args:
        labels: integer label maps ``(B, D, H, W)``.
        groups: label values of each group; every other value is the last class (``other``).
        block: the voxel block ``(bd, bh, bw)`` averaged into one output cell (``(1, 1, 1)``: a one-hot
            map). A remainder of the grid that does not fill a whole block is dropped.
    """
    if labels.ndim != 4:
        raise ValueError(f"labels must be (B, D, H, W), got shape {tuple(labels.shape)}")
    top = max([0, *(v for values in groups for v in values)]) + 1
    lookup = torch.full((top,), len(groups), dtype=torch.long, device=labels.device)
    for index, values in enumerate(groups):
        lookup[list(values)] = index
    labels = labels.long()
    inside = (labels >= 0) & (labels < top)
    group = torch.where(inside, lookup[labels.clamp(0, top - 1)], torch.full_like(labels, len(groups)))
    kernel = tuple(int(k) for k in block)
    # one group at a time: a one-hot of every group at once would hold (B, K, D, H, W) floats
    return torch.cat([F.avg_pool3d((group == k).unsqueeze(1).float(), kernel, kernel)
                      for k in range(len(groups) + 1)], dim=1)


def token_composition(labels: torch.Tensor, groups: Sequence[Sequence[int]],
                      token_shape: Sequence[int]) -> torch.Tensor:
    """The share of each tissue group in every token: ``(B, L, len(groups) + 1)``, rows sum to 1.

    Args:
        labels: integer label maps ``(B, D, H, W)``.
        groups: label values of each group; every other value is the last class (``other``).
        token_shape: the voxel block of one token ``(d, h, w)``: the patch size in 3D, ``(1, ph, pw)``
            for a 2D slice stack. Tokens are ordered slice-major as the encoder orders them.
    """
    return group_fractions(labels, groups, token_shape).flatten(2).transpose(1, 2)


class TissueHead(nn.Module):
    """A linear layer from token features to tissue-group logits ``(B, L, n_groups + 1)``."""

    def __init__(self, width: int, n_groups: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, n_groups + 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.proj(tokens)  # type: ignore[no-any-return]


def tissue_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over tokens of KL(target ‖ softmax(logits)): 0 when the predicted shares are exact."""
    log_p = F.log_softmax(logits.float(), dim=-1)
    entropy = torch.where(target > 0, target * torch.log(target.clamp(min=1e-12)), torch.zeros_like(target))
    return (entropy - target * log_p).sum(dim=-1).mean()


def tissue_statistics(shares: torch.Tensor) -> torch.Tensor:
    """Per-study statistics of token shares ``(B, L, G)`` → ``(B, G + G (G + 1) / 2)``.

    The first ``G`` are ``log1p`` of each group's volume (sum of its shares, in tokens); then
    ``log1p`` of the contact of each pair of groups, ``sum over tokens of p_j * p_k`` (upper triangle
    with the diagonal), which is large when two groups fill the same tokens.
    """
    volume = shares.sum(dim=1)
    contact = shares.transpose(1, 2) @ shares
    rows, cols = torch.triu_indices(shares.shape[-1], shares.shape[-1], device=shares.device)
    return torch.cat([torch.log1p(volume), torch.log1p(contact[:, rows, cols])], dim=1)


class TissueSummary(nn.Module):
    """A small MLP from standardised :func:`tissue_statistics` to the encoder width.

    The statistics are standardised per feature with a fixed mean and standard deviation (buffers,
    saved with the model) that :meth:`fit_normalization` sets from the labelled studies' true shares:
    their scales differ by orders of magnitude (the tumour fills a few tokens, "other" hundreds), and a
    per-sample LayerNorm would leave the small, decisive ones nearly invisible. The last layer starts at
    zero, so a new summary leaves the pooled feature unchanged until it has learned something.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, n_classes: int, width: int, hidden: int = 128) -> None:
        super().__init__()
        n_in = n_classes + n_classes * (n_classes + 1) // 2
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("std", torch.ones(n_in))
        out = nn.Linear(hidden, width)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.mlp = nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), out)

    @torch.no_grad()
    def fit_normalization(self, shares: torch.Tensor) -> None:
        """Set the standardisation from true token shares ``(N, L, G)`` of N studies (N ≥ 2)."""
        stats = tissue_statistics(shares.float())
        self.mean.copy_(stats.mean(dim=0))
        if len(stats) > 1:  # one study has no spread: keep unit scale
            self.std.copy_(stats.std(dim=0).clamp(min=1e-3))

    def forward(self, shares: torch.Tensor) -> torch.Tensor:
        """``(B, L, G)`` shares (of tokens, or of a segmenter's cells) → ``(B, width)``."""
        return self.mlp((tissue_statistics(shares) - self.mean) / self.std)  # type: ignore[no-any-return]
