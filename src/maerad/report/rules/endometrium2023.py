"""FIGO 2023 staging of endometrial cancer: MRI anatomy plus optional pathology/molecular inputs
(SPEC §2.2). When a pathology/laboratory input that decides the stage is missing, the anatomical
group is returned with a ``"pathology required: …"`` flag.

Examples::

    >>> from maerad.report.rules import Figo2023Findings, figo2023_endometrium
    >>> f = Figo2023Findings(myometrial_invasion_ratio=0.3, histotype="endometrioid", grade="G1", lvsi="none")
    >>> figo2023_endometrium(f).stage
    'IA2'
    >>> figo2023_endometrium(Figo2023Findings(myometrial_invasion_ratio=0.3)).stage
    'I'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import model_validator

from maerad.errors import ConfigError
from maerad.report.rules.findings import Findings, Flag, Fraction
from maerad.report.rules.molecular import DEFAULT_MOLECULAR_PRECEDENCE, MolecularClass, resolve_molecular
from maerad.report.rules.results import StageResult

__all__ = ["ENDOMETRIUM_2023_STAGE_ORDER", "Figo2023Findings", "Histotype", "figo2023_endometrium"]

SYSTEM = "figo2023-endometrium"

Histotype = Literal[
    "endometrioid", "serous", "clear_cell", "undifferentiated", "mixed",
    "mesonephric_like", "gastrointestinal_mucinous", "carcinosarcoma",
]

# Least to most advanced, without molecular modifiers; "I"/"II" are the anatomical groups returned
# when histology is missing, "IIIC1"/"IIIC2" when micro/macro is missing.
ENDOMETRIUM_2023_STAGE_ORDER: tuple[str, ...] = (
    "IA1", "IA2", "IA3", "IB", "IC", "IIA", "IIB", "IIC", "IIIA1", "IIIA2", "IIIB1", "IIIB2",
    "IIIC1i", "IIIC1ii", "IIIC2i", "IIIC2ii", "IVA", "IVB", "IVC",
)

_STAGE_I_II = {"IA1", "IA2", "IA3", "IB", "IC", "IIA", "IIB", "IIC", "I", "II"}


class Figo2023Findings(Findings):
    """Anatomy (MRI-observable) plus optional PATH/LAB inputs for FIGO 2023 (SPEC §2.2).

    PATH/LAB fields default to ``None`` (= not available). Aggressiveness is ``histology_aggressive``
    or, when that is absent, derived from ``histotype`` + ``grade`` (aggressive = G3 endometrioid or
    any non-endometrioid type; SPEC §2.2 [E2]).
    """

    # anatomy (MRI)
    myometrial_invasion_ratio: Fraction = 0.0
    cervical_stromal_invasion: Flag = False
    subserosa_or_serosa: Flag = False
    ovary: Flag = False
    tube: Flag = False
    vagina: Flag = False
    parametrium: Flag = False
    pelvic_peritoneal_mets: Flag = False
    nodes_pelvic: Flag = False
    nodes_paraaortic: Flag = False
    bladder_mucosa: Flag = False
    bowel_mucosa: Flag = False
    abdominal_peritoneal_mets: Flag = False
    nodes_above_renal_vessels: Flag = False
    inguinal_nodes: Flag = False
    distant_mets: Flag = False
    # pathology / laboratory (optional)
    histotype: Histotype | None = None
    grade: Literal["G1", "G2", "G3"] | None = None
    histology_aggressive: Flag | None = None
    lvsi: Literal["none", "focal", "substantial"] | None = None
    nodal_metastasis_size: Literal["isolated_tumour_cells", "micro", "macro"] | None = None
    # ovarian tumour low-grade endometrioid, unilateral, confined to the ovary, capsule intact (PATH)
    ovarian_ia3_criteria: Flag | None = None
    molecular: MolecularClass | None = None
    molecular_features: tuple[MolecularClass, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Figo2023Findings:
        derived = _derived_aggressive(self)
        given = self.histology_aggressive
        if given is not None and derived is not None and derived != given:
            raise ValueError(
                f"field 'histology_aggressive' is {str(self.histology_aggressive).lower()} but histotype "
                f"{self.histotype} {self.grade or ''} is {'aggressive' if derived else 'non-aggressive'}"
            )
        return self

    @property
    def aggressive(self) -> bool | None:
        """Aggressive histology (True / False) or ``None`` when histology is unknown."""
        if self.histology_aggressive is not None:
            return self.histology_aggressive
        return _derived_aggressive(self)


def _derived_aggressive(f: Figo2023Findings) -> bool | None:
    if f.histotype is None:
        return None
    if f.histotype != "endometrioid":
        return True
    return None if f.grade is None else f.grade == "G3"


def figo2023_endometrium(
    f: Figo2023Findings,
    *,
    prefer_a2_b2: bool = True,
    prefer_iia_over_iib: bool = True,
    aggressive_csi_without_mi: Literal["IIC", "IC"] = "IIC",
    molecular_precedence: Sequence[str] = DEFAULT_MOLECULAR_PRECEDENCE,
) -> StageResult:
    """FIGO 2023 stage (SPEC §2.2 decision procedure, first match wins).

    Args:
        f: the findings.
        prefer_a2_b2: when both IIIA1 and IIIA2 (or IIIB1 and IIIB2) criteria hold, report A2/B2
            (default, SPEC §2.2) or A1/B1. UNCERTAIN (U6a); all matched criteria are flagged.
        prefer_iia_over_iib: cervical stroma and substantial LVSI together → IIA (default) or IIB (U6a).
        aggressive_csi_without_mi: aggressive histology with cervical stromal invasion but no
            myometrial invasion → ``"IIC"`` (default) or ``"IC"``. UNCERTAIN (U6b).
        molecular_precedence: order deciding the class of a "multiple classifier" (U7).

    Returns:
        :class:`StageResult`; ``stage`` such as ``"IA2"``, ``"IIIC1ii"``, ``"IAmPOLEmut"``,
        ``"IBmMMRd"`` or an anatomical group (``"I"``, ``"II"``, ``"IIIC1"``) with a
        ``"pathology required: …"`` flag.

    Examples::

        >>> figo2023_endometrium(Figo2023Findings(myometrial_invasion_ratio=0.6, molecular="POLEmut")).stage
        'IAmPOLEmut'
    """
    if aggressive_csi_without_mi not in ("IIC", "IC"):
        raise ConfigError(f"aggressive_csi_without_mi must be IIC or IC, got {aggressive_csi_without_mi!r}")
    molecular, flags = resolve_molecular(f.molecular, f.molecular_features, molecular_precedence)
    _flag_criteria(f, flags)
    stage = _anatomical_stage(f, flags, prefer_a2_b2, prefer_iia_over_iib, aggressive_csi_without_mi)
    stage = _molecular_stage(stage, molecular, f, flags)
    return StageResult(system=SYSTEM, stage=stage, flags=tuple(flags))


def _nodes_counted(f: Figo2023Findings, flags: list[str]) -> bool:
    nodes = f.nodes_pelvic or f.nodes_paraaortic
    if nodes and f.nodal_metastasis_size == "isolated_tumour_cells":
        flags.append("isolated tumour cells only: recorded as pN0(i+), nodes not used for stage IIIC")
        return False
    return nodes


def _flag_criteria(f: Figo2023Findings, flags: list[str]) -> None:
    """SPEC §2.2 (U6): emit every stage criterion that holds, not only the winning one."""
    checks = [
        ("IVC", f.distant_mets or f.nodes_above_renal_vessels or f.inguinal_nodes),
        ("IVB", f.abdominal_peritoneal_mets), ("IVA", f.bladder_mucosa or f.bowel_mucosa),
        ("IIIC2", f.nodes_paraaortic), ("IIIC1", f.nodes_pelvic), ("IIIB2", f.pelvic_peritoneal_mets),
        ("IIIB1", f.vagina or f.parametrium), ("IIIA2", f.subserosa_or_serosa),
        ("IIIA1/IA3", f.ovary or f.tube), ("cervical stroma", f.cervical_stromal_invasion),
        ("substantial LVSI", f.lvsi == "substantial"),
        ("myometrial invasion >= 50%", f.myometrial_invasion_ratio >= 0.5),
    ]
    met = [name for name, held in checks if held]
    if len(met) > 1:
        flags.append("criteria met: " + ", ".join(met))
    if f.inguinal_nodes:
        flags.append("inguinal nodes treated as distant (extra-abdominal) nodal metastasis: IVC")


def _anatomical_stage(
    f: Figo2023Findings, flags: list[str], prefer_a2_b2: bool, prefer_iia: bool, csi_no_mi: str
) -> str:
    if f.distant_mets or f.nodes_above_renal_vessels or f.inguinal_nodes:
        return "IVC"
    if f.abdominal_peritoneal_mets:
        return "IVB"
    if f.bladder_mucosa or f.bowel_mucosa:
        return "IVA"
    if _nodes_counted(f, flags):
        base = "IIIC2" if f.nodes_paraaortic else "IIIC1"
        if f.nodal_metastasis_size is None:
            flags.append(f"pathology required: micro- vs macrometastasis ({base}i / {base}ii)")
            return base
        return base + ("i" if f.nodal_metastasis_size == "micro" else "ii")
    b1, b2 = f.vagina or f.parametrium, f.pelvic_peritoneal_mets
    if b1 or b2:
        if b1 and b2:
            chosen = "IIIB2" if prefer_a2_b2 else "IIIB1"
            flags.append(f"both IIIB1 and IIIB2 criteria met; reported {chosen} "
                         "(no FIGO sub-letter precedence, U6)")
        return "IIIB2" if b2 and (prefer_a2_b2 or not b1) else "IIIB1"
    ia3 = _meets_ia3(f)
    a1 = (f.ovary or f.tube) and ia3 is not True
    a2 = f.subserosa_or_serosa
    if a1 and ia3 is None:
        flags.append("pathology required: IA3 criteria (low-grade endometrioid, LVSI, ovarian tumour "
                     "unilateral/confined/capsule intact) — IIIA1 assumed")
    if a1 or a2:
        if a1 and a2:
            chosen = "IIIA2" if prefer_a2_b2 else "IIIA1"
            flags.append(f"both IIIA1 and IIIA2 criteria met; reported {chosen} "
                         "(no FIGO sub-letter precedence, U6)")
        return "IIIA2" if a2 and (prefer_a2_b2 or not a1) else "IIIA1"
    return _uterine_stage(f, flags, ia3 is True, prefer_iia, csi_no_mi)


def _meets_ia3(f: Figo2023Findings) -> bool | None:
    """SPEC §2.2 IA3: True / False, or ``None`` when pathology needed to decide is missing."""
    if not f.ovary or f.tube or f.subserosa_or_serosa or f.myometrial_invasion_ratio >= 0.5:
        return False
    if f.aggressive is True or f.lvsi == "substantial" or f.ovarian_ia3_criteria is False:
        return False
    if f.aggressive is None or f.lvsi is None or f.ovarian_ia3_criteria is None:
        return None
    return True


def _uterine_stage(f: Figo2023Findings, flags: list[str], ia3: bool, prefer_iia: bool, csi_no_mi: str) -> str:
    mi = f.myometrial_invasion_ratio
    aggressive = f.aggressive
    if aggressive is None:
        group = "II" if f.cervical_stromal_invasion else "I"
        flags.append(f"pathology required: histotype and grade (anatomical group {group} returned)")
        return group
    if aggressive:
        if mi > 0:
            return "IIC"
        if f.cervical_stromal_invasion:
            flags.append(f"aggressive histology with cervical stromal invasion but no myometrial invasion: "
                         f"{csi_no_mi} (not defined by FIGO, U6b)")
            return csi_no_mi
        return "IC"
    substantial = f.lvsi == "substantial"
    if f.cervical_stromal_invasion:
        if substantial:
            flags.append(f"both IIA and IIB criteria met; reported {'IIA' if prefer_iia else 'IIB'} (U6)")
            return "IIA" if prefer_iia else "IIB"
        return "IIA"
    if substantial:
        return "IIB"
    if f.lvsi is None:
        flags.append("pathology required: LVSI (substantial LVSI would be IIB; anatomical group I returned)")
        return "I"
    if mi >= 0.5:
        return "IB"
    if ia3:
        return "IA3"
    return "IA2" if mi > 0 else "IA1"


def _molecular_stage(
    stage: str, molecular: MolecularClass | None, f: Figo2023Findings, flags: list[str]
) -> str:
    """SPEC §2.2 molecular modifiers, stages I–II only."""
    if stage not in _STAGE_I_II:
        if molecular is not None:
            flags.append(f"molecular class {molecular} recorded; stage III-IV unchanged")
        return stage
    if molecular is None:
        flags.append("molecular classification not provided: no molecular modifier applied")
        return stage
    if stage == "IA3" and molecular in ("POLEmut", "p53abn"):
        flags.append("molecular modifier applied to IA3 as in the SPEC §2.2 procedure; FIGO wording "
                     "says 'confined to the corpus' — check")
    if molecular == "POLEmut":
        return "IAmPOLEmut"
    if molecular == "p53abn":
        if f.myometrial_invasion_ratio > 0:
            return "IICmp53abn"
        flags.append("p53abn without myometrial invasion: stage unchanged, molecular class recorded")
        return stage
    if stage in ("I", "II"):
        flags.append(f"molecular class {molecular} recorded; does not change the stage")
        return stage
    return f"{stage}m{molecular}"
