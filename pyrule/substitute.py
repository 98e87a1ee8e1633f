"""`{input}`-style substitution in shell bodies.

A body is compiled once (per text) into a Template: its literal text and its fields, each with
the shell quoting context it sits in (unquoted, "...", '...', $'...', a here-document, a
comment, inside backticks). Paths (input, output, log, wildcard values) are escaped for that
context, lists space-separated, so no file name can run as code or split into words, whether the
author wrote `{input}`, `"{input}"` or `'{input}'`; a path that cannot be written in its context
(a `'` inside '...', a newline in a here-document) is an error. A relative path that starts with
`-` comes as `./-...`, so that no command reads it as an option. Params, resources and top-level
names are inserted as written (they are the Pipefile author's own text, like Make variables).

A field that names one of pyrule's namespaces (input, output, params, wildcards, resources, log,
a wildcard, a top-level name) and whose `.name` or `[i]` does not resolve is an error, before any
job runs (Template.check, at planning). A brace that holds no such name is left alone: `${HOME}`
(any `${...}`: the shell's own), `{a,b}`, `{ a; b; }` and `awk '{print $1}'` need no escaping;
`{{` and `}}` always give one literal brace.
"""

from __future__ import annotations

import re
import shlex
from functools import lru_cache

import xxhash

from .errors import Location, PipefileError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# A step is `.name`, `[i]` or `[key]` (`{config[samples]}`, as in Python's str.format).
_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[-?\d+\]|\[[A-Za-z_][\w.-]*\])*)\}")
_STEP = re.compile(r"\.(\w+)|\[(-?\d+)\]|\[([A-Za-z_][\w.-]*)\]")
# What is quoted (and how it is named in errors): paths, and what holds wildcard values.
_QUOTED = {"input": "input", "output": "output", "log": "log", "wildcards": "wildcard value", "jobname": "job name"}
_PATHS = ("input", "output", "log")
# The names context() gives a body; a shell field with another name is a wildcard or a top-level name.
CONTEXT_NAMES = ("input", "output", "params", "wildcards", "resources", "log", "rule", "jobname")
_LONG = 200  # characters of a top-level value kept as written in a signature

# Shell quoting contexts. UNQUOTED is also the inside of $(...) and of backticks.
UNQUOTED, DOUBLE, SINGLE, ANSI, HEREDOC, HEREDOC_QUOTED, COMMENT = (
    "unquoted", "double quotes", "single quotes", "$'...'", "a here-document", "a quoted here-document", "a comment")
UNSURE = "quotes that do not balance"
_CMD, _BACKTICK = "$(", "`"  # frames that quote like UNQUOTED
_PLAIN = re.compile(r"[\w./+,=:@%^-]*")  # the same text in any quoting context
_EXPANDING = (UNQUOTED, _CMD, _BACKTICK, DOUBLE, HEREDOC)  # where `$` and backslash are special
_WORD_END = " \t\n;&|()<>"  # a `#` after one of these (or first) starts a comment
_HEREDOC_WORD = re.compile(r"""(?:[^\s;&|<>()'"\\]|\\.|'[^']*'|"[^"]*")+""")


def context(job, namespace: dict[str, Any]) -> dict[str, Any]:
    """The names a body sees for this job."""
    from .paths import Namespace, Paths

    return {
        "input": job.inputs,
        "output": job.outputs,
        "params": job.params,
        "wildcards": Namespace(job.wildcards),
        "resources": job.resources,
        "log": Paths([job.log] if job.log else []),
        "rule": job.rule.name,
        "jobname": job.name,
    }


def substitute(text: str, ctx: dict[str, Any], wildcards: Mapping[str, str], namespace: dict[str, Any]) -> str:
    return template(text).render(ctx, wildcards, namespace)


class Field:
    """One `{root.steps}` of a body, with the quoting context it sits in."""

    __slots__ = ("text", "start", "root", "steps", "quoting", "backticks", "escaped")

    def __init__(self, m: re.Match, quoting: str, backticks: tuple[bool, ...], escaped: bool):
        self.text, self.start, self.root = m.group(0), m.start(), m.group(1)
        # (True, name) for `.name`, (False, index) for `[index]`, (False, "key") for `[key]`
        self.steps = tuple((True, a) if a else (False, int(i)) if i else (False, k)
                           for a, i, k in _STEP.findall(m.group(2)))
        self.quoting = quoting
        self.backticks = backticks  # per enclosing backtick pair, innermost first: whether inside "..."
        self.escaped = escaped  # right after a backslash that escapes the value's first character


