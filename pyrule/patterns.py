"""Wildcard patterns (`counts/{sample}.tsv`, `{n,[0-9]+}`) and an index over rules' outputs.

The index finds the rules that can make a path without trying every rule's regex: patterns are
bucketed by the literal text after their last wildcard (usually the extension), so a lookup
costs one dict probe per distinct suffix length, then a prefix check, then one regex match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from .record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

# `{name}` or `{name,REGEX}` (REGEX may hold one level of braces, as in `{n,[0-9]{2}}`);
# `{{` and `}}` are literal braces.
_WILDCARD = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)(?:,((?:[^{}]|\{[^{}]*\})*))?\}")
DEFAULT_REGEX = "[^/]+"


class PatternError(ValueError):
    pass


class Pattern:
    """A compiled path pattern."""

    __slots__ = ("text", "names", "parts", "prefix", "suffix", "_regex", "_regex_src", "literal_len")

    def __init__(self, text: str):
        self.text = text
        parts: list[str | tuple[str, str]] = []  # literal strings and (name, regex) fields
        regex: list[str] = []
        seen: dict[str, str] = {}
        pos = 0
        for m in _WILDCARD.finditer(text):
            literal = text[pos : m.start()]
            pos = m.end()
            if m.group(0) in ("{{", "}}"):
                literal += m.group(0)[0]
                _append_literal(parts, regex, literal)
                continue
            _append_literal(parts, regex, literal)
            name, rx = m.group(1), m.group(2)
            if name in seen:
                if rx is not None and rx != seen[name]:
                    raise PatternError(f"wildcard '{name}' is given two different regexes in '{text}'")
                regex.append(f"(?P={name})")
            else:
                rx = rx if rx is not None else DEFAULT_REGEX
                try:
                    re.compile(rx)
                except re.error as e:
                    raise PatternError(f"bad regex for wildcard '{name}' in '{text}': {e}") from None
                seen[name] = rx
                regex.append(f"(?P<{name}>{rx})")
            parts.append((name, seen[name]))
        _append_literal(parts, regex, text[pos:])
        stray = next((p for p in _literal_fields(text) if "{" in p or "}" in p), None)
        if stray is not None:
            raise PatternError(f"unbalanced brace in '{text}': write {{{{ or }}}} for a literal brace")
        self.parts = parts
        self.names = list(seen)
        self.prefix = parts[0] if parts and isinstance(parts[0], str) else ""
        self.suffix = parts[-1] if parts and isinstance(parts[-1], str) and len(parts) > 1 else ("" if self.names else self.prefix)
        self.literal_len = sum(len(p) for p in parts if isinstance(p, str))
        self._regex_src = "".join(regex)
        self._regex: re.Pattern | None = None

    @property
    def has_wildcards(self) -> bool:
        return bool(self.names)

    def match(self, path: str) -> dict[str, str] | None:
        """The wildcard values if `path` matches the whole pattern, else None."""
        if not self.names:
            return {} if path == self.prefix else None
        if not path.startswith(self.prefix) or not path.endswith(self.suffix):
            return None
        if self._regex is None:
            self._regex = re.compile(self._regex_src)
        m = self._regex.fullmatch(path)
        return m.groupdict() if m else None

    def format(self, wildcards: Mapping[str, str]) -> str:
        """The path for these wildcard values (KeyError names a missing one)."""
        if not self.names:
            return self.prefix
        return "".join(p if isinstance(p, str) else str(wildcards[p[0]]) for p in self.parts)

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def _literal_fields(text: str) -> list[str]:
    """The text between wildcard fields and escaped braces."""
    return _WILDCARD.split(text)[::3] if _WILDCARD.groups == 2 else []


def _append_literal(parts: list, regex: list[str], literal: str) -> None:
    if not literal:
        return
    if parts and isinstance(parts[-1], str):
        parts[-1] += literal
    else:
        parts.append(literal)
    regex.append(re.escape(literal))


def wildcard_names(text: str) -> list[str]:
    """The wildcard names a path or string mentions, in order, without repeats."""
    names: list[str] = []
    for m in _WILDCARD.finditer(text):
        if m.group(1) and m.group(1) not in names:
            names.append(m.group(1))
    return names


_FORMATS: dict[str, str] = {}


def _format_string(text: str) -> str:
    """`text` as a str.format template: wildcard fields as `{name}`, every other brace escaped."""
    out: list[str] = []
    pos = 0
    for m in _WILDCARD.finditer(text):
        out.append(text[pos : m.start()].replace("{", "{{").replace("}", "}}"))
        pos = m.end()
        out.append(m.group(0)[0] * 2 if m.group(1) is None else "{" + m.group(1) + "}")
    out.append(text[pos:].replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def template_of(text: str) -> str:
    """`text` as the str.format template format_wildcards uses: `template_of(t).format_map(w)`
    is `format_wildcards(t, w)` when every field of `t` is in `w` (else KeyError)."""
    fmt = _FORMATS.get(text)
    if fmt is None:
        fmt = _FORMATS[text] = _format_string(text)
    return fmt


def format_wildcards(text: str, wildcards: Mapping[str, str]) -> str:
    """Fill `{name}` fields that are wildcards; leave every other brace alone (`{{` gives `{`)."""
    if "{" not in text and "}" not in text:
        return text
    fmt = template_of(text)
    try:
        return fmt.format_map(wildcards)
    except KeyError:  # a field that is no wildcard of this job stays as written
        return _WILDCARD.sub(lambda m: m.group(0)[0] if m.group(1) is None else
                             str(wildcards[m.group(1)]) if m.group(1) in wildcards else m.group(0), text)


@record(eq=False, slots=True)  # (not frozen: made for every path planning looks up, and a frozen init costs ~0.5 µs)
class Candidate:
    key: Any  # what the caller indexed (e.g. (rule, output index))
    pattern: Pattern
    wildcards: dict[str, str]

    @property
    def wildcard_chars(self) -> int:
        """How many characters the wildcards matched (fewer = more specific, like Make's stem)."""
        return sum(len(v) for v in self.wildcards.values())


class PatternIndex:
    """Maps a path to every indexed pattern that matches it."""

    def __init__(self) -> None:
        self._exact: dict[str, list[tuple[object, Pattern]]] = {}
        self._by_suffix: dict[str, list[tuple[object, Pattern]]] = {}
        self._suffix_lens: list[int] = []

    def add(self, key: Any, pattern: Pattern) -> None:
        if not pattern.has_wildcards:
            self._exact.setdefault(pattern.prefix, []).append((key, pattern))
            return
        bucket = self._by_suffix.setdefault(pattern.suffix, [])
        bucket.append((key, pattern))
        if len(pattern.suffix) not in self._suffix_lens:
            self._suffix_lens.append(len(pattern.suffix))
            self._suffix_lens.sort(reverse=True)

    def lookup(self, path: str) -> list[Candidate]:
        exact = self._exact.get(path)
        found = [Candidate(k, p, {}) for k, p in exact] if exact else []
        n = len(path)
        for length in self._suffix_lens:
            if length > n:
                continue
            for key, pattern in self._by_suffix.get(path[n - length :], ()):
                wildcards = pattern.match(path)
                if wildcards is not None:
                    found.append(Candidate(key, pattern, wildcards))
        return found

    def __iter__(self) -> Iterator[tuple[object, Pattern]]:
        for bucket in (*self._exact.values(), *self._by_suffix.values()):
            yield from bucket
