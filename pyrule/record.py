"""`@record`: the part of `@dataclass` pyrule uses, without its start-up cost.

Every `pyrule` command defines some thirty such classes before it does anything else.
`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`) and compiles each
generated method on its own: ~17 ms of a 75 ms run. `record` compiles only each class's
`__init__` (the other methods are shared functions), with nothing imported.

Same meaning as `@dataclass(frozen=, eq=, slots=)` for what it supports: fields are the class's
annotations in order; a default is the class attribute or `field(default=..., default_factory=...,
repr=..., compare=...)`. It writes `__init__`, `__repr__`, `__eq__` (same class, fields compared
as a tuple) and `__match_args__`, except those the class defines itself; a frozen class also gets
`__hash__` over its compared fields and a `__setattr__`/`__delattr__` that raise (and, with slots,
the `__getstate__`/`__setstate__` pickle needs); an unfrozen class with `eq` is unhashable, as
with `@dataclass`.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, overload

    from typing_extensions import dataclass_transform  # typing's from 3.11; checkers ship its stub

    _T = TypeVar("_T")

_MISSING: Any = object()


class FrozenInstanceError(AttributeError):
    """Assigning to (or deleting) a field of a frozen record."""


class _Field:
    __slots__ = ("default", "factory", "repr", "compare")

    def __init__(self, default: Any, factory: Any, repr: bool, compare: bool):
        self.default, self.factory, self.repr, self.compare = default, factory, repr, compare


def field(*, default: Any = _MISSING, default_factory: Any = _MISSING, repr: bool = True, compare: bool = True) -> Any:
    """A field's default or default factory, and whether `__repr__`/`__eq__` show it."""
    return _Field(default, default_factory, repr, compare)


# Type checkers (mypy, pyright) see these overloads and so know each record's `__init__`, as for a
# dataclass; at run time the branch is skipped (a local TYPE_CHECKING both checkers read as True).
if TYPE_CHECKING:

    @overload
    @dataclass_transform(field_specifiers=(field,))
    def record(cls: type[_T], /) -> type[_T]: ...

    @overload
    def record(*, frozen: bool = False, eq: bool = True, slots: bool = False) -> Callable[[type[_T]], type[_T]]: ...


def record(cls: type | None = None, /, *, frozen: bool = False, eq: bool = True, slots: bool = False) -> Any:
    """Class decorator: `@record`, or `@record(frozen=True, eq=False, slots=True)`."""

    def wrap(cls: type) -> type:
        return _build(cls, frozen, eq, slots)

    return wrap if cls is None else wrap(cls)


def _build(cls: Any, frozen: bool, eq: bool, slots: bool) -> type:
    fields: dict[str, _Field] = {}
    for name in cls.__dict__.get("__annotations__", {}):
        value = cls.__dict__.get(name, _MISSING)
        f = fields[name] = value if isinstance(value, _Field) else _Field(value, _MISSING, True, True)
        if f.default is _MISSING or slots:
            if name in cls.__dict__:
                delattr(cls, name)  # a factory's field, or a slot: no class attribute
        else:
            setattr(cls, name, f.default)  # as with @dataclass: the default is the class attribute
    if slots:
        body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
        body["__slots__"] = tuple(fields)
        qualname = cls.__qualname__
        cls = type(cls)(cls.__name__, cls.__bases__, body)
        cls.__qualname__ = qualname

    env: dict[str, Any] = {"_MISSING": _MISSING, "_set": object.__setattr__}
    params, lines = [], []
    for name, f in fields.items():
        if f.factory is not _MISSING:
            env[f"_f_{name}"] = f.factory
            params.append(f"{name}=_MISSING")
            value = f"_f_{name}() if {name} is _MISSING else {name}"
        else:
            if f.default is not _MISSING:
                env[f"_d_{name}"] = f.default
                params.append(f"{name}=_d_{name}")
            else:
                params.append(name)
            value = name
        lines.append(f"  _set(self, {name!r}, {value})" if frozen else f"  self.{name} = {value}")
    # Only __init__ is compiled (it runs per instance, so it gets straight-line code); the other
    # methods are shared and read the field names from the class.
    exec(compile(f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(lines) or "  pass"),
                 f"<record {cls.__qualname__}>", "exec"), env)
    compared = [n for n, f in fields.items() if f.compare]
    cls._record_shown = tuple(n for n, f in fields.items() if f.repr)
    cls._record_key = attrgetter(*compared) if compared else _no_key
    env["__init__"].__qualname__ = f"{cls.__qualname__}.__init__"
    methods: dict[str, Any] = {"__init__": env["__init__"], "__repr__": _repr}
    if eq:
        methods["__eq__"] = _eq
    if frozen:
        methods.update(__setattr__=_refuse_set, __delattr__=_refuse_delete)
        if eq:
            methods["__hash__"] = _hash
        if slots:  # pickle restores slots through setattr, which a frozen class refuses
            cls._record_all = attrgetter(*fields) if len(fields) > 1 else lambda self: tuple(getattr(self, n) for n in fields)
            methods.update(__getstate__=_getstate, __setstate__=_setstate)
    for name, fn in methods.items():
        if name not in cls.__dict__:
            setattr(cls, name, fn)
    if eq and not frozen and "__hash__" not in cls.__dict__:
        cls.__hash__ = None  # mutable and compared by value: unhashable
    cls.__match_args__ = tuple(fields)  # type: ignore[misc]  # mypy treats __match_args__ as final
    return cls


def _no_key(self: Any) -> tuple:
    return ()


def _repr(self: Any) -> str:
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._record_shown)
    return f"{self.__class__.__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        return self._record_key(self) == self._record_key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self._record_key(self))


def _refuse_set(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_delete(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> tuple:
    return self._record_all(self)


def _setstate(self: Any, state: tuple) -> None:
    for name, value in zip(self.__match_args__, state):
        object.__setattr__(self, name, value)
