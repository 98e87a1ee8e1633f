"""Paths: a list of path strings whose named items are also attributes (`input.table`)."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any


class Paths(list):
    """The `input`/`output`/`log` seen by bodies: `input[0]`, `input.name`, `str(input)`."""

    def __init__(self, items: Iterable[str] = (), names: dict[str, Any] | None = None):
        super().__init__(items)
        self._names: dict[str, Any] = dict(names or {})

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
