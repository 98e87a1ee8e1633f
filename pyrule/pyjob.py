"""A Python body job, shipped: what runs it elsewhere (a Slurm node, a container's python3) without
loading the Pipefile again.

`ship()` describes one job as JSON: the body's source with its file and first line (tracebacks
name the Pipefile's lines), the job's input, output, log, params, wildcards, resources and
threads, and the values of the top-level names the body uses (found in its compiled code:
globals it loads, and `{NAME}` fields in its strings, for shell()) in a file that the rule's jobs
share (SHARED/DIGEST.json, encoded once per rule). pyjob_run.py, a stdlib-only script, runs it.
A value is written as JSON where it is JSON (tagged for tuples, sets, dicts with other keys,
pyrule's Paths and Namespace), a module by its name, a function defined in the
Pipefile by its source (and, in turn, the names it uses), anything else as a pickle. What cannot
be shipped (a class or closure defined in the Pipefile, an object that does not pickle; in a
container, also a pickle that needs pyrule) raises Unshippable, naming the top-level name: the
Slurm executor then re-loads the Pipefile on the node as before (node.py), a container job is
refused before any job starts (containers.check). docs/slurm.md, docs/environments.md.
"""

from __future__ import annotations

import math
import os
import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from types import CodeType
    from typing import Any

    from .graph import Job
    from .rules import Rule

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyjob_run.py")
RUNNER_COPY = os.path.join(".pyrule", "pyjob", "run.py")  # in the project: mounted in a container
VALUE_CODE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bodyvalue.py")  # the runner imports it
SHARED = os.path.join(".pyrule", "pyjob", "shared")  # a rule's top-level values, by content digest
_FIELD_NAME = re.compile(r"\{([A-Za-z_]\w*)")
_SKIP = frozenset({"input", "output", "params", "wildcards", "resources", "log", "rule", "jobname",
                   "shell", "report", "threads"})  # the job's own names: shipped as its context


class Unshippable(Exception):
    """A top-level name a Python body uses whose value cannot be shipped; the message says which."""


def runner_source() -> str:
    global _runner
    if _runner is None:
        with open(RUNNER, encoding="utf-8") as f:
            _runner = f.read()
    return _runner


_runner: str | None = None


def ship(job: Job, namespace: dict[str, Any], ctx: dict[str, Any], touched: list[str], result: str,
         foreign: bool) -> dict[str, Any]:
    """The JSON-able spec of the job's Python body (pyjob_run.py runs it). `foreign`: for another
    Python without pyrule (a container's), where a pickle that needs pyrule cannot load."""
    rule = job.rule
    spec: dict[str, Any] = {
        "version": 1, "rule": rule.name, "jobname": job.name, "result": result, "touch": list(touched),
        "threads": int(ctx["resources"].get("cores", 1)),
        "context": {k: encode(v, foreign) for k, v in ctx.items()},
    }
    if foreign:
        spec["shell"] = ["sh", "-euc"]  # an image need not have bash (as containers.wrap)
    if rule.venv is not None:
        from .venvs import directory

        spec["venv"] = directory(rule)
    if rule.script is not None:
        spec["script"] = rule.script
    else:
        assert rule.python is not None, "a func body (the Python API) is not shipped"
        loc = rule.where("python")
        spec.update(source=rule.python, file=loc.file if loc else "<python>", line=loc.line if loc else 1)
    spec["shared"] = _shared(rule, namespace, foreign)
    from .values import ValuesProxy, values_read

    if isinstance(namespace.get("values"), ValuesProxy):  # what `values` holds in the body
        spec["values"] = [[r, dict(w), encode(v, foreign)] for r, w, v in values_read(job, namespace)]
    return spec


# What the jobs of a rule share (the top-level names' values, the functions), encoded once per rule
# and namespace: path -> text, and (rule, namespace, foreign) -> path. The namespace is taken as
# fixed once loaded (bodies run in other processes and cannot change it).
_shared_texts: dict[str, str] = {}
_shared_paths: dict[tuple[int, int, bool], tuple[Any, Any, str]] = {}


