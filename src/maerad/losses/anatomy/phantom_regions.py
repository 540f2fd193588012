"""The region masks :func:`~maerad.losses.anatomy.loss.uterine_prior_loss` expects, from a label map of
maerad's phantom (:data:`maerad.data.phantom.LABELS`).

The regions follow the SPEC's definitions rather than single labels: the uterus includes the cervix
(SPEC §5.1 measures its length from the external os to the fundus), and each ovary includes its
follicles. The phantom gives the follicles of both ovaries one label, so a follicle voxel goes to the
ovary whose stroma centroid is nearer (in mm). Only normal tissue is included: tumour and adnexal-lesion
labels belong to no region, so on a pathological case the priors judge the remaining normal tissue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.lesion_maps.labels import label_map_tensor

__all__ = ["PHANTOM_REGIONS", "phantom_region_masks"]

#: Region name → phantom label names (the ovaries also take their follicles, see the module docstring).
PHANTOM_REGIONS: dict[str, tuple[str, ...]] = {
    "uterus": ("endometrium", "junctional_zone", "outer_myometrium", "cervical_stroma", "cervical_canal"),
    "cervix": ("cervical_stroma", "cervical_canal"),
    "endometrium": ("endometrium",),
    "junctional_zone": ("junctional_zone",),
    "outer_myometrium": ("outer_myometrium",),
    "ovary_left": ("ovary_left",),
    "ovary_right": ("ovary_right",),
}


def phantom_region_masks(
    labels: torch.Tensor | npt.NDArray[np.integer], spacing: Sequence[float] | None = None
) -> dict[str, torch.Tensor]:
    """Float masks of :data:`PHANTOM_REGIONS` for ``(B, D, H, W)`` phantom label maps.

    Args:
        labels: ``(B, D, H, W)`` integer label maps (a study's ``(D, H, W)`` ``labels``: pass
            ``study.labels[None]``).
        spacing: voxel size in mm ``(d, h, w)`` for the follicles' nearest ovary (default isotropic).

    Returns:
        region name → ``(B, D, H, W)`` float32 mask.

    Examples::

        >>> import numpy as np
        >>> from maerad.data.phantom import LABELS
        >>> lab = np.zeros((1, 1, 1, 7), np.int64)
        >>> lab[..., :3] = LABELS["ovary_left"]; lab[..., 4:] = LABELS["ovary_right"]
        >>> lab[..., 2] = lab[..., 4] = LABELS["follicle"]
        >>> masks = phantom_region_masks(lab)
        >>> masks["ovary_left"][0, 0, 0].tolist(), masks["ovary_right"][0, 0, 0].tolist()
        ([1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    """
    from maerad.data.phantom.labels import LABELS  # here: the phantom package takes seconds to import

    try:
        lab = label_map_tensor(labels)
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    if lab.ndim != 4:
        raise ConfigError(f"phantom labels must be (B, D, H, W), got {tuple(lab.shape)} (a study's labels "
                          "need a batch axis: study.labels[None])")
    sp = (1.0, 1.0, 1.0) if spacing is None else tuple(float(s) for s in spacing)
    if len(sp) != 3 or not all(s > 0 and np.isfinite(s) for s in sp):
        raise ConfigError(f"spacing must be 3 positive voxel sizes in mm (d, h, w), got {spacing}")
    masks = {
        name: torch.isin(lab, torch.tensor([LABELS[n] for n in names], dtype=lab.dtype, device=lab.device))
        for name, names in PHANTOM_REGIONS.items()
    }
    follicle = lab == LABELS["follicle"]
    left, right = _follicles_by_side(follicle, masks["ovary_left"], masks["ovary_right"], sp)
    masks["ovary_left"] |= left
    masks["ovary_right"] |= right
    return {name: mask.float() for name, mask in masks.items()}


def _follicles_by_side(follicle: torch.Tensor, left: torch.Tensor, right: torch.Tensor,
                       spacing: tuple[float, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each follicle voxel to the ovary with the nearer stroma centroid (mm); to the only ovary present,
    or to none, in a sample that lacks one or both."""
    coords = torch.stack(torch.meshgrid(
        *(torch.arange(n, device=follicle.device, dtype=torch.float32) * s
          for n, s in zip(follicle.shape[1:], spacing, strict=True)), indexing="ij"), dim=-1)  # (D, H, W, 3)

    def centroid(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = mask.flatten(1).float()
        count = weights.sum(dim=1)
        return weights @ coords.reshape(-1, 3) / count.clamp_min(1.0)[:, None], count > 0

    (c_left, has_left), (c_right, has_right) = centroid(left), centroid(right)
    shape = (-1, 1, 1, 1)
    d_left = (coords[None] - c_left[:, None, None, None]).square().sum(-1)
    d_right = (coords[None] - c_right[:, None, None, None]).square().sum(-1)
    nearer_left = torch.where(has_left.view(shape) & has_right.view(shape), d_left <= d_right,
                              has_left.view(shape).expand_as(d_left))
    to_left = follicle & nearer_left & has_left.view(shape)
    to_right = follicle & ~nearer_left & has_right.view(shape)
    return to_left, to_right
