"""Defining rules: the Rules that a Pipefile compiles into and the Python API builds, through one
class. The loader (pyrule.load) fills it; pyrule.api.Workflow adds planning and running."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from .errors import Location, PipefileError, suggest
from .patterns import Pattern, PatternError, wildcard_names
from .rules import FlaggedPath, Item, Items, PerAttempt, Rule, Rules, Scaled, UpTo
from .units import parse_duration, parse_size

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

SECTIONS = ("output", "input", "params", "resources", "slurm", "log", "check", "retries", "priority", "env", "script",
            "local", "cache", "container", "venv", "group")
CHECKS = ("checksum", "mtime")
_SLURM_KEYS = ("partition", "account", "qos", "constraint", "extra")


class Definitions:
    """A set of rules and default targets, with a project directory."""

    def __init__(self, directory: str | os.PathLike[str] = ".", namespace: dict[str, Any] | None = None):
        from .builtins import namespace as fresh_namespace

        self.directory = os.fspath(directory)
        self.rules = Rules()
        self.rules.namespace = namespace if namespace is not None else fresh_namespace(self.rules.rules)

    # --- building --------------------------------------------------------------------------

    def rule(self, name: str | None = None, *, output: Any = None, input: Any = None,
             params: dict | None = None, resources: dict | None = None, log: str | None = None,
             check: str = "checksum", retries: int = 0, priority: int = 0, env: dict | None = None,
             shell: str | None = None, python: str | Callable | None = None, doc: str | None = None,
             slurm: dict | None = None, checkpoint: bool = False, loc: Location | None = None,
             section_locs: dict[str, Location] | None = None, script: str | None = None,
             local: bool = False, cache: bool = True, container: str | None = None,
             venv: str | None = None, group: str | bool | None = None) -> Any:
        """Add a rule; without `shell`/`python`/`script` (and with no name), return a decorator for a body.

        `script`: a Python script file (relative to the project directory) run as the body, with
        an object named `snakemake` and `pyrule` (input, output, params, ...: see docs/language.md).
        `local`: with --executor slurm, run the jobs on this machine instead of submitting them.
        `cache`: False: never restored from nor published to the cache of job results (cache.py).
        `container`: an image the shell body runs in; `venv`: a pip requirements file (relative to the
        project directory) whose environment the body runs with (docs/environments.md).
        `group`: with --executor slurm, a name: the rule's short jobs started together go in one
        allocation with the others of that group (executors/pack.py); False: never packed."""
        check_group(name, group, (section_locs or {}).get("group", loc))
        for flag, flag_value, hint in (("local", local, "write 'local: True'"), ("cache", cache, "write 'cache: False'")):
            if not isinstance(flag_value, bool):
                raise PipefileError(f"rule '{name}': {flag}: must be True or False, not {flag_value!r}",
                                    (section_locs or {}).get(flag, loc), hint)
        for section, value in (("params", params), ("resources", resources), ("env", env), ("slurm", slurm)):
            if value is not None and not isinstance(value, dict):
                label = f"rule '{name}'" if isinstance(name, str) else "rule"
                raise PipefileError(f"{label}: {section} must be a dict of name = value, not {type(value).__name__}",
                                    (section_locs or {}).get(section, loc))
        fields: dict[str, Any] = dict(
            outputs=items(output), inputs=items(input), params=dict(params or {}),
            resources=dict(resources or {}), log=log, check=check, retries=retries, priority=priority,
            env=dict(env or {}), doc=doc, checkpoint=checkpoint, loc=loc, section_locs=dict(section_locs or {}),
            local=local, cache=cache, group=group, **software(name, container, venv, next((b for b in (shell, script, python) if isinstance(b, str)), None), self.directory, section_locs or {}, loc),
        )
        if slurm:
            fields["resources"]["slurm"] = dict(slurm)
        if script is not None:
            given = [s for s, v in (("shell", shell), ("python", python)) if v is not None]
            if given:
                raise PipefileError(f"rule '{name}': a rule has one body, not both {given[0]}: and script:",
                                    (section_locs or {}).get("script", loc), "remove one of them")
            fields["script"] = check_script(script, self.directory, (section_locs or {}).get("script", loc), name)
        if callable(python):
            fields["func"] = python
        else:
            fields["python"] = python
        if name is None or callable(name):
            func = name if callable(name) else None

            def decorate(f: Callable) -> Callable:
                self.add(Rule(name=f.__name__, func=f, doc=doc or f.__doc__, **{k: v for k, v in fields.items() if k not in ("func", "python", "doc")}))
                return f

            return decorate(func) if func else decorate
        return self.add(Rule(name=name, shell=shell, **fields))

    def add(self, rule: Rule) -> Rule:
        """Check a rule and add it; errors name the rule's section and line."""
        if rule.name in self.rules.rules:
            first = self.rules.rules[rule.name].loc
            raise PipefileError(
                f"rule '{rule.name}' is defined twice",
                rule.loc,
                f"the first is at {first}; rename one of them" if first else "rename one of them",
            )
        _check_rule(rule)
        rule.namespace = self.rules.namespace
        self.rules.rules[rule.name] = rule
        return rule

    def checkpoint(self, name: str | None = None, **sections: Any) -> Any:
        """A checkpoint rule: `rule(..., checkpoint=True)`, as a call or a decorator."""
        return self.rule(name, checkpoint=True, **sections)

    @property
    def checkpoints(self) -> Any:
        """`checkpoints.NAME.get(**wildcards).output`, for input functions."""
        return self.rules.namespace["checkpoints"]

    @property
    def values(self) -> Any:
        """`values.NAME.get(**wildcards)`: the value a job's Python function returned (values.py),
        for params, resources, env and input functions."""
        return self.rules.namespace["values"]

    def default(self, *targets: str, loc: Location | None = None) -> None:
        if self.rules.defaults:
            raise PipefileError("default targets are given twice", loc, f"the first is at {self.rules.default_loc}")
        self.rules.defaults = list(targets)
        self.rules.default_loc = loc


