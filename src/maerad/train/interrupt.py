"""Ctrl-C during training: finish the step under way, save a checkpoint, then stop.

An interrupt that lands inside ``optimizer.step()`` or between the optimizer and the step counter
would leave weights and step out of step with each other, so the first SIGINT only sets a flag that
the training loop reads between steps. A second Ctrl-C stops at once, as usual.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

__all__ = ["StopRequest", "stop_between_steps"]


@dataclass
class StopRequest:
    """``requested`` turns true at the first Ctrl-C inside :func:`stop_between_steps`."""

    requested: bool = False


@contextlib.contextmanager
def stop_between_steps(enabled: bool = True) -> Iterator[StopRequest]:
    """Within the block, the first SIGINT sets ``requested`` instead of raising ``KeyboardInterrupt``.

    Does nothing (``requested`` stays false, Ctrl-C raises as usual) when ``enabled`` is false, off
    the main thread (where Python cannot install signal handlers), or when SIGINT is ignored (a
    background job) or handled outside Python. Multi-process runs pass
    ``enabled=False``: their ranks could see the flag at different steps and wait on each other.
    """
    state = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN or previous is None:  # ignored (a background job) or not Python's
        yield state
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if state.requested:  # the second Ctrl-C: stop now
            raise KeyboardInterrupt
        state.requested = True

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)
