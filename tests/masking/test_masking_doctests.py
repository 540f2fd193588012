"""The ``Examples::`` blocks of the masking package and the U-Net run as written."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import maerad.masking

MODULES = sorted(
    {m.name for m in pkgutil.walk_packages(maerad.masking.__path__, "maerad.masking.")}
    | {"maerad.masking", "maerad.models.unet"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
