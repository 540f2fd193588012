"""Token-grid maps from voxel label maps and landmark points.

A label map (``(*S)`` or ``(B, *S)``, any N-D, integer labels) is turned into the fraction of lesion
(or ROI) voxels inside every token's patch; patches may be anisotropic, e.g. ``(4, 16, 16)``. The
result is on the token grid ``S // patch_size`` in raster order, exactly the tokens of an N-D patch
embedding with kernel = stride = ``patch_size``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from maerad.errors import ConfigError, InputError
from maerad.masking.spec import as_int
from maerad.masking.token_morphology import dilate_tokens

__all__ = [
    "label_fraction",
    "label_map_tensor",
    "label_token_fraction",
    "label_values",
    "pool_to_tokens",
    "roi_from_labels",
    "roi_from_points",
    "token_grid",
]

ArrayLike = torch.Tensor | npt.NDArray[np.generic]


def _as_tensor(x: ArrayLike, field: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        if not x.dtype.isnative:  # big-endian data straight from a file header: torch takes native order
            x = x.astype(x.dtype.newbyteorder("="))
        return torch.from_numpy(np.ascontiguousarray(x))
    raise InputError(f"{field} must be a numpy array or torch tensor, got {type(x).__name__}")


def label_map_tensor(labels: ArrayLike, field: str = "labels") -> torch.Tensor:
    """An integer label map as a tensor :func:`torch.isin` can search: NumPy arrays in native byte
    order, and unsigned types wider than 8 bits (NIfTI's uint16 / uint32) widened to int64.

    Raises:
        InputError: not an array or tensor, or not of an integer type.
    """
    lab = _as_tensor(labels, field)
    if lab.is_floating_point() or lab.is_complex() or lab.dtype == torch.bool:
        raise InputError(f"{field} must be an integer label map, got dtype {lab.dtype}")
    if lab.dtype in (torch.uint16, torch.uint32, torch.uint64):
        lab = lab.long()
    return lab


def label_values(label_ids: int | Iterable[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The label values ``label_ids`` (one value or several) as a tensor of a label map's integer
    ``dtype``, for :func:`torch.isin`. Values the dtype cannot hold occur nowhere in such a map and are
    left out (casting them would wrap around onto other labels).

    Raises:
        InputError: no value, or a value that is not an integer.
    """
    if isinstance(label_ids, (torch.Tensor, np.ndarray)):
        label_ids = label_ids.tolist()
    values = [label_ids] if isinstance(label_ids, (int, np.integer)) else list(label_ids)
    if not values:
        raise InputError("label_ids must name at least one label value")
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
        raise InputError(f"label values must be integers, got {values!r}")
    info = torch.iinfo(dtype)
    held = sorted({int(v) for v in values if info.min <= int(v) <= info.max})
    return torch.tensor(held, dtype=dtype, device=device)


def _patch(patch_size: int | Sequence[int], ndim: int) -> tuple[int, ...]:
    patch = (patch_size,) * ndim if isinstance(patch_size, int) else tuple(patch_size)
    if len(patch) != ndim or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in patch):
        raise InputError(f"patch_size must be a positive int or {ndim} positive ints, got {patch_size!r}")
    return patch


