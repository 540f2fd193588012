"""Implicit shape primitives in patient coordinates (mm, RAS+).

Every primitive returns a *level* ``f`` on a set of points: ``f < 0`` inside, ``f = 0`` on the surface,
roughly ``(distance / radius)`` outside. A surface-irregularity term ``roughness · n`` (``n`` a smooth
random field in ``[-1, 1]``) bends the surface by about ``roughness × radius``.

* :class:`Ellipsoid` — rotated ellipsoid.
* :class:`Capsule` — a segment swept by a radius varying linearly from one end to the other
  (tumour extensions, vessels, muscle bands).
* :class:`Tube` — an elliptical cross-section swept along a curved centre line with radii that vary
  along the arc length (uterus, vagina, rectum, sacrum, bones). :meth:`Tube.local` gives the local
  coordinates ``(s, u, v, w)``: arc length, lateral offset, antero-posterior offset, and the offset
  along the tangent beyond either end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["Capsule", "Ellipsoid", "Points", "Shape", "Tube", "TubeLocal", "rotation_from_axes"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass
class Points:
    """Coordinates (mm) of a block of voxels in anatomy space, plus the smooth noise fields there.

    All arrays share one shape (a crop of the supersampled grid, ``(d, h, w)``). ``grid`` holds the
    block's un-displaced 1-D axes ``(z, y, x)`` and ``pad`` the displacement bound, so that a
    primitive can restrict work to a sub-block (:meth:`sub`).
    """

    x: F32
    y: F32
    z: F32
    n1: F32  # low-frequency noise in [-1, 1] (organ outlines)
    n2: F32  # mid-frequency noise in [-1, 1] (lobulation, texture)
    grid: tuple[F64, F64, F64] | None = None
    pad: float = 0.0

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the block."""
        return tuple(self.x.shape)

    def sub(self, lo: F64, hi: F64) -> tuple[slice, slice, slice] | None:
        """Slices of this block covering the anatomy-space box ``[lo, hi]`` (``None`` if empty)."""
        if self.grid is None:
            return (slice(None), slice(None), slice(None))
        out = []
        for axis, a, b in zip(self.grid, (lo[2], lo[1], lo[0]), (hi[2], hi[1], hi[0]), strict=True):
            i0 = int(np.searchsorted(axis, a - self.pad, side="left"))
            i1 = int(np.searchsorted(axis, b + self.pad, side="right"))
            if i1 <= i0:
                return None
            out.append(slice(i0, i1))
        return out[0], out[1], out[2]


def rotation_from_axes(first: F64, second: F64) -> F64:
    """A rotation matrix whose columns are ``first`` (normalised), the part of ``second`` orthogonal
    to it, and their cross product."""
    a = np.asarray(first, dtype=np.float64)
    a = a / np.linalg.norm(a)
    b = np.asarray(second, dtype=np.float64)
    b = b - a * float(a @ b)
    b = b / np.linalg.norm(b)
    return np.stack([a, b, np.cross(a, b)], axis=1)


class Shape:
    """Base class: a bounding box in anatomy space and a level function."""

    def bbox(self) -> tuple[F64, F64]:
        """``(lo, hi)`` corners (x, y, z) in mm enclosing every point where the level can be < 0."""
        raise NotImplementedError

    def level(self, p: Points) -> F32:
        """Level on the points: negative inside."""
        raise NotImplementedError


