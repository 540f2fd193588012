"""Tissue parameters used to synthesise the phantom's MR signal (SPEC §5.2, §5.3).

Each tissue has T1/T2 at 1.5 T and 3 T (ms), a relative proton density, an ADC (×10⁻³ mm²/s), a
post-contrast gadolinium concentration (mM, at the single delayed phase the phantom renders), a fat
fraction (suppressed on fat-saturated DWI and T1c) and a flow-void flag (flowing blood is dark on
spin-echo sequences). Where a value comes from the SPEC the source key is given; everything else is
an ``ASSUMPTION`` chosen to reproduce the qualitative signal table of SPEC §5.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["TISSUES", "TISSUE_INDEX", "Tissue", "tissue_table"]


@dataclass(frozen=True)
class Tissue:
    """MR parameters of one tissue class (times in ms, ADC in ×10⁻³ mm²/s, gadolinium in mM)."""

    name: str
    t1_15: float
    t2_15: float
    t1_30: float
    t2_30: float
    pd: float
    adc: float
    gd: float
    fat_fraction: float = 0.0
    flow_void: bool = False
    source: str = "ASSUMPTION"


# Order matters only for the integer index used in the tissue map; index 0 is air.
TISSUES: tuple[Tissue, ...] = (
    Tissue("air", 1000, 1, 1000, 1, 0.0, 0.0, 0.0),
    # SPEC §5.2: fat 3 T T1 382 [A10]; apparent TSE T2 134.8 / 102.3 ms [A11]; 1.5 T T1 ASSUMPTION.
    Tissue("fat", 300, 134.8, 382, 102.3, 0.95, 0.05, 0.02, fat_fraction=1.0, source="[A10][A11]"),
    # SPEC §5.2: skeletal muscle 3 T T1 898 [A10]; T2 51.0 / 44.3 ms (gluteus) [A11].
    Tissue("muscle", 1000, 51.0, 898, 44.3, 0.75, 1.4, 0.12, source="[A10][A11]"),
    Tissue("bone_cortex", 1000, 2, 1000, 2, 0.03, 0.0, 0.0),
    Tissue("bone_marrow", 400, 110, 450, 90, 0.85, 0.4, 0.10, fat_fraction=0.85),
    # Simple fluid: very high T2, low T1 (SPEC §5.3 [O2]); ADC ≈ 3.0 free water (UNCERTAIN, §5.2).
    Tissue("urine", 3000, 1500, 3500, 1400, 1.0, 3.0, 0.0),
    Tissue("bladder_wall", 1100, 60, 1300, 55, 0.8, 1.5, 0.35),
    Tissue("rectal_wall", 1100, 70, 1300, 60, 0.8, 1.5, 0.35),
    Tissue("rectal_content", 1000, 40, 1200, 35, 0.15, 1.0, 0.0),
    # Vaginal wall low T2 with bright mucosa/secretions ([C7] sign table, values ASSUMPTION).
    Tissue("vaginal_wall", 1200, 65, 1400, 60, 0.8, 1.4, 0.35),
    # SPEC §5.2 [A9] 1.5 T luteal phase; 3 T T1 [A10], 3 T T2 from mapping [A11]
    # (the [A10] 3 T T2 of 59 ms is an outlier, UNCERTAIN).
    Tissue("endometrium", 1703, 214, 1453, 96.6, 0.9, 1.45, 0.30, source="[A9][A10][A11]; ADC [C13][E7]"),
    # JZ [A9]; 3 T values ASSUMPTION ([A11] 3 T truncated); lower ADC than myometrium [A19].
    Tissue("junctional_zone", 1168, 72, 1300, 46, 0.8, 1.2, 0.50, source="[A9][A19]"),
    Tissue("outer_myometrium", 1314, 138, 1514, 79, 0.85, 1.55, 0.60, source="[A9][A10]"),
    # Cervical stroma: low T2 (§5.3 [A3][E8]); ADC 1.23 [C15]; 3 T T1 of whole cervix 1616 [A10].
    Tissue("cervical_stroma", 1250, 70, 1616, 65, 0.8, 1.23, 0.40, source="[C15][A10]"),
    # Endocervical mucosa / mucus: high T2, ADC 1.83 [C15].
    Tissue("cervical_mucosa", 2000, 250, 2200, 200, 0.95, 1.83, 0.20, source="[C15]"),
    Tissue("ovarian_stroma", 1481, 126, 1600, 90, 0.85, 1.3, 0.30, source="[A9]"),
    Tissue("follicle", 2267, 603, 2500, 550, 1.0, 3.0, 0.0, source="[A9]"),
    # Flowing blood: flow void on spin echo, bright after contrast.
    Tissue("blood", 1400, 200, 1650, 150, 0.9, 2.0, 1.2, flow_void=True),
    Tissue("lymph_node", 1100, 90, 1300, 75, 0.85, 1.0, 0.30),
    Tissue("node_metastatic", 1200, 110, 1400, 90, 0.9, 0.8, 0.35),
    # Cervical carcinoma: intermediate–high T2 vs stroma; 3 T T2 ≈ 84–93 [A16]; ADC 0.66–0.86
    # [C14][C15]; relatively hypo-enhancing vs stroma in the delayed phase [C13].
    Tissue("cervical_carcinoma", 1400, 100, 1500, 88, 0.9, 0.76, 0.30, source="[A16][C14][C15][C13]"),
    # Endometrial carcinoma: T2 between JZ/myometrium and endometrium [C13]; ADC ≈ 0.87 [E7];
    # hypo-enhancing relative to myometrium at equilibrium [E6].
    Tissue("endometrial_carcinoma", 1400, 170, 1500, 88, 0.9, 0.87, 0.30, source="[C13][E7][E6]"),
    # O-RADS fluid types (SPEC §3.1 lexicon, values ASSUMPTION).
    Tissue("haemorrhagic_fluid", 500, 250, 600, 220, 0.95, 1.8, 0.0),
    Tissue("endometriotic_fluid", 400, 45, 450, 40, 0.95, 1.2, 0.0),
    Tissue("proteinaceous_fluid", 1000, 400, 1200, 350, 0.95, 2.2, 0.0),
    Tissue("lipid", 300, 134.8, 382, 102.3, 0.95, 0.05, 0.02, fat_fraction=1.0, source="[A10][A11]"),
    Tissue("cyst_wall", 1100, 60, 1300, 55, 0.8, 1.4, 0.05),
    Tissue("cyst_wall_enhancing", 1100, 60, 1300, 55, 0.8, 1.4, 0.45),
    # Solid tissue enhancing below / at / above outer myometrium (TIC low / intermediate / high).
    Tissue("solid_low", 1200, 100, 1400, 85, 0.85, 1.1, 0.25),
    Tissue("solid_intermediate", 1200, 100, 1400, 85, 0.9, 0.9, 0.50),
    Tissue("solid_high", 1200, 100, 1400, 85, 0.9, 0.8, 0.90),
    # Fibroma-type solid tissue: dark T2 and dark high-b DWI, enhancing (SPEC §5.3 [O1][O4]).
    Tissue("solid_dark", 1100, 40, 1300, 35, 0.75, 1.0, 0.30),
    Tissue("bone_metastasis", 1200, 100, 1400, 85, 0.9, 0.9, 0.35),
    Tissue("bowel_wall", 1100, 70, 1300, 60, 0.8, 1.5, 0.40),
    # small-bowel content: mixed chyme, intermediate-high T2 (below simple fluid)
    Tissue("bowel_content", 1500, 250, 1700, 220, 0.85, 2.0, 0.0),
)

TISSUE_INDEX: dict[str, int] = {t.name: i for i, t in enumerate(TISSUES)}
"""Tissue name → index in :data:`TISSUES` (the value stored in tissue maps)."""


def tissue_table(field_strength_t: float) -> dict[str, npt.NDArray[np.float64]]:
    """Per-tissue parameter vectors indexed by tissue index.

    Args:
        field_strength_t: 1.5 or 3.0 (tesla).

    Returns:
        ``{"t1", "t2", "pd", "adc", "gd", "fat", "flow"}`` → arrays of shape ``(n_tissues,)``.
    """
    high = field_strength_t >= 2.25
    return {
        "t1": np.array([t.t1_30 if high else t.t1_15 for t in TISSUES], dtype=np.float64),
        "t2": np.array([t.t2_30 if high else t.t2_15 for t in TISSUES], dtype=np.float64),
        "pd": np.array([t.pd for t in TISSUES], dtype=np.float64),
        "adc": np.array([t.adc for t in TISSUES], dtype=np.float64),
        "gd": np.array([t.gd for t in TISSUES], dtype=np.float64),
        "fat": np.array([t.fat_fraction for t in TISSUES], dtype=np.float64),
        "flow": np.array([1.0 if t.flow_void else 0.0 for t in TISSUES], dtype=np.float64),
    }
