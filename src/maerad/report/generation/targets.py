"""Ground-truth structured reports of phantom cases: the training and evaluation targets.

A phantom study folder's metadata holds the sampled findings and the rule-engine outputs
(:mod:`maerad.data.phantom`). :func:`targets_from_metadata` writes the findings as the non-derived
fields of the kind's template (:mod:`.phantom_fields`), checks the report (the template's derivation
fills stage / score / grades with provenance ``rule``) and compares the derived values with the
phantom's own rule outputs. The phantom's outputs are the truth of the *headline* field (the stage
or score scored by ``maerad evaluate``); a derived value the template cannot reproduce is listed in
``mismatches`` (the known case: a haemorrhagic cyst, which has no template concept, SPEC §3.2 FAQ).

Examples::

    >>> meta = {"kind": "normal", "synthetic": True, "anatomy": {"menopausal_status": "postmenopausal"}}
    >>> t = targets_from_metadata(meta)
    >>> t.template, t.headline_field, t.headline, t.report.value("orads_score")
    ('adnexa-orads-mri', 'orads_score', 'MR:S010.1', 'MR:S010.1')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maerad.errors import InputError
from maerad.report.cross_check import check_report
from maerad.report.generation.phantom_fields import KIND_TEMPLATES, phantom_report_fields
from maerad.report.structured_report import FieldEntry, StructuredReport
from maerad.report.templates import ReportTemplate, RuleOptions, get_template
from maerad.report.templates.model import Value
from maerad.terminology.consistency import ConsistencyChecker
from maerad.terminology.graph import TermGraph

__all__ = ["CaseTargets", "headline_field", "phantom_derived", "targets_from_metadata"]

_SEVERITY = {"mild": "MR:P020", "moderate": "MR:P021", "severe": "MR:P022",
             "small": "MR:P020", "large": "MR:P022"}
_COMPARTMENTS = (("anterior", "cystocele"), ("middle", "uterine_prolapse"), ("posterior", "arj_descent"))


@dataclass(frozen=True)
class CaseTargets:
    """The ground truth of one case.

    Attributes:
        kind: phantom case kind (``cervical``, ``endometrial``, ``adnexal``, ``pelvic_floor``, ``normal``).
        template: the template id the case is reported with.
        report: the checked ground-truth report (stated fields ``human``, derived fields ``rule``).
        headline_field: the derived field scored as stage / score (see :func:`headline_field`).
        headline: its true value (a concept id) from the phantom's own rule outputs.
        mismatches: derived fields whose template value differs from the phantom output.
        synthetic: the case is synthetic (phantom) data.
    """

    kind: str
    template: str
    report: StructuredReport
    headline_field: str | None
    headline: str | None
    mismatches: tuple[str, ...] = ()
    synthetic: bool = True


def headline_field(template: ReportTemplate) -> str | None:
    """The first impression field that is a derived, unconditional concept field (stage, score).

    ``figo2018_stage`` (cervix), ``figo2009_stage`` (endometrium), ``orads_score`` (adnexa),
    ``hmo_h`` (pelvic floor); None for a template without one.
    """
    for field_id in template.impression:
        spec = template.field(field_id)
        if spec.derived and spec.type == "concept" and spec.when is None and not spec.multiple:
            return field_id
    return None


def _outputs(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    outputs = metadata.get("outputs")
    return outputs if isinstance(outputs, Mapping) else {}


def phantom_derived(kind: str, metadata: Mapping[str, Any], graph: TermGraph) -> dict[str, Value]:
    """Derived field values as the phantom's rule outputs state them (the truth to compare with).

    Raises:
        InputError: the outputs lack what the kind needs.
    """
    out = _outputs(metadata)
    try:
        if kind == "cervical":
            return {"figo2018_stage": graph.value_concept("MR:S001", str(out["figo2018"]["stage"]))}
        if kind == "endometrial":
            found: dict[str, Value] = {
                "figo2009_stage": graph.value_concept("MR:S002", str(out["figo2009"]["stage"]))}
            risk = out.get("esgo2020", {}).get("risk_group")
            if isinstance(risk, str) and isinstance(metadata.get("pathology"), Mapping):
                found["esgo2020_risk_group"] = graph.value_concept("MR:S040", risk.replace("_", "-"))
            return found
        if kind == "adnexal":
            return {"orads_score": graph.value_concept("MR:S010", str(out["orads"]["score"]))}
        if kind == "normal":
            return {"orads_score": graph.value_concept("MR:S010", "1")}  # no lesion: O-RADS 1 (SPEC §3.2)
        if kind == "pelvic_floor":
            return _pelvic_floor_derived(out["pelvic_floor"])
    except (KeyError, TypeError):
        raise InputError(f"phantom metadata: the rule outputs of this {kind} case are incomplete") from None
    raise InputError(f"phantom metadata: unknown case kind {kind!r}")


def _pelvic_floor_derived(result: Mapping[str, Any]) -> dict[str, Value]:
    grades, hmo = result["grades"], result["hmo"]
    found: dict[str, Value] = {}
    for compartment, field_id in _COMPARTMENTS:
        found[field_id] = grades[compartment] != "none"
        if grades[compartment] != "none":
            found[f"{field_id}_severity"] = _SEVERITY[grades[compartment]]
    if "rectocele" in grades:
        found["rectocele_severity"] = _SEVERITY[grades["rectocele"]]
    found["hmo_h"] = f"MR:P030.H{int(hmo['H'])}"
    found["hmo_m"] = f"MR:P030.M{int(hmo['M'])}"
    if isinstance(result.get("strain", {}).get("below_h_line_mm"), Mapping):
        found["hmo_o"] = f"MR:P030.O{int(hmo['O'])}"
    return found


def _rule_options(kind: str, metadata: Mapping[str, Any], options: RuleOptions | None) -> RuleOptions:
    merged: dict[str, dict[str, object]] = {k: dict(v) for k, v in (options or {}).items()}
    config = metadata.get("config")
    boundaries = config.get("figo2018_boundaries") if isinstance(config, Mapping) else None
    if kind == "cervical" and isinstance(boundaries, str):  # SPEC §1.1.1 (U1): the phantom's convention
        merged.setdefault("figo2018-cervix", {}).setdefault("boundaries", boundaries)
    return merged


def targets_from_metadata(metadata: Mapping[str, Any], *, include_normal: bool = True,
                          graph: TermGraph | None = None, options: RuleOptions | None = None,
                          checker: ConsistencyChecker | None = None) -> CaseTargets | None:
    """The ground truth of a phantom case from its study metadata, or None when it has none.

    Args:
        metadata: ``Study.metadata`` / the ``metadata`` of ``case.json``.
        include_normal: report normal controls with the adnexa template (O-RADS 1); False → None.
        graph: the terminology (default: bundled).
        options: rule options per system, passed to the template's derivation.
        checker: a consistency checker to reuse (building one takes a while).

    Returns:
        :class:`CaseTargets`, or None for a study without phantom findings (real data, or a normal
        control with ``include_normal=False``).

    Raises:
        InputError: phantom metadata that is incomplete or inconsistent (named).
    """
    kind = metadata.get("kind")
    if not isinstance(kind, str) or kind not in KIND_TEMPLATES:
        return None
    if kind == "normal" and not include_normal:
        return None
    if graph is None:
        from maerad.terminology.bundled import load_bundled

        graph = load_bundled()
    template = get_template(KIND_TEMPLATES[kind])
    values = phantom_report_fields(kind, metadata)
    ordered = {f.id: FieldEntry(value=values[f.id], provenance="human")
               for f in template.fields if f.id in values}
    report = StructuredReport(template_id=template.id, template_version=template.version, fields=ordered)
    checked = check_report(report, template=template, graph=graph,
                           options=_rule_options(kind, metadata, options), checker=checker,
                           source=f"phantom {kind} case")
    truth = phantom_derived(kind, metadata, graph)
    mismatches = tuple(k for k, v in truth.items() if checked.value(k) != v)
    head = headline_field(template)
    headline = truth.get(head) if head is not None else None
    return CaseTargets(kind=kind, template=template.id, report=checked, headline_field=head,
                       headline=str(headline) if headline is not None else None, mismatches=mismatches,
                       synthetic=metadata.get("synthetic") is True)
