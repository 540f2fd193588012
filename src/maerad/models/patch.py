"""N-D patch geometry, ``patchify`` / ``unpatchify`` and the patch embedding of the MAE encoder.

Pixel layout of a patch vector (the reconstruction target) is **channel-last**, exactly as in the
original MAE for 2D: ``(B, C, h*p1, w*p2) → (B, h*w, p1*p2*C)`` with the flat index
``(i1 * p2 + i2) * C + c``; in 3D ``(B, C, d*p0, h*p1, w*p2) → (B, d*h*w, p0*p1*p2*C)``. Tokens are in
raster (C) order of the token grid: the last axis varies fastest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maerad.errors import ConfigError, InputError
from maerad.masking.spec import as_int

__all__ = ["PatchEmbed", "PatchGeometry", "as_tuple", "patchify", "unpatchify"]


def as_tuple(value: int | Sequence[int], spatial_dims: int, name: str) -> tuple[int, ...]:
    """``value`` as a tuple of ``spatial_dims`` positive ints (an int is repeated).

    Entries must be integers (Python, NumPy or 0-dim integer tensors; a 1-D integer array or tensor
    works as the sequence). Floats are refused even when integral (``32.0``), as are bools and
    strings: ``"88"`` would otherwise be read as ``(8, 8)``.

    Raises:
        ConfigError: not an int or a sequence of ints, wrong length or a non-positive entry; the message
            names ``name``.
    """
    raw: object = value
    if isinstance(raw, (np.ndarray, torch.Tensor)) and raw.ndim == 1:
        raw = raw.tolist()  # integer entries stay ints; float ones are refused below
    single = as_int(raw)
    if single is not None:
        out: tuple[int | None, ...] = (single,) * spatial_dims
    elif isinstance(raw, Sequence) and not isinstance(raw, (str, bytes)):
        out = tuple(as_int(v) for v in raw)
    else:
        raise ConfigError(
            f"{name} must be a positive int or a sequence of {spatial_dims} positive ints, got {value!r}"
        )
    if len(out) != spatial_dims:
        raise ConfigError(
            f"{name} must have {spatial_dims} entries for spatial_dims={spatial_dims}, got {value!r}"
        )
    sizes = tuple(v for v in out if v is not None and v >= 1)
    if len(sizes) != spatial_dims:
        raise ConfigError(f"{name} entries must be positive ints, got {value!r}")
    return sizes


@dataclass(frozen=True)
class PatchGeometry:
    """Image size, patch size and the token grid they define.

    Args:
        img_size: spatial image size per axis, e.g. ``(224, 224)`` or ``(32, 128, 128)``.
        patch_size: patch size per axis, e.g. ``(16, 16)`` or ``(4, 16, 16)``.

    Raises:
        ConfigError: mismatched lengths, unsupported dimensionality or an image size not divisible by
            the patch size along some axis.
    """

    img_size: tuple[int, ...]
    patch_size: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.img_size) not in (2, 3):
            raise ConfigError(f"spatial_dims must be 2 or 3, got img_size {self.img_size}")
        if len(self.img_size) != len(self.patch_size):
            raise ConfigError(f"img_size {self.img_size} and patch_size {self.patch_size} differ in length")
        for axis, (size, patch) in enumerate(zip(self.img_size, self.patch_size, strict=True)):
            if size % patch != 0:
                raise ConfigError(
                    f"img_size {self.img_size} is not divisible by patch_size {self.patch_size} "
                    f"along axis {axis}"
                )

    @classmethod
    def create(
        cls, spatial_dims: int, img_size: int | Sequence[int], patch_size: int | Sequence[int]
    ) -> PatchGeometry:
        """Build from ints or sequences, validating ``spatial_dims``."""
        if spatial_dims not in (2, 3):
            raise ConfigError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        return cls(
            as_tuple(img_size, spatial_dims, "img_size"), as_tuple(patch_size, spatial_dims, "patch_size")
        )

    @property
    def spatial_dims(self) -> int:
        return len(self.img_size)

    @property
    def grid(self) -> tuple[int, ...]:
        """Token grid shape, ``img_size // patch_size`` per axis."""
        return tuple(s // p for s, p in zip(self.img_size, self.patch_size, strict=True))

    @property
    def num_tokens(self) -> int:
        return math.prod(self.grid)

    @property
    def patch_volume(self) -> int:
        """Voxels per patch and channel, ``prod(patch_size)``."""
        return math.prod(self.patch_size)

    def patch_dim(self, in_chans: int) -> int:
        """Length ``P = prod(patch_size) * C`` of a patch vector."""
        return self.patch_volume * in_chans


def _check_image(x: torch.Tensor, patch_size: Sequence[int]) -> None:
    nd = len(patch_size)
    if x.ndim != nd + 2:
        raise InputError(f"expected an image batch (B, C, {nd} spatial axes), got shape {tuple(x.shape)}")
    for axis, (size, patch) in enumerate(zip(x.shape[2:], patch_size, strict=True)):
        if size % patch != 0:
            raise InputError(f"image axis {axis} of size {size} is not divisible by patch size {patch}")


def patchify(x: torch.Tensor, patch_size: Sequence[int]) -> torch.Tensor:
    """Cut an image batch into flattened patches, channel-last inside each patch.

    Args:
        x: ``(B, C, *spatial)`` with every spatial size divisible by the patch size.
        patch_size: patch size per spatial axis.

    Returns:
        ``(B, L, prod(patch_size) * C)``; tokens in raster order of the grid.

    Examples::

        >>> import torch
        >>> patchify(torch.zeros(2, 3, 32, 32), (16, 16)).shape
        torch.Size([2, 4, 768])
    """
    _check_image(x, patch_size)
    nd = len(patch_size)
    batch, chans = x.shape[:2]
    grid = [s // p for s, p in zip(x.shape[2:], patch_size, strict=True)]
    split: list[int] = []
    for g, p in zip(grid, patch_size, strict=True):
        split += [g, p]
    x = x.reshape(batch, chans, *split)
    # axes: 0 batch, 1 chans, then (g_i, p_i) pairs at 2+2i and 3+2i
    perm = [0, *(2 + 2 * i for i in range(nd)), *(3 + 2 * i for i in range(nd)), 1]
    return x.permute(perm).reshape(batch, math.prod(grid), math.prod(patch_size) * chans)


def unpatchify(
    patches: torch.Tensor, patch_size: Sequence[int], grid: Sequence[int], in_chans: int
) -> torch.Tensor:
    """Inverse of :func:`patchify`.

    Args:
        patches: ``(B, L, prod(patch_size) * C)`` with ``L == prod(grid)``.
        patch_size: patch size per spatial axis.
        grid: token grid shape.
        in_chans: number of channels ``C``.

    Returns:
        ``(B, C, *[g * p for g, p in zip(grid, patch_size)])``.
    """
    nd = len(patch_size)
    if len(grid) != nd:
        raise InputError(f"grid {tuple(grid)} and patch_size {tuple(patch_size)} differ in length")
    expected = (math.prod(grid), math.prod(patch_size) * in_chans)
    if patches.ndim != 3 or tuple(patches.shape[1:]) != expected:
        raise InputError(
            f"expected patches of shape (B, {expected[0]}, {expected[1]}), got {tuple(patches.shape)}"
        )
    batch = patches.shape[0]
    x = patches.reshape(batch, *grid, *patch_size, in_chans)
    # axes: 0 batch, 1..nd grid, nd+1..2nd patch, 2nd+1 chans → (B, C, g0, p0, g1, p1, ...)
    perm = [0, 2 * nd + 1]
    for i in range(nd):
        perm += [1 + i, 1 + nd + i]
    return x.permute(perm).reshape(batch, in_chans, *(g * p for g, p in zip(grid, patch_size, strict=True)))


class PatchEmbed(nn.Module):
    """Linear patch embedding (``Conv{2,3}d`` with kernel = stride = patch) for visible tokens only.

    The weights live in a ``Conv2d`` / ``Conv3d`` (``proj``) so that checkpoints of timm, MAE and
    Hugging Face load unchanged. The forward pass gathers the requested patches first and applies the
    convolution as one matrix product, so hidden tokens cost nothing.

    Args:
        geometry: image/patch geometry.
        in_chans: input channels (e.g. MRI sequences).
        embed_dim: token width ``D``.

    Examples::

        >>> import torch
        >>> embed = PatchEmbed(PatchGeometry((32, 32), (8, 8)), in_chans=2, embed_dim=16)
        >>> embed(torch.zeros(3, 2, 32, 32)).shape
        torch.Size([3, 16, 16])
    """

    def __init__(self, geometry: PatchGeometry, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        chans, width = as_int(in_chans), as_int(embed_dim)
        if chans is None or width is None or chans < 1 or width < 1:
            raise ConfigError(
                f"in_chans and embed_dim must be positive ints, got {in_chans!r} and {embed_dim!r}"
            )
        in_chans, embed_dim = chans, width
        self.geometry = geometry
        self.in_chans = in_chans
        self.embed_dim = embed_dim
        self.proj: nn.Conv2d | nn.Conv3d
        if geometry.spatial_dims == 2:
            p2 = (geometry.patch_size[0], geometry.patch_size[1])
            self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=p2, stride=p2)
        else:
            p3 = (geometry.patch_size[0], geometry.patch_size[1], geometry.patch_size[2])
            self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=p3, stride=p3)

    def forward(self, x: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Embed the patches of ``x``.

        Args:
            x: ``(B, C, *img_size)``.
            ids_keep: optional ``(B, K)`` token indices to embed (in that order); all tokens if ``None``.

        Returns:
            ``(B, K, D)`` (or ``(B, L, D)``).
        """
        patches = patchify(x, self.geometry.patch_size)  # (B, L, prod(p) * C), channel-last
        if ids_keep is not None:
            patches = torch.gather(patches, 1, ids_keep.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))
        weight = self.proj.weight  # (D, C, *patch)
        nd = self.geometry.spatial_dims
        # the conv weight flattened in the same channel-last order as the patch vectors
        flat = weight.permute(0, *range(2, 2 + nd), 1).reshape(self.embed_dim, -1)
        return F.linear(patches, flat, self.proj.bias)
