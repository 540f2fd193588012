"""The uterus as one curved tube with zonal layers (SPEC §5.1, §5.3).

The centre line starts at the external os, runs straight along the cervical axis (version angle),
bends by the flexion angle just above the internal os and runs straight to the fundus; a lateral
tilt rotates the whole uterus about the antero-posterior axis. Radii vary along the arc length
``s``: cervix (``s < cervix_length``), isthmus, a pear-shaped corpus and an elliptic fundal cap.
Inside: the endometrial cavity (a flat slit, wide towards the fundus), the junctional zone around
it, outer myometrium; in the cervix the canal (mucosa) and the low-T2 stroma.

Lesions can enlarge the cervix (``cervix_min``) or the cavity (``cavity_min``): callables giving the
minimal lateral / antero-posterior radii needed at each ``s``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.anatomy import AnatomyParams
from maerad.data.phantom.canvas import Canvas
from maerad.data.phantom.shapes import Points, Tube, TubeLocal

__all__ = ["RadiusFn", "UterusModel", "build_uterus"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
RadiusFn = Callable[[F64], tuple[F64, F64]]

MIN_MYOMETRIUM_MM = 4.0  # ASSUMPTION: outer myometrium kept at least this thick around the JZ


@dataclass
class UterusModel:
    """A built uterus: the tube, its layer profiles (per centre-line point) and key points."""

    tube: Tube
    cervix_length: float
    length: float
    outer: tuple[F64, F64]
    endometrium: tuple[F64, F64]
    jz: tuple[F64, F64]
    canal: tuple[F64, F64]
    external_os: F64
    internal_os: F64
    fundus: F64
    roughness: float = 0.04

    def level(self, loc: TubeLocal, p: Points, layer: str) -> F32:
        """Level of a layer (``outer``, ``endometrium``, ``jz``, ``canal``) from local coordinates."""
        lat, ap = getattr(self, layer)
        rough = self.roughness if layer == "outer" else 0.5 * self.roughness
        return self.tube.level_from_local(
            loc, p, lat, ap, cap=4.0 if layer == "outer" else 0.0, roughness=rough
        )

    def surface_ap(self, loc: TubeLocal, p: Points, layer: str) -> F32:
        """Antero-posterior half-extent of a layer at each point's ``(s, u)`` (0 outside its width)."""
        lat, ap = getattr(self, layer)
        a = np.maximum(loc.profile(lat), 1e-3)
        b = loc.profile(ap)
        rough = self.roughness if layer == "outer" else 0.5 * self.roughness
        lim = 1.0 - rough * p.n1
        inner = np.maximum(lim * lim - (loc.u / a) ** 2, 0.0)
        return np.asarray(b * np.sqrt(inner), dtype=np.float32)

    def paint(self, canvas: Canvas) -> tuple[tuple[slice, slice, slice], Points, TubeLocal] | None:
        """Paint the uterine layers; returns the crop, its points and local coordinates for lesions."""
        sl = canvas.crop(*self.tube.bbox())
        if sl is None:
            return None
        pts = canvas.points(sl)
        loc = self.tube.local(pts)
        inside = self.level(loc, pts, "outer") < 0
        cervix = inside & (loc.s < self.cervix_length)
        corpus = inside & ~cervix
        canvas.set(sl, corpus, "outer_myometrium", "outer_myometrium")
        canvas.set(sl, corpus & (self.level(loc, pts, "jz") < 0), "junctional_zone", "junctional_zone")
        canvas.set(sl, corpus & (self.level(loc, pts, "endometrium") < 0), "endometrium", "endometrium")
        canvas.set(sl, cervix, "cervical_stroma", "cervical_stroma")
        canvas.set(sl, cervix & (self.level(loc, pts, "canal") < 0), "cervical_mucosa", "cervical_canal")
        return sl, pts, loc

    def point(self, s: float, u: float = 0.0, v: float = 0.0) -> F64:
        """Anatomy-space point at local coordinates ``(s, u, v)``."""
        _, lat, nor = self.tube.frame_at(s)
        return self.tube.point_at(s) + u * lat + v * nor


def _smoothstep(x: F64) -> F64:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _cap(x: F64, start: float) -> F64:
    """1 before ``start``, an elliptic fall to 0 at x = 1."""
    t = np.clip((x - start) / max(1.0 - start, 1e-6), 0.0, 1.0)
    return np.sqrt(np.maximum(1.0 - t * t, 0.0))


