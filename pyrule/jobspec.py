"""What a job runs: its shell script (substituted) or its Python body (a callable for a forked child)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from .executors.base import JobSpec
from .graph import Job
from .paths import Namespace, Paths
from .substitute import context, substitute
from .values import JobValues, Return, ValuesProxy, body_code, values_read

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    import subprocess
    from typing import Any


_NAME_MAX = 200  # bytes: file names made from a job's name stay below NAME_MAX (255), suffix included


def file_name(safe: str, name: str) -> str:
    """`safe` (a job's name, made safe for a file name); a long one is cut, and a digest of `name`
    keeps it unique: a 250-character wildcard value is a legal output name, but its job's log
    name (`rule[x=VALUE].log`) would not be."""
    if len(safe) <= _NAME_MAX // 4 or len(safe.encode()) <= _NAME_MAX:
        return safe
    import xxhash  # loaded already (the fingerprints use it)

    return safe.encode()[:100].decode("utf-8", "ignore") + "-" + xxhash.xxh3_128_hexdigest(name.encode(
        "utf-8", "surrogateescape"))


def log_path(job: Job) -> str:
    if job.log:
        return job.log
    # `rule[a=1,b=x]` -> `rule.a=1,b=x.log`: readable, and no glob character ([, ], *, ?), so
    # the path the failure line shows can be pasted into a shell with any glob option on.
    name = job.name
    if name.endswith("]"):
        rule, sep, wildcards = name[:-1].partition("[")
        if sep:
            name = rule + "." + wildcards
    safe = file_name(re.sub(r"[^\w.=,-]+", "_", name), job.name)
    return os.path.join(".pyrule", "logs", re.sub(r"[^\w.-]+", "_", job.rule.name), safe + ".log")


def job_spec(job: Job, namespace: dict[str, Any], run_dir: str, attempt: int) -> JobSpec:
    ctx = context(job, namespace)
    dirs = sorted({os.path.dirname(p) for p in job.outputs if os.path.dirname(p)})
    env = dict(job.env)
    # Marks every process of the job (children inherit it), so that the next run can find and
    # stop what is left when pyrule dies, even before it recorded the job's process group.
    env["PYRULE_JOB"] = f"{os.path.basename(run_dir)}/{job.name}"
    safe = file_name(re.sub(r"[^\w.=,-]+", "_", job.name), job.name)
    report = os.path.join(run_dir, "reports", safe + ".tsv")
    rule = job.rule
    if rule.returns_value:  # where its body's value goes (values.py)
        env["PYRULE_VALUE"] = os.path.abspath(value_path(job))
    spec = JobSpec(name=job.name, workdir=os.getcwd(), log_path=log_path(job), env=env, output_dirs=dirs,
                   report_path=report, attempt=attempt, log_optional=not job.log,
                   script_path=os.path.join(run_dir, "scripts", safe + ".sh"))
    touched = job.flagged("touch")
    if rule.python is not None or rule.script is not None:
        if rule.container is not None:  # run by the image's python3 (pyjob.py, docs/environments.md)
            spec.shell = _in_container(job, namespace, ctx, touched, os.path.join(run_dir, "pyjobs", safe), env,
                                       spec.workdir, spec.files)
            return spec
        spec.ship = _shipper(job, namespace, ctx, touched)
    if rule.returns_value or rule.script is not None:
        spec.python = python_body(job, namespace, ctx, touched)
        return spec
    # (a rule without a body only gathers its inputs, or makes its touch() outputs)
    spec.shell = substitute(rule.shell, ctx, job.wildcards, namespace) if rule.shell is not None else ":"
    if touched:  # touch() outputs: made or dated now, once the body has succeeded
        import shlex

        spec.shell = spec.shell.rstrip("\n") + "\ntouch -- " + " ".join(shlex.quote(p) for p in touched) + "\n"
    if rule.container is not None and rule.shell is not None:  # docs/environments.md
        from .containers import wrap

        spec.shell = wrap(job, spec.shell, env, spec.workdir)
    elif rule.venv is not None:
        from .venvs import activate

        env.update(activate(rule))
    return spec


def value_path(job: Job) -> str:
    """Where the job's Python body writes the value it returns (values.py; $PYRULE_VALUE): by job,
    not by run, so that a later run that adopts a job a killed run left running (Slurm) reads its
    value, and the job's script is the same in every run (what reattaching compares)."""
    from .project import STATE_DIR

    return os.path.join(STATE_DIR, "values", file_name(re.sub(r"[^\w.=,-]+", "_", job.name), job.name) + ".val")


def _shipper(job: Job, namespace: dict[str, Any], ctx: dict[str, Any],
             touched: list[str]) -> Callable[[str], dict[str, str]]:
    """JobSpec.ship for the job's Python body: shipped to run in another process of the same Python."""

    def ship(path: str) -> dict[str, str]:
        from . import pyjob

        return pyjob.files(pyjob.ship(job, namespace, ctx, touched, _result_path(path), False), path)

    return ship


def _result_path(spec_path: str) -> str:
    return (spec_path[:-5] if spec_path.endswith(".json") else spec_path) + ".result.json"


def _in_container(job: Job, namespace: dict[str, Any], ctx: dict[str, Any], touched: list[str], base: str,
                  env: dict[str, str], workdir: str, files: dict[str, str]) -> str:
    """The script that runs the job's Python body under its image's python3 (the shipped spec and
    the runner go into `files`); a job whose values cannot be shipped fails at once, saying why."""
    import shlex

    from . import pyjob
    from .containers import wrap

    rule = job.rule
    try:
        shipped = pyjob.ship(job, namespace, ctx, touched, base + ".result.json", True)
    except pyjob.Unshippable as e:
        return f"echo {shlex.quote(f'pyrule: {e}')} >&2\nexit 1\n"
    files.update(pyjob.files(shipped, base + ".json"))
    missing = (f"pyrule: rule '{rule.name}': the image {rule.container} has no python3 to run its Python body; "
               "install Python 3 in the image, or make the body a shell: body")
    body = (f"command -v python3 >/dev/null 2>&1 || {{ echo {shlex.quote(missing)} >&2; exit 127; }}\n"
            f"exec python3 {shlex.quote(pyjob.RUNNER_COPY)} {shlex.quote(base + '.json')}\n")
    return wrap(job, body, env, workdir)


def _touch_body(paths: list[str], body: Callable[[], Any]) -> Callable[[], Any]:
    """`body`, then create or update (the date of) each of `paths`."""

    def run() -> Any:
        value = body()
        for path in paths:
            with open(path, "a"):
                os.utime(path)
        return value

    return run


def _kept(body: Callable[[], Any]) -> Callable[[], None]:
    """`body`, whose returned value is written where $PYRULE_VALUE says (values.py): a value
    that cannot be stored fails the job, saying why."""

    def run() -> None:
        value = body()
        path = os.environ.get("PYRULE_VALUE")
        if path and value is not None:
            from .values import Unstorable, write

            try:
                write(path, value)
            except Unstorable as e:
                import sys

                print(f"pyrule: {e}", file=sys.stderr)
                raise SystemExit(1) from None

    return run


def command_text(job: Job, namespace: dict[str, Any], shell: str | None = None) -> str | None:
    """What the job runs, as -p prints it and the run log records it: its shell script (`shell`
    when substituted already), or its Python body; None for a rule without a body."""
    rule = job.rule
    if rule.shell is not None:
        # (a container's `shell` is the script that runs the engine: the body is what -p shows)
        text = shell if shell is not None and rule.container is None else substitute(rule.shell, context(job, namespace), job.wildcards, namespace)
        return text.strip("\n").rstrip()
    if rule.script is not None:
        return f"script: {rule.script}"
    if rule.python is not None:
        return "python:\n" + "\n".join("    " + line for line in rule.python.strip("\n").splitlines())
    if rule.func is not None:
        return f"python: {getattr(rule.func, '__qualname__', rule.func)}()"
    return None


def python_body(job: Job, namespace: dict[str, Any], ctx: dict[str, Any],
                touched: list[str] | None = None) -> Callable[[], None]:
    """A callable that runs the job's Python body (in the forked child the executor makes)."""
    rule = job.rule

    def shell(cmd: str, **kw: Any) -> subprocess.CompletedProcess:
        import subprocess  # only Python bodies that call shell() need it

        script = substitute(cmd, ctx, job.wildcards, namespace)
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script], check=True, **kw)

    def report(key: str, value: Any) -> None:
        path = os.environ.get("PYRULE_REPORT")
        if path:
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"{key}\t{str(value).replace(chr(9), ' ').replace(chr(10), ' ')}\n")

    # `threads`: the job's cores, as Snakemake's run: blocks (converted to python:) call them
    names = {**ctx, "shell": shell, "report": report, "threads": int(ctx["resources"].get("cores", 1))}
    # `values`: the values the job read while planned (values.py), not the planner's (a forked
    # child cannot read the store through the runner's connection)
    if isinstance(namespace.get("values"), ValuesProxy):  # (a Pipefile may bind the name to its own value)
        names["values"] = JobValues(job, values_read(job, namespace))

    def run_body() -> Any:
        if rule.venv is not None:  # its packages first on sys.path, its programs first on PATH
            from .venvs import activate

            os.environ.update(activate(rule, sys_path=True))
        if rule.script is not None:
            run_script(rule.script, ScriptJob(job, ctx, namespace))
            return
        if rule.func is not None:
            import inspect

            params = inspect.signature(rule.func).parameters
            return rule.func(**{k: v for k, v in names.items() if k in params})
        g = dict(namespace)
        g.update(names)
        g["__pyrule_return__"] = Return
        loc = rule.where("python")
        assert rule.python is not None  # a body: `func` or `python`
        file, line = (loc.file, loc.line) if loc else ("<python>", 1)
        code = body_code(rule.python, file, line)
        if code is None:
            from .load import compile_at

            code = compile_at(rule.python, file, line, "exec")
        try:
            exec(code, g)
        except Return as r:
            return r.value
        return None

    return _kept(_touch_body(touched, run_body) if touched else run_body)


