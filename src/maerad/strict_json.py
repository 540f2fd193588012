"""Strict parsing of user-supplied JSON (findings, reports): one clear error for every way it can fail.

``json.loads`` silently keeps the last of two equal keys (a report stating a field twice would lose
one value without a word) and raises a bare ``RecursionError`` on pathological nesting; here both,
like malformed or empty text, become a :class:`~maerad.errors.FindingsError` naming the source.
"""

from __future__ import annotations

import json
from typing import Any

from maerad.errors import FindingsError

__all__ = ["parse_json"]


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def parse_json(text: str, *, source: str, expected: str = "a JSON object") -> Any:
    """Parse ``text`` strictly; ``source`` names the input and ``expected`` what it should hold.

    Raises:
        FindingsError: empty text, malformed JSON (with line and column), a key given twice in one
            object, or nesting too deep for Python's parser.
    """
    if not text.strip():
        raise FindingsError(f"{source}: empty, expected {expected}")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise FindingsError(f"{source}: malformed JSON at {where}: {exc.msg}") from None
    except _DuplicateKeyError as exc:
        raise FindingsError(f"{source}: key {exc.args[0]!r} appears more than once") from None
    except RecursionError:
        raise FindingsError(f"{source}: JSON nested too deeply") from None
