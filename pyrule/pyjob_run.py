"""Run one Python body job from its shipped spec (pyjob.py writes it): `python3 run.py SPEC.json`.

Self-contained, standard library only, for any Python from 3.6 on: it runs where pyrule is not
installed (a container's python3), so it imports nothing of pyrule, but uses pyrule's own path
and substitution types when they import (a Slurm node: the body then sees the same objects as
locally). Nothing of the Pipefile runs here: the body's code, the job's values and the top-level
names the body uses come in the spec (JSON; the format is pyjob.py's `encode`).

The exit code is the body's (an exception: its traceback on stderr, exit 1; `sys.exit(N)`: N).
The result channel is one JSON file (`result` in the spec), written last: {"exit": CODE} and, on
failure, "error" (the exception's last line); another part of pyrule may add keys to it.
"""

import base64
import builtins
import glob
import json
import os
import pickle
import re
import shlex
import subprocess
import sys
import traceback

try:  # a Slurm node: pyrule is installed, so the body gets pyrule's own types (and substitution)
    from pyrule.paths import Namespace, Paths

    _HAVE_PYRULE = True
except Exception:  # noqa: BLE001 - a container's Python: no pyrule, these small stand-ins instead
    _HAVE_PYRULE = False

    class Paths(list):  # type: ignore[no-redef]
        """A list of paths whose named items are attributes (`input.table`), as pyrule's."""

        def __init__(self, items=(), names=None):
            super().__init__(items)
            self._names = dict(names or {})

        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            try:
                return self._names[name]
            except KeyError:
                raise AttributeError("no item named '{}' (named items: {})".format(name, ", ".join(self._names) or "none")) from None

        def names(self):
            return dict(self._names)

        def __str__(self):
            return " ".join(self)

    class Namespace(dict):  # type: ignore[no-redef]
        """A dict with attribute access (`params.k`), as pyrule's."""

        def __getattr__(self, name):
            try:
                return self[name]
            except KeyError:
                raise AttributeError("no '{}' (have: {})".format(name, ", ".join(self) or "none")) from None


# How a returned value is written (and a body's `return` compiled): the copy of pyrule/bodyvalue.py
# that pyjob.py writes beside this file, the same code wherever the body runs.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import bodyvalue  # type: ignore[import-not-found]  # (the copy beside this file)
finally:
    del sys.path[0]


class _Return(BaseException):
    """A `return` at the top level of the body (bodyvalue.returning_code): carries the value."""

    def __init__(self, value):
        self.value = value


class _Values:
    """`values` inside the body: the values its job read while it was planned (pyrule's values.py)."""

    def __init__(self, jobname, read):
        self._jobname, self._read = jobname, read  # [(producing rule, its wildcards, value)]

    def __getattr__(self, rule):
        if rule.startswith("_"):
            raise AttributeError(rule)
        return _Value(self, rule)


class _Value:
    def __init__(self, values, rule):
        self._values, self._rule = values, rule

    def get(self, **wildcards):
        asked = {k: str(v) for k, v in wildcards.items()}
        mine = [(w, v) for rule, w, v in self._values._read if rule == self._rule]
        for w, v in mine:
            if w == asked or (not asked and len(mine) == 1):
                return v
        raise LookupError(f"values.{self._rule}.get(): {self._values._jobname} did not read this value while it "
                          "was planned; read it in params: so that the job waits for it and reruns when it changes")


class Refused(Exception):
    """The spec cannot be run here (a value this Python cannot rebuild): a message, no traceback."""


def decode(v):
    """The value `encode` (pyjob.py) made JSON of."""
    if not isinstance(v, dict):
        return v
    (tag, x), = v.items()
    if tag == "L":
        return [decode(i) for i in x]
    if tag == "T":
        return tuple(decode(i) for i in x)
    if tag == "D":
        return {decode(k): decode(i) for k, i in x}
    if tag == "N":
        return Namespace((k, decode(i)) for k, i in x)
    if tag == "S":
        return {decode(i) for i in x}
    if tag == "FS":
        return frozenset(decode(i) for i in x)
    if tag == "P":
        return Paths(x[0], {k: decode(i) for k, i in x[1].items()})
    if tag == "M":
        return __import__(x, fromlist=["_"])
    if tag == "X":
        return pickle.loads(base64.b64decode(x))
    raise Refused(f"unknown value tag {tag!r} (a spec from a newer pyrule?)")


def _code(source, file, line):
    """`source`, compiled so that its line numbers (in tracebacks) are the Pipefile's."""
    return bodyvalue.returning_code(source, file, line) or compile("\n" * (line - 1) + source, file, "exec")


_FIELD = re.compile(r"\{\{|\}\}|\$\{[^}]*\}|\{([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[-?\d+\]|\[[A-Za-z_][\w.-]*\])*)\}")
_STEP = re.compile(r"\.(\w+)|\[(-?\d+)\]|\[([A-Za-z_][\w.-]*)\]")
_QUOTED = ("input", "output", "log", "wildcards")


def simple_substitute(cmd, ctx, wildcards, names):
    """`{input}`-style fields where pyrule's own substitution is not at hand (a container):
    paths and wildcard values shell-quoted each (as for an unquoted position), other values as
    written; a brace that names nothing known is left alone."""

    def value(m):
        if m.group(1) is None:
            text = m.group(0)
            return text[0] if text in ("{{", "}}") else text
        root = m.group(1)
        if root in ctx:
            v, quoted = ctx[root], root in _QUOTED
        elif root in wildcards:
            v, quoted = wildcards[root], True
        elif root in names:
            v, quoted = names[root], False
        else:
            return m.group(0)
        for attr, index, key in _STEP.findall(m.group(2)):
            v = getattr(v, attr) if attr else v[int(index)] if index else v[key]
        if isinstance(v, (list, tuple)):
            return " ".join(shlex.quote(str(i)) if quoted else str(i) for i in v)
        return shlex.quote(str(v)) if quoted else str(v)

    return _FIELD.sub(value, cmd)


