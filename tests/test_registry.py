"""Tests of the generic registry and its entry-point discovery."""

from __future__ import annotations

import importlib.metadata as md
from typing import Any

import pytest

from maerad.errors import ConfigError, MaeradError
from maerad.registry import Registry


def test_register_get_names() -> None:
    reg: Registry[Any] = Registry("widget")
    reg.add("b", 2)

    @reg.register("a")
    def a() -> int:
        return 1

    assert reg.get("a") is a
    assert reg.get("b") == 2
    assert reg.names() == ["a", "b"]
    assert "a" in reg and "zzz" not in reg
    assert len(reg) == 2
    assert list(reg) == ["a", "b"]


def test_duplicate_name_needs_overwrite() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("x", 1)
    with pytest.raises(ConfigError, match="already registered"):
        reg.add("x", 2)
    reg.add("x", 3, overwrite=True)
    assert reg.get("x") == 3


def test_unknown_name_lists_known_and_suggests() -> None:
    reg: Registry[int] = Registry("masking")
    reg.add("random", 1)
    reg.add("lesion_aware", 2)
    with pytest.raises(MaeradError) as info:
        reg.get("lesion_awar")
    msg = str(info.value)
    assert "did you mean 'lesion_aware'" in msg
    assert "random" in msg and "\n" not in msg


def test_kind_must_be_identifier() -> None:
    with pytest.raises(ValueError):
        Registry("not valid")


class _FakeEntryPoint:
    def __init__(self, name: str, value: str, obj: Any = None, error: Exception | None = None) -> None:
        self.name, self.value, self._obj, self._error = name, value, obj, error

    def load(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._obj


def test_entry_points_are_discovered_lazily_and_builtins_win(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_entry_points(*, group: str) -> list[_FakeEntryPoint]:
        calls.append(group)
        return [
            _FakeEntryPoint("plugin", "pkg:Plugin", obj="from-plugin"),
            _FakeEntryPoint("builtin", "pkg:Other", obj="shadowed"),
        ]

    monkeypatch.setattr("maerad.registry.entry_points", fake_entry_points)
    reg: Registry[str] = Registry("masking")
    reg.add("builtin", "mine")
    assert calls == []  # nothing loaded before the first lookup
    assert reg.get("plugin") == "from-plugin"
    assert reg.get("builtin") == "mine"
    assert calls == ["maerad.masking"]
    reg.names()
    assert calls == ["maerad.masking"]  # loaded once


def test_broken_plugin_gives_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "maerad.registry.entry_points",
        lambda *, group: [_FakeEntryPoint("bad", "pkg:Missing", error=ImportError("no module pkg"))],
    )
    reg: Registry[str] = Registry("models")
    with pytest.raises(ConfigError, match=r"plug-in 'bad' from 'pkg:Missing'"):
        reg.names()


def test_real_entry_points_api_is_compatible() -> None:
    # The stdlib call we rely on must accept the keyword form on this Python.
    assert isinstance(list(md.entry_points(group="maerad.nonexistent-kind")), list)
