"""Differentiable measurements of soft region masks and images, in millimetres and millilitres.

Conventions: a soft mask is ``(B, *S)`` with values in ``[0, 1]`` (a label indicator, segmenter
probabilities, or an intensity-gated mask), ``S`` = 2 or 3 spatial axes; ``spacing`` is the voxel
size in mm along those axes, in the same order (``Study`` spacing is ``(d, h, w)``).

Geometry from second moments: the weighted covariance ``Σ`` of voxel-centre coordinates (mm) of a
mask, plus ``s_a² / 12`` per axis for the extent of a voxel (which makes a voxelised rod of ``n``
voxels exactly ``n·s`` long). For a uniform object the variance along a principal axis is tied to the
extent ``ℓ`` along it: ``ℓ = 4 σ`` for a filled ellipse (2D), ``ℓ = 2√5 σ ≈ 4.47 σ`` for a solid
ellipsoid (3D), ``ℓ = √12 σ ≈ 3.46 σ`` for a uniform rod or the thickness of a flat slab. So
``length ≈ factor · sqrt(λ)`` with ``λ`` an eigenvalue of ``Σ``; the factor defaults to the ellipse
(2D) / ellipsoid (3D) value and is a parameter. A curved organ (an anteflexed uterus) is shorter
along its principal axis than along its curved midline — these are soft priors, not calipers.

Thickness of a sheet-like region (endometrium, junctional zone): ``2 · content / boundary`` (area /
perimeter in 2D, volume / surface in 3D), which is the thickness of an annulus or a spherical shell
and slightly less than the width of a strip with ends. The boundary is a discrete Crofton estimate:
for each of the ``(3^nd − 1) / 2`` neighbour directions ``d`` of a voxel (axes and diagonals),
``Σ_p |m(p + d) − m(p)|`` over the zero-padded mask counts where lines along ``d`` cross the
boundary; each count is weighted by the area one line stands for and by the share of all directions
nearest to ``d`` (its Voronoi cell on the unit circle / sphere, computed for the voxel spacing), and
the weights are scaled so that the error over plane orientations is centred. Only adjacent voxels are
compared, so the two faces of a one-voxel sheet never cancel (smoothing and central differences, used
before, measured a 1-voxel annulus as 2.4 voxels). For a soft mask the boundary is the mean boundary of
its level sets ``{m > t}``, ``0 < t < 1``, as the content is their mean content (coarea formula).
Accuracy (docs/losses.md has a table): planes read within ±4 % (2D) / ±5 % (3D) of their area on
isotropic voxels, depending on orientation (axis-aligned ones 4-5 % low, so an axis-aligned strip reads
5.6 % thick); sheets thinner than about 1.5 voxels read thick because diagonal lines step over parts
of them (a 1-voxel annulus +9 %, a 1-voxel spherical shell +9 %). On anisotropic voxels the
orientation error grows with the spacing ratio (±11 % at 2:1, ±16 % at 4:1 in 3D), worst for flat
structures parallel to thick slices (a 2-slice slab at ``(4, 2, 2)`` mm reads 25 % thick); measure such
data slice by slice in 2D where the sheet crosses the slices.

Every function is differentiable with respect to the mask (and the image where one is taken); the
boundary almost everywhere (where two neighbours are equal, ``|·|`` contributes its subgradient 0).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from maerad.errors import ConfigError

__all__ = [
    "ELLIPSE_FACTOR",
    "ELLIPSOID_FACTOR",
    "SLAB_FACTOR",
    "contrast_difference",
    "mean_thickness",
    "principal_axis_lengths",
    "region_mean",
    "region_moments",
    "region_volume",
]

ELLIPSE_FACTOR = 4.0
ELLIPSOID_FACTOR = 2.0 * math.sqrt(5.0)
SLAB_FACTOR = math.sqrt(12.0)
_TINY = 1e-12


def _full_precision(t: torch.Tensor) -> torch.Tensor:
    """``t`` as float32 unless it is float32 or float64 already. A 0/1 bool or integer mask is a valid
    soft mask but would break the float arithmetic below (a smoothing kernel of ints is all zeros), and
    in bf16 / fp16 sums over hundreds of thousands of voxels and coordinates of hundreds of mm lose every
    digit."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def _spacing(mask: torch.Tensor, spacing: Sequence[float]) -> tuple[float, ...]:
    nd = mask.ndim - 1
    if nd not in (2, 3):
        raise ConfigError(f"a region mask must be (B, *S) with 2 or 3 spatial axes, got {tuple(mask.shape)}")
    sp = tuple(float(s) for s in spacing)
    if len(sp) == nd + 1:  # e.g. a study's (D, H, W) labels measured as a batch of D 2D slices
        raise ConfigError(f"spacing {tuple(spacing)} has {nd + 1} voxel sizes but the mask "
                          f"{tuple(mask.shape)} has {nd} spatial axes after its batch axis; a single sample "
                          "needs a batch axis (mask[None], or study.labels[None] for label_masks)")
    if len(sp) != nd or any(not (s > 0 and math.isfinite(s)) for s in sp):
        raise ConfigError(f"spacing must be {nd} positive voxel sizes in mm, got {tuple(spacing)}")
    return sp


