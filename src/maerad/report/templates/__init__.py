"""Versioned report templates (data) and their derivations (mappings to the rule engines).

Built-in templates (SPEC §1.6, §2.5, §3, §4): ``cervix-figo2018``, ``endometrium-figo2009``,
``adnexa-orads-mri``, ``pelvic-floor``. Users add their own with :func:`load_template` +
:func:`register_template` (and, for derived fields, a :class:`Derivation` in :data:`DERIVATIONS`).

Examples::

    >>> from maerad.report.templates import get_template, template_ids
    >>> template_ids()[:2]
    ['adnexa-orads-mri', 'cervix-figo2018']
    >>> get_template("endometrium-figo2009").derivation
    'endometrium-figo2009'
"""

from __future__ import annotations

from maerad.report.templates.adnexa import ADNEXA_DERIVATION
from maerad.report.templates.cervix import CERVIX_DERIVATION
from maerad.report.templates.derivation import DERIVATIONS, Derivation, Derived, RuleNote, RuleOptions
from maerad.report.templates.endometrium import ENDOMETRIUM_DERIVATION
from maerad.report.templates.model import (
    Condition,
    FieldSpec,
    FieldType,
    LabelSuffix,
    LocalText,
    ReportTemplate,
    Section,
    Value,
    ValueSet,
)
from maerad.report.templates.pelvic_floor import PELVIC_FLOOR_DERIVATION
from maerad.report.templates.registry import (
    TEMPLATES,
    check_template_terms,
    get_template,
    load_template,
    parse_template,
    register_template,
    template_ids,
)
from maerad.report.templates.value_sets import value_set_members

for _derivation in (CERVIX_DERIVATION, ENDOMETRIUM_DERIVATION, ADNEXA_DERIVATION, PELVIC_FLOOR_DERIVATION):
    DERIVATIONS.add(_derivation.name, _derivation)

__all__ = [
    "DERIVATIONS",
    "TEMPLATES",
    "Condition",
    "Derivation",
    "Derived",
    "FieldSpec",
    "FieldType",
    "LabelSuffix",
    "LocalText",
    "ReportTemplate",
    "RuleNote",
    "RuleOptions",
    "Section",
    "Value",
    "ValueSet",
    "check_template_terms",
    "get_template",
    "load_template",
    "parse_template",
    "register_template",
    "template_ids",
    "value_set_members",
]