@dataclass
class Ellipsoid(Shape):
    """Ellipsoid with semi-axes ``axes`` along the columns of ``rotation`` (identity = x, y, z)."""

    centre: F64
    axes: F64
    rotation: F64 = field(default_factory=lambda: np.eye(3))
    roughness: float = 0.0
    lobulation: float = 0.0

    def bbox(self) -> tuple[F64, F64]:
        grow = 1.0 + self.roughness + self.lobulation + 0.05
        half = np.abs(np.asarray(self.rotation)) @ (np.asarray(self.axes) * grow)
        c = np.asarray(self.centre, dtype=np.float64)
        return c - half, c + half

    def level(self, p: Points) -> F32:
        c = np.asarray(self.centre, dtype=np.float32)
        r = np.asarray(self.rotation, dtype=np.float32)
        ax = np.asarray(self.axes, dtype=np.float32)
        dx, dy, dz = p.x - c[0], p.y - c[1], p.z - c[2]
        acc = np.zeros(p.shape, dtype=np.float32)
        for i in range(3):
            comp = (dx * r[0, i] + dy * r[1, i] + dz * r[2, i]) / ax[i]
            acc += comp * comp
        out = np.sqrt(acc) - 1.0
        if self.roughness:
            out += self.roughness * p.n1
        if self.lobulation:
            out += self.lobulation * p.n2
        return np.asarray(out, dtype=np.float32)


@dataclass
class Capsule(Shape):
    """Points within ``r(t)`` of the segment ``start → end``; ``r`` goes linearly from ``r0`` to ``r1``."""

    start: F64
    end: F64
    r0: float
    r1: float
    roughness: float = 0.0
    lobulation: float = 0.0

    def bbox(self) -> tuple[F64, F64]:
        a, b = np.asarray(self.start, dtype=np.float64), np.asarray(self.end, dtype=np.float64)
        r = max(self.r0, self.r1) * (1.0 + self.roughness + self.lobulation + 0.05)
        return np.minimum(a, b) - r, np.maximum(a, b) + r

    def level(self, p: Points) -> F32:
        a = np.asarray(self.start, dtype=np.float32)
        d = np.asarray(self.end, dtype=np.float32) - a
        dd = float(d @ d) or 1e-6
        dx, dy, dz = p.x - a[0], p.y - a[1], p.z - a[2]
        t = np.clip((dx * d[0] + dy * d[1] + dz * d[2]) / dd, 0.0, 1.0)
        ex, ey, ez = dx - t * d[0], dy - t * d[1], dz - t * d[2]
        radius = self.r0 + t * (self.r1 - self.r0)
        out = np.sqrt(ex * ex + ey * ey + ez * ez) / radius - 1.0
        if self.roughness:
            out += self.roughness * p.n1
        if self.lobulation:
            out += self.lobulation * p.n2
        return np.asarray(out, dtype=np.float32)


@dataclass
class TubeLocal:
    """Local tube coordinates of a block of points (all arrays of the block's shape, mm)."""

    s: F32  # arc length of the closest centre-line point
    u: F32  # offset along the lateral axis B
    v: F32  # offset along the normal N = T × B
    w: F32  # offset along the tangent beyond the ends (0 between them)
    seg: npt.NDArray[np.intp]  # index of the closest segment
    t: F32  # position along that segment, 0–1

    def profile(self, values: F64) -> F32:
        """A per-centre-line-point profile (e.g. radii) interpolated at every point's ``s``."""
        v = np.asarray(values, dtype=np.float32)
        lo = v[self.seg]
        return np.asarray(lo + self.t * (v[self.seg + 1] - lo), dtype=np.float32)


