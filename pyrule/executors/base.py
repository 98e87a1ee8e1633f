"""What every executor shares: the job description, the result, and the interface."""

from __future__ import annotations

import os
from collections.abc import Callable

from ..record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any


@record
class JobSpec:
    """Everything needed to run one job; built by the scheduler.

    Relative paths (log_path, output_dirs, report_path) are taken relative to workdir,
    because workdir is the project directory the job runs in.
    """

    name: str  # e.g. "count[sample=a]"
    workdir: str  # project directory (cwd of the job)
    log_path: str  # stdout+stderr of the job, appended; parent dirs are created
    env: dict[str, str]  # extra environment variables, added to os.environ
    shell: str | None = None  # substituted script, run by `bash -euo pipefail -c`
    # Runs in a forked child, so it sees the runner's in-memory namespace
    # (unpicklable closures included); an exception means traceback in the log, exit 1.
    python: Callable[[], None] | None = None
    output_dirs: list[str] = field(default_factory=list)  # created before start
    # `key<TAB>value` lines the job writes there come back as JobResult.reported;
    # exported to the job as $PYRULE_REPORT.
    report_path: str | None = None
    attempt: int = 1
    # Written by the job only if it prints something or runs longer than a moment (joblog.py):
    # pyrule's own per-job logs; a rule's `log:` file is always created.
    log_optional: bool = False
    # Where a shell body too long for exec's arguments (E2BIG) is written, to run from; removed
    # when the job ends.
    script_path: str | None = None
    # For executors that run the job elsewhere (slurm); set by the Runner, unused locally.
    resources: dict[str, Any] = field(default_factory=dict)  # the job's evaluated resources (mem in bytes)
    pipefile: str | None = None  # the Pipefile, relative to workdir: a node re-loads it for a python body
    overrides: list[str] = field(default_factory=list)  # the run's NAME=VALUE overrides, as typed
    target: str | None = None  # what to plan to find this job again: its first output, or its rule's name


@record(slots=True)  # one per job: no per-instance __dict__
class JobResult:
    name: str
    exit_code: int  # negative = killed by that signal (e.g. -15)
    start: float  # time.time()
    end: float
    wall_s: float
    cpu_s: float  # user+sys of the whole process tree
    peak_rss_bytes: int  # peak RSS of the whole process tree
    reported: dict[str, str]
    pid: int
    reason: str | None = None  # why it failed, beyond the exit code (e.g. "Slurm job 7 TIMEOUT: ...")
    stopped: list[str] = field(default_factory=list)  # "PID (command)" of each process it left running


class Executor:
    """What the runner needs of an executor (the local one and Slurm's subclass it). Not a
    typing.Protocol: typing costs ~3 ms at every start."""

    def start(self, spec: JobSpec) -> int:
        """Start the job; returns a handle (the pid for local)."""
        raise NotImplementedError

    def wait(self, timeout: float | None) -> list[JobResult]:
        """Block until at least one job ends or timeout; return every ended job."""
        raise NotImplementedError

    def running(self) -> list[int]:
        raise NotImplementedError

    def terminate_all(self, grace: float = 5.0) -> None:
        """SIGTERM every job's process group, SIGKILL after grace; reap them."""
        raise NotImplementedError

    def kill_all(self) -> None:
        """SIGKILL every job's process group at once."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor holds; called once at the end of a run."""
        raise NotImplementedError


def exit_code_of(e: SystemExit) -> int:
    """The exit code a process would have for this SystemExit (as the interpreter computes it)."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    import sys

    print(e.code, file=sys.stderr)
    return 1


def resolve(workdir: str, path: str) -> str:
    """path relative to workdir (absolute paths are kept)."""
    return os.path.join(workdir, path)


def read_report(path: str) -> dict[str, str]:
    """Parse `key<TAB>value` lines and delete the file; malformed lines are skipped.

    Later keys win, so a job can overwrite a value by appending it again.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    # Removed so that a retry (or the next run) never sees stale values.
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        key = key.strip()
        if sep and key:
            values[key] = value.rstrip("\r")
    return values


def which(name: str, path: str | None = None) -> str | None:
    """The executable `name` on `path` (default $PATH), or `name` itself if it holds a slash,
    as shutil.which finds it on POSIX, without importing shutil (which imports bz2 and lzma:
    ~4 ms of every start)."""
    if "/" in name:
        candidates = [name]
    else:
        search = os.environ.get("PATH", os.defpath) if path is None else path
        candidates = [os.path.join(d or ".", name) for d in search.split(os.pathsep)]
    for candidate in candidates:
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None
