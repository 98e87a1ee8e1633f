"""Values: what a Python body returns, kept as its job's value (docs/language.md, "Values").

A body (`python:`, or a Python API function) that returns something other than None gives its
job a value. The child that ran it writes the value to the file named by $PYRULE_VALUE (JSON
when it round-trips, else pickle); the runner reads it when the job has succeeded and keeps it in
the store with the job's record, content-hashed (xxh3, as files are).

Other jobs read it with `values.NAME.get(**wildcards)` from their params, resources, env and input
functions, which makes the reading job run after the producing one, puts the value's hash in its
signature, and, while the value is not known yet, lets it wait as for a checkpoint (the planner's
resolver, plan.Planner._value). A Python body reads the values its job read while planned.
"""

from __future__ import annotations

import os

import xxhash

from .bodyvalue import Unstorable as Unstorable  # (raised by encode)
from .bodyvalue import encode_value, returning_code, write_value
from .checkpoints import CheckpointPending, CheckpointsProxy
from .record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

ENV = "PYRULE_VALUE"  # where a Python body's child writes the value it returned
write = write_value  # in the job's process (bodyvalue.py: also where pyrule is not installed)


class ValuePending(CheckpointPending):
    """The producing job has no value yet: the reading job waits for it (as for a checkpoint)."""

    def __init__(self, job: Any):
        Exception.__init__(self, f"the value of {job.name} is not known yet")
        self.job = job


@record
class Stored:
    """A job's value as the store keeps it: `kind` json or pickle, `data` its bytes, `hash` the
    xxh3-128 of kind and data, `short` a short text of it for reasons."""

    hash: str
    kind: str
    data: bytes
    short: str

    def load(self) -> Any:
        if self.kind == "json":
            import json  # (not at start: a dry run reads no value)

            return json.loads(self.data)
        import pickle

        return pickle.loads(self.data)  # noqa: S301 - written by this project's own jobs