def token_grid(spatial_shape: Sequence[int], patch_size: int | Sequence[int], *, crop: bool = False
               ) -> tuple[int, ...]:
    """The token grid ``spatial_shape // patch_size``.

    Raises:
        InputError: a size is not divisible by its patch size (unless ``crop``: the remainder is dropped,
            as a strided patch embedding does), or the image is smaller than one patch.
    """
    shape = tuple(int(s) for s in spatial_shape)
    patch = _patch(patch_size, len(shape))
    if not crop and any(s % p for s, p in zip(shape, patch, strict=True)):
        raise InputError(f"image size {shape} is not divisible by patch size {patch} "
                         "(crop or pad the image, or pass crop=True)")
    grid = tuple(s // p for s, p in zip(shape, patch, strict=True))
    if 0 in grid:
        raise InputError(f"image size {shape} is smaller than one patch {patch}")
    return grid


def pool_to_tokens(values: ArrayLike, patch_size: int | Sequence[int], *, spatial_dims: int | None = None,
                   crop: bool = False) -> torch.Tensor:
    """Mean of ``values`` over every patch: ``(B, *S)`` or ``(*S)`` → ``(B, *grid)`` float32.

    Args:
        values: voxel values (probabilities, indicator maps); with ``spatial_dims`` unset, a tensor with
            as many axes as ``patch_size`` has entries is one sample, one more axis is a batch.
        patch_size: patch size per axis (or one int for all).
        spatial_dims: number of spatial axes (default ``len(patch_size)``, or ``values.ndim`` for an
            int patch size).
        crop: drop a remainder that does not fill a whole patch instead of raising.
    """
    x = _as_tensor(values, "values").float()
    if spatial_dims is None:
        spatial_dims = x.ndim if isinstance(patch_size, int) else len(tuple(patch_size))
    if x.ndim == spatial_dims:
        x = x[None]
    if x.ndim != spatial_dims + 1:
        raise InputError(f"values must have shape (*S) or (B, *S) with {spatial_dims} spatial axes, "
                         f"got {tuple(x.shape)}")
    patch = _patch(patch_size, spatial_dims)
    grid = token_grid(x.shape[1:], patch, crop=crop)
    for axis, (g, p) in enumerate(zip(grid, patch, strict=True)):
        x = x.narrow(axis + 1, 0, g * p)
    split: list[int] = [x.shape[0]]
    for g, p in zip(grid, patch, strict=True):
        split += [g, p]
    patch_axes = tuple(range(2, 2 * spatial_dims + 1, 2))
    return x.reshape(split).mean(dim=patch_axes)


def label_fraction(labels: ArrayLike, label_ids: int | Iterable[int], patch_size: int | Sequence[int], *,
                   spatial_dims: int | None = None, crop: bool = False) -> torch.Tensor:
    """Fraction of voxels per token whose label is one of ``label_ids``: ``(B, *grid)`` in ``[0, 1]``.

    Feed ``.flatten(1)`` to ``lesion_aware`` as a lesion probability per token.

    Examples::

        >>> import numpy as np
        >>> lab = np.zeros((4, 8, 8), dtype=np.int16); lab[:, :4, :2] = 100
        >>> label_fraction(lab, [100], (4, 4, 4))[0].flatten().tolist()
        [0.5, 0.0, 0.0, 0.0]
    """
    lab = label_map_tensor(labels)
    ids = label_values(label_ids, lab.dtype, lab.device)
    return pool_to_tokens(torch.isin(lab, ids), patch_size, spatial_dims=spatial_dims, crop=crop)


def label_token_fraction(labels: ArrayLike, patch_size: int | Sequence[int],
                         label_ids: int | Iterable[int], *, crop: bool = False) -> torch.Tensor:
    """:func:`label_fraction` flattened to ``(B, L)`` — ready for a strategy's ``weights=`` (or, with
    ``> 0``, ``roi=``). ``labels`` is ``(B, *S)`` with ``len(patch_size)`` spatial axes.

    Examples::

        >>> import torch
        >>> lab = torch.zeros(2, 32, 32, dtype=torch.int16); lab[:, :16, :16] = 100
        >>> label_token_fraction(lab, (16, 16), [100]).tolist()[0]
        [1.0, 0.0, 0.0, 0.0]
    """
    lab = _as_tensor(labels, "labels")
    spatial_dims = lab.ndim - 1 if isinstance(patch_size, int) else len(tuple(patch_size))
    frac = label_fraction(lab, label_ids, patch_size, spatial_dims=spatial_dims, crop=crop)
    return frac.flatten(1)


def roi_from_labels(labels: ArrayLike, label_ids: int | Iterable[int], patch_size: int | Sequence[int], *,
                    min_fraction: float = 0.0, spatial_dims: int | None = None, crop: bool = False
                    ) -> torch.Tensor:
    """``(B, *grid)`` bool: tokens overlapping the labels ``label_ids`` (fraction ``> min_fraction``).

    With the default ``min_fraction=0`` any overlap counts, e.g. the ovaries (phantom labels 40, 41)
    for ``roi_prior`` masking.
    """
    return label_fraction(labels, label_ids, patch_size, spatial_dims=spatial_dims, crop=crop) > min_fraction


def roi_from_points(points: ArrayLike, spatial_shape: Sequence[int], patch_size: int | Sequence[int], *,
                    radius: int = 0, crop: bool = False, outside: Literal["raise", "ignore"] = "raise"
                    ) -> torch.Tensor:
    """``(B, *grid)`` bool: tokens containing landmark points, dilated by ``radius`` tokens.

    Args:
        points: ``(B, M, N)`` voxel coordinates (fractional allowed; voxel ``i`` is centred on ``i``
            and spans ``[i - 0.5, i + 0.5)``) of ``M`` landmarks per sample on an N-D image; a row of
            NaN is an absent landmark. Convert mm landmarks first, e.g.
            ``study.world_to_voxel(study.landmarks["pubic_symphysis_inferior"])`` (SPEC §4.1 points).
        spatial_shape: the image size ``S`` (N values).
        patch_size: patch size per axis.
        radius: box dilation radius in tokens (0 = only the token holding the point).
        crop: as in :func:`token_grid`.
        outside: ``"raise"`` for a point outside the image (or the part the tokens cover), or
            ``"ignore"`` to treat it as absent (a landmark outside the field of view).

    Raises:
        InputError: a point outside the image (with ``outside="raise"``), or a malformed ``points`` array.
    """
    if outside not in ("raise", "ignore"):
        raise ConfigError(f"outside must be 'raise' or 'ignore', got {outside!r}")
    width = as_int(radius)
    if width is None or width < 0:
        raise ConfigError(f"radius must be an int >= 0 (tokens), got {radius!r}")
    pts = _as_tensor(points, "points").double()
    shape = tuple(int(s) for s in spatial_shape)
    if pts.ndim != 3 or pts.shape[2] != len(shape):
        raise InputError(f"points must have shape (B, M, {len(shape)}), got {tuple(pts.shape)}")
    grid = token_grid(shape, patch_size, crop=crop)
    patch = torch.tensor(_patch(patch_size, len(shape)), dtype=torch.float64, device=pts.device)
    nan = torch.isnan(pts)
    present = ~nan.any(dim=-1)  # (B, M)
    partial = nan.any(dim=-1) & ~nan.all(dim=-1)
    if bool(partial.any()):
        b, m = (int(i) for i in partial.nonzero()[0])
        raise InputError(f"points[{b}, {m}] = {pts[b, m].tolist()} is partly NaN; an absent landmark is a "
                         "row of NaN only")
    # Voxel i is centred on coordinate i (NIfTI / Study.world_to_voxel), so it covers [i - ½, i + ½) and
    # token t covers [t·p - ½, (t + 1)·p - ½).
    tok = torch.floor((torch.nan_to_num(pts) + 0.5) / patch).long()  # (B, M, N)
    limit = torch.tensor(grid, device=pts.device)
    inside = ((tok >= 0) & (tok < limit)).all(dim=-1)
    if outside == "ignore":
        present = present & inside
    if bool((present & ~inside).any()):
        b, m = (int(i) for i in (present & ~inside).nonzero()[0])
        point = pts[b, m]
        upper = torch.tensor(shape, dtype=point.dtype, device=point.device) - 0.5
        in_image = bool(((point >= -0.5) & (point < upper)).all())
        where = "outside the part of the image the tokens cover" if in_image else "outside the image"
        raise InputError(f"points[{b}, {m}] = {pts[b, m].tolist()} lies {where} of size {shape} "
                         "(voxel coordinates expected, voxel i spanning i - 0.5 to i + 0.5)")
    strides = [math.prod(grid[i + 1:]) for i in range(len(grid))]
    flat = (tok * torch.tensor(strides, device=pts.device)).sum(dim=-1)  # (B, M)
    roi = torch.zeros(pts.shape[0], math.prod(grid), dtype=torch.bool, device=pts.device)
    b_idx, m_idx = present.nonzero(as_tuple=True)
    roi[b_idx, flat[b_idx, m_idx]] = True
    roi = roi.view(pts.shape[0], *grid)
    return dilate_tokens(roi, width) if width > 0 else roi
