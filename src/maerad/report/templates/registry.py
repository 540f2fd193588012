"""The template registry: built-in templates (JSON package data) plus user-registered ones.

Templates are registered twice: under ``id@version`` (exact) and under ``id`` (the latest version
registered). Third-party packages publish :class:`ReportTemplate` objects in the entry-point group
``maerad.template``.

Examples::

    >>> from maerad.report.templates import TEMPLATES, get_template
    >>> "cervix-figo2018" in TEMPLATES.names()
    True
    >>> get_template("cervix-figo2018", "1.0.0").version
    '1.0.0'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from maerad.errors import ConfigError
from maerad.registry import Registry
from maerad.report.templates.model import ReportTemplate
from maerad.terminology.graph import TermGraph

__all__ = [
    "BUILTIN_DIR",
    "TEMPLATES",
    "check_template_terms",
    "get_template",
    "load_template",
    "parse_template",
    "register_template",
    "template_ids",
]

BUILTIN_DIR = Path(__file__).resolve().parent / "data"

TEMPLATES: Registry[ReportTemplate] = Registry("template")


def parse_template(data: object, *, source: str = "template") -> ReportTemplate:
    """Validate a decoded JSON object as a :class:`ReportTemplate`.

    Raises:
        ConfigError: one line naming ``source`` and every offending key.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a JSON object (a report template)")
    try:
        return ReportTemplate.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise ConfigError(f"{source}: invalid template: " + "; ".join(dict.fromkeys(problems))) from None


def load_template(path: str | os.PathLike[str]) -> ReportTemplate:
    """Read a template JSON file.

    Raises:
        ConfigError: unreadable file, malformed JSON or invalid template.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read template ({exc})") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: malformed JSON at line {exc.lineno} column {exc.colno}: "
                          f"{exc.msg}") from None
    return parse_template(data, source=source)


def check_template_terms(template: ReportTemplate, graph: TermGraph) -> None:
    """Check every concept id a template uses against the terminology.

    Raises:
        ConfigError: an unknown concept, a value-set member outside its root, or a condition that
            compares a concept field with a value outside its value set.
    """
    def known(cid: str, where: str) -> None:
        if cid not in graph:
            raise ConfigError(f"template {template.key}: {where}: unknown concept {cid!r}")

    for f in template.fields:
        for cid in f.concepts:
            known(cid, f"field {f.id!r} concepts")
        if f.value_set is not None:
            known(f.value_set.root, f"field {f.id!r} value_set.root")
            below = graph.descendants(f.value_set.root)
            for cid in f.value_set.members or ():
                known(cid, f"field {f.id!r} value_set.members")
                if cid not in below:
                    raise ConfigError(f"template {template.key}: field {f.id!r}: member {cid} is not below "
                                      f"the value-set root {f.value_set.root}")
        if f.label_suffix is not None:
            for cid in f.label_suffix.within:
                known(cid, f"field {f.id!r} label_suffix.within")
        _check_condition_values(template, f.id, f.when, graph)


def _check_condition_values(template: ReportTemplate, owner: str, cond: Any, graph: TermGraph) -> None:
    if cond is None:
        return
    for sub in (*(cond.any or ()), *(cond.all or ())):
        _check_condition_values(template, owner, sub, graph)
    if cond.field is None or cond.in_ is None:
        return
    target = template.field(cond.field)
    for value in cond.in_:
        ok = {
            "concept": isinstance(value, str) and value in graph,
            "boolean": isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "text": isinstance(value, str),
        }[target.type]
        if not ok:
            raise ConfigError(f"template {template.key}: field {owner!r}: condition value {value!r} does not "
                              f"fit {target.type} field {target.id!r}")


def register_template(template: ReportTemplate, *, overwrite: bool = False,
                      graph: TermGraph | None = None) -> ReportTemplate:
    """Register a template under ``id@version`` and (as the latest version) under ``id``.

    Args:
        template: the template (e.g. from :func:`load_template`).
        overwrite: replace an already registered ``id@version``.
        graph: terminology to check the template's concepts against (default: the bundled ontology).

    Raises:
        ConfigError: ``id@version`` already registered, or unknown concepts.

    Examples::

        >>> from maerad.report.templates import get_template, register_template
        >>> mine = get_template("pelvic-floor").model_copy(update={"id": "my-pelvic-floor"})
        >>> register_template(mine).key
        'my-pelvic-floor@1.0.0'
    """
    if graph is None:
        from maerad.terminology.bundled import load_bundled

        graph = load_bundled()
    check_template_terms(template, graph)
    TEMPLATES.add(template.key, template, overwrite=overwrite)
    _set_latest(template)
    return template


def _set_latest(template: ReportTemplate) -> None:
    current = TEMPLATES.get(template.id) if template.id in TEMPLATES else None
    if current is None or _version(template.version) >= _version(current.version):
        TEMPLATES.add(template.id, template, overwrite=True)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def get_template(template_id: str, version: str | None = None) -> ReportTemplate:
    """The registered template ``template_id`` (a given ``version``, or the latest).

    Raises:
        ConfigError: unknown template, or that version is not registered.
    """
    if version is None:
        return TEMPLATES.get(template_id)
    key = f"{template_id}@{version}"
    if key in TEMPLATES:
        return TEMPLATES.get(key)
    latest = TEMPLATES.get(template_id)  # raises for an unknown id
    known = sorted(n.split("@", 1)[1] for n in TEMPLATES.names() if n.startswith(template_id + "@"))
    raise ConfigError(f"template {template_id!r} version {version!r} is not registered "
                      f"(registered: {', '.join(known) or latest.version})")


def template_ids() -> list[str]:
    """Ids of the registered templates (without versions), sorted."""
    return sorted({name.split("@", 1)[0] for name in TEMPLATES.names()})


def _register_builtins() -> None:
    for path in sorted(BUILTIN_DIR.glob("*.json")):
        template = load_template(path)
        TEMPLATES.add(template.key, template)
        TEMPLATES.add(template.id, template)  # one version per built-in id


_register_builtins()
