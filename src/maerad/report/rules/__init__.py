"""Deterministic clinical rule engines: FIGO staging, O-RADS MRI, RMI, pelvic floor, ESGO 2020.

Pure, typed functions over strict pydantic findings models (the JSON contract of
``maerad stage``). Each rule cites its source section of the domain SPEC; UNCERTAIN points are
options. maerad is a research tool, not clinical advice.

Examples::

    >>> from maerad.report.rules import CervixFindings, figo2018_cervix
    >>> figo2018_cervix(CervixFindings(tumour_visible=True, max_diameter_mm=25.0)).stage
    'IB2'
"""

from __future__ import annotations

from maerad.report.rules.cervix import CERVIX_STAGE_ORDER, CervixFindings, figo2018_cervix
from maerad.report.rules.endometrium2009 import (
    ENDOMETRIUM_2009_STAGE_ORDER,
    EndometriumFindings,
    figo2009_endometrium,
)
from maerad.report.rules.endometrium2023 import (
    ENDOMETRIUM_2023_STAGE_ORDER,
    Figo2023Findings,
    figo2023_endometrium,
)
from maerad.report.rules.esgo import ESGO_RISK_ORDER, Esgo2020Input, esgo2020_risk_group
from maerad.report.rules.findings import Findings, parse_findings
from maerad.report.rules.molecular import DEFAULT_MOLECULAR_PRECEDENCE, resolve_molecular
from maerad.report.rules.orads import AdnexalFindings, AdnexalLesion, orads_mri
from maerad.report.rules.pelvic_floor import PelvicFloorFindings, PelvicLandmarks, pelvic_floor
from maerad.report.rules.results import (
    FrameMeasurements,
    PelvicFloorResult,
    RiskGroupResult,
    RmiResult,
    RuleResult,
    ScoreResult,
    StageResult,
)
from maerad.report.rules.rmi import RmiInput, rmi, rmi_from_input
from maerad.report.rules.systems import RULE_SYSTEMS, RuleSystem, evaluate

__all__ = [
    "CERVIX_STAGE_ORDER",
    "DEFAULT_MOLECULAR_PRECEDENCE",
    "ENDOMETRIUM_2009_STAGE_ORDER",
    "ENDOMETRIUM_2023_STAGE_ORDER",
    "ESGO_RISK_ORDER",
    "RULE_SYSTEMS",
    "AdnexalFindings",
    "AdnexalLesion",
    "CervixFindings",
    "EndometriumFindings",
    "Esgo2020Input",
    "Figo2023Findings",
    "Findings",
    "FrameMeasurements",
    "PelvicFloorFindings",
    "PelvicFloorResult",
    "PelvicLandmarks",
    "RiskGroupResult",
    "RmiInput",
    "RmiResult",
    "RuleResult",
    "RuleSystem",
    "ScoreResult",
    "StageResult",
    "esgo2020_risk_group",
    "evaluate",
    "figo2009_endometrium",
    "figo2018_cervix",
    "figo2023_endometrium",
    "orads_mri",
    "parse_findings",
    "pelvic_floor",
    "resolve_molecular",
    "rmi",
    "rmi_from_input",
]
