"""One generic, typed registry with Python entry-point discovery.

Each kind of pluggable component (masking strategies, models, report templates, …) has one
:class:`Registry`. Built-in components register themselves with the :meth:`Registry.register`
decorator; third-party packages add their own without touching maerad by declaring an entry point in
the group ``maerad.<kind>``, e.g. in their ``pyproject.toml``::

    [project.entry-points."maerad.masking"]
    my_strategy = "my_package.masking:MyStrategy"

Entry points are loaded lazily, the first time a name is looked up or listed.

Examples::

    >>> from maerad.registry import Registry
    >>> shapes: Registry[type] = Registry("shape")
    >>> @shapes.register("square")
    ... class Square: ...
    >>> shapes.get("square") is Square
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from maerad.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → component mapping for one kind of component.

    Args:
        kind: short name of the component kind; entry points are read from group ``maerad.<kind>``.
    """

    def __init__(self, kind: str) -> None:
        if not kind.isidentifier():
            raise ValueError(f"registry kind must be an identifier, got {kind!r}")
        self.kind = kind
        self._items: dict[str, T] = {}
        self._entry_points_loaded = False

    @property
    def group(self) -> str:
        """The entry-point group third-party packages publish into."""
        return f"maerad.{self.kind}"

    def register(self, name: str, *, overwrite: bool = False) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; returns ``obj`` unchanged."""

        def decorator(obj: T) -> T:
            self.add(name, obj, overwrite=overwrite)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, overwrite: bool = False) -> None:
        """Register ``obj`` under ``name``; a second registration of a name needs ``overwrite=True``."""
        if not name:
            raise ValueError("registry names must be non-empty")
        if name in self._items and not overwrite:
            raise ConfigError(f"{self.kind} {name!r} is already registered (pass overwrite=True to replace)")
        self._items[name] = obj

    def get(self, name: str) -> T:
        """Return the component registered as ``name``.

        Raises:
            ConfigError: ``name`` is unknown; the message lists the known names and a close match.
        """
        if not isinstance(name, str):
            raise ConfigError(f"{self.kind} names are strings; got {name!r} ({type(name).__name__}); "
                              f"known: {', '.join(self.names()) or 'none'}")
        self._load_entry_points()
        try:
            return self._items[name]
        except KeyError:
            known = sorted(self._items)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}{hint}; known: {', '.join(known) or 'none'}"
            ) from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load_entry_points()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name in self._items:
                continue  # built-ins and explicit registrations win over plug-ins of the same name
            try:
                self._items[ep.name] = ep.load()
            except Exception as exc:  # a broken plug-in must not break maerad itself
                raise ConfigError(
                    f"could not load {self.kind} plug-in {ep.name!r} from {ep.value!r}: {exc}"
                ) from exc