def software(rule: Any, container: Any, venv: Any, body: str | None, directory: str,
             locs: dict[str, Location], loc: Location | None) -> dict[str, Any]:
    """A rule's `container:` and `venv:`, checked (docs/environments.md); `body`: its shell:,
    script: or python: text (None: a function, or none)."""
    out: dict[str, Any] = {}
    for section, value in (("container", container), ("venv", venv)):
        if value is None:
            continue
        if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
            raise PipefileError(f"rule '{rule}': {section}: must be {'an image name' if section == 'container' else 'a path'},"
                                f" not {type(value).__name__} {value!r}", locs.get(section, loc),
                                "write container: None to run the rule outside the default container"
                                if section == "container" else None)
        out[section] = os.fspath(value)
    if container is not None and body is None:  # a function (the Python API) runs in pyrule's process
        raise PipefileError(f"rule '{rule}': container: runs shell:, python: and script: bodies (not a Python "
                            "function, nor a rule without a body)",
                            locs.get("container", loc), "give the function its packages with venv: "
                            "(docs/environments.md), or pass its code as python=\"...\" text")
    if container is not None and venv is not None:
        raise PipefileError(f"rule '{rule}': a rule has container: or venv:, not both", locs.get("venv", loc),
                            "install the packages in the image")
    if venv is not None and not os.path.isfile(os.path.join(directory, out["venv"])):
        raise PipefileError(f"rule '{rule}': venv: no such requirements file '{out['venv']}'", locs.get("venv", loc),
                            "venv: names a pip requirements file, relative to the Pipefile's directory")
    return out


