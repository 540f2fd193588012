"""Progress bars for long work: tqdm, redrawn at most every half minute when stderr is not a terminal.

A training loop that sets the bar's loss every step would otherwise redraw it every step, since tqdm's
own throttle (0.1 s) does not apply to ``set_postfix``: a run logged to a file or a CI console then
writes one carriage-return line per step (measured: 740 redraws for 600 steps). Loops should call
``bar.set_postfix(..., refresh=False)`` before ``bar.update(1)``, so that the values shown are the step
just finished and the redraw follows the throttle. Bars over items (loading studies, writing cases)
use :func:`progress_iter`, throttled the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import NoReturn, TypeVar

from tqdm import tqdm

__all__ = ["NON_INTERACTIVE_INTERVAL_S", "progress_bar", "progress_iter"]

#: Seconds between redraws when stderr is not a terminal (a log file, CI).
NON_INTERACTIVE_INTERVAL_S = 30.0

T = TypeVar("T")


def progress_bar(
    total: int, *, desc: str, unit: str, enabled: bool = True, initial: int = 0
) -> tqdm[NoReturn]:
    """A tqdm bar on stderr: throttled to tqdm's 0.1 s on a terminal and to
    :data:`NON_INTERACTIVE_INTERVAL_S` elsewhere; ``enabled=False`` gives a silent bar."""
    low, high = _intervals()
    return tqdm(total=total, initial=initial, disable=not enabled, desc=desc, unit=unit, dynamic_ncols=True,
                mininterval=low, maxinterval=high)


def progress_iter(items: Iterable[T], *, desc: str, unit: str, enabled: bool = True) -> tqdm[T]:
    """``items`` with a bar throttled as :func:`progress_bar`'s (its length from ``len(items)`` where it
    has one)."""
    low, high = _intervals()
    return tqdm(items, disable=not enabled, desc=desc, unit=unit, dynamic_ncols=True, mininterval=low,
                maxinterval=high)


def _intervals() -> tuple[float, float]:
    """tqdm's ``mininterval`` and ``maxinterval`` for stderr as it is now; ``maxinterval`` too when it is
    not a terminal, since tqdm's monitor thread would otherwise force a redraw every 10 s."""
    if bool(getattr(sys.stderr, "isatty", lambda: False)()):
        return 0.1, 10.0
    return NON_INTERACTIVE_INTERVAL_S, NON_INTERACTIVE_INTERVAL_S
