"""Mixed precision for the training loops: one switch for bfloat16 autocast."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

__all__ = ["bf16_autocast"]


def bf16_autocast(enabled: bool, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to bfloat16 on ``device`` when ``enabled``, else a no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
