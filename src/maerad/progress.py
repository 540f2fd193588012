"""Progress bars for long work: tqdm, redrawn at most every half minute when stderr is not a terminal.

A training loop that sets the bar's loss every step would otherwise redraw it every step, since tqdm's
own throttle (0.1 s) does not apply to ``set_postfix``: a run logged to a file or a CI console then
writes one carriage-return line per step (measured: 740 redraws for 600 steps). Loops should call
``bar.set_postfix(..., refresh=False)`` before ``bar.update(1)``, so that the values shown are the step
just finished and the redraw follows the throttle.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from tqdm import tqdm

__all__ = ["NON_INTERACTIVE_INTERVAL_S", "progress_bar"]

#: Seconds between redraws when stderr is not a terminal (a log file, CI).
NON_INTERACTIVE_INTERVAL_S = 30.0


def progress_bar(
    total: int, *, desc: str, unit: str, enabled: bool = True, initial: int = 0
) -> tqdm[NoReturn]:
    """A tqdm bar on stderr: throttled to tqdm's 0.1 s on a terminal and to
    :data:`NON_INTERACTIVE_INTERVAL_S` elsewhere; ``enabled=False`` gives a silent bar."""
    interactive = bool(getattr(sys.stderr, "isatty", lambda: False)())
    # maxinterval too: tqdm's monitor thread would otherwise force a redraw every 10 s
    interval = 0.1 if interactive else NON_INTERACTIVE_INTERVAL_S
    return tqdm(total=total, initial=initial, disable=not enabled, desc=desc, unit=unit, dynamic_ncols=True,
                mininterval=interval, maxinterval=10.0 if interactive else interval)
