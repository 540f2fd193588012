"""The decision steps: options, masks applied from the terminology, automatic fields, multi-select."""

from __future__ import annotations

from typing import Any

import pytest

from maerad.errors import FindingsError
from maerad.report.generation.field_steps import NOT_ASSESSED, FieldStep, FieldWalker, WalkState
from maerad.report.templates import parse_template
from maerad.terminology.bundled import load_bundled

GRAPH = load_bundled()
RING = {"root": "MR:F000", "members": ["MR:F010", "MR:F011", "MR:F012"]}


def _field(fid: str, ftype: str, **kw: Any) -> dict[str, Any]:
    return {"id": fid, "type": ftype, "section": "s", "label": {"en": fid.replace("_", " ")}, **kw}


TEMPLATE = parse_template({
    "format": "maerad-report-template/1", "id": "test-steps", "version": "1.0.0",
    "title": {"en": "test"}, "sections": [{"id": "s", "label": {"en": "S"}}],
    "fields": [
        _field("ring", "concept", mandatory=True, value_set=RING),
        _field("ring_again", "concept", value_set=RING),
        _field("intact_flag", "boolean", concepts=["MR:F010"]),
        _field("note", "text"),
        _field("summary", "text", mandatory=True),
        _field("stations", "concept", multiple=True, value_set={"root": "MR:N001"}),
        _field("size_mm", "number", mandatory=True, unit="mm", range=[0, 50]),
    ],
})


def _walker() -> FieldWalker:
    return FieldWalker.for_template(TEMPLATE, GRAPH)


def _choose(walker: FieldWalker, walk: WalkState, step: FieldStep, value: object,
            number: float | None = None) -> WalkState:
    index = next(i for i, o in enumerate(step.options) if o.value == value and type(o.value) is type(value)
                 and (o.action == "value" or value is None))
    return walker.apply(walk, step, index, number)


def _action(walker: FieldWalker, walk: WalkState, step: FieldStep, action: str) -> WalkState:
    return walker.apply(walk, step, next(i for i, o in enumerate(step.options) if o.action == action))


def test_masks_follow_the_exclusion_groups_dynamically() -> None:
    w = _walker()
    walk, step = w.next_step(w.start())
    assert step is not None and step.field.id == "ring" and step.kind == "concept"
    assert [o.value for o in step.options] == RING["members"]  # mandatory: no skip option
    assert all(step.mask)
    walk = _choose(w, walk, step, "MR:F012")  # disrupted ring
    walk, step = w.next_step(walk)
    assert step is not None and step.field.id == "ring_again"
    allowed = {o.value: o.allowed for o in step.options}
    # E-RING (SPEC §6.3): intact / thinned are excluded once "disrupted" is asserted
    assert allowed == {"MR:F010": False, "MR:F011": False, "MR:F012": True, None: True}
    walk = _action(w, walk, step, "skip")
    walk, step = w.next_step(walk)
    assert step is not None and step.field.id == "intact_flag" and step.kind == "boolean"
    assert {o.value: o.allowed for o in step.options} == {True: False, False: True, None: True}
    with pytest.raises(FindingsError, match="not allowed"):
        _choose(w, walk, step, True)


def test_true_allowed_without_a_conflict() -> None:
    w = _walker()
    walk, step = w.next_step(w.start())
    assert step is not None
    walk = _choose(w, walk, step, "MR:F010")
    walk, step = w.next_step(walk)
    assert step is not None
    walk = _action(w, walk, step, "skip")
    walk, step = w.next_step(walk)
    assert step is not None and step.field.id == "intact_flag"
    assert all(step.mask)


def _until(w: FieldWalker, field: str) -> tuple[WalkState, FieldStep]:
    walk, step = w.next_step(w.start())
    while step is not None and step.field.id != field:
        walk = _choose(w, walk, step, "MR:F011") if step.kind == "concept" and step.field.mandatory else \
            _action(w, walk, step, "skip")
        walk, step = w.next_step(walk)
    assert step is not None
    return walk, step


def test_multi_select_stop_and_value_set_order() -> None:
    w = _walker()
    walk, step = _until(w, "stations")
    assert step.kind == "multi" and step.options[-1].action == "skip"
    walk = _choose(w, walk, step, "MR:N005")
    walk, step = w.next_step(walk)
    assert step is not None and step.field.id == "stations"
    assert "MR:N005" not in [o.value for o in step.options] and step.options[-1].action == "stop"
    walk = _choose(w, walk, step, "MR:N003")
    walk, step = w.next_step(walk)
    assert step is not None
    walk = _action(w, walk, step, "stop")
    assert walk.state.values()["stations"] == ["MR:N003", "MR:N005"]  # value-set order


def test_text_fields_and_numbers() -> None:
    w = _walker()
    walk, step = _until(w, "stations")
    walk = _action(w, walk, step, "skip")
    walk, step = w.next_step(walk)
    assert step is not None and step.field.id == "size_mm" and step.kind == "number"
    assert step.range == (0.0, 50.0) and len(step.options) == 1  # mandatory: fill only
    assert FieldWalker.clamp(step, 70.0) == 50.0 and FieldWalker.clamp(step, 12.34) == 12.3
    walk = w.apply(walk, step, 0, 71.0)
    walk, step = w.next_step(walk)
    assert step is None
    report = w.finish(walk)
    values = report.values()
    assert values["summary"] == NOT_ASSESSED and "note" not in values  # text is never generated
    assert values["size_mm"] == 50.0
    with pytest.raises(FindingsError, match="number"):
        w.apply(*_until(w, "size_mm"), 0, None)


def test_integer_numbers_are_rounded_into_range() -> None:
    w = FieldWalker.for_template("endometrium-figo2009", GRAPH)
    walk = w.start()
    values = {"tumour_size_mm": 30.0, "myometrial_invasion": "MR:F062", "endometrioid_histology": True}
    while True:
        walk, step = w.next_step(walk)
        assert step is not None
        if step.field.id == "tumour_grade":
            break
        value = values.get(step.field.id)
        if step.kind == "number":
            walk = w.apply(walk, step, 0, value) if value is not None else _action(w, walk, step, "skip")
        elif value is not None:
            walk = _choose(w, walk, step, value)
        else:
            first = next(i for i, o in enumerate(step.options) if o.allowed)
            walk = w.apply(walk, step, first)
    assert step.integer and step.range == (1.0, 3.0)
    assert FieldWalker.clamp(step, 2.6) == 3 and isinstance(FieldWalker.clamp(step, 2.6), int)
    assert FieldWalker.clamp(step, -4.0) == 1


def test_skip_fields_are_never_asked() -> None:
    w = FieldWalker(TEMPLATE, GRAPH, {c: i for i, c in enumerate(sorted(GRAPH))},
                    {f"{TEMPLATE.key}/{f.id}": i for i, f in enumerate(TEMPLATE.fields)},
                    skip_fields=["ring_again", "size_mm"])
    asked = []
    walk, step = w.next_step(w.start())
    while step is not None:
        asked.append(step.field.id)
        walk = w.apply(walk, step, next(i for i, o in enumerate(step.options) if o.allowed))
        walk, step = w.next_step(walk)
    assert "ring_again" not in asked and "size_mm" not in asked
    assert w.finish(walk).value("size_mm") == 0.0  # mandatory: the lowest value of its range
