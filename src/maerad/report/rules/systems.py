"""The registry of rule systems used by ``maerad stage`` and :func:`evaluate`.

Each :class:`RuleSystem` knows its findings model and its function; the function's keyword-only
parameters are the system's options, validated against their type annotations.

Examples::

    >>> from maerad.report.rules import RULE_SYSTEMS, evaluate
    >>> "figo2018-cervix" in RULE_SYSTEMS
    True
    >>> evaluate("figo2018-cervix", {"tumour_visible": True, "max_diameter_mm": 20},
    ...          boundaries="original_2018").stage
    'IB1'
"""

from __future__ import annotations

import collections.abc
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from maerad.errors import ConfigError
from maerad.registry import Registry
from maerad.report.rules.cervix import CervixFindings, figo2018_cervix
from maerad.report.rules.endometrium2009 import EndometriumFindings, figo2009_endometrium
from maerad.report.rules.endometrium2023 import Figo2023Findings, figo2023_endometrium
from maerad.report.rules.esgo import Esgo2020Input, esgo2020_risk_group
from maerad.report.rules.findings import allowed_values, parse_findings
from maerad.report.rules.orads import AdnexalFindings, orads_mri
from maerad.report.rules.pelvic_floor import PelvicFloorFindings, pelvic_floor
from maerad.report.rules.results import RuleResult
from maerad.report.rules.rmi import RmiInput, rmi_from_input

__all__ = ["RULE_SYSTEMS", "RuleSystem", "evaluate"]


@dataclass(frozen=True)
class RuleSystem:
    """One rule system: CLI name, findings model, function and its options."""

    name: str
    input_model: type[BaseModel]
    function: Callable[..., RuleResult]
    description: str
    options: Mapping[str, object] = field(init=False)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(self.function, include_extras=True)
        params = inspect.signature(self.function).parameters.values()
        opts = {p.name: hints[p.name] for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
        object.__setattr__(self, "options", opts)

    def defaults(self) -> dict[str, Any]:
        """Default value of every option."""
        params = inspect.signature(self.function).parameters
        return {name: params[name].default for name in self.options}

    def coerce_option(self, key: str, value: object) -> object:
        """Validate one option; a string (from the CLI) is parsed according to the option's type.

        Raises:
            ConfigError: unknown option or a value of the wrong type / outside the allowed set.
        """
        if key not in self.options:
            known = ", ".join(sorted(self.options)) or "none"
            raise ConfigError(f"{self.name}: unknown option {key!r} (options: {known})")
        annotation = self.options[key]
        if isinstance(value, str) and _is_sequence(annotation):
            value = [part.strip() for part in value.split(",") if part.strip()]
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(annotation)  # type: ignore[arg-type]
            return adapter.validate_python(value)
        except ValidationError:
            allowed = allowed_values(annotation)
            expected = f"one of {', '.join(map(str, allowed))}" if allowed else _type_name(annotation)
            raise ConfigError(f"{self.name}: option {key!r}: got {value!r}, expected {expected}") from None

    def __call__(self, findings: object, *, source: str = "findings", **options: object) -> RuleResult:
        """Validate ``findings`` and options, then run the rule function."""
        model = parse_findings(self.input_model, findings, source=source)
        checked = {key: self.coerce_option(key, value) for key, value in options.items()}
        return self.function(model, **checked)


def _is_sequence(annotation: object) -> bool:
    return typing.get_origin(annotation) in (tuple, list, collections.abc.Sequence)


def _type_name(annotation: object) -> str:
    if annotation is bool:
        return "true or false"
    if annotation is float:
        return "a number"
    if _is_sequence(annotation):
        return "a comma-separated list of numbers"
    return str(annotation)


RULE_SYSTEMS: Registry[RuleSystem] = Registry("rule_system")
for _system in (
    RuleSystem("figo2018-cervix", CervixFindings, figo2018_cervix,
               "FIGO 2018 cervical cancer stage (SPEC §1)"),
    RuleSystem("figo2009-endometrium", EndometriumFindings, figo2009_endometrium,
               "FIGO 2009 endometrial cancer stage (SPEC §2.1)"),
    RuleSystem("figo2023-endometrium", Figo2023Findings, figo2023_endometrium,
               "FIGO 2023 endometrial cancer stage (SPEC §2.2)"),
    RuleSystem("orads-mri", AdnexalFindings, orads_mri, "O-RADS MRI risk score (SPEC §3.2)"),
    RuleSystem("rmi", RmiInput, rmi_from_input, "Risk of Malignancy Index I/II/III (SPEC §3.3)"),
    RuleSystem("pelvic-floor", PelvicFloorFindings, pelvic_floor,
               "pelvic-floor rule of three, rectocele and HMO grades (SPEC §4)"),
    RuleSystem("esgo2020", Esgo2020Input, esgo2020_risk_group,
               "ESGO/ESTRO/ESP 2020 endometrial risk group (SPEC §7.1)"),
):
    RULE_SYSTEMS.add(_system.name, _system)


def evaluate(
    system: str, findings: Mapping[str, Any] | object, *, source: str = "findings", **options: object
) -> RuleResult:
    """Run rule system ``system`` on a findings mapping (e.g. decoded JSON).

    Args:
        system: a name in :data:`RULE_SYSTEMS` (``figo2018-cervix``, ``orads-mri``, …).
        findings: the findings mapping (e.g. decoded JSON); anything else raises FindingsError.
        source: name used in error messages (e.g. the JSON file name).
        **options: the system's options (strings are parsed, as from the CLI).

    Raises:
        ConfigError: unknown system or option, bad option value.
        FindingsError: invalid findings (one line naming the fields).
    """
    return RULE_SYSTEMS.get(system)(findings, source=source, **options)