@dataclass
class Tube(Shape):
    """An elliptical cross-section swept along a polyline centre line.

    Args:
        points: ``(K, 3)`` centre-line points (x, y, z) in mm, K >= 2.
        radius_lat: ``(K,)`` semi-axis along the lateral axis B at each point.
        radius_ap: ``(K,)`` semi-axis along the normal N = T × B at each point.
        lateral: reference direction for B (projected orthogonal to the tangent).
        cap: semi-axis used beyond the ends (0 = open ends closed flat by the radii there).
    """

    points: F64
    radius_lat: F64
    radius_ap: F64
    lateral: F64 = field(default_factory=lambda: np.array([1.0, 0.0, 0.0]))
    cap: float = 0.0
    roughness: float = 0.0
    lobulation: float = 0.0

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        seg = np.diff(pts, axis=0)
        length = np.linalg.norm(seg, axis=1)
        keep = np.concatenate([[True], length > 1e-6])
        self.points = pts[keep]
        self.radius_lat = np.asarray(self.radius_lat, dtype=np.float64)[keep]
        self.radius_ap = np.asarray(self.radius_ap, dtype=np.float64)[keep]
        seg = np.diff(self.points, axis=0)
        self._seg_len = np.linalg.norm(seg, axis=1)
        self.arc = np.concatenate([[0.0], np.cumsum(self._seg_len)])
        tangents = np.empty_like(self.points)
        tangents[:-1] = seg / self._seg_len[:, None]
        tangents[-1] = tangents[-2]
        tangents[1:-1] = tangents[1:-1] + tangents[:-2]
        tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
        ref = np.asarray(self.lateral, dtype=np.float64)
        lat = ref[None, :] - tangents * (tangents @ ref)[:, None]
        lat /= np.linalg.norm(lat, axis=1, keepdims=True)
        self.tangents = tangents
        self.laterals = lat
        self.normals = np.cross(tangents, lat)

    @property
    def length(self) -> float:
        """Arc length of the centre line (mm)."""
        return float(self.arc[-1])

    def point_at(self, s: float) -> F64:
        """Centre-line point at arc length ``s``."""
        return np.array([np.interp(s, self.arc, self.points[:, i]) for i in range(3)])

    def frame_at(self, s: float) -> tuple[F64, F64, F64]:
        """``(T, B, N)`` unit vectors at arc length ``s`` (nearest sample)."""
        i = int(np.clip(np.searchsorted(self.arc, s), 0, len(self.arc) - 1))
        return self.tangents[i], self.laterals[i], self.normals[i]

    def radii_at(self, s: float) -> tuple[float, float]:
        """``(radius_lat, radius_ap)`` at arc length ``s``."""
        return float(np.interp(s, self.arc, self.radius_lat)), float(np.interp(s, self.arc, self.radius_ap))

    def bbox(self) -> tuple[F64, F64]:
        r = float(max(self.radius_lat.max(), self.radius_ap.max(), self.cap))
        r *= 1.0 + self.roughness + self.lobulation + 0.05
        return self.points.min(axis=0) - r, self.points.max(axis=0) + r

    def local(self, p: Points) -> TubeLocal:
        """Closest centre-line point of every point and the offsets from it.

        Each segment is evaluated only inside its own bounding box (its radii, grown by the surface
        terms); points outside every segment box get ``s = 0`` and an infinite ``w``.
        """
        best = np.full(p.shape, np.inf, dtype=np.float32)
        s_out = np.zeros(p.shape, dtype=np.float32)
        u_out = np.zeros(p.shape, dtype=np.float32)
        v_out = np.zeros(p.shape, dtype=np.float32)
        w_out = np.full(p.shape, np.inf, dtype=np.float32)
        seg_out = np.zeros(p.shape, dtype=np.intp)
        t_out = np.zeros(p.shape, dtype=np.float32)
        n_seg = len(self.points) - 1
        for j, sub, t, (ex, ey, ez), dist, t_raw in self._segments(p):
            closer = dist < best[sub]
            if not closer.any():
                continue
            if j > 0:
                t_raw = np.maximum(t_raw, 0.0)
            if j < n_seg - 1:
                t_raw = np.minimum(t_raw, 1.0)
            la, lb = self.laterals[j].astype(np.float32), self.laterals[j + 1].astype(np.float32)
            na, nb = self.normals[j].astype(np.float32), self.normals[j + 1].astype(np.float32)
            lx, ly, lz = la[0] + t * (lb[0] - la[0]), la[1] + t * (lb[1] - la[1]), la[2] + t * (lb[2] - la[2])
            nx, ny, nz = na[0] + t * (nb[0] - na[0]), na[1] + t * (nb[1] - na[1]), na[2] + t * (nb[2] - na[2])
            seg_len = np.float32(self._seg_len[j])
            np.copyto(best[sub], dist, where=closer)
            np.copyto(s_out[sub], np.float32(self.arc[j]) + t * seg_len, where=closer)
            np.copyto(u_out[sub], ex * lx + ey * ly + ez * lz, where=closer)
            np.copyto(v_out[sub], ex * nx + ey * ny + ez * nz, where=closer)
            np.copyto(w_out[sub], (t_raw - t) * seg_len, where=closer)
            np.copyto(seg_out[sub], j, where=closer)
            np.copyto(t_out[sub], t, where=closer)
        return TubeLocal(s=s_out, u=u_out, v=v_out, w=w_out, seg=seg_out, t=t_out)

    def _segments(
        self, p: Points
    ) -> Iterator[tuple[int, tuple[slice, slice, slice], F32, tuple[F32, F32, F32], F32, F32]]:
        """Per segment: its sub-block, the clamped position t, the offset from the closest point,
        the squared distance and the unclamped position."""
        grow = 1.0 + self.roughness + self.lobulation + 0.05
        rad = np.maximum(self.radius_lat, self.radius_ap) * grow + 1.0
        n_seg = len(self.points) - 1
        for j in range(n_seg):
            a, b = self.points[j], self.points[j + 1]
            r = float(max(rad[j], rad[j + 1]))
            lo, hi = np.minimum(a, b) - r, np.maximum(a, b) + r
            if j == 0 or j == n_seg - 1:
                lo, hi = lo - self.cap, hi + self.cap
            sub = p.sub(lo, hi)
            if sub is None:
                continue
            d = (b - a).astype(np.float32)
            seg_len = float(self._seg_len[j])
            ax = p.x[sub] - np.float32(a[0])
            ay = p.y[sub] - np.float32(a[1])
            az = p.z[sub] - np.float32(a[2])
            t_raw = (ax * d[0] + ay * d[1] + az * d[2]) / np.float32(seg_len * seg_len)
            t = np.clip(t_raw, 0.0, 1.0)
            ex, ey, ez = ax - t * d[0], ay - t * d[1], az - t * d[2]
            yield j, sub, t, (ex, ey, ez), ex * ex + ey * ey + ez * ez, t_raw

    def _circular_level(self, p: Points) -> F32:
        """Level of a circular tube as a union of cones with rounded ends (fast path)."""
        out = np.full(p.shape, np.inf, dtype=np.float32)
        r = self.radius_lat.astype(np.float32)
        for j, sub, t, _, dist, _ in self._segments(p):
            radius = r[j] + t * (r[j + 1] - r[j])
            np.minimum(out[sub], np.sqrt(dist) / np.maximum(radius, 1e-3), out=out[sub])
        out -= 1.0
        if self.roughness:
            out += self.roughness * p.n1
        if self.lobulation:
            out += self.lobulation * p.n2
        return np.asarray(out, dtype=np.float32)

    def level_from_local(
        self,
        loc: TubeLocal,
        p: Points,
        radius_lat: F64,
        radius_ap: F64,
        cap: float | None = None,
        roughness: float | None = None,
    ) -> F32:
        """Level of a cross-section profile (radii per centre-line point) given local coordinates."""
        a = np.maximum(loc.profile(radius_lat), 1e-3)
        b = np.maximum(loc.profile(radius_ap), 1e-3)
        acc = (loc.u / a) ** 2 + (loc.v / b) ** 2
        c = self.cap if cap is None else cap
        # beyond the ends: a rounded cap of semi-axis c, or nothing (flat open end) when c = 0
        acc = acc + (loc.w / np.float32(c)) ** 2 if c > 0 else np.where(loc.w != 0, np.float32(np.inf), acc)
        out = np.sqrt(acc) - 1.0
        rough = self.roughness if roughness is None else roughness
        if rough:
            out += rough * p.n1
        if self.lobulation:
            out += self.lobulation * p.n2
        return np.asarray(out, dtype=np.float32)

    def level(self, p: Points) -> F32:
        if self.cap == 0 and np.array_equal(self.radius_lat, self.radius_ap):
            return self._circular_level(p)
        return self.level_from_local(self.local(p), p, self.radius_lat, self.radius_ap)
