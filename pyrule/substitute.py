"""`{input}`-style substitution in shell bodies.

Paths (input, output, log, wildcard values) come shell-quoted, lists space-separated, so no file
name can run as code or split into words; a relative path that starts with `-` comes as `./-...`,
so that no command reads it as an option. Params, resources and top-level names are inserted as
written (they are the Pipefile author's own text, like Make variables). A brace that does not
hold a known name is left alone: `${HOME}`, `{a,b}` and `awk '{print $1}'` need no escaping;
`{{` and `}}` always give one literal brace.
"""

from __future__ import annotations

import re
import shlex

import xxhash

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[-?\d+\])*)\}")
_QUOTED = ("input", "output", "log", "wildcards")
_PATHS = ("input", "output", "log")
# The names context() gives a body; a shell field with another name is a wildcard or a top-level name.
CONTEXT_NAMES = ("input", "output", "params", "wildcards", "resources", "log", "rule", "jobname")
_LONG = 200  # characters of a top-level value kept as written in a signature


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


def substitute(text: str, ctx: dict[str, Any], wildcards: dict[str, str], namespace: dict[str, Any]) -> str:
    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok in ("{{", "}}"):
            return tok[0]
        root, path = m.group(1), m.group(2)
        if root in ctx:
            value, quote = ctx[root], ("path" if root in _PATHS else "word") if root in _QUOTED else ""
        elif root in wildcards:
            value, quote = wildcards[root], "word"
        elif _top_level(namespace, root):
            value, quote = namespace[root], ""
        else:
            return tok
        try:
            value = _walk(value, path)
        except (AttributeError, IndexError, KeyError, TypeError):
            return tok
        return _render(value, quote)

    return _FIELD.sub(sub, text)


def top_level_fields(text: str, namespace: dict[str, Any], wildcards: Any = ()) -> dict[str, str]:
    """The fields of a shell body that a Pipefile top-level name fills (`{REF}`, `{CFG.threads}`),
    as substituted: part of its jobs' signatures, so that changing such a name reruns them, as a
    changed param does. A long value is kept as its digest: every job's record holds it."""
    out = {}
    for m in _FIELD.finditer(text):
        root = m.group(1)
        if root is None or root in CONTEXT_NAMES or root in wildcards or not _top_level(namespace, root):
            continue
        try:
            value = _render(_walk(namespace[root], m.group(2)), "")
        except (AttributeError, IndexError, KeyError, TypeError):
            continue  # left as written in the command too
        if len(value) > _LONG:
            value = f"xxh3:{xxhash.xxh3_64_hexdigest(value.encode('utf-8', 'surrogateescape'))} ({len(value)} characters)"
        out[m.group(0)] = value
    return out


def _top_level(namespace: dict[str, Any], name: str) -> bool:
    return name in namespace and not name.startswith("_") and not callable(namespace[name])


def _walk(value: Any, path: str) -> Any:
    for part in re.findall(r"\.(\w+)|\[(-?\d+)\]", path):
        value = getattr(value, part[0]) if part[0] else value[int(part[1])]
    return value


def _render(value: Any, quote: str) -> str:
    """quote: "path" (shell-quoted; a relative path starting with '-' gets './' so that no
    command takes it for an option), "word" (shell-quoted), "" (as written)."""
    if isinstance(value, (list, tuple)):
        return " ".join(_render(v, quote) for v in value)
    text = str(value)
    if quote == "path" and text.startswith("-"):
        text = "./" + text
    return shlex.quote(text) if quote else text
