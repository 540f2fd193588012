"""`Canvas`: the supersampled voxel grid the phantom is painted on.

The output grid is ``(D, H, W)`` with spacing ``(sd, sh, sw)``; the canvas has ``D × k`` sub-slices
(``k = config.supersample``, odd) so that the middle sub-slice of each slice lies on the voxel
centre. Voxel ``(d, h, w)`` of the output maps to RAS+ mm through ``affine`` (axis-aligned:
``w → x``, ``h → y``, ``d → z``). Anatomy is evaluated at warped coordinates ``q = p + D(p)``
where ``D`` is a smooth random displacement field, so every organ outline is deformed smoothly and
consistently; :meth:`Canvas.to_image` maps an anatomy-space point back to image space.

Painting is by priority: a later :meth:`Canvas.paint` overwrites earlier ones inside its shape.
Only the shape's bounding box (plus the displacement bound) is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.fields import SmoothField
from maerad.data.phantom.shapes import Points, Shape
from maerad.data.phantom.tissues import TISSUE_INDEX

__all__ = ["Canvas"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Canvas:
    """Tissue and label maps on the supersampled grid, with anatomy coordinates and noise fields.

    Args:
        size: output grid ``(D, H, W)``.
        spacing: output voxel size (mm) along ``(d, h, w)``.
        centre: RAS+ mm point at the centre of the grid.
        supersample: odd number of sub-slices per slice.
        rng: random generator for the displacement and noise fields.
        deformation_mm: amplitude of the displacement field.
    """

    def __init__(
        self,
        size: tuple[int, int, int],
        spacing: tuple[float, float, float],
        centre: tuple[float, float, float],
        supersample: int,
        rng: np.random.Generator,
        deformation_mm: float,
    ) -> None:
        self.size = size
        self.spacing = spacing
        self.k = supersample
        d, h, w = size
        sd, sh, sw = spacing
        cx, cy, cz = centre
        # voxel (d, h, w) → (z, y, x); origin so that the grid centre sits on `centre`
        self.origin = np.array([cx - (w - 1) / 2 * sw, cy - (h - 1) / 2 * sh, cz - (d - 1) / 2 * sd])
        affine = np.zeros((4, 4), dtype=np.float64)
        affine[0, 2], affine[1, 1], affine[2, 0] = sw, sh, sd
        affine[:3, 3] = self.origin
        affine[3, 3] = 1.0
        self.affine = affine
        self.z_axis = self.origin[2] + ((np.arange(d * self.k) + 0.5) / self.k - 0.5) * sd
        self.y_axis = self.origin[1] + np.arange(h) * sh
        self.x_axis = self.origin[0] + np.arange(w) * sw
        self.displacement = [
            SmoothField.random(rng, terms=3, wavelength_mm=(90.0, 200.0), amplitude=deformation_mm)
            for _ in range(3)
        ]
        self.max_disp = float(np.sqrt(sum(f.bound**2 for f in self.displacement)))
        zz, yy, xx = self.z_axis, self.y_axis, self.x_axis
        self.x = (xx[None, None, :] + self.displacement[0].on_axes(zz, yy, xx)).astype(np.float32)
        self.y = (yy[None, :, None] + self.displacement[1].on_axes(zz, yy, xx)).astype(np.float32)
        self.z = (zz[:, None, None] + self.displacement[2].on_axes(zz, yy, xx)).astype(np.float32)
        self.n1 = SmoothField.random(rng, terms=4, wavelength_mm=(35.0, 80.0), amplitude=1.0).on_axes(
            zz, yy, xx
        )
        self.n2 = SmoothField.random(rng, terms=4, wavelength_mm=(10.0, 22.0), amplitude=1.0).on_axes(
            zz, yy, xx
        )
        shape = (d * self.k, h, w)
        self.tissue = np.zeros(shape, dtype=np.uint8)
        self.label = np.zeros(shape, dtype=np.int16)

    # ------------------------------------------------------------------------------------------
    def fresh_copy(self) -> Canvas:
        """A canvas with the same grid, displacement and noise, and empty maps."""
        other = object.__new__(Canvas)
        other.__dict__.update(self.__dict__)
        other.tissue = np.zeros_like(self.tissue)
        other.label = np.zeros_like(self.label)
        return other

    def fill_body(
        self, centre_xy: tuple[float, float], axes_xy: tuple[float, float], tissue: str, label: str
    ) -> None:
        """Fill an elliptic cylinder along z (the body outline) in every sub-slice (cheap, 2-D)."""
        from maerad.data.phantom.labels import LABELS

        fx = ((self.x_axis - centre_xy[0]) / axes_xy[0]) ** 2
        fy = ((self.y_axis - centre_xy[1]) / axes_xy[1]) ** 2
        inside = (fy[:, None] + fx[None, :]) < 1.0
        keep = ~inside[None, :, :]
        self.tissue[...] = np.where(keep, self.tissue, np.uint8(TISSUE_INDEX[tissue]))
        self.label[...] = np.where(keep, self.label, np.int16(LABELS[label]))

    def crop(self, lo: F64, hi: F64) -> tuple[slice, slice, slice] | None:
        """Index slices of the supersampled grid covering the anatomy-space box ``[lo, hi]``."""
        pad = self.max_disp + 0.5
        out = []
        for axis, a, b in (
            (self.z_axis, lo[2], hi[2]),
            (self.y_axis, lo[1], hi[1]),
            (self.x_axis, lo[0], hi[0]),
        ):
            i0 = int(np.searchsorted(axis, a - pad, side="left"))
            i1 = int(np.searchsorted(axis, b + pad, side="right"))
            if i1 <= i0:
                return None
            out.append(slice(i0, i1))
        return out[0], out[1], out[2]

    def points(self, sl: tuple[slice, slice, slice]) -> Points:
        """Anatomy coordinates and noise of a crop."""
        return Points(
            x=self.x[sl],
            y=self.y[sl],
            z=self.z[sl],
            n1=self.n1[sl],
            n2=self.n2[sl],
            grid=(self.z_axis[sl[0]], self.y_axis[sl[1]], self.x_axis[sl[2]]),
            pad=self.max_disp + 0.5,
        )

    def paint(
        self,
        shape: Shape,
        tissue: str,
        label: str | int | None,
        *,
        within: Callable[[Points, tuple[slice, slice, slice]], BoolArray] | None = None,
    ) -> None:
        """Set tissue (and label, unless ``None``) wherever ``shape`` is inside (and ``within`` holds)."""
        sl = self.crop(*shape.bbox())
        if sl is None:
            return
        pts = self.points(sl)
        inside = shape.level(pts) < 0
        if within is not None:
            inside &= within(pts, sl)
        self.set(sl, inside, tissue, label)

    def set(
        self, sl: tuple[slice, slice, slice], mask: BoolArray, tissue: str, label: str | int | None
    ) -> None:
        """Write ``tissue`` / ``label`` into a crop where ``mask`` is true."""
        from maerad.data.phantom.labels import LABELS

        self.tissue[sl][mask] = TISSUE_INDEX[tissue]
        if label is not None:
            self.label[sl][mask] = label if isinstance(label, int) else LABELS[label]

    def label_mask(self, sl: tuple[slice, slice, slice], *names: str) -> BoolArray:
        """Where the current label map (crop) holds any of ``names``."""
        from maerad.data.phantom.labels import LABELS

        values = [LABELS[n] for n in names]
        return np.isin(self.label[sl], values)

    def to_anatomy(self, point: F64) -> F64:
        """Anatomy-space position rendered at image-space ``point``: ``q = p + D(p)`` (exact)."""
        p = np.asarray(point, dtype=np.float64)
        disp = np.array([f.at_points(p[None, :])[0] for f in self.displacement])
        return np.asarray(p + disp, dtype=np.float64)

    def to_image(self, point: F64) -> F64:
        """Image-space (RAS+ mm) position of an anatomy-space point (inverse of the displacement)."""
        q = np.asarray(point, dtype=np.float64)
        p = q.copy()
        for _ in range(6):
            disp = np.array([f.at_points(p[None, :])[0] for f in self.displacement])
            p = q - disp
        return np.asarray(p, dtype=np.float64)

    def output_labels(self) -> npt.NDArray[np.int16]:
        """Label map on the output grid: the label at each voxel centre (middle sub-slice)."""
        return np.ascontiguousarray(self.label[self.k // 2 :: self.k])

    def output_tissue(self) -> npt.NDArray[np.uint8]:
        """Tissue map on the output grid (middle sub-slice)."""
        return np.ascontiguousarray(self.tissue[self.k // 2 :: self.k])

    def voxel_centres_mm(self, mask: BoolArray) -> F64:
        """Image-space (x, y, z) mm of the supersampled voxels in ``mask`` (full-canvas mask): ``(N, 3)``."""
        iz, iy, ix = np.nonzero(mask)
        return np.stack([self.x_axis[ix], self.y_axis[iy], self.z_axis[iz]], axis=1)
