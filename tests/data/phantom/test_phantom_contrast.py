"""Tissue contrast stated by the SPEC (§1.5, §2.4, §5.3) appears in the rendered images."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from helpers_phantom import erode_inplane

from maerad.data.phantom import LABELS, PhantomCase, PhantomConfig, generate_case


def _median(case: PhantomCase, seq: str, *names: str, erode: bool = True) -> float:
    labels = case.study.labels
    assert labels is not None
    mask: npt.NDArray[np.bool_] = np.isin(labels, [LABELS[n] for n in names])
    if erode:
        mask = erode_inplane(mask)
    assert mask.sum() >= 5, f"too few {names} voxels"
    return float(np.median(case.study.sequences[seq][mask]))


def _premenopausal_normal(factory: Callable[..., PhantomCase]) -> PhantomCase:
    for seed in range(40):
        case = factory("normal", seed)
        labels = case.study.labels
        assert labels is not None
        if (
            case.study.metadata["anatomy"]["menopausal_status"] == "premenopausal"
            and erode_inplane(labels == LABELS["endometrium"]).sum() >= 20
        ):
            return case
    raise AssertionError("no premenopausal case in 40 seeds")


def test_zonal_anatomy_on_t2w(case_factory: Callable[..., PhantomCase]) -> None:
    case = _premenopausal_normal(case_factory)
    jz = _median(case, "t2w", "junctional_zone", erode=False)
    om = _median(case, "t2w", "outer_myometrium")
    endo = _median(case, "t2w", "endometrium")
    assert jz < om < endo  # SPEC §2.4 / §5.3: JZ low, outer myometrium intermediate, endometrium high


def test_fluid_is_brightest_on_t2w(case_factory: Callable[..., PhantomCase]) -> None:
    case = _premenopausal_normal(case_factory)
    labels = case.study.labels
    assert labels is not None
    urine = _median(case, "t2w", "bladder_lumen")
    for name, value in LABELS.items():
        if value == 0 or name in ("bladder_lumen", "follicle", "free_fluid", "ureter"):
            continue  # simple fluid itself (SPEC §5.3: urine, follicle; ureters may hold urine)
        if erode_inplane(labels == value).sum() >= 20:
            assert _median(case, "t2w", name) < urine, name
    # reference tissues of SPEC §5.3: muscle is T2-dark, fat bright on TSE and suppressed on T1c
    assert _median(case, "t2w", "obturator_internus") < _median(case, "t2w", "outer_myometrium")
    assert _median(case, "t1c", "fat") < _median(case, "t1c", "outer_myometrium")


def test_cervical_tumour_signal(case_factory: Callable[..., PhantomCase]) -> None:
    case = case_factory("cervical", 21, stage="IB3")
    # SPEC §1.5: tumour intermediate–high T2 vs low-T2 stroma, high b800 signal, low ADC
    assert _median(case, "t2w", "tumour_cervix") > _median(case, "t2w", "cervical_stroma", erode=False)
    assert _median(case, "dwi_b800", "tumour_cervix") > _median(
        case, "dwi_b800", "cervical_stroma", erode=False
    )
    assert _median(case, "adc", "tumour_cervix") < _median(case, "adc", "cervical_stroma", erode=False)
    assert 0.5 < _median(case, "adc", "tumour_cervix") < 1.0  # SPEC §5.2: 0.66–0.86 ×10⁻³ mm²/s


def test_endometrial_tumour_signal(case_factory: Callable[..., PhantomCase]) -> None:
    case = case_factory("endometrial", 21, stage="IB")
    # SPEC §2.4: low ADC; hypo-enhancing relative to myometrium at equilibrium (§5.3)
    assert _median(case, "adc", "tumour_endometrium") < _median(case, "adc", "outer_myometrium")
    assert _median(case, "t1c", "tumour_endometrium") < _median(case, "t1c", "outer_myometrium")


def test_rician_noise_floor_and_noise_free_option() -> None:
    clean = generate_case("normal", seed=2, config=PhantomConfig(noise_level=0.0, bias_strength=0.0))
    noisy = generate_case("normal", seed=2)
    assert clean.study.labels is not None
    air = clean.study.labels == 0
    for _ in range(3):  # away from the skin (in-plane point-spread function)
        air = erode_inplane(air)
    assert air.sum() > 1000
    assert float(np.abs(clean.study.sequences["t2w"][air]).max()) == 0.0
    # Rician magnitude of pure noise is Rayleigh distributed: mean σ·√(π/2), σ = 0.02 × 1000
    sigma = 0.02 * 1000.0
    mean_air = float(noisy.study.sequences["t2w"][air].mean())
    assert 0.85 * sigma * math.sqrt(math.pi / 2) < mean_air < 1.15 * sigma * math.sqrt(math.pi / 2)
