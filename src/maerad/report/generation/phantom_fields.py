"""Report field values of one phantom case, read from its metadata (the inverse of the derivations).

The phantom stores, in each study folder's ``case.json`` metadata, the sampled findings (the input
model of the kind's rule engine, dumped as JSON) plus measurements (tumour volume, nodes) and, for
pelvic-floor cases, the strain-frame measurements computed by the engine. This module writes them as
the non-derived fields of the kind's template. Mapping choices (documented in ``docs/generation.md``):

* cervix: ``parametrial_invasion`` + ``parametrial_side`` → ``parametrium_left`` / ``_right``
  (no side given: both sides); ``bladder_mucosa`` / ``rectal_mucosa`` suspected or biopsy-proven →
  ``*_mucosal_invasion`` true and ``*_biopsy_proven``; the tumour volume and the largest suspicious
  node short axes come from the metadata measurements; ``distant_sites`` (free text) is not written.
* endometrium: the invasion ratio → MR:F061 (0) / F062 (< 0.5) / F063 (≥ 0.5) (SPEC §2.1, E-MI: the
  50 % boundary counts as deep); ``vagina`` → MR:F031 (the phantom does not say which third);
  ``intraabdominal_mets`` → ``peritoneal_metastases``; pathology (histotype, grade, LVSI, molecular
  class, residual disease, IA3 criteria) from ``metadata["pathology"]`` / ``["figo2023_findings"]``.
* adnexa: ``solid_lesion`` → MR:O012, other solid tissue → MR:O011, else MR:O010; solid-tissue
  features are not sampled by the phantom: dark T2/DWI tissue → [MR:O036], a solid lesion →
  [MR:O035], a cystic lesion with solid tissue → [MR:O032] (the score depends only on dark vs not);
  dark tissue without a sampled enhancement is written as enhancing at most like the outer
  myometrium (the template asks for it; the score of dark tissue does not use it);
  a haemorrhagic cyst has no template concept and is written as haemorrhagic fluid (its O-RADS 1 then
  becomes 2 in the template: a known template gap, see :mod:`.targets`).
* pelvic floor: the strain-frame H-line, M-line, descents and distances below the H-line exactly as
  the engine computed them (``outputs["pelvic_floor"]["strain"]``).
* normal controls: the adnexa template with no adnexal lesion (O-RADS MRI 1, SPEC §3.2).

Examples::

    >>> fields = phantom_report_fields("normal", {"anatomy": {"menopausal_status": "premenopausal"}})
    >>> fields["adnexal_lesion"], fields["menopausal_status"]
    (False, 'MR:S020.premenopausal')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maerad.errors import InputError
from maerad.report.templates.model import Value

__all__ = ["KIND_TEMPLATES", "phantom_report_fields"]

KIND_TEMPLATES: dict[str, str] = {
    "cervical": "cervix-figo2018",
    "endometrial": "endometrium-figo2009",
    "adnexal": "adnexa-orads-mri",
    "pelvic_floor": "pelvic-floor",
    "normal": "adnexa-orads-mri",
}
"""The template each phantom kind is reported with (``normal`` is configurable in :mod:`.targets`)."""

_RING = {"intact": "MR:F010", "thinned": "MR:F011", "full_thickness_disruption": "MR:F012"}
_PARAM = {"absent": "MR:F021", "present": "MR:F020", "equivocal": "MR:F022"}
_VAGINA = {"none": "MR:F030", "upper_two_thirds": "MR:F031", "lower_third": "MR:F032"}
_STATIONS = {
    "parametrial": "MR:N002", "obturator": "MR:N003", "internal_iliac": "MR:N004",
    "external_iliac": "MR:N005", "common_iliac": "MR:N006", "presacral": "MR:N007",
}
_FLUID = {"simple": "MR:O040", "haemorrhagic": "MR:O041", "endometriotic": "MR:O042",
          "proteinaceous": "MR:O043", "mucinous": "MR:O043"}
_TIC = {"low": "MR:O050", "intermediate": "MR:O051", "high": "MR:O052"}
_PHYSIOLOGIC = {"follicle": "MR:O001", "corpus_luteum": "MR:O002"}
_NON_PELVIC_STATIONS = ("paraaortic", "inguinal")


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"phantom metadata: {where}.{key} must be a number, got {value!r}")
    return float(value)


def _lookup(table: Mapping[str, str], value: object, where: str) -> str:
    if not isinstance(value, str) or value not in table:
        raise InputError(f"phantom metadata: {where} is {value!r}; expected one of {', '.join(table)}")
    return table[value]


def _findings(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    findings = metadata.get("findings")
    if not isinstance(findings, Mapping):
        raise InputError("phantom metadata: 'findings' must be a JSON object for this case kind")
    return findings


def _largest_node(metadata: Mapping[str, Any], *, pelvic: bool) -> float | None:
    best: float | None = None
    for node in metadata.get("nodes") or ():
        if not (isinstance(node, Mapping) and node.get("suspicious") is True):
            continue
        station = node.get("station")
        is_pelvic = station not in _NON_PELVIC_STATIONS
        if (station == "paraaortic" and not pelvic) or (is_pelvic and pelvic):
            size = node.get("short_axis_mm")
            if isinstance(size, (int, float)) and not isinstance(size, bool):
                best = float(size) if best is None else max(best, float(size))
    return best


def _cervix(metadata: Mapping[str, Any]) -> dict[str, Value]:
    f = _findings(metadata)
    where = "findings"
    out: dict[str, Value] = {"tumour_visible": f.get("tumour_visible") is True}
    if out["tumour_visible"]:
        out["max_diameter_mm"] = _number(f, "max_diameter_mm", where)
        dims = f.get("dims_mm")
        if isinstance(dims, list) and len(dims) == 3:
            out["size_cc_mm"], out["size_ap_mm"], out["size_lr_mm"] = (float(d) for d in dims)
        tumour = metadata.get("tumour")
        if isinstance(tumour, Mapping) and isinstance(tumour.get("volume_ml"), (int, float)):
            out["tumour_volume_ml"] = float(tumour["volume_ml"])
        out["stromal_ring"] = _lookup(_RING, f.get("stromal_ring"), "findings.stromal_ring")
        distance = f.get("dist_tumour_to_internal_os_mm")
        if isinstance(distance, (int, float)) and not isinstance(distance, bool):
            out["distance_to_internal_os_mm"] = float(distance)
        out["corpus_extension"] = bool(f.get("uterine_corpus_extension", False))
    status = f.get("parametrial_invasion", "absent")
    side = f.get("parametrial_side")
    for s in ("left", "right"):
        involved = status != "absent" and side in (s, "bilateral", None)
        out[f"parametrium_{s}"] = _lookup(_PARAM, status if involved else "absent",
                                          "findings.parametrial_invasion")
    out["vaginal_involvement"] = _lookup(_VAGINA, f.get("vaginal_involvement", "none"),
                                         "findings.vaginal_involvement")
    out["pelvic_sidewall"] = bool(f.get("pelvic_sidewall", False))
    hydro = f.get("hydronephrosis", "none")
    out["hydronephrosis_left"] = hydro in ("left", "bilateral")
    out["hydronephrosis_right"] = hydro in ("right", "bilateral")
    if hydro != "none":
        out["hydronephrosis_other_cause"] = bool(f.get("other_cause_known", False))
    for organ, field in (("bladder", "bladder"), ("rectal", "rectal")):
        mucosa = f.get(f"{organ}_mucosa", "absent")
        out[f"{field}_mucosal_invasion"] = mucosa != "absent"
        if mucosa != "absent":
            out[f"{field}_biopsy_proven"] = mucosa == "biopsy_proven"
    out["bullous_oedema"] = bool(f.get("bullous_oedema", False))
    out["pelvic_nodes"] = bool(f.get("nodes_pelvic_positive", False))
    if out["pelvic_nodes"]:
        stations = [_lookup(_STATIONS, s, "findings.nodes_pelvic_stations")
                    for s in f.get("nodes_pelvic_stations") or ()]
        if stations:
            out["pelvic_node_stations"] = sorted(set(stations))
        size = _largest_node(metadata, pelvic=True)
        if size is not None:
            out["pelvic_node_short_axis_mm"] = size
    out["paraaortic_nodes"] = bool(f.get("nodes_paraaortic_positive", False))
    if out["paraaortic_nodes"]:
        size = _largest_node(metadata, pelvic=False)
        if size is not None:
            out["paraaortic_node_short_axis_mm"] = size
    if out["pelvic_nodes"] or out["paraaortic_nodes"]:
        out["nodes_from_pathology"] = bool(f.get("nodes_from_pathology", False))
    out["inguinal_nodes"] = bool(f.get("inguinal_nodes_positive", False))
    out["distant_metastasis"] = bool(f.get("distant_mets", False))
    depth = f.get("path_depth_mm")
    if isinstance(depth, (int, float)) and not isinstance(depth, bool):
        out["path_invasion_depth_mm"] = float(depth)
    return out


def _endometrium(metadata: Mapping[str, Any]) -> dict[str, Value]:
    f = _findings(metadata)
    tumour = metadata.get("tumour")
    if not (isinstance(tumour, Mapping) and isinstance(tumour.get("max_diameter_mm"), (int, float))):
        raise InputError("phantom metadata: an endometrial case needs tumour.max_diameter_mm")
    ratio = _number(f, "myometrial_invasion_ratio", "findings")
    out: dict[str, Value] = {
        "tumour_size_mm": float(tumour["max_diameter_mm"]),
        "myometrial_invasion": "MR:F061" if ratio == 0.0 else ("MR:F062" if ratio < 0.5 else "MR:F063"),
        "cervical_stromal_invasion": bool(f.get("cervical_stromal_invasion", False)),
    }
    if not out["cervical_stromal_invasion"]:
        out["endocervical_glandular_only"] = bool(f.get("cervical_glandular_involvement", False))
    out["serosal_invasion"] = bool(f.get("serosa", False))
    out["adnexal_involvement"] = bool(f.get("adnexa", False))
    out["vaginal_involvement"] = "MR:F031" if f.get("vagina") is True else "MR:F030"
    out["parametrial_invasion"] = "MR:F020" if f.get("parametrium") is True else "MR:F021"
    out["bladder_mucosal_invasion"] = bool(f.get("bladder_mucosa", False))
    out["bowel_mucosal_invasion"] = bool(f.get("bowel_mucosa", False))
    out["pelvic_nodes"] = bool(f.get("nodes_pelvic", False))
    if out["pelvic_nodes"] and (size := _largest_node(metadata, pelvic=True)) is not None:
        out["pelvic_node_short_axis_mm"] = size
    out["paraaortic_nodes"] = bool(f.get("nodes_paraaortic", False))
    if out["paraaortic_nodes"] and (size := _largest_node(metadata, pelvic=False)) is not None:
        out["paraaortic_node_short_axis_mm"] = size
    out["inguinal_nodes"] = bool(f.get("inguinal_nodes", False))
    out["peritoneal_metastases"] = bool(f.get("intraabdominal_mets", False))
    out["distant_metastasis"] = bool(f.get("distant_mets", False))
    out.update(_endometrium_pathology(metadata, bool(out["adnexal_involvement"])))
    return out


def _endometrium_pathology(metadata: Mapping[str, Any], adnexa: bool) -> dict[str, Value]:
    path = metadata.get("pathology")
    if not isinstance(path, Mapping) or not isinstance(path.get("histotype"), str):
        return {}
    endometrioid = path["histotype"] == "endometrioid"
    out: dict[str, Value] = {"endometrioid_histology": endometrioid}
    grade = path.get("grade")
    if endometrioid and isinstance(grade, str) and grade[1:].isdigit():
        out["tumour_grade"] = int(grade[1:])
    out["lvsi"] = f"MR:S031.{path.get('lvsi') or 'none'}"
    if isinstance(path.get("molecular"), str):
        out["molecular_class"] = f"MR:S032.{path['molecular']}"
    f2023 = metadata.get("figo2023_findings")
    ia3 = f2023.get("ovarian_ia3_criteria") if isinstance(f2023, Mapping) else None
    if adnexa and isinstance(ia3, bool):
        out["ovarian_ia3_criteria"] = ia3
    if isinstance(path.get("residual_disease"), bool):
        out["residual_disease"] = path["residual_disease"]
    return out


def _menopause(premenopausal: bool) -> str:
    return "MR:S020.premenopausal" if premenopausal else "MR:S020.postmenopausal"


def _adnexa(metadata: Mapping[str, Any]) -> dict[str, Value]:
    f = _findings(metadata)
    out: dict[str, Value] = {"menopausal_status": _menopause(bool(f.get("premenopausal", False)))}
    if f.get("hysterectomy") is True:
        out["hysterectomy"] = True
    ca125 = f.get("ca125_u_ml")
    if isinstance(ca125, (int, float)) and not isinstance(ca125, bool):
        out["ca125_u_ml"] = float(ca125)
    if f.get("technically_inadequate") is True:
        out["technically_inadequate"] = True
    lesion = f.get("lesion")
    out["adnexal_lesion"] = isinstance(lesion, Mapping)
    adnexal = metadata.get("adnexal") if isinstance(metadata.get("adnexal"), Mapping) else {}
    assert isinstance(adnexal, Mapping)
    if isinstance(lesion, Mapping):
        out.update(_lesion(lesion, adnexal))
    out["peritoneal_disease"] = bool(f.get("peritoneal_disease", False))
    rmi = adnexal.get("rmi_features")
    if isinstance(rmi, Mapping):
        out["ascites"] = bool(rmi.get("ascites", False))
        out["metastases"] = bool(rmi.get("metastases", False))
    return out


def _lesion(lesion: Mapping[str, Any], adnexal: Mapping[str, Any]) -> dict[str, Value]:
    out: dict[str, Value] = {"lesion_max_diameter_mm": _number(lesion, "max_diameter_mm", "findings.lesion")}
    physiologic = lesion.get("physiologic_appearance", "none")
    if physiologic in _PHYSIOLOGIC:
        out["physiologic_appearance"] = _PHYSIOLOGIC[physiologic]
    solid = lesion.get("solid_tissue") is True
    solid_lesion = solid and adnexal.get("solid_lesion") is True
    kind = "MR:O012" if solid_lesion else ("MR:O011" if solid else "MR:O010")
    out["lesion_type"] = kind
    if kind != "MR:O012":
        out["locularity"] = "MR:O021" if lesion.get("locularity") == "multilocular" else "MR:O020"
        fluid = "haemorrhagic" if physiologic == "haemorrhagic_cyst" else lesion.get("fluid", "simple")
        lipid = lesion.get("has_lipid") is True
        out["fluid_type"] = "MR:O044" if lipid else _lookup(_FLUID, fluid, "findings.lesion.fluid")
    if kind == "MR:O010":
        out["wall_enhancement"] = lesion.get("wall_enhancement") is True
    if out.get("fluid_type") == "MR:O044":
        out["large_volume_enhancing_tissue"] = lesion.get("large_volume_enhancing_solid_tissue") is True
    if solid:
        if lesion.get("all_solid_dark_T2_and_dark_DWI") is True:
            out["solid_tissue_features"] = ["MR:O036"]
        else:
            out["solid_tissue_features"] = ["MR:O035" if solid_lesion else "MR:O032"]
        tic = lesion.get("tic")
        if isinstance(tic, str):
            out["tic"] = _lookup(_TIC, tic, "findings.lesion.tic")
        elif isinstance(lesion.get("enh_30_40s_le_outer_myometrium"), bool):
            out["enhancement_le_outer_myometrium"] = lesion["enh_30_40s_le_outer_myometrium"]
        else:  # dark T2/DWI tissue needs no curve (SPEC §3.2); the template asks: weak, as in fibromas
            out["enhancement_le_outer_myometrium"] = True
    if lesion.get("is_dilated_tube") is True:
        out["dilated_tube"] = True
        out["tube_wall_thick"] = lesion.get("wall") == "thick_smooth"
    if lesion.get("is_paraovarian_cyst") is True:
        out["paraovarian_cyst"] = True
    rmi = adnexal.get("rmi_features")
    if isinstance(rmi, Mapping):
        out["bilateral_lesions"] = bool(rmi.get("bilateral_lesions", False))
    return out


def _pelvic_floor(metadata: Mapping[str, Any]) -> dict[str, Value]:
    f = _findings(metadata)
    outputs = metadata.get("outputs")
    result = outputs.get("pelvic_floor") if isinstance(outputs, Mapping) else None
    strain = result.get("strain") if isinstance(result, Mapping) else None
    if not isinstance(strain, Mapping):
        raise InputError("phantom metadata: a pelvic-floor case needs outputs.pelvic_floor.strain")
    descent = strain.get("descent_mm")
    if not isinstance(descent, Mapping):
        raise InputError("phantom metadata: outputs.pelvic_floor.strain needs descent_mm")
    out: dict[str, Value] = {
        "h_line_mm": _number(strain, "h_line_mm", "strain"),
        "m_line_mm": _number(strain, "m_line_mm", "strain"),
        "bladder_base_descent_mm": _number(descent, "B", "strain.descent_mm"),
        "cervix_descent_mm": _number(descent, "Cx", "strain.descent_mm"),
        "anorectal_junction_descent_mm": _number(descent, "ARJ_ant", "strain.descent_mm"),
    }
    below = strain.get("below_h_line_mm")
    if isinstance(below, Mapping):
        out["bladder_base_below_h_line_mm"] = _number(below, "B", "strain.below_h_line_mm")
        out["cervix_below_h_line_mm"] = _number(below, "Cx", "strain.below_h_line_mm")
        out["anorectal_junction_below_h_line_mm"] = _number(below, "ARJ_ant", "strain.below_h_line_mm")
    depth = f.get("rectocele_depth_mm")
    if isinstance(depth, (int, float)) and not isinstance(depth, bool):
        out["rectocele_depth_mm"] = float(depth)
    out["hysterectomy"] = f.get("hysterectomy") is True
    return out


def _normal(metadata: Mapping[str, Any]) -> dict[str, Value]:
    anatomy = metadata.get("anatomy")
    status = anatomy.get("menopausal_status") if isinstance(anatomy, Mapping) else None
    if status not in ("premenopausal", "postmenopausal"):
        raise InputError("phantom metadata: a normal case needs anatomy.menopausal_status")
    return {"menopausal_status": _menopause(status == "premenopausal"), "adnexal_lesion": False,
            "peritoneal_disease": False}


_BY_KIND = {"cervical": _cervix, "endometrial": _endometrium, "adnexal": _adnexa,
            "pelvic_floor": _pelvic_floor, "normal": _normal}


def phantom_report_fields(kind: str, metadata: Mapping[str, Any]) -> dict[str, Value]:
    """The non-derived field values of the template of ``kind`` (see the module docstring).

    Raises:
        InputError: unknown kind, or metadata lacking what the kind needs (named).
    """
    if kind not in _BY_KIND:
        raise InputError(f"phantom metadata: unknown case kind {kind!r}; "
                         f"expected one of {', '.join(_BY_KIND)}")
    return _BY_KIND[kind](metadata)
