"""The findings contract shared by every rule engine: a strict, frozen pydantic base model and
:func:`parse_findings`, which turns a JSON-like mapping into a findings model or raises a one-line
:class:`~maerad.errors.FindingsError` naming the field(s) and the allowed values.

Examples::

    >>> from maerad.report.rules import CervixFindings, parse_findings
    >>> parse_findings(CervixFindings, {"tumour_visible": True, "max_diameter_mm": 25}).max_diameter_mm
    25.0
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError

from maerad.errors import FindingsError

__all__ = [
    "Findings",
    "Flag",
    "Fraction",
    "Millimetres",
    "NonNegative",
    "Point2D",
    "allowed_values",
    "parse_findings",
]

# Numbers in findings are strict (no "25" strings, no booleans) and finite (no NaN / inf).
NonNegative = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
"""A non-negative, finite number (e.g. a concentration in U/mL)."""
Millimetres = NonNegative
"""A non-negative, finite length in mm."""
Fraction = Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)]
"""A finite ratio in [0, 1]."""
Coordinate = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Point2D = tuple[Coordinate, Coordinate]
"""A 2-D point ``(x, y)`` in mm."""


def _from_numpy_bool(value: object) -> object:
    """Let ``numpy.bool_`` through as ``bool``; strings and numbers stay errors."""
    kind = type(value)
    return bool(value) if kind.__module__ == "numpy" and kind.__name__ in ("bool_", "bool") else value


Flag = Annotated[bool, BeforeValidator(_from_numpy_bool), Strict()]
"""A strict boolean: JSON ``true`` / ``false`` (or ``numpy.bool_``), never ``"yes"`` or ``1``."""

ModelT = TypeVar("ModelT", bound=BaseModel)


class Findings(BaseModel):
    """Base class of all findings models: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_findings(model_cls: type[ModelT], data: object, *, source: str = "findings") -> ModelT:
    """Validate ``data`` (a JSON object already decoded to a mapping) as ``model_cls``.

    Args:
        model_cls: the findings model, e.g. :class:`~maerad.report.rules.CervixFindings`.
        data: the decoded JSON value; anything but a mapping with string keys is rejected.
        source: where the data came from (a file name); it starts the error message.

    Raises:
        FindingsError: one line, e.g. ``findings.json: field 'parametrial_invasion': got 'yes',
            expected one of absent, present, equivocal``; every offending field is named.
    """
    if not isinstance(data, Mapping):
        raise FindingsError(f"{source}: expected a JSON object of findings, got {_json_kind(data)}")
    try:
        return model_cls.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_describe(model_cls, err) for err in exc.errors()]
        raise FindingsError(f"{source}: " + "; ".join(dict.fromkeys(problems))) from None


def allowed_values(annotation: object) -> tuple[object, ...] | None:
    """The values a ``Literal`` (or ``Literal | None``) annotation allows, else ``None``."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return typing.get_args(annotation)
    if origin is Annotated:
        return allowed_values(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        values: list[object] = []
        for arg in typing.get_args(annotation):
            inner = allowed_values(arg)
            if inner is not None:
                values.extend(inner)
        return tuple(values) if values else None
    return None


def _describe(model_cls: type[BaseModel], err: Mapping[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    name = ".".join(str(part) for part in loc)
    kind = err.get("type", "")
    got = _show(err.get("input"))
    if kind == "extra_forbidden":
        known = _field_names(model_cls, loc[:-1])
        return f"unknown field {name!r} (allowed fields: {', '.join(known)})"
    if kind == "missing":
        if loc and isinstance(loc[-1], int):  # a fixed-length array is too short
            parent = ".".join(str(part) for part in loc[:-1])
            return f"field {parent!r}: too few items (item {loc[-1]} missing)"
        return f"field {name!r} is required"
    if not loc:  # a whole-model check (model_validator) failed
        return _strip_prefix(str(err.get("msg", "invalid findings")))
    if kind in ("literal_error", "enum"):
        values = _literal_values(model_cls, loc)
        if values is not None:
            return f"field {name!r}: got {got}, expected one of {', '.join(str(v) for v in values)}"
    if kind == "bool_type":
        return f"field {name!r}: got {got}, expected true or false"
    if kind in ("float_type", "int_type", "float_parsing", "int_parsing"):
        return f"field {name!r}: got {got}, expected a number"
    if kind == "finite_number":
        return f"field {name!r}: got {got}, expected a finite number"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"field {name!r}: got {got}, expected a number {_bound_text(kind, err.get('ctx') or {})}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"field {name!r}: got {got}, expected a JSON object"
    if kind in ("tuple_type", "list_type"):
        return f"field {name!r}: got {got}, expected a JSON array"
    if kind in ("too_short", "too_long"):
        return f"field {name!r}: got {got}, {_strip_prefix(str(err.get('msg', '')))}"
    if kind == "value_error":
        return f"field {name!r}: {_strip_prefix(str(err.get('msg', '')))}"
    return f"field {name!r}: got {got}, {str(err.get('msg', 'invalid value')).lower()}"


def _bound_text(kind: str, ctx: Mapping[str, Any]) -> str:
    symbols = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    symbol = symbols[kind]
    bound = next(iter(ctx.values()), "?")
    return f"{symbol} {bound}"


def _strip_prefix(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def _show(value: object) -> str:
    """Strings as Python repr (``'yes'``), everything else in JSON spelling (``true``, ``null``, ``[1]``)."""
    try:
        text = repr(value) if isinstance(value, str) else json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_kind(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


def _resolve_model(model_cls: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The nested model reached by following field names in ``path`` (indices are skipped)."""
    current: type[BaseModel] = model_cls
    for part in path:
        if not isinstance(part, str):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        nested = _model_in(field.annotation)
        if nested is None:
            return None
        current = nested
    return current


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _field_names(model_cls: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    target = _resolve_model(model_cls, path)
    return sorted(target.model_fields) if target is not None else []


def _literal_values(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> tuple[object, ...] | None:
    names = [part for part in loc if isinstance(part, str)]
    if not names:
        return None
    owner = _resolve_model(model_cls, tuple(names[:-1]))
    if owner is None or names[-1] not in owner.model_fields:
        return None
    annotation = owner.model_fields[names[-1]].annotation
    values = allowed_values(annotation)
    if values is None:  # e.g. tuple[Literal[...], ...]
        for arg in typing.get_args(annotation):
            values = allowed_values(arg)
            if values is not None:
                break
    return tuple(v for v in values if v is not None) if values is not None else None
