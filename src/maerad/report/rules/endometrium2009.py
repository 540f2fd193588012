"""FIGO 2009 staging of endometrial cancer from MRI findings (SPEC §2.1).

Examples::

    >>> from maerad.report.rules import EndometriumFindings, figo2009_endometrium
    >>> figo2009_endometrium(EndometriumFindings(myometrial_invasion_ratio=0.5)).stage
    'IB'
    >>> figo2009_endometrium(EndometriumFindings(myometrial_invasion_ratio=0.49)).stage
    'IA'
"""

from __future__ import annotations

from maerad.report.rules.findings import Findings, Flag, Fraction
from maerad.report.rules.results import StageResult

__all__ = ["ENDOMETRIUM_2009_STAGE_ORDER", "EndometriumFindings", "figo2009_endometrium"]

SYSTEM = "figo2009-endometrium"

ENDOMETRIUM_2009_STAGE_ORDER: tuple[str, ...] = (
    "IA", "IB", "II", "IIIA", "IIIB", "IIIC1", "IIIC2", "IVA", "IVB",
)

# SPEC §2.1 table: generic "FIGO stage X" NCIt codes [T1].
_NCI_CODES = {
    "IA": "C96245", "IB": "C96248", "II": "C96252", "IIIA": "C96256", "IIIB": "C96257",
    "IIIC1": "C96259", "IIIC2": "C96260", "IVA": "C96262", "IVB": "C96263",
}


class EndometriumFindings(Findings):
    """MRI-observable anatomy of an endometrial cancer (SPEC §2.1 pseudocode names).

    ``myometrial_invasion_ratio`` = invasion depth / full myometrial thickness at the same place
    (0 = no invasion). The exact measurement protocol is UNCERTAIN (SPEC §2.1).
    """

    myometrial_invasion_ratio: Fraction = 0.0
    cervical_stromal_invasion: Flag = False
    cervical_glandular_involvement: Flag = False
    serosa: Flag = False
    adnexa: Flag = False
    vagina: Flag = False
    parametrium: Flag = False
    nodes_pelvic: Flag = False
    nodes_paraaortic: Flag = False
    bladder_mucosa: Flag = False
    bowel_mucosa: Flag = False
    distant_mets: Flag = False
    inguinal_nodes: Flag = False
    intraabdominal_mets: Flag = False
    peritoneal_cytology_positive: Flag = False


def figo2009_endometrium(f: EndometriumFindings) -> StageResult:
    """FIGO 2009 stage (SPEC §2.1 decision procedure, first match wins).

    Exactly 50 % myometrial invasion is stage IB ("half or more", [E1]).

    Examples::

        >>> figo2009_endometrium(EndometriumFindings(nodes_pelvic=True, vagina=True)).stage
        'IIIC1'
    """
    flags: list[str] = []
    if f.peritoneal_cytology_positive:
        flags.append("positive peritoneal cytology is reported separately and does not change the stage")
    stage = _stage(f, flags)
    return StageResult(system=SYSTEM, stage=stage, nci_code=_NCI_CODES[stage], flags=tuple(flags))


def _stage(f: EndometriumFindings, flags: list[str]) -> str:
    if f.distant_mets or f.inguinal_nodes or f.intraabdominal_mets:
        return "IVB"
    if f.bladder_mucosa or f.bowel_mucosa:
        flags.append("stage IVA formally requires biopsy-proven mucosal invasion")
        return "IVA"
    if f.nodes_paraaortic:
        return "IIIC2"
    if f.nodes_pelvic:
        return "IIIC1"
    if f.vagina or f.parametrium:
        return "IIIB"
    if f.serosa or f.adnexa:
        return "IIIA"
    if f.cervical_stromal_invasion:
        return "II"
    if f.cervical_glandular_involvement:
        flags.append("endocervical glandular involvement only: remains stage I")  # SPEC §2.1 [E1]
    if f.myometrial_invasion_ratio >= 0.5:  # "half or more" → IB, exactly 50 % included [E1]
        return "IB"
    return "IA"
