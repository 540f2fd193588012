"""The examples in the model modules' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "maerad.models.attention",
        "maerad.models.blocks",
        "maerad.models.mae",
        "maerad.models.maep",
        "maerad.models.unit_attention",
    ],
)
def test_module_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
