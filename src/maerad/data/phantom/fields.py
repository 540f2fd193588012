"""Smooth random fields: separable sums of cosines, cheap to evaluate on a grid by broadcasting.

A field is ``f(x, y, z) = Σ_k a_k · cos(ωx_k·x + φx_k) · cos(ωy_k·y + φy_k) · cos(ωz_k·z + φz_k)``
with random wavelengths in a band. Each factor is evaluated on a 1-D axis and the terms are formed
by broadcasting, so a ``(D, H, W)`` field costs a few full-size multiplications per term. Used for
the anatomy displacement field, organ surface irregularity, intra-tissue texture and the bias field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SmoothField"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SmoothField:
    """A random separable cosine field with values in ``[-amplitude, amplitude]``.

    Args:
        omegas: ``(K, 3)`` angular frequencies (rad/mm) along (x, y, z).
        phases: ``(K, 3)`` phases (rad).
        weights: ``(K,)`` term weights; ``Σ|weights| = amplitude`` bounds the field.
    """

    omegas: F64
    phases: F64
    weights: F64

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        *,
        terms: int,
        wavelength_mm: tuple[float, float],
        amplitude: float,
    ) -> SmoothField:
        """Draw a field with ``terms`` terms and wavelengths uniform in ``wavelength_mm``."""
        lam = rng.uniform(wavelength_mm[0], wavelength_mm[1], size=(terms, 3))
        omegas = 2.0 * np.pi / lam
        phases = rng.uniform(0.0, 2.0 * np.pi, size=(terms, 3))
        raw = rng.uniform(0.5, 1.0, size=terms) * rng.choice([-1.0, 1.0], size=terms)
        weights = raw / np.abs(raw).sum() * amplitude
        return cls(omegas=omegas, phases=phases, weights=weights)

    @property
    def bound(self) -> float:
        """An upper bound of ``|f|`` anywhere."""
        return float(np.abs(self.weights).sum())

    def on_axes(self, z: F64, y: F64, x: F64) -> F32:
        """Evaluate on the tensor grid of 1-D coordinate vectors: returns ``(len(z), len(y), len(x))``."""
        out = np.zeros((z.size, y.size, x.size), dtype=np.float32)
        for (wx, wy, wz), (px, py, pz), a in zip(self.omegas, self.phases, self.weights, strict=True):
            fz = (a * np.cos(wz * z + pz)).astype(np.float32)[:, None, None]
            fy = np.cos(wy * y + py).astype(np.float32)[None, :, None]
            fx = np.cos(wx * x + px).astype(np.float32)[None, None, :]
            out += (fz * fy) * fx
        return out

    def at_points(self, points: F64) -> F64:
        """Evaluate at ``(N, 3)`` points (x, y, z) in mm: returns ``(N,)``."""
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        phase = pts[:, None, :] * self.omegas[None, :, :] + self.phases[None, :, :]
        return np.asarray((np.cos(phase).prod(axis=2) * self.weights[None, :]).sum(axis=1), dtype=np.float64)
