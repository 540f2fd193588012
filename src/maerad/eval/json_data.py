"""Conversion of metric results to plain JSON data (``dict`` / ``list`` / ``str`` / number / ``None``).

Result dataclasses, numpy arrays and numpy scalars become their JSON equivalents; tuples become lists;
NaN and ±infinity (an undefined metric) become ``None`` so that the output is strict JSON.

Examples::

    >>> import numpy as np
    >>> from maerad.eval.json_data import jsonable
    >>> jsonable({"a": np.float64(0.5), "b": (1, float("nan")), "c": np.array([[1, 2]])})
    {'a': 0.5, 'b': [1, None], 'c': [[1, 2]]}
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["jsonable"]


def jsonable(obj: Any) -> Any:
    """``obj`` as JSON-compatible data (see the module docstring for the rules).

    Raises:
        TypeError: an object of a type with no JSON meaning (a programming error, not user input).
    """
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):  # also numpy.float64, a float subclass
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {_key(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON")


def _key(key: Any) -> str:
    """A mapping key as a JSON object key (multi-valued labels ``("a", "b")`` become ``"a+b"``)."""
    if isinstance(key, tuple):
        return "+".join(str(k) for k in key)
    return str(key)
