"""Derivation of template ``endometrium-figo2009``: FIGO 2009 stage always; FIGO 2023 stage, histotype
class and ESGO/ESTRO/ESP 2020 risk group when the pathology inputs are given (SPEC §2.1, §2.2, §2.5, §7.1).

Mapping of the anatomy (both engines):

* ``myometrial_invasion`` MR:F061 / F062 / F063 → ``myometrial_invasion_ratio`` 0.0 / 0.25 / 0.75.
  The engines only compare the ratio with 0 and 0.5 (SPEC §2.1, §2.2), so every ratio of the category
  gives the same stage; the representative values are a mapping choice, not measurements.
* ``cervical_stromal_invasion`` → ``cervical_stromal_invasion``; ``endocervical_glandular_only`` →
  2009 ``cervical_glandular_involvement``.
* ``serosal_invasion`` → 2009 ``serosa`` / 2023 ``subserosa_or_serosa``; ``adnexal_involvement`` →
  2009 ``adnexa`` / 2023 ``ovary`` (IA3 applies to an ovarian tumour, SPEC §2.2).
* ``vaginal_involvement`` MR:F031 or F032 → ``vagina``; ``parametrial_invasion`` MR:F020 →
  ``parametrium`` (MR:F022 equivocal is not used to up-stage, SPEC §0, and adds a note).
* nodes, ``bladder_mucosal_invasion`` → ``bladder_mucosa``, ``bowel_mucosal_invasion`` →
  ``bowel_mucosa``, ``inguinal_nodes``, ``distant_metastasis`` → ``distant_mets``,
  ``peritoneal_metastases`` → 2009 ``intraabdominal_mets`` / 2023 ``abdominal_peritoneal_mets``.

Pathology (2023 and ESGO): ``endometrioid_histology`` + ``tumour_grade`` → ``histotype`` /
``grade`` (``endometrioid`` G1–G3; a non-endometrioid carcinoma is passed as ``serous``: both engines
treat every non-endometrioid type alike, SPEC §2.2 and §7.1); ``lvsi`` MR:S031.* → ``none`` /
``focal`` / ``substantial``; ``molecular_class`` MR:S032.* → ``molecular``; ``ovarian_ia3_criteria``;
``residual_disease`` (absent: read as no residual disease, with a note for stages III–IVA).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maerad.report.rules import RiskGroupResult, StageResult
from maerad.report.rules.endometrium2023 import Figo2023Findings
from maerad.report.templates.derivation import Derivation, Derived, RuleNote, RuleOptions, run_rule
from maerad.report.templates.model import Value
from maerad.terminology.graph import TermGraph

__all__ = ["ENDOMETRIUM_DERIVATION", "esgo_input", "figo2009_findings", "figo2023_findings"]

TEMPLATE = "endometrium-figo2009"
MI_RATIO = {"MR:F061": 0.0, "MR:F062": 0.25, "MR:F063": 0.75}
_RECORD_ONLY = ("MMRd", "NSMP")  # SPEC §2.2: recorded after the stage, not a separate stage value


def _flag(values: Mapping[str, Value], key: str) -> bool:
    return values.get(key) is True


def _anatomy(values: Mapping[str, Value]) -> dict[str, Any]:
    return {
        "myometrial_invasion_ratio": MI_RATIO[str(values.get("myometrial_invasion", "MR:F061"))],
        "cervical_stromal_invasion": _flag(values, "cervical_stromal_invasion"),
        "vagina": values.get("vaginal_involvement") in ("MR:F031", "MR:F032"),
        "parametrium": values.get("parametrial_invasion") == "MR:F020",
        "nodes_pelvic": _flag(values, "pelvic_nodes"),
        "nodes_paraaortic": _flag(values, "paraaortic_nodes"),
        "bladder_mucosa": _flag(values, "bladder_mucosal_invasion"),
        "bowel_mucosa": _flag(values, "bowel_mucosal_invasion"),
        "distant_mets": _flag(values, "distant_metastasis"),
        "inguinal_nodes": _flag(values, "inguinal_nodes"),
    }


def figo2009_findings(values: Mapping[str, Value]) -> dict[str, Any]:
    """The :class:`~maerad.report.rules.EndometriumFindings` mapping of a report's field values."""
    f = _anatomy(values)
    f["cervical_glandular_involvement"] = _flag(values, "endocervical_glandular_only")
    f["serosa"] = _flag(values, "serosal_invasion")
    f["adnexa"] = _flag(values, "adnexal_involvement")
    f["intraabdominal_mets"] = _flag(values, "peritoneal_metastases")
    return f


