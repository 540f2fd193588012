"""Ctrl-C during training: the first one is deferred to the end of the step, a second one stops at once."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from maerad.train.interrupt import stop_between_steps


def test_first_sigint_sets_the_flag_second_raises_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGINT)
    with stop_between_steps() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_disabled_or_off_the_main_thread_leaves_ctrl_c_alone() -> None:
    with stop_between_steps(enabled=False) as stop, pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
    assert not stop.requested
    seen: list[object] = []

    def worker() -> None:
        with stop_between_steps():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


def test_an_ignored_sigint_stays_ignored() -> None:
    # a background job of a non-interactive shell starts with SIGINT ignored; it must not start stopping
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stop_between_steps() as stop:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
        assert not stop.requested and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