def region_volume(
    mask: torch.Tensor, spacing: Sequence[float], *, slice_thickness: float | None = None
) -> torch.Tensor:
    """Volume of a soft region in mL: ``Σ m · voxel volume / 1000``.

    Args:
        mask: ``(B, *S)`` soft mask.
        spacing: voxel size in mm per spatial axis.
        slice_thickness: for a 2D mask, the slice thickness in mm (required in 2D).

    Returns:
        ``(B,)``.
    """
    sp = _spacing(mask, spacing)
    voxel = math.prod(sp)
    if len(sp) == 2:
        if slice_thickness is None or not slice_thickness > 0:
            raise ConfigError("a volume from a 2D mask needs slice_thickness (mm)")
        voxel *= slice_thickness
    return _full_precision(mask).flatten(1).sum(dim=1) * (voxel / 1000.0)


def region_moments(
    mask: torch.Tensor, spacing: Sequence[float], *, voxel_correction: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mass, centroid (mm) and covariance (mm²) of a soft region.

    Args:
        mask: ``(B, *S)`` soft mask.
        spacing: voxel size in mm per spatial axis.
        voxel_correction: add ``s_a² / 12`` to the variance of axis ``a`` (extent of a voxel).

    Returns:
        ``mass (B,)`` (sum of the mask), ``centroid (B, nd)``, ``covariance (B, nd, nd)``.
    """
    sp = _spacing(mask, spacing)
    mask = _full_precision(mask)
    # Autocast would run the matrix products below in bf16 / fp16 (AxisLength inside a bf16 training
    # step measured a 40 mm wide rectangle as 2 mm); these are small reductions, so stay in float32.
    with torch.autocast(mask.device.type, enabled=False):
        grids = torch.meshgrid(
            *(
                torch.arange(n, dtype=mask.dtype, device=mask.device) * s
                for n, s in zip(mask.shape[1:], sp, strict=True)
            ),
            indexing="ij",
        )
        coords = torch.stack([g.reshape(-1) for g in grids], dim=1)  # (N, nd)
        weights = mask.flatten(1)  # (B, N)
        mass = weights.sum(dim=1)
        safe = mass.clamp_min(_TINY)
        centroid = weights @ coords / safe[:, None]  # (B, nd)
        # second moments about the centroid, not E[x²] − E[x]², which cancels badly far from the origin
        centred = coords - centroid[:, None, :]  # (B, N, nd)
        cov = (weights.unsqueeze(-1) * centred).transpose(1, 2) @ centred / safe[:, None, None]
        if voxel_correction:
            correction = torch.tensor([s * s / 12.0 for s in sp], dtype=mask.dtype, device=mask.device)
            cov = cov + torch.diag(correction)
        return mass, centroid, (cov + cov.transpose(1, 2)) / 2


def principal_axis_lengths(
    mask: torch.Tensor, spacing: Sequence[float], *, factor: float | None = None
) -> torch.Tensor:
    """Extents of a soft region along its principal axes, longest first: ``factor · sqrt(λ_i)``.

    Args:
        mask: ``(B, *S)`` soft mask.
        spacing: voxel size in mm per spatial axis.
        factor: extent / standard deviation (default :data:`ELLIPSE_FACTOR` = 4 in 2D,
            :data:`ELLIPSOID_FACTOR` = 2√5 in 3D; :data:`SLAB_FACTOR` = √12 for a rod / slab thickness).

    Returns:
        ``(B, nd)`` in mm, descending.

    Examples::

        >>> import torch
        >>> rod = torch.zeros(1, 5, 40); rod[0, 2, 5:35] = 1          # 30 voxels of 1 mm in a row
        >>> round(float(principal_axis_lengths(rod, (1.0, 1.0), factor=SLAB_FACTOR)[0, 0]), 3)
        30.0
    """
    sp = _spacing(mask, spacing)
    if factor is None:
        factor = ELLIPSE_FACTOR if len(sp) == 2 else ELLIPSOID_FACTOR
    _, _, cov = region_moments(mask, sp)
    eig: torch.Tensor = torch.linalg.eigvalsh(cov)  # ascending
    return factor * eig.clamp_min(_TINY).sqrt().flip(-1)


def _unit_directions(nd: int) -> torch.Tensor:
    """Nearly uniform float64 unit vectors: a half circle (2D) or a Fibonacci lattice on the sphere (3D)."""
    if nd == 2:
        angles = (torch.arange(7200, dtype=torch.float64) + 0.5) * (math.pi / 7200)
        return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    count = 50_000
    index = torch.arange(count, dtype=torch.float64) + 0.5
    z = 1.0 - 2.0 * index / count
    phi = math.pi * (3.0 - math.sqrt(5.0)) * index
    radius = (1.0 - z * z).sqrt()
    return torch.stack([z, radius * torch.cos(phi), radius * torch.sin(phi)], dim=1)


@functools.lru_cache(maxsize=64)
def _crofton_coefficients(spacing: tuple[float, ...]) -> tuple[tuple[tuple[int, ...], float], ...]:
    """``(offset, coefficient)`` for the neighbour offsets of a ``3^nd`` block (one of each ± pair): the
    boundary is ``Σ_k coefficient_k · Σ_p |m(p + offset_k) − m(p)|`` (module docstring)."""
    nd = len(spacing)
    offsets = [d for d in itertools.product((-1, 0, 1), repeat=nd) if d > (0,) * nd]
    vectors = torch.tensor(
        [[o * s for o, s in zip(d, spacing, strict=True)] for d in offsets], dtype=torch.float64
    )
    lengths = vectors.norm(dim=1)
    cosines = (_unit_directions(nd) @ (vectors / lengths[:, None]).T).abs()  # (samples, offsets)
    # Crofton: the share of directions nearest to each offset's line (its Voronoi cell on the sphere)
    weights = torch.bincount(cosines.argmax(dim=1), minlength=len(offsets)).double() / cosines.shape[0]
    mean_cosine = 2.0 / math.pi if nd == 2 else 0.5  # E|n·u| over uniform directions u
    response = cosines @ weights / mean_cosine  # measured / true area of a plane, per plane normal
    # centre the orientation error (the smallest and largest response equally far from 1)
    scale = 2.0 / float(response.min() + response.max())
    volume = math.prod(spacing)
    coefficients = weights * (scale * volume / mean_cosine) / lengths
    return tuple((d, float(c)) for d, c in zip(offsets, coefficients.tolist(), strict=True))


def _boundary_measure(mask: torch.Tensor, sp: tuple[float, ...]) -> torch.Tensor:
    """Perimeter (2D) / surface area (3D) of a soft region in mm^(nd-1): the discrete Crofton estimate
    of the module docstring, on the zero-padded mask."""
    mask = _full_precision(mask)
    nd = len(sp)
    with torch.autocast(mask.device.type, enabled=False):  # sums over many voxels stay in float32
        x = F.pad(mask, [1, 1] * nd)
        total = mask.new_zeros(mask.shape[0])
        for offset, coefficient in _crofton_coefficients(sp):
            upper: list[slice] = [slice(None)]
            lower: list[slice] = [slice(None)]
            for o in offset:
                upper.append(slice(1, None) if o > 0 else slice(None, -1) if o < 0 else slice(None))
                lower.append(slice(None, -1) if o > 0 else slice(1, None) if o < 0 else slice(None))
            jumps = (x[tuple(upper)] - x[tuple(lower)]).abs()
            total = total + coefficient * jumps.flatten(1).sum(dim=1)
        return total


def mean_thickness(mask: torch.Tensor, spacing: Sequence[float]) -> torch.Tensor:
    """Mean thickness of a sheet-like soft region in mm: ``2 · content / boundary``, the boundary being
    the Crofton estimate of the module docstring (a 1-voxel annulus reads 1.09 voxels, a 6-voxel one
    5.88).

    Args:
        mask: ``(B, *S)`` soft mask.
        spacing: voxel size in mm per spatial axis.

    Returns:
        ``(B,)``; zero for an empty mask.
    """
    sp = _spacing(mask, spacing)
    content = _full_precision(mask).flatten(1).sum(dim=1) * math.prod(sp)
    return 2.0 * content / _boundary_measure(mask, sp).clamp_min(_TINY)


def region_mean(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mask-weighted mean intensity ``Σ m·I / Σ m``.

    Args:
        image: ``(B, *S)`` one channel.
        mask: ``(B, *S)`` soft mask.

    Returns:
        ``(B,)``.
    """
    if image.shape != mask.shape:
        raise ConfigError(f"image {tuple(image.shape)} and mask {tuple(mask.shape)} differ in shape")
    weights = _full_precision(mask).flatten(1)
    values = _full_precision(image).flatten(1)
    return (weights * values).sum(dim=1) / weights.sum(dim=1).clamp_min(_TINY)


def contrast_difference(image: torch.Tensor, darker: torch.Tensor, brighter: torch.Tensor) -> torch.Tensor:
    """``mean(image | darker) − mean(image | brighter)``: negative when the ordering holds.

    Args:
        image: ``(B, *S)`` one channel (e.g. T2W).
        darker: ``(B, *S)`` soft mask of the region expected darker (e.g. junctional zone).
        brighter: ``(B, *S)`` soft mask of the region expected brighter (e.g. outer myometrium).

    Returns:
        ``(B,)``.
    """
    return region_mean(image, darker) - region_mean(image, brighter)
