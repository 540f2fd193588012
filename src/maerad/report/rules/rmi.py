"""Risk of Malignancy Index I / II / III (SPEC §3.3): ``RMI = U × M × CA-125``.

Examples::

    >>> from maerad.report.rules import rmi
    >>> r = rmi(2, True, 100.0)            # RMI I: U = 3, M = 3
    >>> (r.u, r.m, r.rmi, r.at_or_above_cutoff)
    (3, 3, 900.0, True)
"""

from __future__ import annotations

import math
from typing import Literal

from maerad.errors import ConfigError, FindingsError
from maerad.report.rules.findings import Findings, Flag, NonNegative
from maerad.report.rules.results import RmiResult

__all__ = ["RmiInput", "RmiVariant", "rmi", "rmi_from_input"]

SYSTEM = "rmi"

RmiVariant = Literal["I", "II", "III"]


class RmiInput(Findings):
    """The five ultrasound (or MRI-derived) features, menopausal status and serum CA-125 (SPEC §3.3).

    Postmenopausal (NICE): no period for more than 1 year, or age over 50 after hysterectomy.
    """

    multilocular_cyst: Flag = False
    solid_areas: Flag = False
    metastases: Flag = False
    ascites: Flag = False
    bilateral_lesions: Flag = False
    postmenopausal: Flag = False
    ca125_u_ml: NonNegative

    @property
    def n_features(self) -> int:
        """Number of the five features present (0–5)."""
        return sum((self.multilocular_cyst, self.solid_areas, self.metastases, self.ascites,
                    self.bilateral_lesions))


def _u_m(n_features: int, postmenopausal: bool, variant: RmiVariant) -> tuple[int, int]:
    """SPEC §3.3 table: ultrasound score U and menopausal score M."""
    if variant == "I":  # Jacobs 1990
        return (0 if n_features == 0 else 1 if n_features == 1 else 3), (3 if postmenopausal else 1)
    if variant == "II":  # Tingulstad 1996
        return (1 if n_features <= 1 else 4), (4 if postmenopausal else 1)
    return (1 if n_features <= 1 else 3), (3 if postmenopausal else 1)  # III, Tingulstad 1999


def rmi(
    n_features: int,
    postmenopausal: bool,
    ca125_u_ml: float,
    variant: RmiVariant = "I",
    *,
    cutoff: float = 200.0,
    ca125_raised_u_ml: float = 35.0,
    features_from_mri: bool = False,
) -> RmiResult:
    """Risk of Malignancy Index (SPEC §3.3).

    Args:
        n_features: number of features present (multilocular, solid areas, metastases, ascites,
            bilateral), 0–5.
        postmenopausal: menopausal status (NICE definition).
        ca125_u_ml: serum CA-125 in U/mL (= IU/mL), raw value.
        variant: ``"I"`` (Jacobs), ``"II"`` or ``"III"`` (Tingulstad).
        cutoff: referral threshold; 200 (default, Jacobs) or 250 (NICE CG122).
        ca125_raised_u_ml: CA-125 "raised" threshold, default 35 U/mL (NICE; U18 configurable).
        features_from_mri: the features were read from MRI, not ultrasound: adds the flag
            ``rmi_features_from_mri`` (an adaptation, SPEC §3.3 ASSUMPTION).

    Returns:
        :class:`RmiResult` with ``u``, ``m``, ``rmi = u * m * ca125_u_ml`` and
        ``at_or_above_cutoff = rmi >= cutoff``.

    Raises:
        FindingsError: a feature count outside 0–5 or a negative / non-finite CA-125.
        ConfigError: an unknown variant or a non-positive threshold.

    Examples::

        >>> rmi(1, False, 40.0, "II").rmi
        40.0
    """
    if variant not in ("I", "II", "III"):
        raise ConfigError(f"RMI variant must be I, II or III, got {variant!r}")
    for name, value in (("cutoff", cutoff), ("ca125_raised_u_ml", ca125_raised_u_ml)):
        if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"RMI option {name} must be a positive number, got {value!r}")
    if isinstance(n_features, bool) or not isinstance(n_features, int) or not 0 <= n_features <= 5:
        raise FindingsError(f"RMI n_features: got {n_features!r}, expected an integer 0-5")
    if isinstance(ca125_u_ml, bool) or not math.isfinite(ca125_u_ml) or ca125_u_ml < 0:
        raise FindingsError(f"RMI ca125_u_ml: got {ca125_u_ml!r}, expected a finite number >= 0")
    u, m = _u_m(n_features, bool(postmenopausal), variant)
    value = float(u * m) * float(ca125_u_ml)
    flags: list[str] = []
    if features_from_mri:
        flags.append("rmi_features_from_mri")
    raised = ca125_u_ml >= ca125_raised_u_ml  # SPEC §3.3: >= 35 is raised
    return RmiResult(
        system=SYSTEM, variant=variant, u=u, m=m, ca125_u_ml=float(ca125_u_ml), rmi=value,
        cutoff=float(cutoff), at_or_above_cutoff=value >= cutoff, ca125_raised=raised, flags=tuple(flags),
    )


def rmi_from_input(
    f: RmiInput,
    *,
    variant: RmiVariant = "I",
    cutoff: float = 200.0,
    ca125_raised_u_ml: float = 35.0,
    features_from_mri: bool = False,
) -> RmiResult:
    """:func:`rmi` on a validated :class:`RmiInput` (used by ``maerad stage --system rmi``).

    Examples::

        >>> rmi_from_input(RmiInput(solid_areas=True, ascites=True, ca125_u_ml=30.0), cutoff=250.0).rmi
        90.0
    """
    return rmi(f.n_features, f.postmenopausal, f.ca125_u_ml, variant, cutoff=cutoff,
               ca125_raised_u_ml=ca125_raised_u_ml, features_from_mri=features_from_mri)
