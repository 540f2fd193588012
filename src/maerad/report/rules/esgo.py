"""ESGO/ESTRO/ESP 2020 prognostic risk groups of endometrial carcinoma (SPEC §7.1).

Groups are tested in the order low → intermediate → high-intermediate → high → advanced →
metastatic and the first match wins; POLEmut is therefore tested before any other rule.
Stages are FIGO 2009; "LVSI positive" means substantial, focal LVSI counts as negative.

Examples::

    >>> from maerad.report.rules import Esgo2020Input, esgo2020_risk_group
    >>> f = Esgo2020Input(figo2009_stage="IA", histotype="endometrioid", grade="G1")
    >>> esgo2020_risk_group(f).risk_group
    'low'
    >>> pole = Esgo2020Input(figo2009_stage="II", histotype="serous", molecular="POLEmut")
    >>> esgo2020_risk_group(pole).risk_group
    'low'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import model_validator

from maerad.report.rules.endometrium2023 import Histotype
from maerad.report.rules.findings import Findings, Flag
from maerad.report.rules.molecular import DEFAULT_MOLECULAR_PRECEDENCE, MolecularClass, resolve_molecular
from maerad.report.rules.results import RiskGroup, RiskGroupResult

__all__ = ["ESGO_RISK_ORDER", "Esgo2020Input", "esgo2020_risk_group"]

SYSTEM = "esgo2020"

Figo2009Stage = Literal["IA", "IB", "II", "IIIA", "IIIB", "IIIC1", "IIIC2", "IVA", "IVB"]
ESGO_RISK_ORDER: tuple[RiskGroup, ...] = ("low", "intermediate", "high_intermediate", "high", "advanced",
                                          "metastatic")
_STAGE_I = {"IA", "IB"}
_STAGE_III_IVA = {"IIIA", "IIIB", "IIIC1", "IIIC2", "IVA"}


class Esgo2020Input(Findings):
    """Stage (FIGO 2009) plus the pathology/laboratory inputs of the ESGO 2020 groups (SPEC §7.1).

    ``myometrial_invasion``: any myometrial invasion (implied by stage IB; ``None`` = not stated,
    read as absent for stages other than IB). ``molecular=None`` (and no ``molecular_features``)
    selects the "molecular classification unknown" table.
    """

    figo2009_stage: Figo2009Stage
    histotype: Histotype
    grade: Literal["G1", "G2", "G3"] | None = None
    lvsi: Literal["none", "focal", "substantial"] = "none"
    myometrial_invasion: Flag | None = None
    residual_disease: Flag = False
    molecular: MolecularClass | None = None
    molecular_features: tuple[MolecularClass, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Esgo2020Input:
        if self.figo2009_stage == "IB" and self.myometrial_invasion is False:
            raise ValueError("stage IB implies myometrial invasion but 'myometrial_invasion' is false")
        return self


def esgo2020_risk_group(
    f: Esgo2020Input, *, molecular_precedence: Sequence[str] = DEFAULT_MOLECULAR_PRECEDENCE
) -> RiskGroupResult:
    """ESGO/ESTRO/ESP 2020 risk group (SPEC §7.1 tables, low first, first match wins).

    Args:
        f: stage, histology, LVSI, residual disease and molecular class.
        molecular_precedence: class chosen when several molecular features coexist (U7).

    Returns:
        :class:`RiskGroupResult`; ``risk_group`` is ``None`` (with a flag) for combinations the
        guideline tables do not cover (e.g. stage III–IVA POLEmut without residual disease).

    Examples::

        >>> esgo2020_risk_group(Esgo2020Input(figo2009_stage="IVB", histotype="serous")).risk_group
        'metastatic'
    """
    molecular, flags = resolve_molecular(f.molecular, f.molecular_features, molecular_precedence)
    if f.histotype == "endometrioid" and f.grade is None:
        flags.append("grade not given: rules that need the endometrioid grade cannot match")
    group = _known(f, molecular) if molecular is not None else _unknown(f)
    if group is None:
        flags.append("no ESGO 2020 risk group matches this combination (not covered by the guideline tables)")
    return RiskGroupResult(system=SYSTEM, risk_group=group, molecular_known=molecular is not None,
                           flags=tuple(flags))


class _Case:
    """Derived predicates used by both tables."""

    def __init__(self, f: Esgo2020Input) -> None:
        self.stage = f.figo2009_stage
        self.endometrioid = f.histotype == "endometrioid"
        self.low_grade = f.grade in ("G1", "G2")
        self.g3 = f.grade == "G3"
        self.lvsi_pos = f.lvsi == "substantial"
        self.mi = f.figo2009_stage == "IB" or f.myometrial_invasion is True
        self.residual = f.residual_disease


def _unknown(f: Esgo2020Input) -> RiskGroup | None:
    """SPEC §7.1, molecular classification unknown."""
    c = _Case(f)
    e, ia, ib = c.endometrioid, c.stage == "IA", c.stage == "IB"
    if ia and e and c.low_grade and not c.lvsi_pos:
        return "low"
    if (ib and e and c.low_grade and not c.lvsi_pos) or (ia and e and c.g3 and not c.lvsi_pos) or (
        ia and not e and not c.mi
    ):
        return "intermediate"
    if (c.stage in _STAGE_I and e and c.lvsi_pos) or (ib and e and c.g3) or (c.stage == "II" and e):
        return "high_intermediate"
    return _high_or_later(c, mmrd_nsmp=True)


def _known(f: Esgo2020Input, molecular: MolecularClass) -> RiskGroup | None:
    """SPEC §7.1, molecular classification known; POLEmut is tested first."""
    c = _Case(f)
    e, ia, ib = c.endometrioid, c.stage == "IA", c.stage == "IB"
    mn = molecular in ("MMRd", "NSMP")
    if (c.stage in (*_STAGE_I, "II") and molecular == "POLEmut" and not c.residual) or (
        ia and e and c.low_grade and not c.lvsi_pos and mn
    ):
        return "low"
    if (
        (ib and e and c.low_grade and not c.lvsi_pos and mn)
        or (ia and e and c.g3 and not c.lvsi_pos and mn)
        or (ia and not c.mi and (not e or molecular == "p53abn"))
    ):
        return "intermediate"
    if mn and ((c.stage in _STAGE_I and e and c.lvsi_pos) or (ib and e and c.g3) or (c.stage == "II" and e)):
        return "high_intermediate"
    if c.stage in (*_STAGE_I, "II", *_STAGE_III_IVA) and molecular == "p53abn" and c.mi and not c.residual:
        return "high"
    return _high_or_later(c, mmrd_nsmp=mn)


def _high_or_later(c: _Case, *, mmrd_nsmp: bool) -> RiskGroup | None:
    """High (the rows shared by both tables, restricted to MMRd/NSMP when known), advanced, metastatic."""
    if mmrd_nsmp:
        if c.stage in _STAGE_III_IVA and c.endometrioid and not c.residual:
            return "high"
        if c.stage == "IA" and not c.endometrioid and c.mi:
            return "high"
        if c.stage in ("IB", "II", *_STAGE_III_IVA) and not c.endometrioid and not c.residual:
            return "high"
    if c.stage in _STAGE_III_IVA and c.residual:
        return "advanced"
    if c.stage == "IVB":
        return "metastatic"
    return None
