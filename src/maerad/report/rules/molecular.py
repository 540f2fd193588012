"""Molecular classes of endometrial carcinoma and the "multiple classifier" precedence (SPEC §2.2, U7).

Examples::

    >>> resolve_molecular("p53abn", ("POLEmut",))[0]
    'POLEmut'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from maerad.errors import ConfigError

__all__ = ["DEFAULT_MOLECULAR_PRECEDENCE", "MolecularClass", "resolve_molecular"]

MolecularClass = Literal["POLEmut", "MMRd", "p53abn", "NSMP"]

# U7: POLEmut > MMRd > p53abn > NSMP — common practice (WHO/ESGO), UNCERTAIN here; configurable.
DEFAULT_MOLECULAR_PRECEDENCE: tuple[MolecularClass, ...] = ("POLEmut", "MMRd", "p53abn", "NSMP")


def resolve_molecular(
    molecular: MolecularClass | None,
    features: Sequence[MolecularClass] = (),
    precedence: Sequence[str] = DEFAULT_MOLECULAR_PRECEDENCE,
) -> tuple[MolecularClass | None, list[str]]:
    """The molecular class to use and any flags, given the class and every feature found.

    Args:
        molecular: the class as reported (or ``None`` when unknown).
        features: every molecular feature detected (several = "multiple classifier").
        precedence: order in which coexisting features decide the class (U7, UNCERTAIN).

    Returns:
        ``(class or None, flags)``.

    Raises:
        ConfigError: ``precedence`` is not an ordering of POLEmut, MMRd, p53abn and NSMP.
    """
    if sorted(precedence) != sorted(DEFAULT_MOLECULAR_PRECEDENCE):
        raise ConfigError(
            "molecular_precedence must order exactly POLEmut, MMRd, p53abn, NSMP; "
            f"got {', '.join(precedence) or 'nothing'}"
        )
    found = set(features)
    if molecular is not None:
        found.add(molecular)
    if not found:
        return None, []
    if len(found) == 1:
        return next(iter(found)), []
    ordered = sorted(found, key=list(precedence).index)
    chosen = ordered[0]
    flags = [f"multiple molecular classifiers ({', '.join(ordered)}): classified {chosen} "
             f"by precedence {' > '.join(precedence)} — UNCERTAIN (U7)"]
    return chosen, flags