class Template:
    """A body's text, parsed once: literal strings and Fields, in order."""

    def __init__(self, text: str):
        self.text = text
        self.parts: list[str | Field] = []
        self.fields: list[Field] = []
        scan = _Scanner()
        pos = 0
        literal: list[str] = []
        for m in _FIELD.finditer(text):
            between = text[pos:m.start()]
            scan.feed(between)
            literal.append(between)
            pos = m.end()
            if m.group(1) is None:  # `{{` or `}}`
                literal.append(m.group(0)[0])
                continue
            if scan.dollar():  # `${NAME}`: the shell's, not ours
                scan.feed(m.group(0))
                literal.append(m.group(0))
                continue
            f = Field(m, *scan.here())
            scan.feed("x")  # a value is part of a word: a `#` after it starts no comment
            self.fields.append(f)
            self.parts.append("".join(literal))
            self.parts.append(f)
            literal = []
        self.parts.append("".join(literal) + text[pos:])
        scan.feed(text[pos:] + ("" if text.endswith("\n") else "\n"))
        if scan.stack != [[UNQUOTED]] or scan.heredocs or scan.unsure:
            # Quotes, $(...) or here-documents that do not close: this scanner misread the body
            # (or bash will reject it); or a backslash inside backticks, which it does not follow.
            # Only values that mean the same in every context can go in.
            for f in self.fields:
                f.quoting, f.backticks = UNSURE, ()
        # Paths that may not fit where they are: checked per job.
        self.checked = [f for f in self.fields if f.escaped or f.quoting in (SINGLE, HEREDOC, HEREDOC_QUOTED, UNSURE)]

    def render(self, ctx: dict[str, Any], wildcards: Mapping[str, str], namespace: dict[str, Any]) -> str:
        out = []
        for part in self.parts:
            out.append(part if part.__class__ is str else self._value(part, ctx, wildcards, namespace))  # type: ignore[arg-type]  # not a str: a Field
        return "".join(out)

    def check(self, fields: list[Field], ctx: dict[str, Any], wildcards: Mapping[str, str],
              namespace: dict[str, Any], rule: str, loc: Location | None) -> None:
        """Raise a located PipefileError for the first of these fields (check_rule() gives them)
        that cannot be substituted for this job."""
        for f in fields:
            try:
                self._value(f, ctx, wildcards, namespace)
            except PipefileError as e:
                raise PipefileError(f"rule '{rule}': {e.message}", self.location(f, loc), e.hint) from None

    def check_rule(self, rule: Any, wildcards: list[str], namespace: dict[str, Any]) -> list[Field]:
        """Check once per rule, before any job is planned (a rule no target needs too), what
        does not depend on a job: the names and counts of its outputs (and of its inputs, unless
        a function gives them), the names of its params, resources, wildcards and log, and
        top-level names. Return the fields left to check() per job."""
        from .paths import Namespace, Paths

        known: dict[str, Any] = {
            "output": Paths.from_items(rule.outputs),
            "log": Paths([rule.log] if rule.log else []),
            "params": Namespace(dict.fromkeys(rule.params)),
            "resources": Namespace(dict.fromkeys(rule.resources)),
            "wildcards": Namespace(dict.fromkeys(wildcards)),
        }
        if not any(callable(v) for _, v in rule.inputs):
            known["input"] = Paths.from_items(rule.inputs)
        per_job = []
        for f in self.fields:
            root = f.root
            if root in known:  # a param's own value is known per job only: its name here
                value, steps = known[root], f.steps if root in _PATHS else f.steps[:1]
            elif root not in CONTEXT_NAMES and root not in wildcards and _top_level(namespace, root):
                value, steps = namespace[root], f.steps
            else:
                value, steps = None, ()
            if steps:
                try:
                    _walk(value, f, steps)
                except PipefileError as e:
                    raise PipefileError(f"rule '{rule.name}': {e.message}", self.location(f, rule.where("shell")),
                                        e.hint) from None
            if len(steps) < len(f.steps) or f in self.checked:
                per_job.append(f)
        return per_job

    def location(self, f: Field, loc: Location | None) -> Location | None:
        """Where a field is in the Pipefile, given where the body starts (its text is dedented
        by the column of its first character)."""
        if loc is None:
            return None
        before = self.text[:f.start]
        return Location(loc.file, loc.line + before.count("\n"), loc.col + f.start - (before.rfind("\n") + 1))

    def _value(self, f: Field, ctx: dict[str, Any], wildcards: Mapping[str, str], namespace: dict[str, Any]) -> str:
        root = f.root
        if root in ctx:
            value, what = ctx[root], _QUOTED.get(root)
        elif root in wildcards:
            value, what = wildcards[root], "wildcard value"
        elif _top_level(namespace, root):
            value, what = namespace[root], None
        else:
            return f.text
        if f.steps:
            value = _walk(value, f)
        if not what:
            return _written(value)
        if f.escaped:
            raise PipefileError(f"{f.text} follows a backslash, which would escape the first character of its value",
                                hint=f"remove the backslash: pyrule quotes {root} itself")
        if isinstance(value, (list, tuple)):
            return " ".join(_quote(v, root in _PATHS, what, f) for v in value)
        return _quote(value, root in _PATHS, what, f)


