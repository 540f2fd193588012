"""Run a block with one torch intra-op thread (restored afterwards).

Field-by-field decoding performs hundreds of tiny tensor operations; spreading each over several
threads costs more than it saves, and on a busy machine waiting threads make it many times slower.
The generator decodes under :func:`single_thread` (the image encoder keeps every thread, or the
count given to :func:`torch_threads`).

Examples::

    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with single_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["single_thread", "torch_threads"]


@contextlib.contextmanager
def single_thread(enabled: bool = True) -> Iterator[None]:
    """Set ``torch.set_num_threads(1)`` inside the block when ``enabled`` (process-wide setting)."""
    before = torch.get_num_threads()
    if enabled:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Use ``count`` torch intra-op threads inside the block (None: leave the setting alone).

    On a 2-core machine shared with other processes, PyTorch's default of one thread per core can
    be many times slower than one thread (the threads wait for each other); see docs/generation.md.
    """
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