def _pathology(values: Mapping[str, Value]) -> dict[str, Any]:
    endometrioid = values.get("endometrioid_histology")
    if endometrioid is None:
        return {}
    f: dict[str, Any] = {"histotype": "endometrioid" if endometrioid is True else "serous"}
    grade = values.get("tumour_grade")
    if endometrioid is True and isinstance(grade, (int, float)):
        f["grade"] = f"G{int(grade)}"
    lvsi = values.get("lvsi")
    if isinstance(lvsi, str):
        f["lvsi"] = lvsi.rsplit(".", 1)[1]
    molecular = values.get("molecular_class")
    if isinstance(molecular, str):
        f["molecular"] = molecular.rsplit(".", 1)[1]
    return f


def figo2023_findings(values: Mapping[str, Value]) -> dict[str, Any]:
    """The :class:`~maerad.report.rules.Figo2023Findings` mapping (anatomy plus pathology inputs)."""
    f = _anatomy(values)
    f["subserosa_or_serosa"] = _flag(values, "serosal_invasion")
    f["ovary"] = _flag(values, "adnexal_involvement")
    f["abdominal_peritoneal_mets"] = _flag(values, "peritoneal_metastases")
    f.update(_pathology(values))
    if "ovarian_ia3_criteria" in values:
        f["ovarian_ia3_criteria"] = _flag(values, "ovarian_ia3_criteria")
    return f


def esgo_input(values: Mapping[str, Value], figo2009_stage: str) -> dict[str, Any]:
    """The :class:`~maerad.report.rules.Esgo2020Input` mapping (FIGO 2009 stage from the engine)."""
    path = _pathology(values)
    f: dict[str, Any] = {"figo2009_stage": figo2009_stage, "histotype": path["histotype"],
                         "myometrial_invasion": values.get("myometrial_invasion") in ("MR:F062", "MR:F063"),
                         "residual_disease": _flag(values, "residual_disease")}
    for key in ("grade", "lvsi", "molecular"):
        if key in path:
            f[key] = path[key]
    return f


def _stage_2023_concept(graph: TermGraph, stage: str) -> str:
    """``IBmMMRd`` → ``MR:S003.IB`` (MMRd/NSMP are recorded by the molecular-class field)."""
    for klass in _RECORD_ONLY:
        if stage.endswith("m" + klass):
            stage = stage[: -len(klass) - 1]
    return graph.value_concept("MR:S003", stage)


def _derive(values: Mapping[str, Value], graph: TermGraph, options: RuleOptions) -> Derived:
    notes: list[RuleNote] = []
    if values.get("parametrial_invasion") == "MR:F022":
        notes.append(RuleNote("report", "parametrium equivocal: not used to up-stage", "figo2009_stage"))
    f2009 = figo2009_findings(values)
    stage09 = run_rule("figo2009-endometrium", f2009, options, template=TEMPLATE)
    assert isinstance(stage09, StageResult)
    derived: dict[str, Value] = {"figo2009_stage": graph.value_concept("MR:S002", stage09.stage)}
    notes.extend(RuleNote("figo2009-endometrium", m, "figo2009_stage") for m in stage09.flags)
    findings = {"figo2009-endometrium": f2009}
    if "endometrioid_histology" in values:
        f2023 = figo2023_findings(values)
        aggressive = Figo2023Findings.model_validate(f2023).aggressive
        if aggressive is not None:
            derived["histotype_class"] = "MR:S030." + ("aggressive" if aggressive else "non-aggressive")
        stage23 = run_rule("figo2023-endometrium", f2023, options, template=TEMPLATE)
        assert isinstance(stage23, StageResult)
        derived["figo2023_stage"] = _stage_2023_concept(graph, stage23.stage)
        notes.extend(RuleNote("figo2023-endometrium", m, "figo2023_stage") for m in stage23.flags)
        esgo = esgo_input(values, stage09.stage)
        risk = run_rule("esgo2020", esgo, options, template=TEMPLATE)
        assert isinstance(risk, RiskGroupResult)
        if risk.risk_group is not None:
            derived["esgo2020_risk_group"] = graph.value_concept("MR:S040", risk.risk_group.replace("_", "-"))
        notes.extend(RuleNote("esgo2020", m, "esgo2020_risk_group") for m in risk.flags)
        if "residual_disease" not in values and stage09.stage in ("IIIA", "IIIB", "IIIC1", "IIIC2", "IVA"):
            notes.append(RuleNote("report", "residual disease not stated: read as none for the ESGO 2020 "
                                  "risk group (advanced if residual disease remains)", "esgo2020_risk_group"))
        findings.update({"figo2023-endometrium": f2023, "esgo2020": esgo})
    return Derived(values=derived, notes=tuple(notes), findings=findings)


ENDOMETRIUM_DERIVATION = Derivation(
    TEMPLATE, ("figo2009-endometrium", "figo2023-endometrium", "esgo2020"), _derive,
    "FIGO 2009 stage; FIGO 2023 stage, histotype class and ESGO 2020 risk group with pathology "
    "(SPEC §2, §7.1)",
)