def build_uterus(
    params: AnatomyParams,
    cx_point: F64,
    *,
    cervix_length: float | None = None,
    cervix_min: RadiusFn | None = None,
    cavity_min: RadiusFn | None = None,
    samples: int = 20,
) -> UterusModel:
    """Build the uterus so that its anterior lip (SPEC §4.1 ``Cx``) lies at ``cx_point``.

    Args:
        params: sampled anatomy.
        cx_point: anatomy-space position of the cervix's anterior lip.
        cervix_length: override (a bulky cervical tumour lengthens the cervix).
        cervix_min: minimal cervical radii ``(lat, ap)`` at arc lengths ``s`` (tumour + stromal ring).
        cavity_min: minimal endometrial-cavity radii at ``s`` (intracavitary tumour).
        samples: centre-line points.
    """
    lc = params.cervix_length if cervix_length is None else max(cervix_length, params.cervix_length)
    corpus_len = max(params.uterine_length - params.cervix_length, 12.0)
    length = lc + corpus_len
    theta = math.radians(params.cervix_angle_deg)
    phi = math.radians(params.flexion_deg)
    bend_len = min(15.0, 0.35 * corpus_len)
    s = np.linspace(0.0, length, samples)
    angle = np.where(s <= lc, theta, theta + phi * np.clip((s - lc) / bend_len, 0.0, 1.0))
    # integrate the direction along s (mid-sagittal plane: y = sin, z = cos of the angle)
    ds = np.diff(s)
    mid = 0.5 * (angle[1:] + angle[:-1])
    y = np.concatenate([[0.0], np.cumsum(ds * np.sin(mid))])
    z = np.concatenate([[0.0], np.cumsum(ds * np.cos(mid))])
    local_pts = np.stack([np.zeros_like(s), y, z], axis=1)
    tilt = math.radians(params.lateral_tilt_deg)
    rot = np.array(
        [[math.cos(tilt), 0.0, math.sin(tilt)], [0.0, 1.0, 0.0], [-math.sin(tilt), 0.0, math.cos(tilt)]]
    )
    local_pts = local_pts @ rot.T
    lateral = rot @ np.array([1.0, 0.0, 0.0])

    # radii profiles
    rc_lat, rc_ap = params.cervix_radius_lat, params.cervix_radius_ap
    half_w, half_t = params.corpus_width / 2.0, params.corpus_thickness / 2.0
    tip = 0.72 + 0.28 * np.clip(s / 5.0, 0.0, 1.0)
    sc = (s - lc) / corpus_len  # 0 at the internal os, 1 at the fundus
    rise = _smoothstep((sc + 0.05) / 0.65)
    corpus_lat = (0.85 * rc_lat + (half_w - 0.85 * rc_lat) * rise) * _cap(sc, 0.62)
    corpus_ap = (0.85 * rc_ap + (half_t - 0.85 * rc_ap) * rise) * _cap(sc, 0.55)
    outer_lat = np.where(s < lc, rc_lat * tip, corpus_lat)
    outer_ap = np.where(s < lc, rc_ap * tip, corpus_ap)
    if cervix_min is not None:
        need_lat, need_ap = cervix_min(s)
        outer_lat = np.where(s <= lc + 2.0, np.maximum(outer_lat, need_lat), outer_lat)
        outer_ap = np.where(s <= lc + 2.0, np.maximum(outer_ap, need_ap), outer_ap)

    # endometrial cavity: flat slit, triangular in the coronal plane, fundal myometrium spared
    fundal = max(6.0, 0.16 * corpus_len)
    end = 1.0 - fundal / corpus_len
    et_half = params.endometrial_thickness / 2.0
    shape = np.clip(sc / max(end, 1e-3), 0.0, 1.0)
    endo_lat = np.where(
        sc >= 0, (1.5 + (0.55 * half_w - 1.5) * _smoothstep(shape / 0.8)) * _cap(shape, 0.8), 0.0
    )
    endo_ap = np.where(sc >= 0, et_half * (0.45 + 0.55 * _smoothstep(shape / 0.3)) * _cap(shape, 0.7), 0.0)
    if cavity_min is not None:
        need_lat, need_ap = cavity_min(s)
        endo_lat = np.where(sc >= 0, np.maximum(endo_lat, need_lat), endo_lat)
        endo_ap = np.where(sc >= 0, np.maximum(endo_ap, need_ap), endo_ap)
    jz = params.jz_thickness
    jz_shape = np.clip(sc / max(end + jz / corpus_len, 1e-3), 0.0, 1.0)
    jz_lat = np.where(sc >= -0.02, np.maximum(endo_lat, 0.0) + jz * _cap(jz_shape, 0.85), 0.0)
    jz_ap = np.where(sc >= -0.02, np.maximum(endo_ap, 0.0) + jz * _cap(jz_shape, 0.85), 0.0)
    # keep at least MIN_MYOMETRIUM_MM of outer myometrium: grow the uterus where a lesion needs it
    outer_lat = np.where(
        s >= lc, np.maximum(outer_lat, (jz_lat + MIN_MYOMETRIUM_MM) * (jz_lat > 0)), outer_lat
    )
    outer_ap = np.where(s >= lc, np.maximum(outer_ap, (jz_ap + MIN_MYOMETRIUM_MM) * (jz_ap > 0)), outer_ap)
    canal_half = 3.5 if not params.postmenopausal else 2.5
    canal_lat = np.where(s <= lc + 1.0, canal_half, 0.0)
    canal_ap = np.where(s <= lc + 1.0, 1.8, 0.0)

    # place: the anterior lip (Cx) is on the surface along the normal, 2 mm above the os
    tube0 = Tube(local_pts, outer_lat, outer_ap, lateral=lateral, cap=4.0)
    t0, _, n0 = tube0.frame_at(0.0)
    anterior_lip = local_pts[0] + 2.0 * t0 + rc_ap * tip[0] * n0
    offset = np.asarray(cx_point, dtype=np.float64) - anterior_lip
    pts = local_pts + offset
    tube = Tube(pts, outer_lat, outer_ap, lateral=lateral, cap=4.0)
    return UterusModel(
        tube=tube,
        cervix_length=lc,
        length=length,
        outer=(outer_lat, outer_ap),
        endometrium=(endo_lat, endo_ap),
        jz=(jz_lat, jz_ap),
        canal=(canal_lat, canal_ap),
        external_os=pts[0].copy(),
        internal_os=tube.point_at(lc),
        fundus=pts[-1].copy(),
    )
