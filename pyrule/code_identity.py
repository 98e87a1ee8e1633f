"""The identity of a Python body for job signatures: what its code does, not where it was written.

A code object's identity is its bytecode, names, argument counts, flags, exception table and
constants, nested code objects (lambdas, comprehensions, nested functions) by their own identity:
never `repr()`, which holds addresses, and never line numbers, line tables or file names, so a
comment or a blank line changes nothing. A function adds its default values and closure by value.
Computed once per code object (a Pipefile's bodies and API functions live as long as the run).

The top-level names a body reads (LOAD_NAME/LOAD_GLOBAL in its code, recursively) are tracked
by value; a function defined in the same namespace (the Pipefile's, or an API script's module)
by its identity, with the names it reads in turn. Imported code and classes are not tracked.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from types import CodeType, FunctionType, ModuleType

import xxhash

from .substitute import CONTEXT_NAMES, top_level_fields
from .values import ValuesProxy, body_code

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

LONG = 200  # characters of a value kept as written (as for shell bodies); longer: its digest
# Names that a body's globals get from the job (jobspec.python_body), not from the namespace.
JOB_NAMES = frozenset((*CONTEXT_NAMES, "shell", "report", "threads"))
_WITH_VALUES = JOB_NAMES | {"values"}  # and `values` (values.py), unless the Pipefile rebinds the name
_ATOMS = frozenset((str, int, float, bool, bytes, complex, type(None), type(Ellipsis)))  # repr() is the value
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
_digests: dict[CodeType, str] = {}
_reads: dict[CodeType, frozenset[str]] = {}
_bodies: dict[str, CodeType] = {}  # `python:` text -> its code


def code_digest(code: CodeType) -> str:
    """The canonical identity of a code object (see the module's docstring)."""
    digest = _digests.get(code)
    if digest is None:
        h = xxhash.xxh3_128()
        h.update(repr((code.co_name, code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount,
                       code.co_flags, code.co_names, code.co_varnames, code.co_freevars,
                       code.co_cellvars)).encode("utf-8", "surrogateescape"))
        h.update(b"\0")
        h.update(code.co_code)
        h.update(b"\0")
        h.update(getattr(code, "co_exceptiontable", b""))  # offsets and depths only (3.11+)
        for c in code.co_consts:
            h.update(b"\0")
            h.update(canonical(c).encode("utf-8", "surrogateescape"))
        digest = _digests[code] = h.hexdigest()
    return digest


def function_digest(func: FunctionType, _seen: tuple[int, ...] = ()) -> str:
    """A function's identity: its code's, with its default values and closure by value (a
    closure may hold the function itself: `_seen` ends the recursion)."""
    cells = []
    for cell in func.__closure__ or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:  # an empty cell (a name not yet assigned)
            cells.append(None)
    extra = canonical((func.__defaults__, func.__kwdefaults__, tuple(cells)), (*_seen, id(func)))
    return xxhash.xxh3_64_hexdigest(f"{code_digest(func.__code__)}\0{extra}".encode("utf-8", "surrogateescape"))


def rule_identity(rule: Any, wildcards: Any = (), values: dict[int, tuple[Any, str]] | None = None
                  ) -> tuple[str, dict[str, str]]:
    """What a rule's body contributes to its jobs' outcome besides their files: the body's identity
    (a shell body's text, a Python body's code; "" for none) and the top-level names it reads, by
    value. Both the job signature (decide.py) and the no-op memo key (noop_memo.py) take it
    from here, so that the memo can never miss a change a signature sees. `wildcards`: names a
    job's wildcards fill, not the namespace (none: every such field counts, a superset)."""
    if getattr(rule, "script", None) is not None:
        return script_identity(rule, values)
    if rule.python is not None or rule.func is not None:
        return body_identity(rule, wildcards, values)
    if rule.shell is not None:
        return "shell:" + rule.shell, top_level_fields(rule.shell, rule.namespace, wildcards)
    return "", {}


def body_identity(rule: Any, wildcards: Any = (), values: dict[int, tuple[Any, str]] | None = None
                  ) -> tuple[str, dict[str, str]]:
    """A rule's Python body (`python:` text or an API function): its identity, and the values
    of the top-level names it reads, with the `{NAME}` fields of its strings that shell() would
    fill from the Pipefile's names (keyed `{NAME}`, as for shell bodies). `values`: a cache of
    values as text, for many rules reading one long list."""
    if rule.func is not None:
        func = rule.func
        if not isinstance(func, FunctionType):  # a builtin, a partial, a callable object
            return "callable:" + canonical(func), {}
        identity, code = "func:" + function_digest(func), func.__code__
        names = top_level_reads(code, func.__globals__, frozenset(), values)
    else:
        cached = _bodies.get(rule.python)
        if cached is None:
            try:
                cached = _bodies[rule.python] = body_code(rule.python, "<python>", 1) or \
                    compile(rule.python, "<python>", "exec")
            except (SyntaxError, ValueError):  # the loader reports it; the text is its identity then
                return "python:" + rule.python, {}
        code = cached
        skip = _WITH_VALUES if isinstance(rule.namespace.get("values"), ValuesProxy) else JOB_NAMES
        identity, names = "python:" + code_digest(code), top_level_reads(code, rule.namespace, skip, values)
    for text in _strings(code):
        names.update(top_level_fields(text, rule.namespace, wildcards))
    return identity, names


def script_identity(rule: Any, values: dict[int, tuple[Any, str]] | None = None) -> tuple[str, dict[str, str]]:
    """A `script:` body: its path and its content (an edit reruns the jobs; read anew by each run,
    as the no-op memo's key reads it too); and, when its text mentions `config`, the Pipefile's
    `config` by value (a script reads it as `snakemake.config`, which no name tracking can follow)."""
    try:
        with open(rule.script, "rb") as f:
            source = f.read()
    except OSError as e:
        return f"script:{rule.script}:unreadable ({e.strerror})", {}
    names: dict[str, str] = {}
    if b"config" in source and "config" in rule.namespace:
        names = top_level_reads(_CONFIG_READ, rule.namespace, values=values)
    return f"script:{rule.script}:xxh3:{xxhash.xxh3_128_hexdigest(source)}", names


_CONFIG_READ = compile("config", "<script>", "eval")  # reads the one name `config`


def _strings(code: CodeType) -> Iterator[str]:
    """The string constants with a `{` in the code, in nested code too."""
    for c in code.co_consts:
        if isinstance(c, str):
            if "{" in c:
                yield c
        elif isinstance(c, CodeType):
            yield from _strings(c)


def global_reads(code: CodeType) -> frozenset[str]:
    """The global names the code reads (LOAD_NAME, LOAD_GLOBAL), in nested code too."""
    names = _reads.get(code)
    if names is None:
        found = set(_loads(code))
        for c in code.co_consts:
            if isinstance(c, CodeType):
                found |= global_reads(c)
        names = _reads[code] = frozenset(found)
    return names


def top_level_reads(code: CodeType, namespace: dict[str, Any], skip: frozenset[str] = JOB_NAMES,
                    values: dict[int, tuple[Any, str]] | None = None) -> dict[str, str]:
    """The namespace's names that the code reads, by value (a function defined in the namespace:
    by its identity, and the names it reads in turn), sorted by name."""
    out: dict[str, str] = {}
    if values is None:
        values = {}
    todo = list(global_reads(code))
    while todo:
        name = todo.pop()
        if name in out or name in skip or name.startswith("__") or name not in namespace:
            continue
        value = namespace[name]
        if isinstance(value, ModuleType):
            continue
        if isinstance(value, FunctionType):
            if value.__globals__ is not namespace:
                continue  # imported: not the workflow's own code
            out[name] = f"function {value.__name__} xxh3:{function_digest(value)}"
            todo.extend(global_reads(value.__code__))
            continue
        if callable(value):
            continue  # a class, a builtin, a helper
        known = values.get(id(value))
        if known is None:  # (the value is kept with its text: its id stays its own)
            text = canonical(value)
            if len(text) > LONG:
                text = f"xxh3:{xxhash.xxh3_64_hexdigest(text.encode('utf-8', 'surrogateescape'))} ({len(text)} characters)"
            known = values[id(value)] = (value, text)
        out[name] = known[1]
    return dict(sorted(out.items()))


def canonical(value: Any, _seen: tuple[int, ...] = ()) -> str:
    """A value as text that is the same in every process: like repr(), but sets sorted, code by
    its identity, and no addresses (`<Foo object>`)."""
    t = type(value)
    if t in _ATOMS:
        return repr(value)
    if isinstance(value, CodeType):
        return f"<code {value.co_name} xxh3:{code_digest(value)}>"
    if isinstance(value, (tuple, list, dict, set, frozenset)):
        if id(value) in _seen:
            return "..."
        if t in (list, tuple) and set(map(type, value)) <= _ATOMS:
            return repr(value)  # the common case (a list of samples), at C speed
        seen = (*_seen, id(value))
        if isinstance(value, dict):
            inner = ", ".join(f"{canonical(k, seen)}: {canonical(v, seen)}" for k, v in value.items())
            return f"{{{inner}}}"
        items = [canonical(v, seen) for v in value]
        if isinstance(value, (set, frozenset)):
            inner = ", ".join(sorted(items))
            if not items:
                return "frozenset()" if isinstance(value, frozenset) else "set()"
            return f"frozenset({{{inner}}})" if isinstance(value, frozenset) else f"{{{inner}}}"
        if isinstance(value, tuple):
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        return f"[{', '.join(items)}]"
    if isinstance(value, FunctionType):
        if id(value) in _seen:
            return f"<function {value.__name__} ...>"
        return f"<function {value.__name__} xxh3:{function_digest(value, _seen)}>"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - user code
        text = f"<{t.__module__}.{t.__qualname__}>"
    return _ADDRESS.sub("", text)


if sys.version_info >= (3, 11):
    _SHIFT = 1  # LOAD_GLOBAL's argument is the name's index times two (plus a flag)
else:
    _SHIFT = 0


def _loads(code: CodeType) -> list[str]:
    import opcode  # only for Python bodies (a millisecond); dis would cost more

    load_name, load_global = opcode.opmap["LOAD_NAME"], opcode.opmap["LOAD_GLOBAL"]
    load_dict = opcode.opmap.get("LOAD_FROM_DICT_OR_GLOBALS", -1)  # 3.12+: class bodies
    extended = opcode.EXTENDED_ARG
    names, out, raw, arg = code.co_names, [], code.co_code, 0
    for i in range(0, len(raw), 2):
        op = raw[i]
        arg = arg << 8 | raw[i + 1]
        if op == extended:
            continue
        if op == load_global:
            out.append(names[arg >> _SHIFT])
        elif op == load_name or op == load_dict:
            out.append(names[arg])
        arg = 0
    return out
