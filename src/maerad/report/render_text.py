"""English and Chinese report text from a :class:`StructuredReport`.

The findings are listed section by section in the template's clinical order; concept values are
written with the terminology's **preferred term** in the report language only (never a synonym). A
concept without a term in that language is written with its English preferred term (every concept
of the bundled ontology has a Chinese term: SPEC-sourced, or a maerad translation, see
docs/terminology.md; a user ontology may lack them). The last line is the
impression: the impression fields (stage, score, grades) and the report's flags. A flag that is a
code (``rmi_features_from_mri``) is written with its label in the report language; the generator's
RMI summary and stage-head flags are written in Chinese in a Chinese report (other rule notes stay
in English).

Examples::

    >>> from maerad.report.render_text import render_text
    >>> from maerad.report.derive import derive_report
    >>> from maerad.report.structured_report import ReportFlag, StructuredReport
    >>> r = derive_report(StructuredReport.model_validate({
    ...     "template_id": "pelvic-floor", "template_version": "1.0.0",
    ...     "fields": {"h_line_mm": 55, "m_line_mm": 15, "bladder_base_descent_mm": -5,
    ...                "cervix_descent_mm": -20, "anorectal_junction_descent_mm": -5}}))
    >>> render_text(r, "en").splitlines()[-1]
    'Impression: HMO H grade 0; HMO M grade 0. No flags.'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from maerad.errors import ConfigError
from maerad.report.structured_report import ReportFlag, StructuredReport
from maerad.report.templates.model import FieldSpec, ReportTemplate, Value
from maerad.report.templates.registry import get_template
from maerad.terminology.graph import TermGraph

__all__ = [
    "FLAG_LABELS",
    "LANGUAGES",
    "Language",
    "TermUse",
    "concept_term",
    "field_text",
    "flag_text",
    "impression_line",
    "render_text",
    "term_uses",
]

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")

_WORDS = {
    "en": {"yes": "yes", "no": "no", "colon": ": ", "sep": "; ", "list": ", ", "stop": ".",
           "impression": "Impression", "flags": "Flags", "no_flags": "No flags.", "template": "Template",
           "space": " "},
    "zh": {"yes": "是", "no": "否", "colon": "：", "sep": "；", "list": "、", "stop": "。",
           "impression": "印象", "flags": "提示", "no_flags": "无提示。", "template": "模板", "space": ""},
}
_UNITS = {"1": "", "deg": "°"}

# Flags raised as codes by the rule engines, with what a reader should see instead.
FLAG_LABELS: dict[str, dict[Language, str]] = {
    "rmi_features_from_mri": {
        "en": "RMI ultrasound features (U) read from the MRI findings, an adaptation of the ultrasound index",
        "zh": "RMI的超声特征（U）取自MRI所见，为对超声指数的改编",
    },
}
_RMI_SUMMARY = re.compile(r"RMI (\S+): U=(\d+), M=(\d+), cut-off (\S+)")
_STAGE_HEAD = re.compile(r"the model's direct stage head predicts (.+); "
                         r"the rule engines derive (.+) from the generated findings")


@dataclass(frozen=True)
class TermUse:
    """A terminology term written in a rendered report.

    ``text`` is the concept's preferred term; ``written`` is how the report writes it, which differs
    only by a stage suffix (``IIIC1r``; in Chinese before the final 期: ``IIIC1r期``).
    """

    field: str
    concept: str
    text: str
    subject: str | None
    written: str = ""


def _check_lang(lang: str) -> Language:
    if lang not in LANGUAGES:
        raise ConfigError(f"report language must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return "zh" if lang == "zh" else "en"


def concept_term(graph: TermGraph, cid: str, lang: str) -> str:
    """The preferred term of ``cid`` in ``lang``, else its English preferred term, else the id."""
    concept = graph.concept(cid)
    return concept.preferred(lang) or concept.preferred("en") or cid


def _suffix(spec: FieldSpec, value: str, report: StructuredReport, graph: TermGraph) -> str:
    rule = spec.label_suffix
    if rule is None or not any(graph.subsumes(w, value) for w in rule.within):
        return ""
    other = report.value(rule.field)
    if other is None:
        return rule.default or ""
    key = ("true" if other else "false") if isinstance(other, bool) else str(other)
    return rule.values.get(key, rule.default or "")


def _written(term: str, suffix: str, lang: str) -> str:
    # Chinese stage terms end in 期 ("stage"); the r / p or molecular suffix belongs to the stage
    # designation, before 期 (IIIC1r期), as Chinese reports write it.
    if suffix and lang == "zh" and term.endswith("期"):
        return f"{term[:-1]}{suffix}期"
    return term + suffix


def field_text(spec: FieldSpec, value: Value, report: StructuredReport, graph: TermGraph, lang: str) -> str:
    """The value of one field as written in the report (without its label)."""
    words = _WORDS[_check_lang(lang)]
    if spec.type == "boolean":
        return words["yes"] if value is True else words["no"]
    if spec.type == "number":
        assert isinstance(value, (int, float)) and spec.unit is not None
        unit = _UNITS.get(spec.unit, spec.unit)
        number = f"{int(value)}" if spec.integer else f"{value:.10g}"
        return f"{number} {unit}".strip() if unit != "°" else f"{number}°"
    if spec.type == "text":
        return str(value)
    items = value if isinstance(value, list) else [value]
    written = [_written(concept_term(graph, str(c), lang), _suffix(spec, str(c), report, graph), lang)
               for c in items]
    return words["list"].join(written)


def term_uses(report: StructuredReport, lang: str = "en", *, template: ReportTemplate | None = None,
              graph: TermGraph | None = None) -> list[TermUse]:
    """Every terminology term the rendered text contains (concept values of filled fields)."""
    graph = graph if graph is not None else _bundled()
    template = template if template is not None else get_template(report.template_id, report.template_version)
    uses = []
    for spec in template.fields:
        value = report.value(spec.id)
        if spec.type != "concept" or value is None:
            continue
        for cid in value if isinstance(value, list) else [value]:
            term = concept_term(graph, str(cid), lang)
            written = _written(term, _suffix(spec, str(cid), report, graph), lang)
            uses.append(TermUse(spec.id, str(cid), term, spec.scope or None, written))
    return uses


def render_text(report: StructuredReport, lang: str = "en", *, template: ReportTemplate | None = None,
                graph: TermGraph | None = None) -> str:
    """The report as text in ``lang`` (``"en"`` or ``"zh"``).

    Raises:
        ConfigError: unknown language or template.
    """
    words = _WORDS[_check_lang(lang)]
    graph = graph if graph is not None else _bundled()
    template = template if template is not None else get_template(report.template_id, report.template_version)
    lines = [template.title.get(lang), f"{words['template']} {template.id} {template.version}"]
    impression = set(template.impression)
    for section in template.sections:
        rows = [spec for spec in template.fields
                if spec.section == section.id and spec.id not in impression and spec.id in report.fields]
        if not rows:
            continue
        lines.extend(["", section.label.get(lang)])
        for spec in rows:
            text = field_text(spec, report.fields[spec.id].value, report, graph, lang)
            lines.append(f"- {spec.label.get(lang)}{words['colon']}{text}")
    lines.extend(["", impression_line(report, lang, template=template, graph=graph)])
    return "\n".join(lines)


def impression_line(report: StructuredReport, lang: str = "en", *, template: ReportTemplate | None = None,
                    graph: TermGraph | None = None) -> str:
    """``Impression: <stage / score / grades>. Flags: (1) … (2) …`` in ``lang``."""
    words = _WORDS[_check_lang(lang)]
    graph = graph if graph is not None else _bundled()
    template = template if template is not None else get_template(report.template_id, report.template_version)
    items = []
    for field_id in template.impression:
        entry = report.fields.get(field_id)
        if entry is None:
            continue
        spec = template.field(field_id)
        text = field_text(spec, entry.value, report, graph, lang)
        if not _names_itself(spec, entry.value, graph):
            text = f"{spec.label.get(lang)}{words['colon']}{text}"
        items.append(text)
    head = f"{words['impression']}{words['colon']}{words['sep'].join(items) or '-'}{words['stop']}"
    if not report.flags:
        return f"{head}{words['space']}{words['no_flags']}"
    numbered = words["space"].join(f"({i}) {flag_text(flag, lang, graph).rstrip('.')}{words['stop']}"
                                   for i, flag in enumerate(report.flags, 1))
    return f"{head}{words['space']}{words['flags']}{words['colon']}{numbered}"


def flag_text(flag: ReportFlag, lang: str = "en", graph: TermGraph | None = None) -> str:
    """A flag as the report writes it: a code flag's label (:data:`FLAG_LABELS`), the RMI summary and
    the stage-head note translated in Chinese, any other message as it is."""
    language = _check_lang(lang)
    message = flag.message.strip()
    if message in FLAG_LABELS:
        return FLAG_LABELS[message][language]
    if language != "zh":
        return message
    if m := _RMI_SUMMARY.fullmatch(message):
        return f"RMI {m[1]}：U={m[2]}，M={m[3]}，界值 {m[4]}"
    if flag.source == "stage-head" and (m := _STAGE_HEAD.fullmatch(message)):
        graph = graph if graph is not None else _bundled()
        terms = _english_terms(graph)
        model, rule = (concept_term(graph, terms[t], "zh") if t in terms else t for t in m.groups())
        return f"模型的直接分期头预测为{model}；规则引擎根据生成的所见推导为{rule}"
    return message


def _english_terms(graph: TermGraph) -> dict[str, str]:
    """English preferred term → concept id (for turning a flag's English terms back into concepts)."""
    found: dict[str, str] = {}
    for concept in graph.concepts():
        term = concept.preferred("en")
        if term:
            found.setdefault(term, concept.id)
    return found


def _names_itself(spec: FieldSpec, value: Value, graph: TermGraph) -> bool:
    """A concept value that is a kind of the field's own concept (a stage of a staging system)
    needs no label: its term says what it is."""
    if spec.type != "concept" or not isinstance(value, str):
        return False
    return any(graph.subsumes(c, value) for c in spec.concepts)


def _bundled() -> TermGraph:
    from maerad.terminology.bundled import load_bundled

    return load_bundled()