def check_group(rule: Any, group: Any, loc: Location | None) -> None:
    """`group:` is a pack's name (letters, digits, `_.-`), True (the rule's name) or False."""
    import re

    if isinstance(group, bool) or group is None:
        return
    if not isinstance(group, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", group):
        raise PipefileError(f"rule '{rule}': group: must be a name (letters, digits, _ . -), True or False, "
                            f"not {group!r}", loc, "write e.g. 'group: \"short\"', or 'group: False' to never pack it")


def check_script(script: Any, directory: str, loc: Location | None, rule: Any) -> str:
    """A `script:` path, checked: a text path to an existing Python file (relative to `directory`)
    whose code Python's parser accepts; a syntax error is reported at its line in the script."""
    label = f"rule '{rule}'" if isinstance(rule, str) else "rule"
    if not isinstance(script, (str, os.PathLike)) or not os.fspath(script):
        raise PipefileError(f"{label}: script: must be a path, not {type(script).__name__} {script!r}", loc)
    script = os.fspath(script)
    if not script.endswith(".py"):
        raise PipefileError(f"{label}: script '{script}': only Python scripts (.py) are supported", loc,
                            f"run other scripts from a shell: body, e.g. 'shell: Rscript {script} ...'")
    path = os.path.join(directory, script)
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        raise PipefileError(f"{label}: script '{script}': {e.strerror}", loc,
                            "the path is relative to the Pipefile's directory") from None
    import ast

    try:
        ast.parse(source, filename=script)
    except SyntaxError as e:
        raise PipefileError(f"invalid Python in script '{script}': {e.msg}",
                            Location(script, e.lineno or 1, e.offset or 1),
                            f"{label} runs it (script: at {loc})" if loc else None) from None
    except ValueError as e:  # NUL bytes
        raise PipefileError(f"invalid Python in script '{script}': {e}", loc) from None
    return os.path.normpath(script)


def items(value: Any) -> list[Item]:
    """Section values in API form (str, list, dict of named values, function) as (name, value) items."""
    if value is None:
        return []
    if isinstance(value, Items):
        return list(value)
    if isinstance(value, str) or callable(value):
        return [(None, value)]
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    try:
        return [(None, v) for v in value]
    except TypeError:  # not a path nor a list: _check_rule names it
        return [(None, value)]


def _clean_path(path: str) -> str:
    """Without leading `./` (a temp()/protected()/directory() path keeps its flags)."""
    clean = path
    while clean.startswith("./") and len(clean) > 2:
        clean = clean[2:].lstrip("/")
    if clean is path:
        return path
    flags = getattr(path, "flags", None)
    return FlaggedPath(clean, flags) if flags else clean


def _paths_of(entries: list[Item]) -> list[str]:
    out: list[str] = []
    for _, v in entries:
        if isinstance(v, str):
            out.append(v)
        elif not callable(v):
            out.extend(map(str, v))
    return out


_PATH_TYPES = {str, FlaggedPath}


def _check_rule(rule: Rule) -> None:
    """Validate one rule; normalise resources, check and retries in place."""

    def fail(section: str | None, message: str, hint: str | None = None) -> None:
        raise PipefileError(f"rule '{rule.name}': {message}", rule.where(section), hint)

    for section, entries in (("output", rule.outputs), ("input", rule.inputs)):
        for _name, value in entries:
            bads = [value] if callable(value) and section == "output" else []
            if not bads and not callable(value):
                vals = [value] if isinstance(value, str) else value
                try:
                    vals = list(vals)
                except TypeError:
                    vals = [value]
                # (a list: None is a bad value too; the types first, at C speed: 10,000 paths are common)
                bads = [] if set(map(type, vals)) <= _PATH_TYPES else [v for v in vals if not isinstance(v, str)]
                if not bads and "" in vals:
                    fail(section, f"{section} has an empty path")
            if bads:
                bad = bads[0]
                fail(section, f"{section} must be paths, not {type(bad).__name__} {bad!r}",
                     "write a string, a list of strings or expand(...)" + (", or a function of wildcards" if section == "input" else ""))
    if rule.log is not None and not isinstance(rule.log, str):
        fail("log", f"log must be a path, not {type(rule.log).__name__}")
    # Outputs as the planner matches them: `./out/{s}.txt` is `out/{s}.txt` (flags kept).
    rule.outputs = [(n, _clean_path(v) if isinstance(v, str) else [_clean_path(x) for x in v])
                    for n, v in rule.outputs]
    outputs = _paths_of(rule.outputs)
    try:
        patterns = [Pattern(p) for p in outputs]
    except PatternError as e:
        fail("output", str(e))
    wild = set(patterns[0].names) if patterns else set()
    for p in patterns[1:]:
        if set(p.names) != wild:
            fail("output", f"all outputs must use the same wildcards ('{patterns[0].text}' and '{p.text}' differ)",
                 "split the rule in two, or use the same wildcards in each output")
    # (a value-only rule, a Python body without outputs: its jobs' wildcards come from
    # `values.NAME.get(**wildcards)` or the job's name, values.py)
    valued = not outputs and rule.returns_value
    for section, texts in (("input", _paths_of(rule.inputs)), ("log", [rule.log] if rule.log else []),
                           ("params", [v for v in rule.params.values() if isinstance(v, str)])):
        for text in texts if not valued else ():
            missing = [n for n in wildcard_names(text) if n not in wild] if "{" in text else ()  # (no field)
            if missing:
                have = f"the outputs have {', '.join('{' + n + '}' for n in sorted(wild))}" if wild else "the outputs have no wildcards"
                fail(section, f"wildcard '{{{missing[0]}}}' in {section} '{text}' is not in the outputs",
                     f"{have}; {suggest(missing[0], wild) or 'use a wildcard the outputs define, or double the braces {{ }} for a literal one'}")
    if rule.check not in CHECKS:
        fail("check", f"check must be {' or '.join(CHECKS)}, not '{rule.check}'", suggest(str(rule.check), CHECKS))
    for field in ("retries", "priority"):
        value = getattr(rule, field)
        if not isinstance(value, int) or isinstance(value, bool) or (field == "retries" and value < 0):
            fail(field, f"{field} must be a{' non-negative' if field == 'retries' else 'n'} integer, not {value!r}")
    rule.resources = _resources(rule, fail)


def _resources(rule: Rule, fail) -> dict[str, Any]:
    res = dict(rule.resources)
    out: dict[str, Any] = {"cores": 1}
    for key, value in res.items():
        if callable(value):
            out[key] = value
            continue
        scaled = isinstance(value, PerAttempt)  # `mem = "2G" * attempt`: its base value, parsed below
        if scaled:
            if key in ("cores", "gpus", "slurm"):
                fail("resources", f"{key} cannot grow with the attempt", f"write {key} = {value.base!r}")
            value = value.base
        if isinstance(value, UpTo):
            if key != "cores":
                fail("resources", f"upto() is for cores only, not {key}", f"write {key} = {value.n}")
            out[key] = value
            continue
        try:
            if key == "mem":
                out["mem"] = parse_size(value)
            elif key == "runtime":
                out["runtime"] = parse_duration(value)
            elif key == "slurm":
                unknown = [k for k in value if k not in _SLURM_KEYS]
                if unknown:
                    fail("slurm", f"unknown slurm option '{unknown[0]}'", suggest(unknown[0], _SLURM_KEYS) or f"options are {', '.join(_SLURM_KEYS)}")
                out["slurm"] = {k: str(v) for k, v in value.items()}
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
                    # (`not value >= 0` also refuses NaN; infinity would overflow int())
                    raise ValueError(f"{key} must be a non-negative number, not {value!r}")
                if key in ("cores", "gpus") and (int(value) != value or (key == "cores" and value < 1)):
                    raise ValueError(f"{key} must be a whole number{' of at least 1' if key == 'cores' else ''}, not {value!r}")
                out[key] = int(value) if key in ("cores", "gpus") else value
        except ValueError as e:
            fail("slurm" if key == "slurm" else "resources", str(e))
        if scaled and isinstance(out.get(key), (int, float)):
            out[key] = Scaled(math.ceil(out[key]))
    return out
