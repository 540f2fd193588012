"""PATH / LAB attributes of an endometrial carcinoma, sampled independently of the image (SPEC §2.6).

Histotype, grade, LVSI, molecular class and residual disease after surgery feed the FIGO 2023 stage
and the ESGO/ESTRO/ESP 2020 risk group through the rule engines (never hand-assigned). The
frequencies are an ``ASSUMPTION`` (roughly the mix of a surgical series: mostly low-grade
endometrioid; molecular classes POLEmut / MMRd / p53abn / NSMP ≈ 7 / 28 / 20 / 45 %).

Examples::

    >>> import numpy as np
    >>> sorted(sample_pathology(np.random.default_rng(0), "IB"))
    ['grade', 'histotype', 'lvsi', 'molecular', 'residual_disease']
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["HISTOTYPE_P", "MOLECULAR_P", "sample_pathology"]

HISTOTYPE_P = {
    "endometrioid": 0.80,
    "serous": 0.09,
    "clear_cell": 0.03,
    "carcinosarcoma": 0.04,
    "undifferentiated": 0.02,
    "mixed": 0.02,
}
GRADE_P = {"G1": 0.45, "G2": 0.35, "G3": 0.20}
LVSI_P = {"none": 0.6, "focal": 0.2, "substantial": 0.2}
MOLECULAR_P = {"POLEmut": 0.07, "MMRd": 0.28, "p53abn": 0.20, "NSMP": 0.45}
RESIDUAL_P = 0.15  # stage III–IVA only; residual disease separates "advanced" from "high" (SPEC §7.1)


def _pick(rng: np.random.Generator, table: dict[str, float]) -> str:
    names = list(table)
    p = np.array([table[n] for n in names])
    return str(names[int(rng.choice(len(names), p=p / p.sum()))])


def sample_pathology(rng: np.random.Generator, figo2009_stage: str) -> dict[str, Any]:
    """Histotype, grade (G3 for non-endometrioid types, which are high-grade), LVSI, molecular class and
    residual disease (possible only in stages III–IVA)."""
    histotype = _pick(rng, HISTOTYPE_P)
    grade = _pick(rng, GRADE_P) if histotype == "endometrioid" else "G3"
    lvsi = _pick(rng, LVSI_P)
    molecular = _pick(rng, MOLECULAR_P)
    residual = bool(figo2009_stage.startswith("III") or figo2009_stage == "IVA") and bool(
        rng.uniform() < RESIDUAL_P
    )
    return {
        "histotype": histotype,
        "grade": grade,
        "lvsi": lvsi,
        "molecular": molecular,
        "residual_disease": residual,
    }
