"""Checking and converting the inputs of the metric functions (labels, numbers, paired lengths).

Every metric takes plain Python sequences or numpy arrays. These helpers turn them into one canonical
form and raise :class:`~maerad.errors.InputError` with a one-line message that names the argument
(and the case index) when a value is unusable, so that no metric ends in an uncaught exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from maerad.errors import InputError

__all__ = ["Label", "LabelInput", "NumberInput", "as_float_array", "as_label_list", "check_same_length"]

Label: TypeAlias = str | int | bool | tuple[str, ...]
"""A class label: a concept id or stage name, an integer code, a boolean, or a sorted tuple of concept
ids (a multi-valued field compared as a set)."""

LabelInput: TypeAlias = Sequence[Label | list[str] | None] | npt.NDArray[Any]
"""Labels as a sequence or a 1-D numpy array; ``None`` marks a missing value where a metric allows it,
and a list of concept ids is turned into a sorted tuple (compared as a set)."""

NumberInput: TypeAlias = Sequence[float] | npt.NDArray[Any]
"""Numbers as a sequence or a 1-D numpy array."""

def _to_list(values: LabelInput | NumberInput, name: str) -> list[Any]:
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise InputError(f"{name}: expected a 1-D array of cases, got shape {values.shape}")
        return list(values.tolist())
    if isinstance(values, (str, bytes)):
        raise InputError(f"{name}: expected a sequence of cases, got a single string {values!r}")
    return list(values)


def as_label_list(values: LabelInput, name: str, *, allow_missing: bool = False) -> list[Label | None]:
    """The labels of ``values`` as a list of Python objects, checked.

    Args:
        values: ``(N,)`` labels (str, int, bool or tuple of str); numpy scalars become Python ones.
        name: the argument name used in error messages (e.g. ``"truth"``).
        allow_missing: whether ``None`` is accepted (a missing prediction).

    Raises:
        InputError: a value is not a label (a float, a dict, …) or is ``None`` when not allowed.
    """
    out: list[Label | None] = []
    for i, v in enumerate(_to_list(values, name)):
        if v is None:
            if not allow_missing:
                raise InputError(f"{name}[{i}]: missing value (None); map missing values to a label first")
            out.append(None)
        elif isinstance(v, (str, bool, int)):
            out.append(v)
        elif isinstance(v, np.bool_):
            out.append(bool(v))
        elif isinstance(v, np.integer):
            out.append(int(v))
        elif isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
            out.append(tuple(sorted(set(v))))
        else:
            raise InputError(f"{name}[{i}]: expected a class label (str, int or bool), got {v!r}")
    return out


def as_float_array(values: NumberInput, name: str) -> npt.NDArray[np.float64]:
    """``values`` as a finite 1-D float64 array of shape ``(N,)``.

    Raises:
        InputError: not 1-D, a value is not a number (booleans and strings are refused), or a value is
            NaN / infinite; the message names ``name`` and the first bad index.
    """
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iuf":
        array = values.astype(np.float64)  # numeric array: no per-element check needed
    else:
        items = _to_list(values, name)
        for i, v in enumerate(items):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise InputError(f"{name}[{i}]: expected a number, got {v!r}")
        array = np.asarray(items, dtype=np.float64).reshape(len(items))
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise InputError(f"{name}[{int(bad[0])}]: expected a finite number, got {array[bad[0]]}")
    return array


def check_same_length(**arrays: Sequence[Any] | npt.NDArray[Any]) -> int:
    """The common number of cases of the named arguments.

    Raises:
        InputError: the lengths differ, or there are no cases at all.
    """
    lengths = {name: len(a) for name, a in arrays.items()}
    distinct = set(lengths.values())
    if len(distinct) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise InputError(f"paired inputs must have one value per case: {detail}")
    n = distinct.pop() if distinct else 0
    if n == 0:
        raise InputError(f"no cases to evaluate: {', '.join(lengths)} empty")
    return n
