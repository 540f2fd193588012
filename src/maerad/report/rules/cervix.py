"""FIGO 2018 staging of cervical cancer as an MRI decision procedure (SPEC §1.1–1.3).

The most advanced stage whose criteria are met wins (SPEC §0 precedence rule); equivocal findings
never up-stage, they add a flag instead (SPEC §0, U2).

Examples::

    >>> from maerad.report.rules import CervixFindings, figo2018_cervix
    >>> figo2018_cervix(CervixFindings(tumour_visible=True, max_diameter_mm=40.0)).stage
    'IB3'
    >>> figo2018_cervix(CervixFindings(tumour_visible=True, max_diameter_mm=40.0),
    ...                 boundaries="original_2018").stage
    'IB2'
    >>> figo2018_cervix(CervixFindings(tumour_visible=True, nodes_pelvic_positive=True)).label
    'IIIC1r'
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from maerad.errors import ConfigError
from maerad.report.rules.findings import Findings, Flag, Millimetres
from maerad.report.rules.results import StageResult

__all__ = ["CERVIX_STAGE_ORDER", "Boundaries", "CervixFindings", "figo2018_cervix"]

Boundaries = Literal["corrigendum_2019", "original_2018"]
MucosaStatus = Literal["absent", "suspected", "biopsy_proven"]
PelvicStation = Literal[
    "parametrial", "obturator", "internal_iliac", "external_iliac", "common_iliac", "presacral"
]

# Least to most advanced; "I" (stage I, substage not determinable by MRI) ranks lowest.
CERVIX_STAGE_ORDER: tuple[str, ...] = (
    "I", "IA1", "IA2", "IB1", "IB2", "IB3", "IIA1", "IIA2", "IIB",
    "IIIA", "IIIB", "IIIC1", "IIIC2", "IVA", "IVB",
)

# SPEC §1.1: generic "FIGO stage X" NCIt codes of the mCODE value set [T1].
_NCI_CODES = {
    "I": "C96244", "IA1": "C96246", "IA2": "C96247", "IB1": "C96249", "IB2": "C96250",
    "IB3": "C162222", "IIA1": "C162223", "IIA2": "C162224", "IIB": "C96254", "IIIA": "C96256",
    "IIIB": "C96257", "IIIC1": "C96259", "IIIC2": "C96260", "IVA": "C96262", "IVB": "C96263",
}

SYSTEM = "figo2018-cervix"


class CervixFindings(Findings):
    """MRI-observable (and optional pathology) findings for cervical cancer (SPEC §1.2).

    Every field has a default meaning "absent / not seen", so ``{}`` is a valid (stage I) case.
    """

    tumour_visible: Flag = False
    max_diameter_mm: Millimetres = 0.0
    dims_mm: tuple[Millimetres, Millimetres, Millimetres] | None = None  # (cc, ap, lr)
    stromal_ring: Literal["intact", "thinned", "full_thickness_disruption"] = "intact"
    parametrial_invasion: Literal["absent", "present", "equivocal"] = "absent"
    parametrial_side: Literal["left", "right", "bilateral"] | None = None
    vaginal_involvement: Literal["none", "upper_two_thirds", "lower_third"] = "none"
    pelvic_sidewall: Flag = False
    hydronephrosis: Literal["none", "left", "right", "bilateral"] = "none"
    other_cause_known: Flag = False
    nodes_pelvic_positive: Flag = False
    nodes_pelvic_stations: tuple[PelvicStation, ...] = ()
    nodes_paraaortic_positive: Flag = False
    inguinal_nodes_positive: Flag = False
    bladder_mucosa: MucosaStatus = "absent"
    rectal_mucosa: MucosaStatus = "absent"
    bullous_oedema: Flag = False
    distant_mets: Flag = False
    distant_sites: tuple[str, ...] = ()
    uterine_corpus_extension: Flag = False
    path_depth_mm: Millimetres | None = None
    path_stage_IA: Literal["IA1", "IA2"] | None = None  # SPEC §1.2 field name
    nodes_from_pathology: Flag = False
    dist_tumour_to_internal_os_mm: Millimetres | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CervixFindings:
        if self.nodes_pelvic_stations and not self.nodes_pelvic_positive:
            raise ValueError(
                "field 'nodes_pelvic_stations' lists stations but 'nodes_pelvic_positive' is false"
            )
        if self.distant_sites and not self.distant_mets:
            raise ValueError("field 'distant_sites' lists sites but 'distant_mets' is false")
        if self.parametrial_side is not None and self.parametrial_invasion == "absent":
            raise ValueError("field 'parametrial_side' is set but 'parametrial_invasion' is absent")
        return self


def _at_least(value_mm: float, cut_mm: float, boundaries: Boundaries) -> bool:
    """SPEC §1.1.1: ``>=`` under the 2019 corrigendum, ``>`` under the original 2018 tables."""
    return value_mm >= cut_mm if boundaries == "corrigendum_2019" else value_mm > cut_mm


def _depth_stage(depth_mm: float, boundaries: Boundaries) -> str | None:
    """IA1 / IA2 from the pathological invasion depth, or ``None`` when the depth means ≥ IB (§1.1.1)."""
    if _at_least(depth_mm, 5.0, boundaries):
        return None
    return "IA2" if _at_least(depth_mm, 3.0, boundaries) else "IA1"


def figo2018_cervix(
    f: CervixFindings,
    *,
    boundaries: Boundaries = "corrigendum_2019",
    stage_iva_on_mri_suspicion: bool = False,
    inguinal_nodes_stage: Literal["IVB", "not_staged"] = "IVB",
) -> StageResult:
    """FIGO 2018 stage of a cervical cancer from MRI findings (SPEC §1.3, first match wins).

    Args:
        f: the findings.
        boundaries: ``"corrigendum_2019"`` (default; IB1 < 20 mm, IB3 ≥ 40 mm) or ``"original_2018"``
            (IB1 ≤ 20 mm, IB3 > 40 mm) — SPEC §1.1.1, U1.
        stage_iva_on_mri_suspicion: stage IVA on *suspected* (not biopsy-proven) bladder/rectal
            mucosal invasion; off by default because FIGO requires biopsy proof (SPEC §1.3).
        inguinal_nodes_stage: ``"IVB"`` (default) treats positive inguinal nodes as distant
            metastasis; ``"not_staged"`` only flags them. UNCERTAIN (SPEC §1.3, U3).

    Returns:
        :class:`StageResult` with ``stage`` (e.g. ``"IIIC1"``), ``suffix`` ``"r"``/``"p"`` for IIIC
        (``p`` when ``nodes_from_pathology``) and ``flags``.

    Examples::

        >>> figo2018_cervix(CervixFindings(tumour_visible=True, max_diameter_mm=19.9)).stage
        'IB1'
    """
    if boundaries not in ("corrigendum_2019", "original_2018"):
        raise ConfigError(f"boundaries must be corrigendum_2019 or original_2018, got {boundaries!r}")
    if inguinal_nodes_stage not in ("IVB", "not_staged"):
        raise ConfigError(f"inguinal_nodes_stage must be IVB or not_staged, got {inguinal_nodes_stage!r}")
    flags: list[str] = []
    stage, suffix = _stage(f, flags, boundaries, stage_iva_on_mri_suspicion, inguinal_nodes_stage)
    return StageResult(system=SYSTEM, stage=stage, suffix=suffix, nci_code=_NCI_CODES.get(stage),
                       flags=tuple(flags))


def _stage(
    f: CervixFindings,
    flags: list[str],
    boundaries: Boundaries,
    iva_on_suspicion: bool,
    inguinal: str,
) -> tuple[str, Literal["r", "p"] | None]:
    suffix: Literal["r", "p"] = "p" if f.nodes_from_pathology else "r"  # SPEC §1.3 [C1]
    diameter = f.max_diameter_mm
    if f.dims_mm is not None and max(f.dims_mm) > diameter:
        diameter = max(f.dims_mm)
        flags.append(f"max_diameter_mm raised to {diameter:g} mm, the largest of dims_mm")
    if f.uterine_corpus_extension:
        flags.append("uterine corpus extension is not used for staging")  # SPEC §1.1 [C2][C3]
    if f.bullous_oedema:
        flags.append("bullous oedema alone does not qualify for stage IVA")  # SPEC §1.3 [C3]
    if f.inguinal_nodes_positive:
        if inguinal == "IVB":
            flags.append("inguinal nodes staged as distant metastasis (IVB) — UNCERTAIN rule (U3)")
            return "IVB", None
        flags.append("inguinal nodes positive: not used for staging (option inguinal_nodes_stage)")
    if f.distant_mets:  # SPEC §1.3: stage IV overrides nodes
        return "IVB", None
    mucosa = (f.bladder_mucosa, f.rectal_mucosa)
    if "biopsy_proven" in mucosa:
        return "IVA", None
    if "suspected" in mucosa:
        if iva_on_suspicion:
            flags.append("IVA assigned on MRI suspicion of mucosal invasion, not biopsy-proven")
            return "IVA", None
        flags.append("MRI suggests IVA; requires biopsy (cystoscopy/proctoscopy) — not staged IVA")
    if f.nodes_paraaortic_positive:  # nodes override T stages I–IIIB [C2][C3]
        return "IIIC2", suffix
    if f.nodes_pelvic_positive:
        return "IIIC1", suffix
    if f.hydronephrosis != "none" and f.other_cause_known:
        flags.append("hydronephrosis attributed to another cause: not used for IIIB")
    if f.pelvic_sidewall or (f.hydronephrosis != "none" and not f.other_cause_known):
        return "IIIB", None
    if f.vaginal_involvement == "lower_third":
        return "IIIA", None
    if f.parametrial_invasion == "present":
        if f.stromal_ring == "intact":
            flags.append("parametrial invasion reported with an intact stromal ring: check consistency")
        return "IIB", None
    if f.parametrial_invasion == "equivocal":
        flags.append("parametrium equivocal: not up-staged")
    if f.stromal_ring == "thinned":
        flags.append("thinned stromal ring (<= 3 mm residual stroma): "
                     "microscopic parametrial spread possible")
    big = _at_least(diameter, 40.0, boundaries)
    if f.vaginal_involvement == "upper_two_thirds":
        return ("IIA2" if big else "IIA1"), None
    return _confined_to_cervix(f, flags, diameter, big, boundaries), None


def _confined_to_cervix(
    f: CervixFindings, flags: list[str], diameter: float, big: bool, boundaries: Boundaries
) -> str:
    depth_stage = _depth_stage(f.path_depth_mm, boundaries) if f.path_depth_mm is not None else None
    if f.path_stage_IA is not None:  # pathology overrides imaging [C11]
        if f.path_depth_mm is not None and depth_stage != f.path_stage_IA:
            flags.append(f"path_stage_IA {f.path_stage_IA} disagrees with path_depth_mm "
                         f"{f.path_depth_mm:g} under {boundaries}; path_stage_IA used")
        return f.path_stage_IA
    if depth_stage is not None:
        flags.append(f"stage {depth_stage} from path_depth_mm {f.path_depth_mm:g} ({boundaries})")
        return depth_stage
    if not f.tumour_visible:
        if diameter > 0:
            flags.append("max_diameter_mm given but tumour_visible is false: size not used")
        flags.append("no visible tumour: stage I, substage not determinable by MRI (IA needs microscopy)")
        return "I"
    if big:
        return "IB3"
    if _at_least(diameter, 20.0, boundaries):
        return "IB2"
    return "IB1"  # a visible lesion on MRI is treated as depth >= 5 mm (SPEC §1.3)