@lru_cache(maxsize=512)  # rule bodies, and the commands Python bodies pass to shell()
def template(text: str) -> Template:
    return Template(text)


class _Scanner:
    """Follows the shell's quoting through a body's literal text, as far as fields care."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = [[UNQUOTED]]  # frames: [kind, data]
        self.prev = "\n"
        self.escape = False  # the last character was a backslash that escapes the next one
        self.heredocs: list[tuple[str, bool, bool]] = []  # announced on this line: (word, <<-, quoted)
        self.line_start = False  # in a here-document, at the start of a line
        # A backslash inside backticks: the shell removes one level of backslashes there before it
        # parses the command (`\`` nests, `\"` in "`...`" quotes, `\\` escapes), which this scanner
        # does not follow.
        self.unsure = False

    def here(self) -> tuple[str, tuple[bool, ...], bool]:
        kind = self.stack[-1][0]
        backticks = tuple(f[1] for f in reversed(self.stack) if f[0] is _BACKTICK)
        # (a backslash escapes the next character wherever it sets `escape`: in $'...' too)
        return (UNQUOTED if kind in (_CMD, _BACKTICK) else kind), backticks, self.escape

    def dollar(self) -> bool:
        return self.prev == "$" and not self.escape and self.stack[-1][0] in _EXPANDING

    def feed(self, s: str) -> None:
        i, n, stack = 0, len(s), self.stack
        while i < n:
            c = s[i]
            frame = stack[-1]
            kind = frame[0]
            if self.escape:
                self.escape, self.prev = False, "x"
                i += 1
                continue
            if kind is SINGLE:
                if c == "'":
                    stack.pop()
            elif kind is HEREDOC or kind is HEREDOC_QUOTED:
                if self.line_start:
                    self.line_start = False
                    end = s.find("\n", i)
                    line = s[i:end]  # (read only if the line ends in s)
                    if end >= 0 and (line.lstrip("\t") if frame[1][1] else line) == frame[1][0]:
                        stack.pop()
                        self.line_start, self.prev = True, "\n"  # for a next here-document
                        i = end + 1
                        continue
                if c == "\n":
                    self.line_start = True
                elif kind is HEREDOC:
                    i = self._expansion(s, i, c)
            elif kind is COMMENT:
                if c == "\n":
                    stack.pop()
                    continue  # the newline ends a line of the enclosing context too
            elif kind is DOUBLE:
                if c == '"':
                    stack.pop()
                else:
                    i = self._expansion(s, i, c)
            elif kind is ANSI:
                if c == "\\":
                    self._backslash()
                elif c == "'":
                    stack.pop()
            else:  # UNQUOTED, _CMD, _BACKTICK
                if c == "'":
                    stack.append([SINGLE])
                elif c == '"':
                    stack.append([DOUBLE])
                elif c == "$" and s.startswith("'", i + 1):
                    stack.append([ANSI])
                    i += 1
                elif c == "`" and kind is _BACKTICK:
                    stack.pop()
                elif c == "#" and self.prev in _WORD_END:
                    stack.append([COMMENT])
                elif c == "(" and s.startswith("(", i + 1):  # `((...))`: arithmetic, where `<<` shifts
                    stack.append([_CMD, 1, 0, True])  # (closes like `$((`, and quotes as around it)
                    i += 1
                elif c == "(" and kind is _CMD:
                    frame[1] += 1
                elif c == ")" and kind is _CMD:
                    if frame[1]:
                        frame[1] -= 1
                    elif not frame[2]:  # (in a `case`, `x)` ends a pattern)
                        stack.pop()
                elif kind is _CMD and c in "ce" and self.prev in _WORD_END and s.startswith(("case", "esac"), i) \
                        and s[i + 4:i + 5] in ("", " ", "\t", "\n", ";", ")"):
                    frame[2] += 1 if c == "c" else -1 if frame[2] else 0
                elif c == "<" and s.startswith("<", i + 1) and (len(frame) < 4 or not frame[3]):
                    # (`<<<`, a here-string, gets no word: a `<` cannot start one)
                    i = self._heredoc(s, i + 2)
                    continue
                elif c == "\n" and self.heredocs:
                    # The here-documents announced on this line start here, the first one first.
                    stack.extend([HEREDOC_QUOTED if quoted else HEREDOC, (word, dash)]
                                 for word, dash, quoted in reversed(self.heredocs))
                    self.heredocs = []
                    self.line_start = True
                else:
                    i = self._expansion(s, i, c)
            self.prev = s[i]  # (the last character used)
            i += 1

    def _expansion(self, s: str, i: int, c: str) -> int:
        """A backslash, `$(` or a backtick, where they are special: the index of the last character used."""
        if c == "\\":
            self._backslash()
        elif c == "$" and s.startswith("(", i + 1):
            arithmetic = s.startswith("(", i + 2)  # `$((...))`, where `<<` shifts
            # [kind, open parentheses, open `case`s, arithmetic]
            self.stack.append([_CMD, int(arithmetic), 0, arithmetic])
            return i + 1 + arithmetic
        elif c == "`":
            self.stack.append([_BACKTICK, self.stack[-1][0] is DOUBLE])
        return i

    def _backslash(self) -> None:
        self.escape = True
        if any(f[0] is _BACKTICK for f in self.stack):
            self.unsure = True

    def _heredoc(self, s: str, i: int) -> int:
        """`<<WORD` or `<<-WORD` (i is after `<<`): note it; the index after the word."""
        dash = s.startswith("-", i)
        i += dash
        while i < len(s) and s[i] in " \t":
            i += 1
        m = _HEREDOC_WORD.match(s, i)
        if m:
            word = m.group(0)
            quoted = any(q in word for q in "'\"\\")
            self.heredocs.append((re.sub(r"""\\(.)|['"]""", r"\1", word), dash, quoted))
            self.prev = "x"
            return m.end()
        self.prev = "<"
        return i


def _quote(value: Any, path: bool, what: str, f: Field) -> str:
    """One path or wildcard value, written so that the shell reads it back unchanged where f is."""
    text = str(value)
    if path and text.startswith("-"):
        text = "./" + text
    q = f.quoting
    if q is UNQUOTED:
        out = shlex.quote(text)
    elif q is DOUBLE:
        out = re.sub(r'([\\"$`])', r"\\\1", text)
    elif q is SINGLE:
        if "'" in text:
            raise PipefileError(f"{f.text} is inside single quotes, where the {what} {text!r} cannot be written",
                                hint=f"remove the quotes around {f.text}: pyrule quotes paths itself")
        out = text
    elif q is ANSI:
        out = text.replace("\\", "\\\\").replace("'", "\\'")
    elif q is UNSURE:
        if not _PLAIN.fullmatch(text):
            raise PipefileError(f"{f.text}: the {what} {text!r} cannot be quoted safely: pyrule cannot tell which "
                                f"quotes {f.text} is in ({q})", hint="check the body's quotes, $(...) and here-documents")
        out = text
    elif q is COMMENT:
        out = shlex.quote(text).replace("\n", " ")
    else:  # a here-document: a line break in the value could end it early
        if "\n" in text:
            raise PipefileError(f"{f.text} is inside {q}, where the {what} {text!r} cannot be written (a line break)",
                                hint=f"pass {f.text} to the command as an argument instead")
        out = re.sub(r"([\\$`])", r"\\\1", text) if q is HEREDOC else text
    for in_double in f.backticks:  # the shell removes one level of backslashes per pair of backticks
        out = re.sub(r'([\\$`"])' if in_double else r"([\\$`])", r"\\\1", out)
    return out


def top_level_fields(text: str, namespace: dict[str, Any], wildcards: Any = ()) -> dict[str, str]:
    """The fields of a shell body that a Pipefile top-level name fills (`{REF}`, `{CFG.threads}`),
    as substituted: part of its jobs' signatures, so that changing such a name reruns them, as a
    changed param does. A long value is kept as its digest: every job's record holds it."""
    out = {}
    for f in template(text).fields:
        root = f.root
        if root in CONTEXT_NAMES or root in wildcards or not _top_level(namespace, root):
            continue
        try:
            value = _written(_walk(namespace[root], f))
        except PipefileError:
            continue  # an error at planning
        if len(value) > _LONG:
            value = f"xxh3:{xxhash.xxh3_64_hexdigest(value.encode(errors='surrogateescape'))} ({len(value)} characters)"
        out[f.text] = value
    return out


def _top_level(namespace: dict[str, Any], name: str) -> bool:
    return name in namespace and not name.startswith("_") and not callable(namespace[name])


def _walk(value: Any, f: Field, steps: tuple | None = None) -> Any:
    """Follow a field's `.name` and `[i]` steps; a step that does not resolve is a PipefileError
    with what there is instead."""
    done = f.root
    for is_attr, key in f.steps if steps is None else steps:
        if not is_attr and isinstance(key, str) and not isinstance(value, dict):
            is_attr = True  # `{input[table]}`: a named item, as `{input.table}`
        try:
            value = getattr(value, key) if is_attr else value[key]  # type: ignore[arg-type]  # is_attr: key is a name
        except (AttributeError, IndexError, KeyError, TypeError):
            raise _unresolved(f, done, value, is_attr, key) from None
        done += f".{key}" if is_attr else f"[{key}]"
    return value


def _unresolved(f: Field, done: str, value: Any, is_attr: bool, key: Any) -> PipefileError:
    from .paths import Paths

    if not is_attr and isinstance(value, dict) and isinstance(key, int):
        return PipefileError(f"{f.text} does not resolve: {done} has names, not positions",
                             hint=f"write {{{done}.NAME}}" + (f" ({', '.join(list(value)[:10])})" if value else ""))
    if not is_attr and isinstance(key, int):
        try:
            n = len(value)
        except TypeError:
            return PipefileError(f"{f.text} does not resolve: {done} is a {type(value).__name__}, not a list")
        has = f"{n} item{'' if n == 1 else 's'}"
        return PipefileError(f"{f.text} does not resolve: {done} has {has}",
                             hint=f"indexes run from 0 to {n - 1} (or -{n} to -1)" if n else f"{done} is empty")
    if isinstance(value, Paths):
        names = list(value.names())
        if not names:
            hint: str | None = ("a rule has one log: write {log}" if done == "log" else
                    f"use {{{done}[0]}}, or name the items in the rule's {done}: section ({key} = \"...\")")
            return PipefileError(f"{f.text} does not resolve: {done} has no named items", hint=hint)
    elif isinstance(value, dict):
        if is_attr and key in value:  # a plain dict: `{CFG.threads}` reads no keys
            return PipefileError(f"{f.text} does not resolve: {done} is a dict, whose keys are not attributes",
                                 hint=f"pass it through params: (e.g. {key} = {done}['{key}']) and write {{params.{key}}}")
        names = list(value)
    else:
        names = [n for n in dir(value) if not n.startswith("_")]
    import difflib  # only here: an error

    close = difflib.get_close_matches(key, [str(n) for n in names])  # best first
    if close:
        step, better = (f".{key}", f".{close[0]}") if is_attr else (f"[{key}]", f"[{close[0]}]")
        hint = f"did you mean '{f.text.replace(done + step, done + better, 1)}'?"
    else:
        shown = ", ".join("{" + f"{done}.{n}" + "}" for n in names[:10]) + (", ..." if len(names) > 10 else "")
        hint = f"there is {shown}" if names and isinstance(value, (dict, Paths)) else None
    return PipefileError(f"{f.text} does not resolve: {done} has no '{key}'", hint=hint)


def _written(value: Any) -> str:
    """A param, resource or top-level value: as written, a list space-separated."""
    if isinstance(value, (list, tuple)):
        return " ".join(_written(v) for v in value)
    return str(value)
