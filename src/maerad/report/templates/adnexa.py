"""Derivation of template ``adnexa-orads-mri``: O-RADS MRI score, CA-125 status and RMI (SPEC §3.1–3.3).

O-RADS mapping (:class:`AdnexalFindings` / :class:`AdnexalLesion`):

* ``adnexal_lesion`` false → ``lesion=None``; ``menopausal_status`` MR:S020.premenopausal →
  ``premenopausal``; ``peritoneal_disease``, ``hysterectomy``, ``technically_inadequate`` as named.
* ``lesion_max_diameter_mm`` → ``max_diameter_mm``; ``physiologic_appearance`` MR:O001 / O002 →
  ``follicle`` / ``corpus_luteum``.
* ``lesion_type`` MR:O011 or O012 → ``solid_tissue``; ``solid_tissue_features`` exactly [MR:O036] →
  ``all_solid_dark_T2_and_dark_DWI`` (dark T2 / dark DWI as the only solid tissue, SPEC §6.3).
* ``locularity`` MR:O021 → ``multilocular``; ``fluid_type`` MR:O040–O043 → ``simple`` /
  ``haemorrhagic`` / ``endometriotic`` / ``proteinaceous``; MR:O044 → ``has_lipid``.
* ``wall_enhancement``, ``large_volume_enhancing_tissue`` → ``large_volume_enhancing_solid_tissue``,
  ``dilated_tube`` → ``is_dilated_tube`` (``tube_wall_thick`` → ``wall="thick_smooth"``),
  ``paraovarian_cyst`` → ``is_paraovarian_cyst``, ``tic`` MR:O050–O052 → ``low`` / ``intermediate`` /
  ``high``, ``enhancement_le_outer_myometrium`` → ``enh_30_40s_le_outer_myometrium``.

RMI mapping (:class:`RmiInput`, features read from MRI: flag ``rmi_features_from_mri``): multilocular
cyst = ``locularity`` MR:O021, solid areas = ``lesion_type`` O011/O012, ``metastases``, ``ascites``,
``bilateral_lesions``; postmenopausal = ``menopausal_status`` MR:S020.postmenopausal; ``ca125_u_ml``.

Derived: ``orads_score`` (``MR:S010.<n>``; left empty with the engine's flag when the score is "4 or
5" after hysterectomy), ``ca125_raised``, ``rmi`` and ``rmi_at_or_above_cutoff`` when CA-125 is given.
Options: those of ``orads-mri`` and ``rmi`` (variant, cut-off, CA-125 threshold; U17, U18).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maerad.report.rules import RmiResult, ScoreResult
from maerad.report.templates.derivation import Derivation, Derived, RuleNote, RuleOptions, run_rule
from maerad.report.templates.model import Value
from maerad.terminology.graph import TermGraph

__all__ = ["ADNEXA_DERIVATION", "adnexal_findings", "rmi_input"]

TEMPLATE = "adnexa-orads-mri"
_PHYSIOLOGIC = {"MR:O001": "follicle", "MR:O002": "corpus_luteum"}
_FLUID = {"MR:O040": "simple", "MR:O041": "haemorrhagic", "MR:O042": "endometriotic",
          "MR:O043": "proteinaceous"}
_TIC = {"MR:O050": "low", "MR:O051": "intermediate", "MR:O052": "high"}
_SOLID = ("MR:O011", "MR:O012")


def _flag(values: Mapping[str, Value], key: str) -> bool:
    return values.get(key) is True


def _lesion(values: Mapping[str, Value]) -> dict[str, Any]:
    diameter = values.get("lesion_max_diameter_mm")
    size = float(diameter) if isinstance(diameter, (int, float)) else 0.0
    lesion: dict[str, Any] = {"max_diameter_mm": size}
    physiologic = values.get("physiologic_appearance")
    if isinstance(physiologic, str):
        lesion["physiologic_appearance"] = _PHYSIOLOGIC[physiologic]
    solid = values.get("lesion_type") in _SOLID
    lesion["solid_tissue"] = solid
    features = values.get("solid_tissue_features")
    if solid and features == ["MR:O036"]:
        lesion["all_solid_dark_T2_and_dark_DWI"] = True
    if values.get("locularity") == "MR:O021":
        lesion["locularity"] = "multilocular"
    fluid = values.get("fluid_type")
    if fluid == "MR:O044":
        lesion["has_lipid"] = True
    elif isinstance(fluid, str):
        lesion["fluid"] = _FLUID[fluid]
    lesion["wall_enhancement"] = _flag(values, "wall_enhancement")
    lesion["large_volume_enhancing_solid_tissue"] = _flag(values, "large_volume_enhancing_tissue")
    lesion["is_dilated_tube"] = _flag(values, "dilated_tube")
    if _flag(values, "tube_wall_thick"):
        lesion["wall"] = "thick_smooth"
    lesion["is_paraovarian_cyst"] = _flag(values, "paraovarian_cyst")
    tic = values.get("tic")
    if isinstance(tic, str):
        lesion["tic"] = _TIC[tic]
    if "enhancement_le_outer_myometrium" in values:
        lesion["enh_30_40s_le_outer_myometrium"] = _flag(values, "enhancement_le_outer_myometrium")
    return lesion


def adnexal_findings(values: Mapping[str, Value]) -> dict[str, Any]:
    """The :class:`~maerad.report.rules.AdnexalFindings` mapping of a report's field values.

    Examples::

        >>> f = adnexal_findings({"adnexal_lesion": False, "menopausal_status": "MR:S020.premenopausal"})
        >>> f["premenopausal"], "lesion" in f
        (True, False)
    """
    f: dict[str, Any] = {
        "premenopausal": values.get("menopausal_status") == "MR:S020.premenopausal",
        "peritoneal_disease": _flag(values, "peritoneal_disease"),
        "hysterectomy": _flag(values, "hysterectomy"),
        "technically_inadequate": _flag(values, "technically_inadequate"),
    }
    if _flag(values, "adnexal_lesion"):
        f["lesion"] = _lesion(values)
    return f


def rmi_input(values: Mapping[str, Value]) -> dict[str, Any] | None:
    """The :class:`~maerad.report.rules.RmiInput` mapping, or None without a CA-125 value."""
    ca125 = values.get("ca125_u_ml")
    if not isinstance(ca125, (int, float)) or isinstance(ca125, bool):
        return None
    return {
        "multilocular_cyst": values.get("locularity") == "MR:O021",
        "solid_areas": values.get("lesion_type") in _SOLID,
        "metastases": _flag(values, "metastases"),
        "ascites": _flag(values, "ascites"),
        "bilateral_lesions": _flag(values, "bilateral_lesions"),
        "postmenopausal": values.get("menopausal_status") == "MR:S020.postmenopausal",
        "ca125_u_ml": float(ca125),
    }


def _derive(values: Mapping[str, Value], graph: TermGraph, options: RuleOptions) -> Derived:
    findings = adnexal_findings(values)
    score = run_rule("orads-mri", findings, options, template=TEMPLATE)
    assert isinstance(score, ScoreResult)
    derived: dict[str, Value] = {}
    if isinstance(score.score, int):
        derived["orads_score"] = graph.value_concept("MR:S010", str(score.score))
    notes = [RuleNote("orads-mri", m, "orads_score") for m in score.flags]
    used: dict[str, dict[str, Any]] = {"orads-mri": findings}
    rmi_findings = rmi_input(values)
    if rmi_findings is not None:
        rmi_options = {"rmi": {"features_from_mri": True, **dict(options.get("rmi", {}))}}
        result = run_rule("rmi", rmi_findings, rmi_options, template=TEMPLATE)
        assert isinstance(result, RmiResult)
        derived.update(ca125_raised=result.ca125_raised, rmi=result.rmi,
                       rmi_at_or_above_cutoff=result.at_or_above_cutoff)
        summary = f"RMI {result.variant}: U={result.u}, M={result.m}, cut-off {result.cutoff:g}"
        notes.append(RuleNote("rmi", summary, "rmi"))
        notes.extend(RuleNote("rmi", m, "rmi") for m in result.flags)
        used["rmi"] = rmi_findings
    return Derived(values=derived, notes=tuple(notes), findings=used)


ADNEXA_DERIVATION = Derivation(TEMPLATE, ("orads-mri", "rmi"), _derive,
                               "O-RADS MRI score, CA-125 status and RMI (SPEC §3.2, §3.3)")
