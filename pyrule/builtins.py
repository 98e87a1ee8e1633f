"""Names every Pipefile sees: expand, glob_wildcards, temp, protected, directory, rules, checkpoints,
values."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable

from .checkpoints import CheckpointsProxy
from .rules import FlaggedPath, Rule, ancient, attempt, directory, multiext, protected, temp, touch, upto
from .values import ValuesProxy

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

__all__ = ["expand", "glob_wildcards", "temp", "protected", "directory", "upto", "ancient", "multiext", "touch",
           "RulesProxy", "Namespace"]


def expand(pattern: str | Iterable[str], zip_: Any = None, allow_missing: bool = False, **values: Any) -> list[str]:
    """Every combination of the values, formatted into the pattern(s), in order.

    `expand("{s}.txt", s=["a", "b"])` gives `["a.txt", "b.txt"]`. Pass `zip` as the second
    positional argument (`expand(p, zip, a=[..], b=[..])`) to pair values instead of combining
    them. A value that is a single string is one value, not a sequence of characters.
    `{{` and `}}` give literal braces; with allow_missing=True, wildcards without a value stay.
    """
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    keys = list(values)
    lists = [[v] if isinstance(v, (str, int, float)) else list(v) for v in values.values()]
    combos = zip(*lists) if zip_ is zip else itertools.product(*lists)
    compiled = [_compile(p, keys, allow_missing) for p in patterns]
    first = compiled[0][0] if len(compiled) == 1 and type(patterns[0]) is str else None
    if first is not None and len(compiled[0][1]) == len(keys):  # one pattern, using every name
        fmt = first.format
        if len(keys) == 1:  # expand("out/{i}.txt", i=...)
            return [fmt(str(v)) for v in lists[0]]
        return [fmt(*map(str, combo)) for combo in combos]
    out: list[str] = []
    for combo in combos:
        for p, (template, used) in zip(patterns, compiled):
            if template is None:  # not a plain string pattern, or a wildcard without a value
                text = _format(p, dict(zip(keys, combo)), allow_missing)
            else:  # (only the names it uses are made strings)
                text = template.format(*[str(v) if i in used else "" for i, v in enumerate(combo)])
            out.append(FlaggedPath(text, p.flags) if isinstance(p, FlaggedPath) else text)
    return out


_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)(?:,[^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}")


def _compile(pattern: str, keys: list[str], allow_missing: bool) -> tuple[str | None, set[int]]:
    """`pattern` as a str.format template whose fields are positions in a combination, and the
    positions it uses: what _format gives, without a regex substitution per path. (None, set())
    when _format must do it (a pattern that is not a string; a wildcard without a value: its error)."""
    if not isinstance(pattern, str):
        return None, set()
    index = {k: i for i, k in enumerate(keys)}
    out: list[str] = []
    used: set[int] = set()
    pos = 0
    for m in _FIELD.finditer(pattern):
        out.append(pattern[pos:m.start()].replace("{", "{{").replace("}", "}}"))
        pos = m.end()
        tok, name = m.group(0), m.group(1)
        if name is None:  # {{ or }}
            out.append(tok * 2 if allow_missing else tok)
        elif name in index:
            used.add(index[name])
            out.append(f"{{{index[name]}}}")
        elif allow_missing:
            out.append(tok.replace("{", "{{").replace("}", "}}"))
        else:
            return None, set()
    out.append(pattern[pos:].replace("{", "{{").replace("}", "}}"))
    return "".join(out), used


def _format(pattern: str, mapping: dict[str, Any], allow_missing: bool) -> str:
    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok in ("{{", "}}"):
            return tok if allow_missing else tok[0]
        name = m.group(1)
        if name in mapping:
            return str(mapping[name])
        if allow_missing:
            return tok
        raise KeyError(f"expand: no value for wildcard '{name}' in '{pattern}'")

    return _FIELD.sub(sub, pattern)


class GlobResult(tuple):
    """glob_wildcards' result: one list of values per wildcard name, as attributes."""

    _names: list[str]
    _pattern: str

    def __new__(cls, names: list[str], values: list[list[str]], pattern: str = ""):
        self = super().__new__(cls, values)
        for name, vals in zip(names, values):
            setattr(self, name, vals)
        self._names, self._pattern = list(names), pattern
        return self

    def __getattr__(self, name: str):
        # Only for names that are not fields: say which fields there are.
        if name.startswith("__") or name in ("_names", "_pattern"):
            raise AttributeError(name)
        fields = ", ".join(f".{n}" for n in self._names) or "none (the pattern has no wildcards)"
        raise AttributeError(f"glob_wildcards({self._pattern!r}) has no wildcard '{name}'; its fields are: {fields}")


def glob_wildcards(pattern: str) -> GlobResult:
    """The values of each wildcard for every existing file that matches the pattern.

    Walks only below the pattern's fixed leading directory; results are sorted by path.
    """
    from .patterns import Pattern

    pat = Pattern(pattern)
    prefix = pattern.split("{", 1)[0]
    root = os.path.dirname(prefix) or "."
    names = pat.names
    found: list[dict[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for entry in sorted(filenames + dirnames):
            path = os.path.join(dirpath, entry)
            path = path[2:] if root == "." and path.startswith("./") else path
            m = pat.match(path)
            if m is not None:
                found.append(m)
    return GlobResult(names, [[m[n] for m in found] for n in names], pattern)


class _RuleRef:
    """`rules.NAME`: the rule's outputs (as a list with named items) and its other sections."""

    def __init__(self, rule: Rule):
        self._rule = rule

    @property
    def output(self):
        from .paths import Paths

        return Paths.from_items(self._rule.outputs)

    @property
    def input(self):
        from .paths import Paths

        return Paths.from_items([i for i in self._rule.inputs if not callable(i[1])])

    @property
    def params(self):
        return dict(self._rule.params)

    @property
    def name(self) -> str:
        return self._rule.name


class RulesProxy:
    """The `rules` object of a Pipefile: attribute access to rules defined so far."""

    def __init__(self, rules: dict[str, Rule]):
        self._rules = rules

    def __getattr__(self, name: str) -> _RuleRef:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return _RuleRef(self._rules[name])
        except KeyError:
            from .errors import suggest

            hint = suggest(name, self._rules)
            raise AttributeError(
                f"no rule '{name}' is defined above this line" + (f"; {hint}" if hint else "")
            ) from None

    def __iter__(self):
        return iter(self._rules)


def namespace(rules: dict[str, Rule]) -> dict[str, Any]:
    """A fresh global namespace for a Pipefile."""
    return {
        "__name__": "__pipefile__",
        "__builtins__": __builtins__,
        "expand": expand,
        "glob_wildcards": glob_wildcards,
        "temp": temp,
        "protected": protected,
        "directory": directory,
        "rules": RulesProxy(rules),
        "checkpoints": CheckpointsProxy(rules),
        "values": ValuesProxy(rules),
        "config": {},
        "upto": upto,
        "attempt": attempt,
        "ancient": ancient,
        "multiext": multiext,
        "touch": touch,
    }


Namespace = dict
