"""The generation state machine: clinical order, mandatory fields never skipped, allowed sets never empty
and consistent with the terminology."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maerad.errors import FindingsError
from maerad.report.structured_report import StructuredReport
from maerad.report.template_state import TemplateState
from maerad.report.templates import get_template, parse_template
from maerad.report.templates.model import Value
from maerad.terminology import ConsistencyChecker, load_bundled
from maerad.terminology.consistency import Assertion

TEMPLATES = ("cervix-figo2018", "endometrium-figo2009", "adnexa-orads-mri", "pelvic-floor")
GRAPH = load_bundled()


def test_next_field_follows_the_clinical_order_and_conditions() -> None:
    s = TemplateState.start("cervix-figo2018")
    assert s.next_field() is not None and s.next_field().id == "tumour_visible"  # type: ignore[union-attr]
    hidden = s.fill("tumour_visible", False)
    assert hidden.next_field().id == "parametrium_left", "tumour size and ring do not apply"  # type: ignore[union-attr]
    shown = s.fill("tumour_visible", True)
    assert shown.next_field().id == "max_diameter_mm"  # type: ignore[union-attr]
    assert "figo2018_stage" not in [f.id for f in shown.pending()], "derived fields are not generated"


def test_mandatory_fields_cannot_be_skipped_and_optional_ones_can_be() -> None:
    s = TemplateState.start("cervix-figo2018").fill("tumour_visible", True)
    with pytest.raises(FindingsError, match="'max_diameter_mm' is mandatory and cannot be skipped"):
        s.skip("max_diameter_mm")
    s = s.fill("max_diameter_mm", 22.0).skip("size_cc_mm")
    assert s.next_field().id == "size_ap_mm"  # type: ignore[union-attr]
    with pytest.raises(FindingsError, match="mandatory fields not filled: stromal_ring"):
        s.to_report()


def test_fill_rejects_what_does_not_fit() -> None:
    s = TemplateState.start("cervix-figo2018")
    with pytest.raises(FindingsError, match="field 'tumour_visible': got 'yes', expected true or false"):
        s.fill("tumour_visible", "yes")
    with pytest.raises(FindingsError, match="applies only when tumour_visible is true"):
        s.fill("stromal_ring", "MR:F010")
    with pytest.raises(FindingsError, match="derived by the rule engines"):
        s.fill("figo2018_stage", "MR:S001.IB1")
    with pytest.raises(FindingsError, match="unknown field 'colour'"):
        s.allowed("colour")
    filled = s.fill("tumour_visible", True)
    with pytest.raises(FindingsError, match="already filled"):
        filled.fill("tumour_visible", False)


def test_derived_stage_is_constrained_by_the_terminology() -> None:
    s = TemplateState.start("cervix-figo2018", include_derived=True)
    for field_id, value in (
        ("tumour_visible", True),
        ("max_diameter_mm", 20.0),
        ("stromal_ring", "MR:F012"),
        ("parametrium_left", "MR:F021"),
        ("parametrium_right", "MR:F021"),
        ("vaginal_involvement", "MR:F032"),
    ):
        s = s.fill(field_id, value)
    allowed = s.allowed("figo2018_stage")
    assert not allowed.relaxed
    # F032 implies FIGO 2018 >= IIIA (SPEC §6.3): nothing below IIIA may be generated
    order = [c for c in allowed.concepts]
    assert "MR:S001.IIB" not in order and "MR:S001.IB2" not in order
    assert {"MR:S001.IIIA", "MR:S001.IIIC1", "MR:S001.IVB"} <= set(order)
    with pytest.raises(FindingsError, match=r"MR:S001\.IIB is excluded by the terminology"):
        s.fill("figo2018_stage", "MR:S001.IIB")


def test_allowed_set_is_relaxed_rather_than_empty() -> None:
    template = parse_template(
        {
            "id": "relax-test",
            "version": "1.0.0",
            "title": {"en": "t"},
            "sections": [{"id": "a", "label": {"en": "A"}}],
            "fields": [
                {
                    "id": "lower_vagina",
                    "type": "boolean",
                    "section": "a",
                    "label": {"en": "L"},
                    "concepts": ["MR:F032"],
                },
                {
                    "id": "stage",
                    "type": "concept",
                    "section": "a",
                    "label": {"en": "S"},
                    "value_set": {"root": "MR:S001", "members": ["MR:S001.IB1", "MR:S001.IB2"]},
                },
            ],
        }
    )
    s = TemplateState.start(template).fill("lower_vagina", True)
    allowed = s.allowed("stage")
    assert allowed.relaxed and allowed.concepts == ("MR:S001.IB1", "MR:S001.IB2")
    unrelaxed = TemplateState.start(template).fill("lower_vagina", False).allowed("stage")
    assert not unrelaxed.relaxed and unrelaxed.concepts == ("MR:S001.IB1", "MR:S001.IB2")


def test_per_side_fields_only_see_their_own_side() -> None:
    s = (
        TemplateState.start("cervix-figo2018")
        .fill("tumour_visible", False)
        .fill("parametrium_left", "MR:F020")
    )
    assert s.allowed("parametrium_right").concepts == ("MR:F021", "MR:F020", "MR:F022")


def _value_for(allowed: Any, draw: Any) -> Value:
    if allowed.type == "boolean":
        return bool(draw(st.booleans()))
    if allowed.type == "number":
        low, high = allowed.range
        if allowed.integer:
            return int(draw(st.integers(int(low), int(high))))
        return float(draw(st.floats(low, high, allow_nan=False)))
    if allowed.type == "text":
        return "free text"
    if allowed.multiple:
        return list(draw(st.lists(st.sampled_from(allowed.concepts), min_size=1, max_size=3, unique=True)))
    return str(draw(st.sampled_from(allowed.concepts)))


@settings(max_examples=25, deadline=None)
@given(template_id=st.sampled_from(TEMPLATES), data=st.data())
def test_random_generation_never_meets_an_empty_set_and_ends_in_a_valid_report(
    template_id: str, data: Any
) -> None:
    s = TemplateState.start(template_id, include_derived=True)
    template = get_template(template_id)
    for _ in range(len(template.fields) + 1):
        spec = s.next_field()
        if spec is None:
            break
        allowed = s.allowed(spec.id)
        if allowed.type == "concept":
            assert allowed.concepts, f"{spec.id}: empty allowed set"
        if not spec.mandatory and data.draw(st.booleans()):
            s = s.skip(spec.id)
            continue
        s = s.fill(spec.id, _value_for(allowed, data.draw))
    assert s.done
    try:
        report = s.to_report()
    except FindingsError as exc:  # only the rule engines may reject a random combination (e.g. geometry)
        assert "cannot be graded" in str(exc) or "does not fit" in str(exc) or "cannot exceed" in str(exc)
        return
    assert isinstance(report, StructuredReport)
    generated = [a for a in s.to_report(check=False).fields if template.field(a).type == "concept"]
    assert all(report.fields[f].provenance == "model" for f in generated)


@settings(max_examples=25, deadline=None)
@given(template_id=st.sampled_from(TEMPLATES), data=st.data())
def test_values_drawn_from_allowed_sets_raise_no_exclusion_conflict(template_id: str, data: Any) -> None:
    s = TemplateState.start(template_id)
    while (spec := s.next_field()) is not None:
        s = s.fill(spec.id, _value_for(s.allowed(spec.id), data.draw)) if spec.mandatory else s.skip(spec.id)
    report = s.to_report(check=False)
    assertions: list[Assertion] = []
    for f in get_template(template_id).fields:
        value = report.value(f.id)
        if f.type == "concept" and value is not None:
            items = value if isinstance(value, list) else [str(value)]
            assertions.extend(Assertion(v, f.scope or None) for v in items)
    issues = ConsistencyChecker(GRAPH).check(assertions)
    assert not [i for i in issues if i.kind == "exclusion_conflict"]