def _shared(rule: Rule, namespace: dict[str, Any], foreign: bool) -> str:
    """The path (in the project) of the file that holds the top-level values the rule's body uses."""
    import json

    import xxhash

    key = (id(rule), id(namespace), foreign)
    known = _shared_paths.get(key)
    if known is not None and known[0] is rule and known[1] is namespace:
        return known[2]
    functions: list[dict[str, Any]] = []
    if rule.script is not None:
        wanted, assigned = ["config"], set()
    else:
        assert rule.python is not None
        from .bodyvalue import returning_code

        code = returning_code(rule.python, "<python>", 1) or compile(rule.python, "<python>", "exec")
        wanted, assigned = sorted(names_used(code)), names_assigned(code)
    values = _globals(rule, namespace, wanted, functions, foreign, assigned)
    text = json.dumps({"globals": values, "functions": functions}, ensure_ascii=False)
    path = os.path.join(SHARED, xxhash.xxh3_128_hexdigest(text.encode("utf-8", "surrogateescape")) + ".json")
    if len(_shared_paths) > 256:  # (a long-lived process: API runs of many workflows)
        _shared_paths.clear()
        _shared_texts.clear()
    _shared_texts[path] = text
    _shared_paths[key] = (rule, namespace, path)
    return path


def shared(spec: dict[str, Any]) -> dict[str, Any]:
    """The top-level values and functions `spec` refers to (as the runner reads them)."""
    import json

    return json.loads(_shared_texts[spec["shared"]])


def check(rule: Rule, namespace: dict[str, Any], foreign: bool) -> None:
    """Raise Unshippable if a top-level name the rule's body uses cannot be shipped (what does not
    depend on a job: its params are checked when a job starts); the values are encoded for the
    jobs then."""
    if rule.python is not None or rule.script is not None:
        _shared(rule, namespace, foreign)


