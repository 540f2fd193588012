"""The ``Examples::`` blocks of the terminology modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "maerad.terminology",
    "maerad.terminology.graph",
    "maerad.terminology.normalizer",
    "maerad.terminology.consistency",
    "maerad.terminology.constraints",
    "maerad.terminology.bundled",
    "maerad.terminology.source",
    "maerad.terminology.owl_loader",
    "maerad.terminology.text",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
