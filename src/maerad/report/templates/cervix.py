"""Derivation of template ``cervix-figo2018``: report fields → :class:`CervixFindings` → FIGO 2018.

The mapping (SPEC §1.2 field names on the right):

=============================================  =============================================
report field                                    CervixFindings
=============================================  =============================================
tumour_visible                                  tumour_visible
max_diameter_mm (absent: 0)                     max_diameter_mm
size_cc_mm, size_ap_mm, size_lr_mm (all three)  dims_mm
stromal_ring MR:F010 / F011 / F012              stromal_ring intact / thinned / full_thickness_disruption
parametrium_left, parametrium_right             parametrial_invasion = the more advanced side
                                                (absent < equivocal < present), parametrial_side =
                                                the side(s) with that status (left/right/bilateral)
vaginal_involvement MR:F030 / F031 / F032       vaginal_involvement none / upper_two_thirds / lower_third
pelvic_sidewall                                 pelvic_sidewall
hydronephrosis_left, hydronephrosis_right       hydronephrosis none / left / right / bilateral
hydronephrosis_other_cause                      other_cause_known
bladder_mucosal_invasion (+ biopsy_proven)      bladder_mucosa absent / suspected / biopsy_proven
rectal_mucosal_invasion (+ biopsy_proven)       rectal_mucosa (same)
bullous_oedema                                  bullous_oedema
pelvic_nodes, pelvic_node_stations MR:N002-N007 nodes_pelvic_positive, nodes_pelvic_stations
paraaortic_nodes                                nodes_paraaortic_positive
nodes_from_pathology                            nodes_from_pathology (r / p suffix)
inguinal_nodes                                  inguinal_nodes_positive
distant_metastasis, distant_sites               distant_mets, distant_sites
corpus_extension                                uterine_corpus_extension
distance_to_internal_os_mm                      dist_tumour_to_internal_os_mm
path_invasion_depth_mm                          path_depth_mm
=============================================  =============================================

Derived: ``figo2018_stage`` = ``MR:S001.<stage>``. Options: those of ``figo2018-cervix``
(``boundaries``, ``stage_iva_on_mri_suspicion``, ``inguinal_nodes_stage``; SPEC §1.1.1, §1.3, U1, U3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maerad.report.rules import StageResult
from maerad.report.templates.derivation import Derivation, Derived, RuleNote, RuleOptions, run_rule
from maerad.report.templates.model import Value
from maerad.terminology.graph import TermGraph

__all__ = ["CERVIX_DERIVATION", "cervix_findings"]

TEMPLATE = "cervix-figo2018"
SYSTEM = "figo2018-cervix"

_RING = {"MR:F010": "intact", "MR:F011": "thinned", "MR:F012": "full_thickness_disruption"}
_PARAM = {"MR:F021": "absent", "MR:F022": "equivocal", "MR:F020": "present"}
_PARAM_RANK = {"absent": 0, "equivocal": 1, "present": 2}
_VAGINA = {"MR:F030": "none", "MR:F031": "upper_two_thirds", "MR:F032": "lower_third"}
_STATIONS = {
    "MR:N002": "parametrial", "MR:N003": "obturator", "MR:N004": "internal_iliac",
    "MR:N005": "external_iliac", "MR:N006": "common_iliac", "MR:N007": "presacral",
}


def _flag(values: Mapping[str, Value], key: str) -> bool:
    return values.get(key) is True


def _mucosa(values: Mapping[str, Value], suspected: str, proven: str) -> str:
    if not _flag(values, suspected):
        return "absent"
    return "biopsy_proven" if _flag(values, proven) else "suspected"


def cervix_findings(values: Mapping[str, Value]) -> dict[str, Any]:
    """The :class:`~maerad.report.rules.CervixFindings` mapping of a report's field values.

    Examples::

        >>> f = cervix_findings({"tumour_visible": True, "max_diameter_mm": 25.0,
        ...                      "parametrium_left": "MR:F020", "parametrium_right": "MR:F021"})
        >>> f["parametrial_side"]
        'left'
    """
    f: dict[str, Any] = {"tumour_visible": _flag(values, "tumour_visible")}
    diameter = values.get("max_diameter_mm")
    f["max_diameter_mm"] = float(diameter) if isinstance(diameter, (int, float)) else 0.0
    dims = [values.get(k) for k in ("size_cc_mm", "size_ap_mm", "size_lr_mm")]
    if all(isinstance(d, (int, float)) and not isinstance(d, bool) for d in dims):
        f["dims_mm"] = [float(d) for d in dims]  # type: ignore[arg-type]
    ring = values.get("stromal_ring")
    if isinstance(ring, str):
        f["stromal_ring"] = _RING[ring]
    sides = {side: _PARAM[str(values.get(f"parametrium_{side}", "MR:F021"))] for side in ("left", "right")}
    worst = max(sides.values(), key=_PARAM_RANK.__getitem__)
    f["parametrial_invasion"] = worst
    if worst != "absent":
        involved = [side for side, status in sides.items() if status == worst]
        f["parametrial_side"] = involved[0] if len(involved) == 1 else "bilateral"
    f["vaginal_involvement"] = _VAGINA[str(values.get("vaginal_involvement", "MR:F030"))]
    f["pelvic_sidewall"] = _flag(values, "pelvic_sidewall")
    left, right = _flag(values, "hydronephrosis_left"), _flag(values, "hydronephrosis_right")
    f["hydronephrosis"] = {(False, False): "none", (True, False): "left", (False, True): "right",
                           (True, True): "bilateral"}[(left, right)]
    f["other_cause_known"] = _flag(values, "hydronephrosis_other_cause")
    f["bladder_mucosa"] = _mucosa(values, "bladder_mucosal_invasion", "bladder_biopsy_proven")
    f["rectal_mucosa"] = _mucosa(values, "rectal_mucosal_invasion", "rectal_biopsy_proven")
    f["bullous_oedema"] = _flag(values, "bullous_oedema")
    f["nodes_pelvic_positive"] = _flag(values, "pelvic_nodes")
    stations = values.get("pelvic_node_stations")
    if f["nodes_pelvic_positive"] and isinstance(stations, list):
        f["nodes_pelvic_stations"] = [_STATIONS[s] for s in stations]
    f["nodes_paraaortic_positive"] = _flag(values, "paraaortic_nodes")
    f["nodes_from_pathology"] = _flag(values, "nodes_from_pathology")
    f["inguinal_nodes_positive"] = _flag(values, "inguinal_nodes")
    f["distant_mets"] = _flag(values, "distant_metastasis")
    sites = values.get("distant_sites")
    if f["distant_mets"] and isinstance(sites, str):
        f["distant_sites"] = [sites]
    f["uterine_corpus_extension"] = _flag(values, "corpus_extension")
    for field_id, key in (("distance_to_internal_os_mm", "dist_tumour_to_internal_os_mm"),
                          ("path_invasion_depth_mm", "path_depth_mm")):
        number = values.get(field_id)
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            f[key] = float(number)
    return f


def _derive(values: Mapping[str, Value], graph: TermGraph, options: RuleOptions) -> Derived:
    findings = cervix_findings(values)
    result = run_rule(SYSTEM, findings, options, template=TEMPLATE)
    assert isinstance(result, StageResult)
    stage = graph.value_concept("MR:S001", result.stage)
    notes = tuple(RuleNote(SYSTEM, message, "figo2018_stage") for message in result.flags)
    return Derived(values={"figo2018_stage": stage}, notes=notes, findings={SYSTEM: findings})


CERVIX_DERIVATION = Derivation(TEMPLATE, (SYSTEM,), _derive, "FIGO 2018 cervical stage (SPEC §1.3)")