class _Named(Paths):
    """A script's `input`, `output`, `log`: a list whose named items are attributes and keys."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return self.names()[key]
            except KeyError:
                raise KeyError(f"no item named '{key}' (named items: {', '.join(self.names()) or 'none'})") from None
        return super().__getitem__(key)


class ScriptJob:
    """The object a `script:` sees as `snakemake` and as `pyrule`: the job's input, output, params,
    wildcards, log, resources, threads (its cores), config and rule (its name), as Snakemake's
    scripts expect them (`snakemake.input[0]`, `snakemake.input.name`, `snakemake.params.x`)."""

    def __init__(self, job: Job, ctx: dict[str, Any], namespace: dict[str, Any]):
        def named(paths: Paths) -> _Named:
            return _Named(paths, paths.names())

        self.input = named(ctx["input"])
        self.output = named(ctx["output"])
        self.log = named(ctx["log"])
        self.params = ctx["params"]
        self.wildcards = ctx["wildcards"]
        self.resources = resources = Namespace(ctx["resources"])
        if isinstance(resources.get("mem"), int):  # Snakemake's names for memory (mem is in bytes here)
            resources.setdefault("mem_mb", -(-resources["mem"] // 2**20))
            resources.setdefault("mem_mib", resources["mem_mb"])
        self.threads = int(ctx["resources"].get("cores", 1))
        self.config = namespace.get("config", {})
        self.rule = job.rule.name
        self.jobname = job.name

    def __repr__(self) -> str:
        return f"<pyrule script job {self.jobname}>"


def run_script(path: str, job: ScriptJob) -> None:
    """Run a `script:` file as `__main__` in this (the job's forked) process, with `snakemake` and
    `pyrule` defined; its directory comes first on sys.path, so modules beside it import."""
    import sys

    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    sys.argv = [path]
    exec(code, {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__,
                "snakemake": job, "pyrule": job})
