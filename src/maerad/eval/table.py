"""Presenting metric results: a plain-text table for the terminal and JSON for ``metrics.json``.

Results are a mapping of metric name → value, where a value is a number, ``None`` (not available), a
:class:`~maerad.eval.bootstrap.BootstrapResult` (value with bootstrap confidence interval) or a
:class:`~maerad.eval.proportion.ProportionResult` (a proportion with its Wilson interval; the table
also shows its counts, ``(k/n)``).

``to_json`` keeps every metric as a plain number at the top level (``"stage_accuracy": 0.8``), so that
``metrics.json`` is easy to read by scripts, and puts the intervals under ``"confidence_intervals"``;
other values (result dataclasses, lists, mappings) are converted with
:func:`~maerad.eval.json_data.jsonable`. NaN becomes ``null``.

Examples::

    >>> from maerad.eval.bootstrap import BootstrapResult
    >>> from maerad.eval.table import evaluation_table, to_json
    >>> ci = BootstrapResult(0.8, 0.7, 0.9, 0.95, "percentile", 1000, 1000)
    >>> print(evaluation_table({"stage_accuracy": ci, "size_mae_mm": 2.5, "n_test": 40}))
    metric          value  95 % CI
    --------------  -----  --------------
    stage_accuracy  0.800  [0.700, 0.900]
    size_mae_mm     2.500
    n_test             40
    >>> import json
    >>> metrics = json.loads(to_json({"stage_accuracy": ci, "n_test": 40}))
    >>> metrics["stage_accuracy"], metrics["n_test"], metrics["confidence_intervals"]["stage_accuracy"]["low"]
    (0.8, 40, 0.7)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np

from maerad.errors import InputError
from maerad.eval.bootstrap import BootstrapResult
from maerad.eval.json_data import jsonable
from maerad.eval.proportion import ProportionResult

__all__ = ["MetricValue", "evaluation_table", "to_json"]

MetricValue: TypeAlias = float | int | BootstrapResult | ProportionResult | None
"""A value of the table: a number, a number with its bootstrap interval, a proportion with its
interval, or ``None`` (not available)."""

_INTERVALS = (BootstrapResult, ProportionResult)

_NA = "n/a"
_COLLAPSED = "n/a (every resample equal)"


def _number(value: float | int, digits: int) -> str:
    if isinstance(value, int):
        return str(value)
    return _NA if not math.isfinite(value) else f"{value:.{digits}f}"


def _level(value: BootstrapResult | ProportionResult) -> str:
    return f"{value.confidence * 100:g} %"


def evaluation_table(results: Mapping[str, MetricValue], *, digits: int = 3) -> str:
    """A plain-text table with one row per metric: name, value and confidence interval.

    Args:
        results: metric name → number, ``None``, :class:`BootstrapResult` or :class:`ProportionResult`,
            in display order.
        digits: decimals of non-integer values.

    Returns:
        The table as a string. Columns: ``metric``, ``value`` and ``95 % CI`` (the header shows the
        level of the intervals; when intervals of several levels are mixed it says ``CI`` and each
        interval carries its level). Integers are printed as integers, ``None`` / NaN as ``n/a``; a
        proportion's interval is followed by its counts, ``(k/n)``. A bootstrap interval that
        collapsed to a point (every resample gave the same value: one case, or all cases alike) is
        printed as ``n/a (every resample equal)``, not as ``[x, x]``.

    Raises:
        InputError: a value that is not a number, ``None``, a :class:`BootstrapResult` or a
            :class:`ProportionResult`.
    """
    levels = {_level(v) for v in results.values() if isinstance(v, _INTERVALS)}
    mixed = len(levels) > 1
    rows: list[tuple[str, str, str]] = []
    for name, value in results.items():
        if isinstance(value, BootstrapResult) and value.low == value.high:
            # every resample gave the same value (one case, or 0/n or n/n): not a 95 % interval
            rows.append((name, _number(value.estimate, digits), _COLLAPSED))
        elif isinstance(value, _INTERVALS):
            ci = f"[{_number(value.low, digits)}, {_number(value.high, digits)}]"
            if mixed:
                ci += f" ({_level(value)})"
            if isinstance(value, ProportionResult):  # the n behind an accuracy matters as much as its value
                ci += f" ({value.successes}/{value.n})"
            rows.append((name, _number(value.estimate, digits), ci))
        elif value is None:
            rows.append((name, _NA, ""))
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            number = int(value) if isinstance(value, (int, np.integer)) else float(value)
            rows.append((name, _number(number, digits), ""))
        else:
            raise InputError(f"results[{name!r}]: expected a number, None, BootstrapResult or "
                             f"ProportionResult, got {value!r}")
    header = ("metric", "value", "CI" if mixed else f"{levels.pop() if levels else '95 %'} CI")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(3)]
    lines = [
        f"{header[0]:<{widths[0]}}  {header[1]:>{widths[1]}}  {header[2]}",
        f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * widths[2]}",
    ]
    lines += [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def to_json(results: Mapping[str, Any], *, indent: int | None = 2) -> str:
    """``results`` as a JSON document for ``metrics.json`` (module docstring for the layout).

    Args:
        results: metric name → number / ``None`` / :class:`BootstrapResult` / :class:`ProportionResult` /
            any value :func:`~maerad.eval.json_data.jsonable` accepts (e.g. ``ConfusionMatrix.to_dict()``).
        indent: JSON indentation (``None`` for one line).

    Returns:
        Strict JSON text (no NaN), keys in the order given, then ``"confidence_intervals"`` if any.

    Raises:
        InputError: a metric is called ``"confidence_intervals"`` (the key is reserved).
    """
    out: dict[str, Any] = {}
    intervals: dict[str, Any] = {}
    for name, value in results.items():
        if name == "confidence_intervals":
            raise InputError("results: the name 'confidence_intervals' is reserved for the intervals")
        if isinstance(value, _INTERVALS):
            out[name] = jsonable(value.estimate)
            details = value.to_dict()
            del details["estimate"]
            intervals[name] = details
        else:
            out[name] = jsonable(value)
    if intervals:
        out["confidence_intervals"] = intervals
    return json.dumps(out, indent=indent, ensure_ascii=False, allow_nan=False)
