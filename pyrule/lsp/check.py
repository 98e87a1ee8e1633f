"""The on-save check: `python -m pyrule.lsp.check PIPEFILE` loads and plans the Pipefile as
`pyrule -n` does (its top-level Python runs here, in this child process of the server, which
kills it after a time limit) and prints one JSON object:

    {"error": {"file", "line", "col", "message", "hint"} or null,
     "unreached": [{"name", "file", "line", "col"}, ...],   rules the default target does not reach
     "values": {"NAME": "repr", ...},                      top-level values, for hover
     "rules": {"NAME": {"output": "...", ...}, ...}}        each rule's sections as loaded, for hover

Nothing is built or written (the parse cache aside, as for any pyrule command).
"""

from __future__ import annotations

import json
import os
import sys

_REPR_LIMIT = 300


def check(path: str) -> dict:
    from ..builtins import namespace as fresh
    from ..errors import PyruleError
    from ..load import load
    from ..plan import plan

    result: dict = {"error": None, "unreached": [], "values": {}, "rules": {}}
    directory, name = os.path.split(os.path.abspath(path))
    os.chdir(directory)
    try:
        rules = load(name)
    except PyruleError as e:
        result["error"] = _error(e)
        return result
    own = set(fresh({}))
    for key, value in rules.namespace.items():
        if not key.startswith("_") and key not in own and not callable(value) and type(value).__name__ != "module":
            text = repr(value)
            result["values"][key] = text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT] + "..."
    for rule in rules.rules.values():
        sections = {"output": _items(rule.outputs), "input": _items(rule.inputs),
                    "params": _items(list(rule.params.items())), "resources": _items(list(rule.resources.items())),
                    "log": _short(rule.log) if rule.log else ""}
        result["rules"][rule.name] = {k: v for k, v in sections.items() if v}
    try:
        graph = plan(rules, [])
    except PyruleError as e:
        result["error"] = _error(e)
        return result
    if any(job.waits_for is not None for job in graph.jobs):
        return result  # a checkpoint has yet to run: what it leads to is not known
    reached = {job.rule.name for job in graph.jobs}
    for rule in rules.rules.values():
        if rule.name not in reached and not rule.phony and rule.loc is not None:
            result["unreached"].append({"name": rule.name, "file": rule.loc.file, "line": rule.loc.line,
                                        "col": rule.loc.col})
    return result


def _short(value) -> str:
    if callable(value):
        return f"<function {getattr(value, '__name__', '?')}>"
    if isinstance(value, (list, tuple)) and not isinstance(value, str):
        return ", ".join(_short(v) for v in value)
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT] + "..."


def _items(items) -> str:
    """(name, value) items as `a.txt, table=b.tsv, <function f>`."""
    return _short(", ".join(f"{name}={_short(v)}" if name else _short(v) for name, v in items))


def _error(e) -> dict:
    loc = e.loc
    return {"file": loc.file if loc else None, "line": loc.line if loc else None, "col": loc.col if loc else None,
            "message": e.message, "hint": e.hint}


if __name__ == "__main__":
    out = check(sys.argv[1])
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)
