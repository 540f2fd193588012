"""O-RADS MRI risk score of an adnexal lesion (SPEC §3.1–3.2, ACR O-RADS MRI [O1–O5]).

Examples::

    >>> from maerad.report.rules import AdnexalFindings, AdnexalLesion, orads_mri
    >>> orads_mri(AdnexalFindings()).score          # no lesion
    1
    >>> cyst = AdnexalLesion(max_diameter_mm=45.0, fluid="simple")
    >>> orads_mri(AdnexalFindings(lesion=cyst)).score
    2
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from maerad.report.rules.findings import Findings, Flag, Millimetres, NonNegative
from maerad.report.rules.results import ORadsScore, ScoreResult

__all__ = ["AdnexalFindings", "AdnexalLesion", "orads_mri"]

SYSTEM = "orads-mri"

Fluid = Literal["simple", "haemorrhagic", "endometriotic", "proteinaceous", "mucinous"]


class AdnexalLesion(Findings):
    """One adnexal lesion described with the O-RADS MRI lexicon (SPEC §3.1; pseudocode names of §3.2).

    ``physiologic_appearance`` marks a follicle, corpus luteum or haemorrhagic cyst; it scores 1 only
    in a premenopausal patient and at most 3 cm. A haemorrhagic cyst has haemorrhagic fluid.
    Solid tissue (not lipid, not homogeneously dark on T2 and DWI) needs a time–intensity curve
    ``tic`` (DCE) or ``enh_30_40s_le_outer_myometrium`` (non-DCE).
    """

    max_diameter_mm: Millimetres
    physiologic_appearance: Literal["none", "follicle", "corpus_luteum", "haemorrhagic_cyst"] = "none"
    has_lipid: Flag = False
    large_volume_enhancing_solid_tissue: Flag = False
    is_dilated_tube: Flag = False
    is_paraovarian_cyst: Flag = False
    fluid: Fluid = "simple"
    wall: Literal["thin_smooth", "thick_smooth"] = "thin_smooth"
    locularity: Literal["unilocular", "multilocular"] = "unilocular"
    wall_enhancement: Flag = False
    solid_tissue: Flag = False
    all_solid_dark_T2_and_dark_DWI: Flag = False  # SPEC §3.2 field name
    tic: Literal["low", "intermediate", "high"] | None = None
    enh_30_40s_le_outer_myometrium: Flag | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AdnexalLesion:
        if self.physiologic_appearance == "haemorrhagic_cyst" and self.fluid not in ("haemorrhagic",) and (
            "fluid" in self.model_fields_set
        ):
            raise ValueError("field 'fluid' must be haemorrhagic for a haemorrhagic_cyst")
        dark = self.all_solid_dark_T2_and_dark_DWI
        needs_enhancement = self.solid_tissue and not self.has_lipid and not dark
        if needs_enhancement and self.tic is None and self.enh_30_40s_le_outer_myometrium is None:
            raise ValueError(
                "lesion with solid_tissue needs 'tic' (DCE: low, intermediate, high) or "
                "'enh_30_40s_le_outer_myometrium' (non-DCE: true or false)"
            )
        if self.all_solid_dark_T2_and_dark_DWI and not self.solid_tissue:
            raise ValueError("field 'all_solid_dark_T2_and_dark_DWI' is true but 'solid_tissue' is false")
        return self

    @property
    def effective_fluid(self) -> Fluid:
        """The fluid type, with a haemorrhagic cyst always counted as haemorrhagic."""
        return "haemorrhagic" if self.physiologic_appearance == "haemorrhagic_cyst" else self.fluid


class AdnexalFindings(Findings):
    """Patient and study context plus at most one adnexal lesion (``lesion=None``: no lesion).

    ``ca125_u_ml`` is carried for reports and RMI; it does not change the O-RADS MRI score.
    """

    lesion: AdnexalLesion | None = None
    premenopausal: Flag = False
    peritoneal_disease: Flag = False
    hysterectomy: Flag = False
    technically_inadequate: Flag = False
    ca125_u_ml: NonNegative | None = None


def orads_mri(f: AdnexalFindings, *, physiologic_3cm_inclusive: bool = True) -> ScoreResult:
    """O-RADS MRI score 0–5 of the lesion (SPEC §3.2 procedure and FAQ special cases).

    Args:
        f: lesion and context.
        physiologic_3cm_inclusive: a physiologic finding of exactly 3.0 cm scores 1 (score-table
            "≤ 3 cm", default) or not (FAQ "< 3 cm"). UNCERTAIN (U17); flagged either way.

    Returns:
        :class:`ScoreResult`; ``score`` is ``"4|5"`` (with a flag) when solid tissue after
        hysterectomy has an intermediate/high-risk curve that cannot be separated without the
        outer-myometrium reference.

    Examples::

        >>> dark = AdnexalLesion(max_diameter_mm=60.0, solid_tissue=True, all_solid_dark_T2_and_dark_DWI=True)
        >>> orads_mri(AdnexalFindings(lesion=dark)).score
        2
    """
    flags: list[str] = []
    score = _score(f, flags, physiologic_3cm_inclusive)
    if f.ca125_u_ml is not None and f.ca125_u_ml >= 35.0:
        flags.append("CA-125 raised (>= 35 U/mL); not part of the O-RADS MRI score")
    return ScoreResult(system=SYSTEM, score=score, flags=tuple(flags))


def _score(f: AdnexalFindings, flags: list[str], inclusive: bool) -> ORadsScore:
    """SPEC §3.2 decision procedure, first match wins."""
    if f.technically_inadequate:
        flags.append("technically inadequate study: O-RADS MRI 0 (incomplete)")
        return 0
    lesion = f.lesion
    if lesion is None:
        if f.peritoneal_disease:
            flags.append("peritoneal disease without an adnexal lesion: "
                         "O-RADS MRI scores adnexal lesions only")
        return 1
    if _physiologic(lesion, f.premenopausal, flags, inclusive):
        return 1
    if f.peritoneal_disease:
        return 5
    if lesion.has_lipid:  # FAQ: Rokitansky nodule alone 2, large non-Rokitansky enhancing tissue 4
        return 4 if lesion.large_volume_enhancing_solid_tissue else 2
    fluid = lesion.effective_fluid
    if lesion.is_dilated_tube and not lesion.solid_tissue:
        return 2 if fluid == "simple" and lesion.wall == "thin_smooth" else 3
    if lesion.is_paraovarian_cyst and not lesion.solid_tissue:
        return 2
    if lesion.solid_tissue:
        return _solid_score(lesion, f.hysterectomy, flags)
    if lesion.locularity == "multilocular":  # FAQ: multilocular endometrioma 3
        return 3
    if not lesion.wall_enhancement:
        return 2
    return 2 if fluid in ("simple", "endometriotic") else 3  # FAQ: haemorrhagic cyst with enhancing wall 3


def _physiologic(lesion: AdnexalLesion, premenopausal: bool, flags: list[str], inclusive: bool) -> bool:
    """Follicle / corpus luteum / haemorrhagic cyst ≤ 3 cm in a premenopausal patient (SPEC §3.1–3.2)."""
    if lesion.physiologic_appearance == "none":
        return False
    if not premenopausal:
        flags.append(f"{lesion.physiologic_appearance} appearance in a postmenopausal patient: "
                     "not physiologic")
        return False
    if lesion.max_diameter_mm == 30.0:
        verdict = "physiologic" if inclusive else "not physiologic"
        flags.append(f"physiologic finding of exactly 3.0 cm scored as {verdict} "
                     "(score table <= 3 cm vs FAQ < 3 cm) — UNCERTAIN (U17)")
        return inclusive
    return lesion.max_diameter_mm < 30.0


def _solid_score(lesion: AdnexalLesion, hysterectomy: bool, flags: list[str]) -> ORadsScore:
    if lesion.all_solid_dark_T2_and_dark_DWI:
        return 2
    if lesion.tic is not None:  # DCE available
        if hysterectomy and lesion.tic in ("intermediate", "high"):
            flags.append("after hysterectomy there is no outer-myometrium reference: intermediate and "
                         "high-risk curves cannot be separated — score 4 or 5")
            return "4|5"
        return {"low": 3, "intermediate": 4, "high": 5}[lesion.tic]  # type: ignore[return-value]
    if hysterectomy:
        flags.append("after hysterectomy there is no outer-myometrium reference for the 30-40 s "
                     "enhancement comparison — score 4 or 5")
        return "4|5"
    flags.append("no DCE curve: scored by enhancement at 30-40 s versus outer myometrium")
    return 4 if lesion.enh_30_40s_le_outer_myometrium else 5
