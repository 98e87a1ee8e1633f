"""Paths: a list of path strings whose named items are also attributes (`input.table`)."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from types import MappingProxyType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

_NO_NAMES: Mapping[str, Any] = MappingProxyType({})


class Paths(list):
    """The `input`/`output`/`log` seen by bodies: `input[0]`, `input.name`, `str(input)`."""

    __slots__ = ("_names",)  # two per job: no __dict__, and one shared empty mapping

    def __init__(self, items: Iterable[str] = (), names: Mapping[str, Any] | None = None):
        super().__init__(items)
        self._names: Mapping[str, Any] = dict(names) if names else _NO_NAMES

    @classmethod
    def from_items(cls, items: list[tuple[str | None, Any]]) -> Paths:
        flat: list[str] = []
        names: dict[str, Any] = {}
        for name, value in items:
            values = [value] if isinstance(value, str) else list(value)
            flat.extend(values)
            if name is not None:
                names[name] = values[0] if isinstance(value, str) else Paths(values)
        return cls(flat, names)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(f"no item named '{name}' (named items: {', '.join(self._names) or 'none'})") from None

    def names(self) -> dict[str, Any]:
        return dict(self._names)

    def __str__(self) -> str:
        return " ".join(self)

    def quoted(self) -> str:
        return " ".join(shlex.quote(p) for p in self)


class Namespace(dict):
    """`params`, `wildcards`, `resources` in bodies: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no '{name}' (have: {', '.join(self) or 'none'})") from None
