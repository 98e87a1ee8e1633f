"""Executors start jobs and report their end and measurements: `local` (processes on this
machine) and `slurm` (sbatch: job arrays, or one job alone). The rest of pyrule knows them only through this
registry and the Executor interface (base.py): what a job needs, the default budgets, what a
node needs, how a running job is recorded and cleaned up after a pyrule that died. Adding an
executor is a module here and one line in EXECUTORS.

Lazy: a name maps to "module:Class", imported on first use. A run that starts no job imports
no executor (local.py and its helpers cost ~10 ms to import; slurm.py more).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

    from .base import Executor


class Entry:
    """One registered executor: where its class is, and what the command line offers for it."""

    __slots__ = ("target", "options", "jobs", "detach")

    def __init__(self, target: str | type[Executor], options: dict[str, str] | None = None, jobs: str | None = None,
                 detach: bool = False):
        self.target = target  # "module:Class", or the class itself (registered at run time)
        # --NAME-OPTION VALUE on the command line, given to the class as OPTION=VALUE: {OPTION: help}
        self.options = options or {}
        self.jobs = jobs  # what -j N means with this executor, when not the cores budget (for --help)
        # its jobs outlive pyrule and can wait for each other (Executor.wait_for): --detach allowed
        self.detach = detach


EXECUTORS: dict[str, Entry] = {
    "local": Entry("pyrule.executors.local:LocalExecutor"),
    "slurm": Entry("pyrule.executors.slurm:SlurmExecutor", jobs="jobs submitted at once (default 100)",
                   options={"partition": "default partition (sbatch -p)", "account": "default account (sbatch -A)"},
                   detach=True),
}
DEFAULT = "local"


def names() -> list[str]:
    return list(EXECUTORS)


def register(name: str, target: str | type[Executor], options: dict[str, str] | None = None,
             jobs: str | None = None, detach: bool = False) -> None:
    """Make `name` an executor: --executor NAME on a command line parsed after this, and
    `executor=NAME` in the Python API (Workflow.run)."""
    EXECUTORS[name] = Entry(target, options, jobs, detach)


def unregister(name: str) -> None:
    EXECUTORS.pop(name, None)


def check(name: str) -> None:
    """A UsageError unless `name` is registered (no import)."""
    if name not in EXECUTORS:
        from ..errors import UsageError, suggest

        raise UsageError(f"--executor {name}: no such executor",
                         hint=suggest(name, EXECUTORS) or f"executors are {', '.join(EXECUTORS)}")


def get(name: str) -> type[Executor]:
    """The class of executor `name`, imported now."""
    check(name)
    target = EXECUTORS[name].target
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    try:
        # __import__, not importlib.import_module: -X importtime times this one too.
        cls: type[Executor] = getattr(__import__(module, fromlist=(attr,)), attr)
    except ImportError:
        from ..errors import UsageError

        raise UsageError(f"--executor {name} is not available in this version of pyrule",
                         hint="run without --executor, or update pyrule") from None
    EXECUTORS[name].target = cls
    return cls


def known(name: str) -> type[Executor]:
    """The class of executor `name`, or the default one's when `name` is not registered or not
    available here: for what another pyrule process recorded (its journal names its executor)."""
    from ..errors import UsageError

    try:
        return get(name)
    except UsageError:
        return get(DEFAULT)


def owner(record: int) -> type[Executor]:
    """The executor whose running job the state store recorded as `record` (its `pgid` column;
    see Executor.recorded), asked after a pyrule died and by --status. The default executor
    first (its records, process groups >= 0, are the common case, and no other is imported for
    them), then the others, the last registered first: a later one may claim a range of numbers
    within an earlier one's (Slurm's are all < 0). None claims it: the default's."""
    from ..errors import UsageError

    for name in [DEFAULT, *reversed([n for n in EXECUTORS if n != DEFAULT])]:
        try:
            cls = get(name)
        except UsageError:  # not available here: none of its jobs can be running
            continue
        if cls.owns(record):
            return cls
    return get(DEFAULT)


def preview(decisions: list[Any], rules: Any, options: Any) -> list[str]:
    """-n with an executor other than the default: what it would submit for the jobs that would
    run (Executor.preview; Slurm: each sbatch command and script). The jobs are taken as started
    together, at their first attempt."""
    if options.executor == DEFAULT:
        return []
    import os

    from ..errors import UsageError
    from ..jobspec import command_text, job_spec

    try:
        executor = get(options.executor)(**options.executor_options)
    except UsageError as e:
        return [f"# (what --executor {options.executor} would submit cannot be shown: {e.message})"]
    pipefile = rules.files[0] if rules.files else None
    specs = []
    for d in decisions:
        if d.reason is None or d.pending or command_text(d.job, rules.namespace) is None:
            continue
        spec = job_spec(d.job, rules.namespace, os.path.join(".pyrule", "runs", "RUN-ID"), 1)
        executor.prepare(spec, d.job, pipefile, options.overrides)
        specs.append(spec)
    return executor.preview(specs)


_EXPORTS = {"Executor": "base", "JobResult": "base", "JobSpec": "base", "LocalExecutor": "local"}
__all__ = ["EXECUTORS", "get", "names", "owner", "preview", "register", *_EXPORTS]


def __getattr__(attr: str):
    """`from pyrule.executors import JobSpec, LocalExecutor`, imported only when asked (PEP 562)."""
    if attr in _EXPORTS:
        return getattr(__import__(f"{__name__}.{_EXPORTS[attr]}", fromlist=(attr,)), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
