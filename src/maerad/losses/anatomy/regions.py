"""Soft region masks: from label maps, from a frozen segmenter, or gated by image intensity.

Which masks make a measurement depend on the reconstruction:

* label maps (:func:`label_masks`) are constants — geometric terms on them give no gradient to the
  reconstruction; only contrast terms (which read intensities inside the masks) do;
* segmenter probabilities (:func:`segmenter_masks`) computed **on the reconstruction** carry
  gradients through the frozen segmenter into the reconstruction;
* intensity-gated masks (:class:`GatedRegion`): ``prior · sigmoid(±(I − threshold) / temperature)``,
  i.e. the voxels of a region prior that look like the tissue, differentiable in the intensities.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.lesion_maps.labels import label_map_tensor, label_values

__all__ = ["GatedRegion", "intensity_gated_mask", "label_masks", "segmenter_masks"]


def label_masks(
    labels: torch.Tensor | npt.NDArray[np.integer], regions: Mapping[str, int | Sequence[int]]
) -> dict[str, torch.Tensor]:
    """Indicator masks of named label sets.

    Args:
        labels: ``(B, *S)`` integer label map, a tensor or a NumPy array (a study's ``(D, H, W)``
            ``Study.labels`` is one sample: pass ``study.labels[None]``).
        regions: name → label value or values (e.g. ``{"uterus": [3, 4, 5]}``).

    Returns:
        name → ``(B, *S)`` float mask.
    """
    try:
        labels = label_map_tensor(labels)
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    out: dict[str, torch.Tensor] = {}
    for name, values in regions.items():
        try:
            ids = label_values(values, labels.dtype, labels.device)
        except InputError as exc:
            raise ConfigError(f"region {name!r}: {exc}") from None
        out[name] = torch.isin(labels, ids).float()
    return out


def segmenter_masks(
    segmenter: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, names: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Soft masks from a (frozen) segmenter evaluated on ``image``: softmax over its class axis.

    Gradients flow through the segmenter into ``image`` (freeze its parameters yourself with
    ``requires_grad_(False)``; they are not touched here).

    Args:
        segmenter: ``(B, C, *S) → (B, K, *S)`` logits.
        image: ``(B, C, *S)``, e.g. the reconstruction.
        names: a name per class ``0 … K-1`` (use ``""`` to skip one, e.g. background).

    Returns:
        name → ``(B, *S)`` probabilities.
    """
    logits = segmenter(image)
    if logits.ndim != image.ndim or logits.shape[1] != len(names):
        raise ConfigError(
            f"segmenter returned {tuple(logits.shape)}, expected {len(names)} classes on axis 1"
        )
    probs = logits.softmax(dim=1)
    return {name: probs[:, i] for i, name in enumerate(names) if name}


def intensity_gated_mask(
    image: torch.Tensor,
    prior: torch.Tensor,
    *,
    threshold: float,
    temperature: float = 0.05,
    polarity: Literal["bright", "dark"] = "bright",
) -> torch.Tensor:
    """``prior · sigmoid(±(image − threshold) / temperature)``: the part of a region prior whose
    intensity looks like the tissue (``"bright"``: above threshold; ``"dark"``: below).

    Args:
        image: ``(B, *S)`` one channel.
        prior: ``(B, *S)`` soft region prior (where the tissue may be).
        threshold: intensity of the soft boundary.
        temperature: softness (intensity units).
        polarity: ``"bright"`` or ``"dark"``.

    Returns:
        ``(B, *S)``.
    """
    if image.shape != prior.shape:
        raise ConfigError(f"image {tuple(image.shape)} and prior {tuple(prior.shape)} differ in shape")
    if not temperature > 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    if polarity not in ("bright", "dark"):
        raise ConfigError(f"polarity must be 'bright' or 'dark', got {polarity!r}")
    sign = 1.0 if polarity == "bright" else -1.0
    return prior * torch.sigmoid(sign * (image - threshold) / temperature)


@dataclass(frozen=True)
class GatedRegion:
    """A region derived from the image: :func:`intensity_gated_mask` of channel ``channel`` within
    the region ``within``.

    Examples::

        GatedRegion("uterus", within="uterus_prior", channel=0, threshold=0.4)
    """

    name: str
    within: str
    threshold: float
    channel: int = 0
    temperature: float = 0.05
    polarity: Literal["bright", "dark"] = "bright"

    def __post_init__(self) -> None:
        # refused here, not at the first forward pass of a training run
        for field_name, value, positive in (("threshold", self.threshold, False),
                                            ("temperature", self.temperature, True)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or (positive and not value > 0):
                need = "a finite number > 0" if positive else "a finite number"
                raise ConfigError(f"gated region {self.name!r}: {field_name} must be {need} (intensity "
                                  f"units), got {value!r}")
        if self.polarity not in ("bright", "dark"):
            raise ConfigError(f"gated region {self.name!r}: polarity must be 'bright' or 'dark', got "
                              f"{self.polarity!r}")
        if isinstance(self.channel, bool) or not isinstance(self.channel, int) or self.channel < 0:
            raise ConfigError(f"gated region {self.name!r}: channel must be an index >= 0, got "
                              f"{self.channel!r}")

    def __call__(self, image: torch.Tensor, regions: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``image (B, C, *S)`` and named masks → ``(B, *S)``."""
        if self.within not in regions:
            raise ConfigError(
                f"gated region {self.name!r} needs region {self.within!r}; have {sorted(regions)}"
            )
        if not 0 <= self.channel < image.shape[1]:
            raise ConfigError(
                f"gated region {self.name!r}: channel {self.channel} not in image of {image.shape[1]}"
            )
        return intensity_gated_mask(
            image[:, self.channel],
            regions[self.within],
            threshold=self.threshold,
            temperature=self.temperature,
            polarity=self.polarity,
        )
