"""Render MR sequences from a supersampled tissue map (SPEC §5.2 parameters, §5.3 signal model).

* ``t2w`` — TSE: ``S = PD·(1 − e^(−TR/T1))·e^(−TE/T2)`` (SPEC §5.3 suggestion; fat uses its apparent
  TSE T2 from [A11]); flowing blood is a flow void.
* ``dwi_b800`` — fat-saturated spin-echo EPI: ``S_b = S_0·e^(−b·ADC)`` with ``S_0`` the T2-weighted
  signal at the DWI echo time.
* ``adc`` — computed from the noisy ``S_0`` and ``S_b`` images like a scanner does
  (×10⁻³ mm²/s; 0 where ``S_0`` is in the noise floor).
* ``t1c`` — fat-saturated spoiled gradient echo after gadolinium:
  ``1/T1' = 1/T1 + r1·[Gd]``, ``S = PD·sin α·(1 − E1)/(1 − cos α·E1)·e^(−TE/T2)``.

Signals are computed per tissue (a lookup table) and multiplied by a smooth texture, averaged over
the sub-slices of each slice (partial volume along the thick slice), blurred in-plane by a small
Gaussian point-spread function, multiplied by a smooth bias field and corrupted by Rician noise
(``|S + n₁ + i·n₂|``). Each sequence is scaled so that its brightest tissue is ≈ 1000.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from maerad.data.phantom.config import PhantomConfig
from maerad.data.phantom.fields import SmoothField
from maerad.data.phantom.tissues import tissue_table

__all__ = ["bias_field", "render_sequences", "render_t2w", "tissue_signals"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
SCALE = 1000.0
DWI_AVERAGES = 4  # ASSUMPTION: DWI averaged over 4 excitations, noise σ halved relative to t2w / t1c


def tissue_signals(config: PhantomConfig) -> dict[str, F64]:
    """Noise-free signal of every tissue for each sequence, scaled so the brightest tissue is 1000.

    Returns:
        ``{"t2w", "dwi_b0", "dwi_b", "t1c"}`` → arrays of shape ``(n_tissues,)``; also ``"adc"``.
    """
    tab = tissue_table(config.field_strength_t)
    t1, t2, pd, adc = tab["t1"], tab["t2"], tab["pd"], tab["adc"]
    flow = 1.0 - 0.95 * tab["flow"]
    fatsat = 1.0 - config.fat_suppression * tab["fat"]
    t2w = pd * (1.0 - np.exp(-config.t2w_tr_ms / t1)) * np.exp(-config.t2w_te_ms / t2) * flow
    b0 = pd * (1.0 - np.exp(-config.t2w_tr_ms / t1)) * np.exp(-config.dwi_te_ms / t2) * fatsat * flow
    bsig = b0 * np.exp(-config.b_value * adc * 1e-3)
    r1 = 1000.0 / t1 + config.gd_relaxivity * tab["gd"]  # s⁻¹
    e1 = np.exp(-config.t1c_tr_ms * r1 / 1000.0)
    alpha = math.radians(config.t1c_flip_deg)
    t1c = (
        pd
        * math.sin(alpha)
        * (1.0 - e1)
        / (1.0 - math.cos(alpha) * e1)
        * np.exp(-config.t1c_te_ms / t2)
        * fatsat
    )
    out = {"t2w": t2w, "dwi_b0": b0, "dwi_b": bsig, "t1c": t1c}
    scaled = {k: v * (SCALE / float(v.max())) for k, v in out.items() if k != "dwi_b"}
    scaled["dwi_b"] = bsig * (SCALE / float(b0.max()))  # b0 and b share one scale (for the ADC)
    scaled["adc"] = adc
    return scaled


def bias_field(
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    strength: float,
    rng: np.random.Generator,
) -> F32:
    """Smooth multiplicative field ``exp(strength · f)`` on the output grid, ``f`` ∈ [−1, 1]: a random
    low-frequency field plus an antero-posterior gradient (surface coil). Shape ``(D, H, W)``."""
    d, h, w = shape
    z = np.asarray((np.arange(d) - (d - 1) / 2) * spacing[0], dtype=np.float64)
    y = np.asarray((np.arange(h) - (h - 1) / 2) * spacing[1], dtype=np.float64)
    x = np.asarray((np.arange(w) - (w - 1) / 2) * spacing[2], dtype=np.float64)
    smooth = SmoothField.random(rng, terms=3, wavelength_mm=(250.0, 500.0), amplitude=0.6).on_axes(z, y, x)
    half = max(h * spacing[1] / 2.0, 1.0)
    grad = (0.4 * float(rng.choice([-1.0, 1.0])) * y / half).astype(np.float32)[None, :, None]
    return np.asarray(np.exp(strength * (smooth + grad)), dtype=np.float32)


def _downsample(volume: F32, k: int) -> F32:
    """Average ``k`` consecutive sub-slices: ``(D·k, H, W)`` → ``(D, H, W)``."""
    if k == 1:
        return volume
    dk, h, w = volume.shape
    return np.asarray(volume.reshape(dk // k, k, h, w).mean(axis=1, dtype=np.float32), dtype=np.float32)


def _blur(volume: F32, sigma: float) -> F32:
    """Separable in-plane Gaussian blur of ``(D, H, W)`` (edges replicated)."""
    if sigma <= 0:
        return volume
    radius = max(1, math.ceil(2.0 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    out = volume
    for axis in (1, 2):
        src = np.moveaxis(out, axis, 0)
        acc = taps[radius] * src
        n = src.shape[0]
        for k in range(1, radius + 1):
            acc[k:] += taps[radius - k] * src[:-k]  # neighbour before
            acc[:k] += taps[radius - k] * src[:1]
            acc[:-k] += taps[radius + k] * src[k:]  # neighbour after
            acc[n - k :] += taps[radius + k] * src[-1:]
        out = np.moveaxis(acc, 0, axis)
    return np.ascontiguousarray(out, dtype=np.float32)


def _rician(signal: F32, sigma: float, rng: np.random.Generator) -> F32:
    if sigma <= 0:
        return signal.astype(np.float32)
    real = signal + np.float32(sigma) * rng.standard_normal(signal.shape, dtype=np.float32)
    imag = np.float32(sigma) * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.asarray(np.sqrt(real * real + imag * imag), dtype=np.float32)


def _image(values: F64, tissue: npt.NDArray[np.uint8], texture: F32, k: int, sigma_px: float) -> F32:
    vol = values.astype(np.float32)[tissue] * texture
    return _blur(_downsample(vol, k), sigma_px)


def render_t2w(
    tissue: npt.NDArray[np.uint8], texture: F32, bias: F32, config: PhantomConfig, rng: np.random.Generator
) -> F32:
    """T2-weighted image ``(D, H, W)`` from a supersampled tissue map ``(D·k, H, W)``."""
    sig = tissue_signals(config)
    img = _image(sig["t2w"], tissue, texture, config.supersample, config.psf_sigma_px) * bias
    return _rician(img, config.noise_level * SCALE, rng)


def render_sequences(
    tissue: npt.NDArray[np.uint8],
    texture: F32,
    adc_texture: F32,
    bias: F32,
    config: PhantomConfig,
    rng: np.random.Generator,
) -> dict[str, F32]:
    """All sequences of a study.

    Args:
        tissue: supersampled tissue map ``(D·k, H, W)`` (indices into :data:`~.tissues.TISSUES`).
        texture: multiplicative signal texture on the same grid (≈ 1).
        adc_texture: multiplicative ADC texture on the same grid (≈ 1).
        bias: bias field on the output grid ``(D, H, W)``.
        config: acquisition parameters.
        rng: generator for the noise.

    Returns:
        ``{"t2w", "dwi_b800", "adc", "t1c"}`` → float32 ``(D, H, W)``; ``adc`` in ×10⁻³ mm²/s.
    """
    sig = tissue_signals(config)
    k, psf = config.supersample, config.psf_sigma_px
    sigma = config.noise_level * SCALE
    t2w = _rician(_image(sig["t2w"], tissue, texture, k, psf) * bias, sigma, rng)
    b0_tex = sig["dwi_b0"].astype(np.float32)[tissue] * texture
    adc_vox = sig["adc"].astype(np.float32)[tissue] * adc_texture
    bvox = b0_tex * np.exp(-np.float32(config.b_value * 1e-3) * adc_vox)
    b0 = _blur(_downsample(b0_tex, k), psf) * bias
    bb = _blur(_downsample(bvox.astype(np.float32), k), psf) * bias
    sigma_dwi = sigma / math.sqrt(DWI_AVERAGES)
    b0n = _rician(b0, sigma_dwi, rng)
    bbn = _rician(bb, sigma_dwi, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        adc = np.log(np.maximum(b0n, 1e-3) / np.maximum(bbn, 1e-3)) / (config.b_value * 1e-3)
    floor = max(5.0 * sigma_dwi, 0.02 * SCALE)
    adc32 = np.asarray(np.where(b0n > floor, np.clip(adc, 0.0, 4.0), 0.0), dtype=np.float32)
    t1c = _rician(_image(sig["t1c"], tissue, texture, k, psf) * bias, sigma, rng)
    return {"t2w": t2w, "dwi_b800": bbn, "adc": adc32, "t1c": t1c}
