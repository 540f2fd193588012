"""Typed, frozen results of the rule engines (all JSON-serialisable with ``model_dump(mode="json")``).

Every result carries ``system`` (the rule-system name used by the CLI) and ``flags``: human-readable
notes on equivocal findings, uncertain rule points, inputs that are missing and criteria that were met.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

__all__ = [
    "FrameMeasurements",
    "ORadsScore",
    "PelvicFloorResult",
    "RiskGroup",
    "RiskGroupResult",
    "RmiResult",
    "RuleResult",
    "ScoreResult",
    "StageResult",
]

RiskGroup = Literal["low", "intermediate", "high_intermediate", "high", "advanced", "metastatic"]


class RuleResult(BaseModel):
    """Common part of every result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    flags: tuple[str, ...] = ()


class StageResult(RuleResult):
    """A FIGO stage. ``suffix`` is ``"r"`` / ``"p"`` (imaging / pathology) for cervix IIIC only."""

    stage: str
    suffix: Literal["r", "p"] | None = None
    nci_code: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """The stage with its suffix, e.g. ``"IIIC1r"``."""
        return self.stage + (self.suffix or "")


ORadsScore = Literal[0, 1, 2, 3, 4, 5, "4|5"]


class ScoreResult(RuleResult):
    """An O-RADS MRI score: 0 (incomplete), 1–5, or ``"4|5"`` after hysterectomy (see flags)."""

    score: ORadsScore


class RmiResult(RuleResult):
    """Risk of Malignancy Index: ``rmi = u * m * ca125_u_ml`` and its comparison with the cut-off."""

    variant: Literal["I", "II", "III"]
    u: int
    m: int
    ca125_u_ml: float
    rmi: float
    cutoff: float
    at_or_above_cutoff: bool
    ca125_raised: bool


class FrameMeasurements(BaseModel):
    """Pelvic-floor measurements of one frame (rest or maximal strain), all in mm.

    ``descent_mm`` holds the signed distance of ``B``, ``Cx`` and ``ARJ_ant`` from the PCL and
    ``below_h_line_mm`` the signed distance from the H-line; positive = caudal (below the line).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    h_line_mm: float
    m_line_mm: float
    descent_mm: dict[str, float]
    below_h_line_mm: dict[str, float]


class PelvicFloorResult(RuleResult):
    """Pelvic-floor grades from the strain frame plus the measurements of both frames.

    ``grades``: ``anterior`` / ``middle`` / ``posterior`` (rule of three: none, mild, moderate,
    severe) and ``rectocele`` (small, moderate, large) when a depth was given.
    ``hmo``: ``H``, ``M`` and ``O`` grades 0–3 (``O`` is the worst compartment; per compartment in
    ``O_anterior``, ``O_middle``, ``O_posterior``).
    """

    grades: dict[str, str]
    hmo: dict[str, int]
    strain: FrameMeasurements
    rest: FrameMeasurements | None = None


class RiskGroupResult(RuleResult):
    """ESGO/ESTRO/ESP 2020 prognostic risk group (``None`` when no group of the guideline applies)."""

    risk_group: RiskGroup | None
    molecular_known: bool
