"""Derivations: the per-template mapping from report fields to the rule engines and back.

A :class:`Derivation` turns the (non-derived) field values of a report into the findings models of
the rule engines (:mod:`maerad.report.rules`), runs them, and returns the derived field values (stage,
score, grades, risk group) plus the engines' notes. Each built-in template has one, written out
explicitly in its own module; users register theirs in :data:`DERIVATIONS` (entry-point group
``maerad.report_derivation``).

Examples::

    >>> from maerad.report.templates import DERIVATIONS
    >>> sorted(DERIVATIONS.names())[:2]
    ['adnexa-orads-mri', 'cervix-figo2018']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from maerad.errors import ConfigError
from maerad.registry import Registry
from maerad.report.rules import RULE_SYSTEMS, RuleResult, evaluate
from maerad.report.templates.model import Value
from maerad.terminology.graph import TermGraph

__all__ = ["DERIVATIONS", "Derivation", "Derived", "RuleNote", "RuleOptions", "run_rule"]

RuleOptions = Mapping[str, Mapping[str, object]]
"""Options per rule system, e.g. ``{"figo2018-cervix": {"boundaries": "original_2018"}}``."""


@dataclass(frozen=True)
class RuleNote:
    """A note (flag) of a rule engine, attached to the derived field it concerns."""

    system: str
    message: str
    field: str | None = None


@dataclass(frozen=True)
class Derived:
    """What a derivation returns.

    Attributes:
        values: derived field id → value (fields that cannot be derived are left out).
        notes: the rule engines' flags and the mapping's own remarks.
        findings: rule system → the findings mapping passed to it (for inspection and tests).
    """

    values: dict[str, Value] = field(default_factory=dict)
    notes: tuple[RuleNote, ...] = ()
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)


DeriveFunction = Callable[[Mapping[str, Value], TermGraph, RuleOptions], Derived]


@dataclass(frozen=True)
class Derivation:
    """A named derivation: the rule systems it uses and the function doing the mapping.

    ``function(values, graph, options)`` receives the non-derived field values, the terminology
    (to turn rule results into concept ids) and options per rule system.
    """

    name: str
    systems: tuple[str, ...]
    function: DeriveFunction
    description: str = ""

    def __call__(self, values: Mapping[str, Value], graph: TermGraph,
                 options: RuleOptions | None = None) -> Derived:
        """Run the derivation.

        Raises:
            ConfigError: options for a rule system this derivation does not use.
        """
        options = options or {}
        unknown = sorted(set(options) - set(self.systems))
        if unknown:
            raise ConfigError(f"derivation {self.name}: options given for {', '.join(unknown)}, "
                              f"which it does not use (systems: {', '.join(self.systems)})")
        return self.function(values, graph, options)


DERIVATIONS: Registry[Derivation] = Registry("report_derivation")


def run_rule(system: str, findings: dict[str, Any], options: RuleOptions, *, template: str) -> RuleResult:
    """Run rule system ``system`` on a findings mapping built by a derivation.

    The findings are validated by the rule engine's own model; a failure there means the report
    combines fields the engine rejects, and the error names the template and the engine.
    """
    if system not in RULE_SYSTEMS:
        raise ConfigError(f"template {template}: unknown rule system {system!r}")
    return evaluate(system, findings, source=f"{template} -> {system}", **dict(options.get(system, {})))
