"""Masking tests run torch on one intra-op thread: the tensors are tiny, and on a busy shared machine
several OpenMP threads contending for the cores can make a millisecond op take seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
