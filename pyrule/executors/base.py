"""What every executor shares: the job description, the result, and the interface."""

from __future__ import annotations

import os
from collections.abc import Callable

from ..record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Job
    from ..state import RunningJob


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
    local: bool = False  # the rule's `local: True`: an executor that runs jobs elsewhere runs it here
    # Files the job needs (path relative to workdir: text), written by start(): a shipped Python
    # body's spec and the runner's copy (pyjob.py)
    files: dict[str, str] = field(default_factory=dict)
    # A Python body, shipped (pyjob.py) for an executor that runs it in another process: given the
    # path (relative to workdir) its spec is to be written to, the files to write (spec.files);
    # raises pyjob.Unshippable when a top-level name it uses cannot be shipped.
    ship: Callable[[str], dict[str, str]] | None = None
    pack: str | None = None  # Slurm: the pack (one allocation for short jobs) it goes in; None: on its own


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
    typing.Protocol: typing costs ~3 ms at every start.

    The class methods are what the runner asks before and beside running jobs (budgets, what a
    job takes from them, how the state store records a running job, cleaning up after a pyrule
    that died); the defaults are those of jobs that run on this machine. The registry
    (executors/__init__.py) finds the class by name; the runner constructs it with the
    command line's options for it (--NAME-OPTION VALUE as OPTION=VALUE) when jobs start.
    """

    # The state store records each running job as one integer (its `pgid` column): what the
    # job is marked with before start() returns, and whether its recorded handle must be
    # written at once (a job that outlives pyrule) or may wait for the next flush.
    unstarted: int = 0
    record_now: bool = False

    @classmethod
    def budgets(cls, jobs: int | None, mem: int | None) -> dict[str, float]:
        """The run's budgets before --resources: cores (-j N, default the CPU count) and memory
        (--mem, in bytes; default the physical memory). The first is the slots: while none of it
        is free, no job starts (schedule.Schedule)."""
        return {"cores": jobs or os.cpu_count() or 1,
                "mem": mem if mem is not None else os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")}

    @classmethod
    def needs(cls, job: Job) -> dict[str, float]:
        """What one running job takes from the budgets: its cores and memory, and its numeric
        custom resources."""
        r = job.resources
        return {"cores": r.get("cores", 1), "mem": r.get("mem", 0), **custom_needs(r)}

    def prepare(self, spec: JobSpec, job: Job, pipefile: str | None, overrides: list[str]) -> None:
        """Complete the spec before start() with what the job needs beyond it (an executor that
        runs it elsewhere: where to find it again). `pipefile`: relative to the workdir;
        `overrides`: the run's NAME=VALUE overrides, as typed."""

    @classmethod
    def recorded(cls, handle: int) -> int:
        """What the state store keeps of the handle start() returned."""
        return handle

    @classmethod
    def owns(cls, record: int) -> bool:
        """Whether a running job recorded as `record` is one of this executor's."""
        return False

    @classmethod
    def describe(cls, job: RunningJob) -> str:
        """The running job, for --status (e.g. "job pid 4242")."""
        return f"job {job.pgid}"

    @classmethod
    def stop_leftover(cls, job: RunningJob, warn: Callable[[str], None], log: Callable[[str], None],
                      whose: str = "left by a pyrule that died") -> bool:
        """Stop a job that a pyrule which died left running (its outputs are removed after this):
        `warn` tells the user, `log` writes the run log. Or adopt it (an executor whose jobs
        outlive pyrule: Slurm's): True, then its outputs stay, it stays marked running, and the
        next start() of that job (adopts()) follows it instead of starting it anew. `whose`: the
        job's origin, in messages ("submitted by detached run ID": detach.py)."""
        return False

    def adopts(self, name: str) -> bool:
        """Whether starting job `name` would follow a job of a pyrule that died (stop_leftover
        adopted it) rather than start it: then the runner leaves its outputs alone."""
        return False

    def start(self, spec: JobSpec) -> int:
        """Start the job; returns a handle (the pid for local)."""
        raise NotImplementedError

    def wait(self, timeout: float | None) -> list[JobResult]:
        """Block until at least one job ends or timeout; return every ended job."""
        raise NotImplementedError

    def preview(self, specs: list[JobSpec]) -> list[str]:
        """For -n: what starting these jobs would submit (an executor that runs them elsewhere:
        its commands and scripts), as lines or blocks of text to print; nothing is written."""
        return []

    def assigned(self) -> list[tuple[str, int]]:
        """(job name, handle) of jobs whose handle became known after start() returned, each
        once (an executor that submits the jobs started together at the next wait(): Slurm's
        arrays); the runner records them as it records start()'s. Asked after each wait()."""
        return []

    def failed_starts(self) -> list[tuple[str, str]]:
        """(job name, why) of jobs that start() accepted but that could not start after all (the
        local executor's spawn, which fails after start() returned), each once; asked after each
        wait() with assigned(); the runner fails them as it fails a job whose start() raised."""
        return []

    # --- a detached run (`pyrule --detach`, detach.py; the registry's Entry.detach) -----------

    def wait_for(self, name: str, keys: list[str]) -> None:
        """Job `name`, started next, may begin only once the jobs `keys` (key()) succeeded."""
        raise NotImplementedError

    def key(self, name: str) -> str | None:
        """How the executor names running job `name` (for wait_for), while it follows it."""
        return None

    def submit(self) -> None:
        """Hand the jobs start() accepted to where they run, now (not at the next wait())."""

    @classmethod
    def states(cls, jobs: list[RunningJob]) -> dict[str, tuple[str, str]]:
        """Each of these jobs of a detached run (name -> (word, what the executor says)), asked
        once for all: word pending, running, done, failed or unknown."""
        return {}

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


def custom_needs(resources: dict[str, Any]) -> dict[str, float]:
    """A job's numeric resources beyond cores and memory (gpus=1, disk_io=0.5), which --resources
    budgets. Not a runtime, nor the rule's `slurm:` section (kept among its resources)."""
    return {k: v for k, v in resources.items()
            if k not in ("cores", "mem", "runtime", "slurm") and isinstance(v, (int, float))}


def exit_code_of(e: SystemExit) -> int:
    """The exit code a process would have for this SystemExit (as the interpreter computes it)."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    import sys

    print(e.code, file=sys.stderr)
    return 1


def write_files(workdir: str, files: dict[str, str]) -> None:
    """Write each file (path relative to `workdir`: text; JobSpec.files) that is not there with that text
    already; atomically, as concurrent runs may write the same runner copy."""
    for rel, text in files.items():
        path = os.path.join(workdir, rel)
        known = _written.get(path)
        try:
            if known and known[0] == hash(text) and os.path.getsize(path) == known[1]:
                continue  # written by this process already (a rule's shared values: once, not per job)
        except OSError:
            pass
        data = text.encode("utf-8", "surrogateescape")
        try:
            with open(path, "rb") as f:
                if f.read() == data:
                    _written[path] = (hash(text), len(data))
                    continue
        except OSError:
            pass
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        _written[path] = (hash(text), len(data))


_written: dict[str, tuple[int, int]] = {}  # write_files: path -> (hash, size) of the text written there


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
