"""Templates as data: the four built-ins load and use only known concepts; bad templates fail clearly;
users can register their own, versioned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maerad.errors import ConfigError
from maerad.report.templates import (
    DERIVATIONS,
    Condition,
    check_template_terms,
    get_template,
    load_template,
    parse_template,
    register_template,
    template_ids,
    value_set_members,
)
from maerad.terminology.bundled import load_bundled

BUILTIN = ("adnexa-orads-mri", "cervix-figo2018", "endometrium-figo2009", "pelvic-floor")


def _minimal(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "mini",
        "version": "1.0.0",
        "title": {"en": "Mini"},
        "sections": [{"id": "a", "label": {"en": "A"}}],
        "fields": [
            {"id": "seen", "type": "boolean", "section": "a", "label": {"en": "Seen"}, "mandatory": True}
        ],
    }
    data.update(overrides)
    return data


def test_builtin_templates_are_registered_with_their_derivations() -> None:
    assert set(BUILTIN) <= set(template_ids())
    graph = load_bundled()
    for template_id in BUILTIN:
        template = get_template(template_id)
        assert template.version == "1.0.0"
        check_template_terms(template, graph)  # raises on any unknown concept
        assert template.derivation in DERIVATIONS.names()
        assert template.impression, template_id
        assert all(template.field(f).derived for f in template.impression)
        for spec in template.fields:
            assert spec.label.zh, f"{template_id}.{spec.id} has no Chinese label"


def test_cervix_fields_follow_spec_1_6() -> None:
    t = get_template("cervix-figo2018")
    # SPEC §1.6 #5 / #8 / #9: the exclusion-group members, in the template's order
    assert value_set_members(t.field("stromal_ring"), load_bundled()) == ("MR:F010", "MR:F011", "MR:F012")
    assert t.field("parametrium_left").scope == "left" and t.field("parametrium_right").scope == "right"
    assert t.field("vaginal_involvement").value_set is not None
    assert t.field("max_diameter_mm").unit == "mm" and t.field("max_diameter_mm").mandatory
    assert t.field("figo2018_stage").derived and t.impression == ("figo2018_stage",)


def test_root_value_set_is_ordered_by_rank() -> None:
    stages = value_set_members(get_template("cervix-figo2018").field("figo2018_stage"), load_bundled())
    assert stages.index("MR:S001.IB1") < stages.index("MR:S001.IB3") < stages.index("MR:S001.IIIC1")
    assert stages.index("MR:S001.IIIC2") < stages.index("MR:S001.IVB")
    assert "MR:S001" not in stages


def test_conditions() -> None:
    cond = Condition.model_validate({"any": [{"field": "a", "in": [True]}, {"field": "b", "present": True}]})
    assert cond.holds({"a": True}) and cond.holds({"b": "x"})
    assert not cond.holds({"a": 1}), "1 is not true"
    assert not cond.holds({"a": False})
    assert cond.fields() == ("a", "b")
    assert cond.describe() == "a is true or b is filled"
    multi = Condition.model_validate({"field": "m", "in": ["MR:N003"]})
    assert multi.holds({"m": ["MR:N002", "MR:N003"]}) and not multi.holds({"m": ["MR:N002"]})
    with pytest.raises(ValueError):
        Condition.model_validate({"field": "a"})


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"fields": [{"id": "x", "type": "boolean", "section": "nope", "label": {"en": "X"}}]},
            "unknown section",
        ),
        (
            {
                "fields": [
                    {"id": "x", "type": "boolean", "section": "a", "label": {"en": "X"}},
                    {"id": "x", "type": "text", "section": "a", "label": {"en": "X"}},
                ]
            },
            "more than once",
        ),
        (
            {
                "fields": [
                    {
                        "id": "x",
                        "type": "boolean",
                        "section": "a",
                        "label": {"en": "X"},
                        "when": {"field": "y", "in": [True]},
                    },
                    {"id": "y", "type": "boolean", "section": "a", "label": {"en": "Y"}},
                ]
            },
            "not an earlier field",
        ),
        (
            {"fields": [{"id": "x", "type": "concept", "section": "a", "label": {"en": "X"}}]},
            "'value_set' is required",
        ),
        (
            {"fields": [{"id": "x", "type": "number", "section": "a", "label": {"en": "X"}}]},
            "'unit' and 'range'",
        ),
        (
            {
                "fields": [
                    {
                        "id": "x",
                        "type": "boolean",
                        "section": "a",
                        "label": {"en": "X"},
                        "derived": True,
                        "mandatory": True,
                    }
                ]
            },
            "cannot be mandatory",
        ),
        (
            {
                "sections": [{"id": "a", "label": {"en": "A"}}, {"id": "b", "label": {"en": "B"}}],
                "fields": [
                    {"id": "x", "type": "boolean", "section": "b", "label": {"en": "X"}},
                    {"id": "y", "type": "boolean", "section": "a", "label": {"en": "Y"}},
                ],
            },
            "section order",
        ),
        ({"version": "1.0"}, "version"),
        ({"impression": ["nope"]}, "impression lists unknown field"),
    ],
)
def test_invalid_templates_name_the_problem(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_template(_minimal(**overrides), source="mine.json")
    message = str(info.value)
    assert message.startswith("mine.json: invalid template") and expected in message
    assert "\n" not in message


def test_load_template_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t\.json: malformed JSON at line 1"):
        load_template(bad)
    with pytest.raises(ConfigError, match="cannot read template"):
        load_template(tmp_path / "missing.json")


def test_user_template_registration_and_versions(tmp_path: Path) -> None:
    data = _minimal(
        id="user-mini-test",
        fields=[
            {
                "id": "stage",
                "type": "concept",
                "section": "a",
                "label": {"en": "Stage"},
                "value_set": {"root": "MR:S002"},
            }
        ],
    )
    path = tmp_path / "user.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    v1 = register_template(load_template(path))
    v2 = register_template(v1.model_copy(update={"version": "1.1.0"}))
    assert get_template("user-mini-test") is v2, "the id names the latest version"
    assert get_template("user-mini-test", "1.0.0") is v1
    with pytest.raises(ConfigError, match=r"version '9.9.9' is not registered \(registered: 1.0.0, 1.1.0\)"):
        get_template("user-mini-test", "9.9.9")
    with pytest.raises(ConfigError, match="already registered"):
        register_template(v1)
    register_template(v1.model_copy(update={"version": "0.9.0"}))
    assert get_template("user-mini-test") is v2, "an older version does not replace the latest"
    with pytest.raises(ConfigError, match="unknown template 'no-such-template'"):
        get_template("no-such-template")


def test_register_rejects_unknown_or_misplaced_concepts() -> None:
    unknown = parse_template(
        _minimal(
            id="user-bad-concept",
            fields=[
                {"id": "x", "type": "boolean", "section": "a", "label": {"en": "X"}, "concepts": ["MR:F999"]}
            ],
        )
    )
    with pytest.raises(ConfigError, match="unknown concept 'MR:F999'"):
        register_template(unknown)
    outside = parse_template(
        _minimal(
            id="user-bad-member",
            fields=[
                {
                    "id": "x",
                    "type": "concept",
                    "section": "a",
                    "label": {"en": "X"},
                    "value_set": {"root": "MR:F060", "members": ["MR:F010"]},
                }
            ],
        )
    )
    with pytest.raises(ConfigError, match="MR:F010 is not below the value-set root MR:F060"):
        register_template(outside)
    wrong_condition = parse_template(
        _minimal(
            id="user-bad-condition",
            fields=[
                {"id": "a", "type": "boolean", "section": "a", "label": {"en": "A"}},
                {
                    "id": "b",
                    "type": "text",
                    "section": "a",
                    "label": {"en": "B"},
                    "when": {"field": "a", "in": ["yes"]},
                },
            ],
        )
    )
    with pytest.raises(ConfigError, match="does not fit boolean field 'a'"):
        register_template(wrong_condition)
