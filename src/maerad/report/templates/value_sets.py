"""Value sets of concept fields, resolved against a terminology.

Examples::

    >>> from maerad.report.templates import get_template, value_set_members
    >>> from maerad.terminology.bundled import load_bundled
    >>> value_set_members(get_template("cervix-figo2018").field("stromal_ring"), load_bundled())
    ('MR:F010', 'MR:F011', 'MR:F012')
"""

from __future__ import annotations

from maerad.report.templates.model import FieldSpec
from maerad.terminology.graph import TermGraph

__all__ = ["value_set_members"]


def value_set_members(field: FieldSpec, graph: TermGraph) -> tuple[str, ...]:
    """The concepts a ``concept`` field may hold: the explicit ``members`` (in template order) or
    every descendant of the value-set ``root`` (ordinal values by rank, then by id).

    Raises:
        ValueError: ``field`` is not a concept field (a programming error).
    """
    if field.value_set is None:
        raise ValueError(f"field {field.id!r} is a {field.type} field, it has no value set")
    if field.value_set.members is not None:
        return field.value_set.members
    below = graph.descendants(field.value_set.root)

    def rank(cid: str) -> tuple[bool, int, str]:
        order = graph.concept(cid).order
        return (order is None, order or 0, cid)

    return tuple(sorted(below, key=rank))