def digest(kind: str, data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(kind.encode() + b"\0" + data)


def encode(value: Any) -> Stored:
    """`value` as stored (bodyvalue.encode_value: JSON when it round-trips, else pickle)."""
    kind, data, text = encode_value(value)
    return Stored(digest(kind, data), kind, data, text)


def read(path: str) -> Stored | None:
    """In the runner: the value a job's body wrote at `path` (None: it returned none)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    head, _, data = raw.partition(b"\n")
    import json

    meta = json.loads(head)
    return Stored(digest(meta["kind"], data), meta["kind"], data, meta["short"])


def clear(path: str) -> None:
    """A previous attempt's value must not come back as this one's."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def value_command(name: str, rules: Any, state: Any, out: Callable[[str], None]) -> int:
    """`pyrule --value JOB`: the value the job's last success returned, as JSON."""
    from .errors import UsageError, suggest

    names = sorted(state.valued()) if state is not None else []
    stored = state.value_of(name) if name in names else None
    if stored is None:
        known = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") if names else "none yet"
        rule = rules.rules.get(name.partition("[")[0])
        if rule is None:
            raise UsageError(f"--value {name}: no rule or job is named '{name}'",
                             hint=suggest(name, [*names, *rules.rules]) or f"jobs with a value: {known}")
        if rule.python is None and rule.func is None:
            raise UsageError(f"--value {name}: rule '{rule.name}' has no Python body, and only a Python body returns "
                             "a value", hint=f"jobs with a value: {known}")
        raise UsageError(f"--value {name}: job {name} has no value recorded (it has not succeeded yet, or its body "
                         "returned None)", hint=suggest(name, names) or f"run it first (pyrule '{name}'); jobs with a "
                         f"value: {known}")
    if stored.kind != "json":
        raise UsageError(f"--value {name}: the value of {name} ({stored.short}) is not JSON: it is stored with "
                         "pickle", hint="read it from Python: Workflow.run(...).values[" + repr(name) + "], or "
                         "return plain data (numbers, strings, lists, dicts) from the body")
    import json

    out(json.dumps(stored.load(), indent=2, ensure_ascii=False))
    return 0


class ValuesProxy(CheckpointsProxy):
    """The `values` object of a Pipefile (and `Workflow.values`): `values.NAME.get(**wildcards)`
    asks the planner's resolver (plan.Planner._value), as `checkpoints` does."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "resolver":
            raise AttributeError(name)
        rule = self._rules.get(name)
        if rule is None:
            from .errors import suggest

            names = [n for n, r in self._rules.items() if r.python is not None or r.func is not None]
            hint = suggest(name, list(self._rules))
            raise AttributeError(f"values.{name}: no rule '{name}'" + (f"; {hint}" if hint else
                                 f" (rules with Python bodies: {', '.join(names) or 'none'})"))
        if rule.python is None and rule.func is None:
            raise AttributeError(f"values.{name}: rule '{name}' has no Python body, and only a Python body "
                                 "returns a value")
        from functools import partial
        from types import SimpleNamespace

        return SimpleNamespace(get=partial(self._get, name))

    def _get(self, name: str, **wildcards: Any) -> Any:
        if self.resolver is None:
            raise RuntimeError(f"values.{name}.get() is called as the Pipefile is read, before any job has run: "
                               "read a value in a function of the wildcards, e.g. `params: x = lambda w: "
                               f"values.{name}.get(**w)`")
        return self.resolver(name, {k: str(v) for k, v in wildcards.items()})


class JobValues:
    """`values` inside a Python body: the values its job read while it was planned."""

    def __init__(self, job: Any, read: list[tuple[str, dict[str, str], Any]]):
        self._job = job
        self._read = read  # (producing rule, its job's wildcards, value)

    def __getattr__(self, name: str) -> _BodyValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return _BodyValue(self, name)


class _BodyValue:
    def __init__(self, values: JobValues, name: str):
        self._values = values
        self._name = name

    def get(self, **wildcards: Any) -> Any:
        asked = {k: str(v) for k, v in wildcards.items()}
        mine = [(w, v) for rule, w, v in self._values._read if rule == self._name]
        for w, v in mine:
            if w == asked or (not asked and len(mine) == 1):
                return v
        name = job_name(self._name, asked)
        raise LookupError(
            f"values.{self._name}.get(): {self._values._job.name} did not read the value of {name} while it "
            "was planned; read it in params: (e.g. `params: x = lambda w: values."
            f"{self._name}.get(**w)`, then params.x in the body), so that the job waits for it and reruns when "
            "it changes")


class Return(BaseException):
    """A `return` at the top level of a `python:` body (BaseException: no `except Exception:` in
    the body catches it)."""

    def __init__(self, value: Any):
        self.value = value


def values_read(job: Any, namespace: dict[str, Any]) -> list[tuple[str, dict[str, str], Any]]:
    """The values `job` read while planned, as its Python body sees them: (producing rule, its
    job's wildcards, value)."""
    proxy = namespace.get("values")
    resolver = proxy.resolver if isinstance(proxy, ValuesProxy) else None
    return [(p.rule.name, p.wildcards, resolver(p.rule.name, p.wildcards) if resolver is not None else None)
            for p in job.reads]


def body_code(text: str, file: str, line: int) -> Any:
    """A `python:` body that returns, compiled (a top-level `return` raises Return through
    `__pyrule_return__`); None for a body without `return` (compiled as always)."""
    return returning_code(text, file, line)


def wildcards_used(rule: Any) -> list[str]:
    """The wildcards a value-only rule's inputs, log and params use (its jobs must be given them)."""
    from .patterns import wildcard_names

    texts = [v for _, item in rule.inputs for v in ([item] if isinstance(item, str) else
                                                   item if isinstance(item, list) else []) if isinstance(v, str)]
    texts += [rule.log] if rule.log else []
    texts += [v for v in rule.params.values() if isinstance(v, str)]
    return list(dict.fromkeys(n for t in texts for n in wildcard_names(t)))


def job_name(rule: str, wildcards: dict[str, str]) -> str:
    """The name a job of `rule` with these wildcards has (as plan.Planner._job names jobs)."""
    return rule + ("[" + ",".join(f"{k}={v}" for k, v in wildcards.items()) + "]" if wildcards else "")