class ScriptJob:
    """The object a `script:` sees as `snakemake` and `pyrule` (as jobspec.ScriptJob)."""

    def __init__(self, ctx, threads, config):
        self.input, self.output, self.log = ctx["input"], ctx["output"], ctx["log"]
        self.params, self.wildcards = ctx["params"], ctx["wildcards"]
        self.resources = Namespace(ctx["resources"])
        if isinstance(self.resources.get("mem"), int):
            self.resources.setdefault("mem_mb", -(-self.resources["mem"] // 2 ** 20))
            self.resources.setdefault("mem_mib", self.resources["mem_mb"])
        self.threads, self.config = threads, config
        self.rule, self.jobname = ctx["rule"], ctx["jobname"]

    def __repr__(self):
        return f"<pyrule script job {self.jobname}>"


class _Named(Paths):
    """A script's `input`: named items by key too (`snakemake.input["table"]`)."""

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.names()[key]
        return super().__getitem__(key)


def run(spec):
    """Run the job `spec` describes, in this process."""
    ctx = {k: decode(spec["context"][k]) for k in spec["context"]}
    g = {"__builtins__": builtins, "__name__": "__pipefile__"}
    with open(spec["shared"], encoding="utf-8") as values:  # what the rule's jobs share: top-level values
        shared = json.load(values)
    for name, v in shared["globals"].items():
        try:
            g[name] = decode(v)
        except Refused:
            raise
        except Exception as e:  # noqa: BLE001 - a module or class this Python does not have
            raise Refused(f"top-level name '{name}' cannot be rebuilt in this Python ({sys.executable} {sys.version.split()[0]}): {type(e).__name__}: {e}") from None
    for f in shared["functions"]:  # defined in the body's namespace, as in the Pipefile's
        exec(_code(f["source"], f["file"], f["line"]), g)
        g[f["name"]] = g[f["defines"]]  # (a function under another top-level name too)
    if spec.get("venv"):  # its packages first on sys.path, its programs first on PATH
        import site

        before = list(sys.path)
        for packages in glob.glob(os.path.join(spec["venv"], "lib", "python*", "site-packages")):
            site.addsitedir(packages)
        sys.path[:] = [p for p in sys.path if p not in before] + before
        os.environ["VIRTUAL_ENV"] = spec["venv"]
        os.environ["PATH"] = os.path.join(spec["venv"], "bin") + os.pathsep + os.environ.get("PATH", "")
    wildcards = dict(ctx["wildcards"])
    shell_argv = spec.get("shell") or ["bash", "-euo", "pipefail", "-c"]

    def shell(cmd, **kw):
        if _HAVE_PYRULE:
            from pyrule.substitute import substitute

            script = substitute(cmd, ctx, wildcards, g)
        else:
            script = simple_substitute(cmd, ctx, wildcards, g)
        return subprocess.run(shell_argv + [script], check=True, **kw)

    def report(key, value):
        path = os.environ.get("PYRULE_REPORT")
        if path:
            with open(path, "a", encoding="utf-8") as f:
                f.write("{}\t{}\n".format(key, str(value).replace("\t", " ").replace("\n", " ")))

    threads = spec["threads"]
    value = None
    if spec.get("script"):
        path = spec["script"]
        job = ScriptJob({k: _Named(v, v.names()) if k in ("input", "output", "log") else v for k, v in ctx.items()},
                        threads, g.get("config", {}))
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        sys.argv = [path]
        exec(code, {"__name__": "__main__", "__file__": path, "__builtins__": builtins, "snakemake": job, "pyrule": job})
    else:
        g.update(ctx)
        g.update(shell=shell, report=report, threads=threads, __pyrule_return__=_Return)
        if "values" in spec:
            g["values"] = _Values(spec["jobname"], [(r, w, decode(v)) for r, w, v in spec["values"]])
        try:
            exec(_code(spec["source"], spec["file"], spec["line"]), g)
        except _Return as r:
            value = r.value
    for path in spec.get("touch", []):  # touch() outputs: made or dated now, once the body has succeeded
        with open(path, "a"):
            os.utime(path)
    if value is not None and os.environ.get("PYRULE_VALUE"):  # the job's value (pyrule's values.py reads it)
        try:
            bodyvalue.write_value(os.environ["PYRULE_VALUE"], value)
        except bodyvalue.Unstorable as e:
            raise Refused(str(e)) from None


def _result(spec, code, error=None):
    path = spec.get("result")
    if not path:
        return
    out = {"exit": code}
    if error:
        out["error"] = error
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(out, f)
        os.replace(path + ".tmp", path)
    except OSError as e:
        sys.stderr.write(f"pyrule: cannot write the job's result {path}: {e}\n")


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: python3 run.py SPEC.json (written by pyrule: see pyrule/pyjob.py)\n")
        return 2
    with open(argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    sys.stdout.flush()
    try:
        run(spec)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
        if not isinstance(e.code, int) and e.code is not None:
            sys.stderr.write(f"{e.code}\n")
        _result(spec, code, None if code == 0 else f"SystemExit: {e.code}")
        return code
    except Refused as e:
        sys.stderr.write("pyrule: job {}: {}\n".format(spec.get("jobname"), e))
        _result(spec, 1, str(e))
        return 1
    except BaseException as e:  # noqa: BLE001 - a failing body is a failed job
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:  # from the body's frame on
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb or e.__traceback__)
        _result(spec, 1, "".join(traceback.format_exception_only(type(e), e)).strip())
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    _result(spec, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
