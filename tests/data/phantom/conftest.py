"""Shared phantom fixtures: cases are generated once per test session (they are deterministic)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from maerad.data.phantom import PhantomCase, PhantomConfig, generate_case

_CACHE: dict[tuple[Any, ...], PhantomCase] = {}


def cached_case(kind: str, seed: int, config: PhantomConfig | None = None, **targets: Any) -> PhantomCase:
    """``generate_case`` memoised for the test session."""
    key = (kind, seed, id(config), tuple(sorted(targets.items())))
    if key not in _CACHE:
        _CACHE[key] = generate_case(kind, seed=seed, config=config, **targets)
    return _CACHE[key]


@pytest.fixture(scope="session")
def case_factory() -> Callable[..., PhantomCase]:
    """The memoised case generator."""
    return cached_case
