"""The on-save check: `python -m pyrule.lsp.check PIPEFILE` loads and plans the Pipefile as
`pyrule -n` does (its top-level Python runs here, in this child process of the server, which
kills it after a time limit) and prints one JSON object:

    {"error": {"file", "line", "col", "message", "hint"} or null,
     "unreached": [{"name", "file", "line", "col"}, ...],   rules the default target does not reach
     "values": {"NAME": "repr", ...}}                       top-level values, for hover

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

    result: dict = {"error": None, "unreached": [], "values": {}}
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


def _error(e) -> dict:
    loc = e.loc
    return {"file": loc.file if loc else None, "line": loc.line if loc else None, "col": loc.col if loc else None,
            "message": e.message, "hint": e.hint}


if __name__ == "__main__":
    out = check(sys.argv[1])
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)