def names_used(code: CodeType) -> set[str]:
    """The global (and attribute: a superset) names a compiled body loads, in nested functions
    too, and the names of `{NAME...}` fields in its strings (for shell())."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, str) and "{" in c:
            names.update(_FIELD_NAME.findall(c))
        elif hasattr(c, "co_names"):
            names |= names_used(c)
    return names


def names_assigned(code: CodeType) -> set[str]:
    """The names a compiled body assigns (or imports) at its own top level."""
    import dis

    return {i.argval for i in dis.get_instructions(code) if i.opname in ("STORE_NAME", "STORE_GLOBAL")}


def _globals(rule: Rule, namespace: dict[str, Any], wanted: list[str], functions: list[dict[str, Any]],
             foreign: bool, assigned: set[str]) -> dict[str, Any]:
    """The values of the top-level names in `wanted` (and functions, by source, into `functions`).
    A name the body assigns itself is left out when its value cannot be shipped (`with open(...)
    as f` in the body and at the top level)."""
    from .values import ValuesProxy

    out: dict[str, Any] = {}
    seen: set[str] = set()
    todo = list(wanted)
    while todo:
        name = todo.pop(0)
        if name in seen or name in _SKIP or name.startswith("__") or name not in namespace:
            continue
        seen.add(name)
        value = namespace[name]
        if isinstance(value, ValuesProxy):  # the job's own values go in spec["values"]
            continue
        try:
            if _defined_here(value, namespace) and callable(value) and hasattr(value, "__code__"):
                f = _function(name, value)
                functions.append(f)
                todo.extend(sorted(names_used(compile(f["source"], f["file"], "exec"))))
            else:
                out[name] = encode(value, foreign)
        except Unshippable as e:
            if name not in assigned:
                raise Unshippable(f"rule '{rule.name}': its body uses the top-level name '{name}': {e}") from None
    return out


def _defined_here(value: Any, namespace: dict[str, Any]) -> bool:
    return getattr(value, "__module__", None) == namespace.get("__name__", "__pipefile__")


def _function(name: str, func: Any) -> dict[str, Any]:
    """A function defined in the Pipefile (`name`: the top-level name it has), by its source (at its
    own lines)."""
    import inspect
    import textwrap

    if func.__closure__:
        raise Unshippable("a closure (a function defined inside another) cannot be shipped")
    if func.__qualname__ != func.__name__ or func.__name__ == "<lambda>":
        raise Unshippable(f"the function {func.__qualname__} is not defined at the top level by def")
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        raise Unshippable("its source cannot be read") from None
    code = func.__code__
    return {"name": name, "defines": func.__name__, "source": source, "file": code.co_filename, "line": code.co_firstlineno}


def encode(v: Any, foreign: bool) -> Any:
    """`v` as JSON that pyjob_run.decode() turns back into it (see the module's docstring)."""
    import types

    from .paths import Namespace, Paths
    from .rules import FlaggedPath

    plain = (bool, int, str)

    def enc(v: Any) -> Any:
        cls = v.__class__
        if cls in plain or v is None or (cls is float and v == v and abs(v) != math.inf):
            return v
        if cls is FlaggedPath:  # temp(), touch()...: to a body, the path
            return str(v)
        if cls is list:
            return {"L": [enc(i) for i in v]}
        if cls is tuple:
            return {"T": [enc(i) for i in v]}
        if cls is dict:
            return {"D": [[enc(k), enc(i)] for k, i in v.items()]}
        if cls is Namespace and all(isinstance(k, str) for k in v):
            return {"N": [[k, enc(i)] for k, i in v.items()]}
        if cls is set or cls is frozenset:
            return {"S" if cls is set else "FS": [enc(i) for i in v]}
        if cls is Paths and all(isinstance(i, str) for i in v):
            return {"P": [[str(i) for i in v], {k: enc(i) for k, i in v.names().items()}]}
        if isinstance(v, types.ModuleType):
            if v.__name__ == "__main__" or v.__spec__ is None:
                raise Unshippable(f"the module {v.__name__} cannot be imported by name")
            return {"M": v.__name__}
        return {"X": _pickle(v, foreign)}

    return enc(v)


def _pickle(v: Any, foreign: bool) -> str:
    import base64
    import pickle
    import pickletools

    kind = f"{type(v).__module__}.{type(v).__qualname__}"
    if _pipefile_module(v) and (isinstance(v, type) or callable(v)):
        what = "the class" if isinstance(v, type) else f"the {kind}"
        raise Unshippable(f"{what} {getattr(v, '__qualname__', v)} is defined in the Pipefile and cannot be shipped")
    try:
        data = pickle.dumps(v, protocol=4)
    except Exception as e:  # noqa: BLE001 - pickle raises many kinds
        raise Unshippable(f"a {kind} cannot be pickled ({type(e).__name__}: {e})") from None
    if foreign:
        for op, arg, _pos in pickletools.genops(data):
            if isinstance(arg, str) and (arg == "pyrule" or arg.startswith("pyrule.")) and "UNICODE" in op.name:
                raise Unshippable(f"a {kind} needs pyrule to be rebuilt, which the container does not have")
    return base64.b64encode(data).decode("ascii")


def _pipefile_module(v: Any) -> bool:
    return getattr(v, "__module__", "").startswith("__pipefile")


def files(spec: dict[str, Any], spec_path: str) -> dict[str, str]:
    """The files a shipped job needs (relative to the project): the runner's copy and its spec."""
    import json

    with open(VALUE_CODE, encoding="utf-8") as f:
        value_code = f.read()
    return {RUNNER_COPY: runner_source(), os.path.join(os.path.dirname(RUNNER_COPY), "bodyvalue.py"): value_code,
            spec["shared"]: _shared_texts[spec["shared"]],
            spec_path: json.dumps(spec, ensure_ascii=False)}
