"""Run jobs on a Slurm cluster: one `sbatch --array` for the jobs started together that share their
sbatch options (one `sbatch` for a job alone), one `squeue` per poll for all of them.

Each job becomes a small bash script under `.pyrule/slurm/` (kept for inspection, with the
sbatch command it was submitted with as a comment). The script cds to the project directory
(a file system shared with the nodes is assumed), exports the job's environment and
PYRULE_REPORT, and execs `pyrule_measure.py`, a stdlib-only wrapper that runs the body in its
own session, forwards signals to it, samples the session's RSS from /proc and writes wall
time, CPU time (wait4 rusage), peak RSS and the exit code to a JSON sidecar: without slurmdbd,
`sacct -c` reports no MaxRSS or TotalCPU. Slurm's stdout and stderr go to the job's log.

A Python body (`python:`, `script:`) is shipped (pyjob.py): its script runs
`python .pyrule/pyjob/run.py .pyrule/slurm/NAME.aN.pyjob.json`, the body's code and the values it
uses, with no Pipefile. One that uses a top-level name that cannot be shipped runs
`python -m pyrule --run-job NAME -f PIPEFILE -- [NAME=VALUE ...] TARGET` instead (its log says
why): the node loads the Pipefile again (with the same overrides), plans TARGET, and runs that
job's body in-process (node.py).

States: `squeue -h -t all -j ID,ID,... -o '%i|%T|%r'`, once per poll for every job; ids that
squeue no longer shows (older than MinJobAge, or a restarted controller) are looked up with
`sacct -c`. PENDING, RUNNING, COMPLETING, CONFIGURING, SUSPENDED, REQUEUED... are not final.

The state store records a Slurm job as a *negative* pgid in its `running` table (`-job_id`, an
array task's id and index encoded with _TASK_FLAG; UNSUBMITTED before sbatch answered:
SlurmExecutor.recorded), so that the next run after a pyrule that died can tell it from a local
process group and adopt it (stop_leftover, _adoptable: followed by the next start() of the job if
its script is the same) or cancel it (`cancel_orphans`).

start() only queues a job; wait() submits the queue (submit(): arrays of jobs sharing their
sbatch options) and returns at once, so that the runner records the ids (assigned()) before it
waits for any job.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import UsageError, suggest
from ..record import record
from ..rules import Scaled
from . import pack as packing
from .base import Executor, JobResult, JobSpec, custom_needs, read_report, resolve, write_files

if TYPE_CHECKING:
    from ..graph import Job
    from ..state import RunningJob
    from .local import LocalExecutor

# Job states after which a job does not change any more (squeue %T, sacct State).
FINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "BOOT_FAIL",
        "DEADLINE",
        "PREEMPTED",
    }
)
# A detached run's job, for --status (states()): Slurm's state in a word; other final states: failed.
_WORDS = {"PENDING": "pending", "RUNNING": "running", "COMPLETING": "running", "CONFIGURING": "running",
          "COMPLETED": "done"}
PROFILE_KEYS = ("partition", "account", "qos", "constraint", "extra", "array_size", "pack_below", "pack_cores",
                "pack_size")
SLURM_DIR = os.path.join(".pyrule", "slurm")
MEASURE = "pyrule_measure.py"
DEFAULT_JOBS = 100  # --jobs default with --executor slurm: jobs submitted at once
# What a job is recorded with before sbatch gives it an id (then -id): negative like an id, and
# beyond any. A local job's record is its process group, >= 0. QUEUED: what start() returns.
UNSUBMITTED = -(1 << 62)
QUEUED = -UNSUBMITTED
# An array task's handle: _TASK_FLAG | array job id << _TASK_BITS | task index (recorded negated).
_TASK_BITS = 24
_TASK_FLAG = 1 << 60
# A packed job's handle: _PACK_FLAG | pack's job id << _TASK_BITS | its index in the pack ("ID+I").
_PACK_FLAG = 1 << 59

_POLL_S = 0.5  # squeue interval while things happen...
_POLL_IDLE_S = 1.0  # ...and after 10 s without any change
_BATCH_S = 1.0  # while jobs run, jobs started are submitted together at most this long after the first
_SIDECAR_GRACE_S = 3.0  # a finished job's usage file may lag on a network file system
_VANISHED_POLLS = 3  # polls an id must be unknown to squeue and sacct before it counts as gone
_CMD_TIMEOUT_S = 60
_MAY_REQUEUE = frozenset({"NODE_FAIL", "PREEMPTED", "BOOT_FAIL"})
_TRANSIENT = re.compile(
    r"Unable to contact slurm controller|Socket timed out|Resource temporarily unavailable|"
    r"try again",
    re.I,
)

# The wrapper the job script execs (stdlib only, any Python >= 3.9 on the node).
MEASURE_SOURCE = r'''"""Written by pyrule: run a job's body on a Slurm node and measure it.

usage: python pyrule_measure.py USAGE.json -- COMMAND [ARG ...]

Runs COMMAND in its own session with stdin from /dev/null, forwards SIGTERM/SIGINT/SIGHUP/
SIGCONT/SIGUSR1/SIGUSR2 to it, samples the summed RSS of the session from /proc, and writes
{"exit_code", "start", "end", "wall_s", "cpu_s", "peak_rss_bytes"} to USAGE.json. Exits with
COMMAND's exit status (128+N when a signal N killed it).
"""
import json
import os
import select
import signal
import subprocess
import sys
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def session_rss(sid):
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        # after the command: state, ppid, pgrp, session, ... rss is the 24th field of stat
        if len(fields) > 21 and int(fields[3]) == sid and fields[0] != b"Z":
            total += int(fields[21]) * PAGE
    return total


def own_rss():
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE


def write(path, data):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def main():
    usage, cmd = sys.argv[1], sys.argv[2:]
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    inherited = own_rss()
    start, t0 = time.time(), time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as e:
        print("pyrule: cannot start %s: %s" % (cmd[0], e), file=sys.stderr)
        write(usage, {"exit_code": 127, "start": start, "end": time.time(), "wall_s": 0.0, "cpu_s": 0.0,
                      "peak_rss_bytes": 0})
        return 127

    def forward(signum, frame):
        try:
            os.killpg(proc.pid, signum)
        except OSError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCONT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, forward)
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = -1
    delays = [0.01, 0.04, 0.1, 0.2, 0.3]
    peak = 0
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, session_rss(proc.pid))
        delay = delays.pop(0) if delays else 0.5
        if pidfd >= 0:
            select.select([pidfd], [], [], delay)
        else:
            time.sleep(delay)
    end = time.time()
    # ru_maxrss starts at this wrapper's RSS (the kernel keeps the forked copy's high-water
    # mark across exec): it counts only above that; below it the samples measure.
    kernel_peak = ru.ru_maxrss * 1024
    peak = max(peak, kernel_peak if kernel_peak > inherited else 0)
    code = os.waitstatus_to_exitcode(status)
    write(usage, {"exit_code": code, "start": start, "end": end, "wall_s": time.monotonic() - t0,
                  "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_bytes": peak})
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
'''


class SlurmError(Exception):
    """A Slurm client command failed in a way that is not about one job."""


@record
class _Job:
    spec: JobSpec
    job_id: int
    submitted: float  # time.time()
    script: str
    usage: str  # the wrapper's JSON sidecar
    report: str | None
    time_limit_min: int | None
    mem_mb: int | None
    state: str = ""
    reason: str = ""
    exit_field: str = ""  # sacct ExitCode "N:S", when known
    elapsed_s: float = 0.0
    unknown_polls: int = 0
    final_seen: float | None = None  # time.monotonic() when a final state was first seen
    cancelled_by_us: bool = False
    task: int | None = None  # its index in a job array (job_id is then the array's)
    slurm_out: str | None = None  # an array task's Slurm output file, appended to its log at the end
    pack: int | None = None  # its index in a pack (job_id is then the pack's; settled by its usage file)

    @property
    def key(self) -> str:
        """How squeue, sacct and scancel name it: "ID", or "ID_TASK" for an array task (a packed
        job: its pack's "ID")."""
        return str(self.job_id) if self.task is None else f"{self.job_id}_{self.task}"

    @property
    def label(self) -> str:
        """How messages name it: its key, "ID+I" for the I-th job of pack ID."""
        return self.key if self.pack is None else f"{self.job_id}+{self.pack}"


@record
class _Queued:
    """A job start() accepted, submitted with the others at the next wait() (as an array when
    several share their sbatch options)."""

    spec: JobSpec
    args: list[str]  # sbatch's options for it alone
    script: str
    usage: str
    report: str | None
    log: str
    time_limit_min: int | None
    mem_mb: int | None
    submitted: float
    text: str  # its script


class SlurmExecutor(Executor):
    """Submits jobs with sbatch and follows them with squeue (sacct -c for old ids).

    Options (from the command line, `Options.executor_options`): partition, account; further
    defaults (partition, account, qos, constraint, extra) come from `[tool.pyrule.slurm]` in
    the project's pyproject.toml. A rule's `slurm:` section wins over both, the command line
    over pyproject.toml.
    """

    def __init__(
        self,
        partition: str | None = None,
        account: str | None = None,
        *,
        qos: str | None = None,
        constraint: str | None = None,
        extra: str | None = None,
        project_dir: str | None = None,
        poll_interval: float = _POLL_S,
    ) -> None:
        if shutil.which("sbatch") is None:
            raise UsageError(
                "sbatch not found: is this a Slurm cluster? (or use --executor local)",
                hint="run pyrule on a Slurm login node, or put Slurm's client commands on PATH",
            )
        self.project_dir = os.path.abspath(project_dir or os.getcwd())
        defaults = load_profile(self.project_dir)
        given = {"partition": partition, "account": account, "qos": qos, "constraint": constraint, "extra": extra}
        defaults.update({k: v for k, v in given.items() if v})
        size = defaults.pop("array_size", None)
        if size is not None and not (size.isdigit() and int(size) >= 1):
            raise UsageError(f"[tool.pyrule.slurm] array_size = {size}: not a whole number >= 1",
                             hint="array_size = 1 submits every job alone; leave it out for the cluster's MaxArraySize")
        self.pack_below, self.pack_size, self._pack_cores = _pack_settings(defaults)
        self.defaults = defaults
        self.poll_interval = poll_interval
        self.python = sys.executable or "python3"
        self.shell = "/bin/bash" if os.access("/bin/bash", os.X_OK) else "bash"
        self._jobs: dict[str, _Job] = {}  # by pyrule job name
        self._done: list[JobResult] = []
        self._last_change = time.monotonic()
        self._measure: str | None = None
        self._squeue_failing = False
        self._local: LocalExecutor | None = None  # runs the jobs of `local: True` rules
        self._queue: list[_Queued] = []  # started, submitted at the next wait()
        self._assigned: list[tuple[str, int]] = []  # submitted since the runner last asked
        self._max_array: int | None = int(size) if size else None
        self._recorded: dict[str, float] | None = None  # earlier runs' wall times, read at the first need
        self._runner: str | None = None  # .pyrule/slurm/pyrule_pack.py, written at the first pack
        # A detached run's (detach.py): job name -> the Slurm jobs ("ID", "ID_TASK") it must wait
        # for, submitted with --dependency=afterok so that the whole graph is submitted at once.
        self.after: dict[str, list[str]] = {}

    # --- what the runner asks beside running jobs -------------------------------------

    unstarted = UNSUBMITTED
    record_now = True  # the job outlives pyrule: its id must be on record at once

    @classmethod
    def budgets(cls, jobs: int | None, mem: int | None) -> dict[str, float]:
        """-j N: at most N jobs submitted at once; memory is the cluster's business."""
        return {"jobs": jobs or DEFAULT_JOBS}

    @classmethod
    def needs(cls, job: Job) -> dict[str, float]:
        """Cores and memory are the cluster's business: a job takes one of the -j slots."""
        return {"jobs": 1, **custom_needs(job.resources)}

    def prepare(self, spec: JobSpec, job: Job, pipefile: str | None, overrides: list[str]) -> None:
        """What the node needs to place the job and, for a python body, to find it again."""
        # `mem = "2G" * attempt`: attempt N asks for N times as much
        spec.resources = {k: v.at(spec.attempt) if isinstance(v, Scaled) else v for k, v in job.resources.items()}
        spec.pipefile = pipefile
        spec.overrides = list(overrides)
        # (a job without outputs by its name: `estimate[s=a]`, a value-only job of values.py)
        spec.target = job.outputs[0] if job.outputs else job.name
        spec.local = job.rule.local
        spec.pack = self._pack_of(job.rule.group, job.rule.name, spec.name, spec.resources)

    @classmethod
    def recorded(cls, handle: int) -> int:
        return -handle

    @classmethod
    def owns(cls, record: int) -> bool:
        return record < 0

    @staticmethod
    def job_id(record: int) -> str:
        """The Slurm job a record stands for, "ID" or "ID_TASK" ("": not submitted yet)."""
        if record == UNSUBMITTED:
            return ""
        handle = -record
        if handle & _PACK_FLAG and not handle & _TASK_FLAG:
            return f"{(handle & ~_PACK_FLAG) >> _TASK_BITS}+{handle & ((1 << _TASK_BITS) - 1)}"
        if handle & _TASK_FLAG:
            return f"{(handle & ~_TASK_FLAG) >> _TASK_BITS}_{handle & ((1 << _TASK_BITS) - 1)}"
        return str(handle)

    @classmethod
    def describe(cls, job: RunningJob) -> str:
        job_id = cls.job_id(job.pgid)
        return f"Slurm job {job_id}" if job_id else "Slurm job not submitted yet"

    @classmethod
    def stop_leftover(cls, job: RunningJob, warn: Callable[[str], None], log: Callable[[str], None],
                      whose: str = "left by a pyrule that died") -> bool:
        """Adopt it if Slurm still has it pending or running, or it completed (True: the next
        start() of the job follows it, see adopts()); else cancel it (and wait): it would go on
        writing the outputs unseen. No id if pyrule died before sbatch answered: found by its
        name, and cancelled."""
        key = cls.job_id(job.pgid) or _unrecorded(job.name, os.getcwd())
        known = _ADOPTED.get((os.path.realpath(os.getcwd()), job.name))
        if key and known is not None and known["key"] == key:
            return True  # adopted already (the run met its mark again when it came to start it)
        found = _adoptable(job.name, key, os.getcwd()) if key else None
        if found is not None:
            state = found.pop("state")
            found["outputs"] = list(job.outputs)
            _ADOPTED[(os.path.realpath(os.getcwd()), job.name)] = found
            warn(f"adopted Slurm job {key} ({job.name}, {state}) {whose}: "
                 "followed, not submitted again")
            log(f"recover {job.name}: adopted Slurm job {key} ({state})")
            return True
        cancelled, problems = cancel_orphans([(job.name, key)])
        for name, job_id, state in cancelled:
            warn(f"cancelled Slurm job {job_id} ({name}, {state}) {whose}: "
                 "its outputs would be written unseen")
            log(f"recover {name}: cancelled Slurm job {job_id} ({state})")
        for problem in problems:
            warn(problem)
        return False

    def adopts(self, name: str) -> bool:
        return (os.path.realpath(self.project_dir), name) in _ADOPTED

    # --- a detached run (detach.py): the whole graph at once, with Slurm dependencies ---------

    def wait_for(self, name: str, keys: list[str]) -> None:
        """Job `name` is submitted with --dependency=afterok on the Slurm jobs `keys`."""
        self.after[name] = list(keys)

    def key(self, name: str) -> str | None:
        """The Slurm job ("ID" or "ID_TASK") that job `name` is followed as, while it is."""
        j = self._jobs.get(name)
        # (a packed job's dependents wait for its whole pack: Slurm knows no "ID+I")
        return _slurm_id(j.key) if j is not None else None

    @classmethod
    def states(cls, jobs: list[RunningJob]) -> dict[str, tuple[str, str]]:
        """One squeue call for all, and one sacct call for the ids squeue no longer knows."""
        keys = {r.name: cls.job_id(r.pgid) for r in jobs}
        ids = [k for k in keys.values() if k]
        try:
            rows = squeue(ids, "%i|%T|%r") if ids else {}
        except SlurmError:
            rows = {}
        # (a packed job, "ID+I", is looked up as its pack, "ID")
        missing = sorted({int(_slurm_id(k).split("_")[0]) for k in ids if _slurm_id(k) not in rows})
        accounted = sacct(missing) if missing else {}
        out: dict[str, tuple[str, str]] = {}
        for name, key in keys.items():
            sid = _slurm_id(key)
            if sid in rows:
                state = rows[sid][0]
            elif sid and "_" not in sid and int(sid) in accounted:
                state = accounted[int(sid)][0]
            else:
                out[name] = ("unknown", f"Slurm job {key or '(no id)'} no longer known to squeue or sacct")
                continue
            word = _WORDS.get(state, "failed" if state in FINAL_STATES else "pending")
            out[name] = (word, f"Slurm job {key} {state}")
        return out

    # --- the Executor interface -------------------------------------------------------

    def start(self, spec: JobSpec) -> int:
        """Accept the job: it is submitted at the next wait() with the others started meanwhile,
        those sharing their sbatch options as one job array (submit()). Returns QUEUED, whose
        record is UNSUBMITTED; its Slurm id comes out of assigned() once sbatch gave it. If the
        job cannot go to Slurm, or sbatch refuses it, its failure comes out of the next wait(),
        with the reason. A `local: True` rule's job runs on this machine (the local executor's):
        its handle is -pid, so that recorded() keeps its process group as the local executor
        records it."""
        if spec.local:
            return -self._here().start(spec)
        workdir = os.path.abspath(spec.workdir)
        q = self._queued(spec)
        adopted = _ADOPTED.pop((os.path.realpath(workdir), spec.name), None)
        if adopted is not None:  # a dead pyrule's job, still in Slurm: followed, its files as they are
            if isinstance(q, _Queued) and _essence(q.text) == adopted["essence"]:
                return self._adopt(spec, adopted)
            self._disown(spec.name, adopted)
        for d in spec.output_dirs:
            os.makedirs(resolve(workdir, d), exist_ok=True)
        log = os.path.abspath(resolve(workdir, spec.log_path))
        os.makedirs(os.path.dirname(log), exist_ok=True)
        if spec.attempt <= 1:  # each run of a job starts its log afresh (a retry appends), as locally
            _unlink(log)
        if spec.report_path:  # a previous attempt's values must not come back as this one's
            _unlink(os.path.abspath(resolve(workdir, spec.report_path)))
        if isinstance(q, str):  # cannot run on Slurm: fail the job with that reason
            return self._refuse(spec, log, q, time.time())
        os.makedirs(os.path.dirname(q.script), exist_ok=True)
        write_files(workdir, spec.files)
        self._measure_path(workdir)
        _unlink(q.usage)
        _write(q.script, q.text, 0o755)
        self._queue.append(q)
        return QUEUED

    def _queued(self, spec: JobSpec) -> _Queued | str:
        """The job's submission (its sbatch options, its script), or why it cannot run on Slurm;
        nothing written yet."""
        if (spec.shell is None) == (spec.python is None):
            raise ValueError(f"job {spec.name}: exactly one of shell and python is required")
        workdir = os.path.abspath(spec.workdir)
        log = os.path.abspath(resolve(workdir, spec.log_path))
        report = None
        env = dict(spec.env)
        if spec.report_path:
            report = os.path.abspath(resolve(workdir, spec.report_path))
            env["PYRULE_REPORT"] = report
        base = os.path.join(workdir, SLURM_DIR, f"{_safe(spec.name)}.a{spec.attempt}")
        script, usage = base + ".sh", base + ".usage.json"
        body = self._body(spec, os.path.relpath(base, workdir) + ".pyjob.json")
        if isinstance(body, str):
            return body
        args, limit, mem = self.sbatch_args(spec, workdir, log)
        args += dependency_args(self.after.get(spec.name, []))
        text = self._script(spec, workdir, env, usage, body, ["sbatch", *args, script])
        return _Queued(spec, args, script, usage, report, log, limit, mem, time.time(), text)

    def preview(self, specs: list[JobSpec]) -> list[str]:
        """For -n: each sbatch command these jobs would be submitted with, if started together,
        followed by its script (an array's, then each of its jobs'); nothing is written."""
        out: list[str] = []
        queue = []
        for spec in specs:
            q = self._queued(spec) if not spec.local else "runs on this machine (local: True), not submitted"
            if isinstance(q, str):
                out.append(f"# {spec.name}: {q}")
            else:
                queue.append(q)
        packs, queue = self._packs(queue)
        for group, chunk in packs:
            args, script, text, listing, jobs = self._pack(group, chunk)
            out.append(f"# {len(chunk)} jobs as one pack (group {group}): sbatch {shlex.join([*args, script])}")
            out.append(text)
            out.append(f"# its list of jobs, {listing}:")
            out.append(jobs)
            for q in chunk:
                out.append(f"# {q.spec.name}: in that pack, {q.script}")
                out.append(q.text)
        for shared, chunk in self._groups(queue):
            if len(chunk) == 1:
                out.append(f"# {chunk[0].spec.name}: sbatch {shlex.join([*chunk[0].args, chunk[0].script])}")
                out.append(chunk[0].text)
                continue
            args, script, text, _ = self._array(shared, chunk)
            out.append(f"# {len(chunk)} jobs as one array: sbatch {shlex.join([*args, script])}")
            out.append(text)
            for q in chunk:
                out.append(f"# {q.spec.name}: task of that array, {q.script}")
                out.append(q.text)
        return out

    def _adopt(self, spec: JobSpec, a: dict[str, Any]) -> int:
        packed = "+" in a["key"]  # "ID+I": the I-th job of pack ID; "ID_I": task I of array ID
        job_id, _, index = a["key"].replace("+", "_").partition("_")
        j = _Job(spec, int(job_id), time.time(), a["script"], a["usage"], a["report"], a["limit"], a["mem"],
                 task=int(index) if index and not packed else None, pack=int(index) if packed else None)
        self._jobs[spec.name] = j
        self._last_change = time.monotonic()
        if j.pack is not None:
            return _PACK_FLAG | j.job_id << _TASK_BITS | j.pack
        return int(job_id) if j.task is None else _TASK_FLAG | j.job_id << _TASK_BITS | j.task

    @staticmethod
    def _disown(name: str, a: dict[str, Any]) -> None:
        """An adopted job whose script is not what this run would submit (another command,
        environment or resources): cancelled, its outputs removed; the job is submitted anew."""
        from ..outputs import remove

        key = _slurm_id(a["key"])  # (a packed job: its whole pack)
        _scancel([key])
        if _wait_final([key], 30.0):
            _scancel([key], "KILL")
            _wait_final([key], 15.0)
        for p in a["outputs"]:
            remove(p)
        print(f"warning: cancelled Slurm job {key} ({name}) left by a pyrule that died: it runs another "
              "script than this run's; removed its outputs; it will be rebuilt", file=sys.stderr)

    def assigned(self) -> list[tuple[str, int]]:
        """(job name, handle) of the jobs submitted since last asked, whose start() returned
        QUEUED: the runner records them (see Executor.assigned)."""
        out, self._assigned = self._assigned, []
        return out

    def submit(self) -> None:
        """sbatch what start() queued: jobs whose sbatch options are the same but for their
        name and log go as one job array (at most MaxArraySize tasks each), a job alone as
        itself."""
        # Ctrl-C/SIGTERM wait until every sbatch has answered and its jobs are tracked (as when
        # start() submitted): one that came meanwhile is handled at once after, and cancels them.
        blocked = {signal.SIGINT, signal.SIGTERM}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            packs, rest = self._packs(self._queue)
            for group, chunk in packs:
                self._submit_pack(group, chunk)
                done = set(map(id, chunk))
                self._queue = [q for q in self._queue if id(q) not in done]
            for shared, chunk in self._groups(rest):
                if len(chunk) == 1:
                    self._submit_one(chunk[0])
                else:
                    self._submit_array(shared, chunk)
                done = set(map(id, chunk))
                self._queue = [q for q in self._queue if id(q) not in done]
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        self._last_change = time.monotonic()

    def _groups(self, queue: list[_Queued]) -> list[tuple[list[str], list[_Queued]]]:
        """The queue in submissions: jobs with the same sbatch options but for their name and
        log, in chunks of at most max_array()."""
        groups: dict[tuple[str, ...], list[_Queued]] = {}
        for q in queue:
            groups.setdefault(tuple(_shared(q.args)), []).append(q)
        size = self.max_array()
        return [(list(shared), group[i:i + size]) for shared, group in groups.items()
                for i in range(0, len(group), size)]

    def _submit_one(self, q: _Queued) -> None:
        out, err, rc = self._sbatch([*q.args, q.script])
        job_id = self._accepted(out, err, rc, [q])
        if job_id:
            self._track(_Job(q.spec, job_id, q.submitted, q.script, q.usage, q.report, q.time_limit_min, q.mem_mb),
                        job_id)

    def _submit_array(self, shared: list[str], chunk: list[_Queued]) -> None:
        """One `sbatch --array=0-N` for the chunk: task i runs chunk[i]'s own script, its output
        going to that job's log; Slurm's own messages about task i go to ARRAY_i.out, appended
        to the job's log when it ends."""
        args, script, text, out_pattern = self._array(shared, chunk)
        job_id = self._submit_script(args, script, text, chunk)
        for i, job in enumerate(chunk if job_id else ()):
            j = _Job(job.spec, job_id, job.submitted, job.script, job.usage, job.report, job.time_limit_min,
                     job.mem_mb, task=i, slurm_out=out_pattern.replace("%a", str(i)))
            self._track(j, _TASK_FLAG | job_id << _TASK_BITS | i)

    def _array(self, shared: list[str], chunk: list[_Queued]) -> tuple[list[str], str, str, str]:
        """An array's sbatch options, script path, script and output file pattern (%a: task)."""
        workdir = os.path.abspath(chunk[0].spec.workdir)
        first = chunk[0].spec.name
        rule = first.split("[", 1)[0]
        base = os.path.join(workdir, SLURM_DIR, f"array-{_safe(first)}.a{chunk[0].spec.attempt}-n{len(chunk)}")
        script = base + ".sh"
        out_pattern = base + "_%a.out"
        args = [
            *shared,
            f"--job-name={_job_name(rule)}",
            "--output=" + base.replace("%", "%%") + "_%a.out",
            "--open-mode=append",
            f"--array=0-{len(chunk) - 1}",
        ]
        q = shlex.quote
        lines = [
            *packing.header(f"job array: {len(chunk)} jobs of rule {rule}", ["sbatch", *args, script]),
            'case "$SLURM_ARRAY_TASK_ID" in',
        ]
        for i, job in enumerate(chunk):
            lines.append(f"  {i}) exec {q(self.shell)} {q(job.script)} >>{q(job.log)} 2>&1 ;;  # {job.spec.name}")
        lines += ["esac", 'echo "pyrule: no task $SLURM_ARRAY_TASK_ID in this array" >&2', "exit 1"]
        return args, script, "\n".join(lines) + "\n", out_pattern

    def _submit_script(self, args: list[str], script: str, text: str, chunk: list[_Queued]) -> int:
        """Write the script of an array or pack and sbatch it: its job id, or 0 (its jobs failed)."""
        _write(script, text, 0o755)
        out, err, rc = self._sbatch([*args, script])
        return self._accepted(out, err, rc, chunk)

    def _accepted(self, out: str, err: str, rc: int, jobs: list[_Queued]) -> int:
        """The job id sbatch answered, or 0 after failing the jobs with its message."""
        job_id = out.strip().split(";")[0]
        if rc == 0 and job_id.isdigit():
            return int(job_id)
        lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
        errors = [ln.split("error:", 1)[1].strip() for ln in lines if "error:" in ln] or lines
        message = "; ".join(errors) or f"sbatch exited {rc} without a job id"
        for q in jobs:
            with open(q.log, "a", encoding="utf-8") as f:
                f.write(f"pyrule: sbatch refused the job (exit {rc}):\n{err.rstrip()}\n")
            self._refuse(q.spec, q.log, f"sbatch refused the job: {message}", q.submitted)
        return 0

    def _track(self, j: _Job, handle: int) -> None:
        self._jobs[j.spec.name] = j
        self._assigned.append((j.spec.name, handle))

    def max_array(self) -> int:
        """Tasks per array: the cluster's MaxArraySize (indices 0 to MaxArraySize - 1), asked once;
        1000 if scontrol does not say."""
        if self._max_array is None:
            self._max_array = 1000
            try:
                p = _run(["scontrol", "show", "config"], timeout=30)
                m = re.search(r"^MaxArraySize\s*=\s*(\d+)", p.stdout, re.M)
                if m:
                    self._max_array = max(1, int(m.group(1)))  # 0: no arrays
            except (OSError, subprocess.TimeoutExpired):
                pass
        return self._max_array

    # --- packs: many short jobs in one allocation (pack.py; the node side: pack_runner.py) -------

    def _pack_of(self, group: str | bool | None, rule: str, name: str, resources: dict[str, Any]) -> str | None:
        """The pack the job goes in (None: on its own): see pack.group_of. A job that asks for GPUs
        is never packed (the runner shares out cores and memory, not GPUs)."""
        if _number(resources.get("gpus", 0)):
            return None
        if group is None and self.pack_below > 0 and self._recorded is None:
            self._recorded = packing.recorded_runtimes(self.project_dir)
        recorded = self._recorded.get(name) if self._recorded else None
        return packing.group_of(group, rule, _number(resources.get("runtime", 0)), recorded, self.pack_below)

    def _packs(self, queue: list[_Queued]) -> tuple[list[tuple[str, list[_Queued]]], list[_Queued]]:
        return packing.packs(queue, lambda q: q.spec.pack, lambda q: q.args, self.pack_size)

    def pack_cores(self) -> int:
        """Cores a pack asks for at most: `pack_cores`, else pack.DEFAULT_CORES but no more than
        the largest node has (sinfo, asked once)."""
        if self._pack_cores is None:
            self._pack_cores = packing.DEFAULT_CORES
            try:
                p = _run(["sinfo", "-h", "-o", "%c"], timeout=30)
                cpus = [int(c.rstrip("+")) for c in p.stdout.split() if c.rstrip("+").isdigit()]
                if cpus:
                    self._pack_cores = max(1, min(self._pack_cores, max(cpus)))
            except (OSError, subprocess.TimeoutExpired):
                pass
        return self._pack_cores

    def _pack(self, group: str, chunk: list[_Queued]) -> tuple[list[str], str, str, str, str]:
        """A pack's sbatch options, script path, script, and its list of jobs' path and text."""
        workdir = os.path.abspath(chunk[0].spec.workdir)
        base = os.path.join(workdir, SLURM_DIR, f"{packing.PREFIX}{_safe(chunk[0].spec.name)}.a{chunk[0].spec.attempt}"
                            f"-n{len(chunk)}")
        needs = [max(1, math.ceil(_number((q.spec.resources or {}).get("cores", 1)) or 1)) for q in chunk]
        jobs = [{"name": q.spec.name, "script": q.script, "log": q.log, "usage": q.usage, "cores": c, "mem_mb": q.mem_mb}
                for c, q in zip(needs, chunk)]
        cores, mem, limit = packing.allocation(
            [(c, q.mem_mb, q.time_limit_min) for c, q in zip(needs, chunk)], self.pack_cores())
        args = [*packing.common(chunk[0].args), f"--job-name={_job_name(packing.PREFIX + group)}",
                "--output=" + base.replace("%", "%%") + ".out", "--open-mode=append", f"--cpus-per-task={cores}",
                *([f"--mem={mem}M"] if mem else []), *([f"--time={limit}"] if limit else [])]
        runner = os.path.join(workdir, SLURM_DIR, packing.RUNNER)
        listing = base + ".json"
        text = packing.script(group, args, base + ".sh", workdir, self.python, runner, listing, jobs)
        return args, base + ".sh", text, listing, packing.manifest(cores, mem, self.shell, jobs)

    def _submit_pack(self, group: str, chunk: list[_Queued]) -> None:
        """One sbatch for the pack; each of its jobs followed on its own (its usage file)."""
        args, script, text, listing, jobs = self._pack(group, chunk)
        if self._runner is None:
            self._runner = os.path.join(os.path.dirname(script), packing.RUNNER)
            _write(self._runner, packing.runner_source(), 0o644)
        _write(listing, jobs, 0o644)
        job_id = self._submit_script(args, script, text, chunk)
        for i, q in enumerate(chunk if job_id else ()):
            j = _Job(q.spec, job_id, q.submitted, q.script, q.usage, q.report, q.time_limit_min, q.mem_mb, pack=i,
                     slurm_out=script[:-3] + ".out")
            self._track(j, _PACK_FLAG | job_id << _TASK_BITS | i)

    def _pack_job_ended(self, j: _Job, row: tuple[str, ...] | None, now: float) -> bool:
        """A packed job ends when its usage file appears (its own exit code), while its pack may
        run on. True if that settled it this poll, or its pack still runs; False: its pack ended
        (or is unknown) without it, to be settled as a job of its own."""
        usage = _read_json(j.usage)
        if usage is not None and isinstance(usage.get("exit_code"), int):
            j.state = "COMPLETED" if usage["exit_code"] == 0 else "FAILED"
            j.reason, j.final_seen, self._last_change = "", now, now
            return True
        if row is not None and row[0] not in FINAL_STATES:
            j.unknown_polls = 0
            return True
        return False

    def _here(self) -> LocalExecutor:
        """The local executor for `local: True` jobs, made at the first one."""
        if self._local is None:
            from .local import LocalExecutor

            self._local = LocalExecutor(pid_later=False)  # its pid is the job's handle at once
        return self._local

    def wait(self, timeout: float | None) -> list[JobResult]:
        if self._queue:
            due = self._queue[0].submitted + _BATCH_S - time.time()
            if not self._jobs or due <= 0 or len(self._queue) >= self.max_array():
                self.submit()  # then back at once: the runner records their ids (assigned())
                done, self._done = self._done, []
                return done
            # Jobs already run: the queue waits a moment for more jobs started as others end.
            timeout = due if timeout is None else min(timeout, due)
        if self._local is None:
            return self._wait(timeout)
        here = self._local.wait(0)  # (the results of local jobs stopped by terminate_all too)
        if here or not self._local.running():
            return here + self._wait(0) if here else self._wait(timeout)
        # Local jobs and Slurm jobs: wait on the local ones in slices, polling Slurm between them.
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            ended = self._wait(0)
            if ended:
                return ended + self._local.wait(0)
            now = time.monotonic()
            left = self.poll_interval if deadline is None else min(self.poll_interval, deadline - now)
            ended = self._local.wait(max(left, 0.0))
            if ended or (deadline is not None and time.monotonic() >= deadline):
                return ended
            if not self._local.running():
                return self._wait(None if deadline is None else max(deadline - time.monotonic(), 0.0))

    def _wait(self, timeout: float | None) -> list[JobResult]:
        if self._done:
            done, self._done = self._done, []
            return done
        if not self._jobs:
            return []
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            ended = self._poll()
            if ended:
                return ended
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return []
            delay = self.poll_interval if now - self._last_change < 10 else max(self.poll_interval, _POLL_IDLE_S)
            if any(j.final_seen is not None for j in self._jobs.values()):
                delay = min(delay, 0.1)  # waiting for a usage file to appear
            if deadline is not None:
                delay = min(delay, deadline - now)
            time.sleep(max(delay, 0.0))

    def running(self) -> list[int]:
        here = [-pid for pid in self._local.running()] if self._local is not None else []
        return [j.job_id for j in self._jobs.values()] + [QUEUED for _ in self._queue] + here

    def terminate_all(self, grace: float = 5.0) -> None:
        """scancel every job (one call), SIGKILL what still runs after grace; wait (bounded)
        until none is pending or running. The results come out of the next wait()."""
        if self._local is not None:
            self._local.terminate_all(grace)
        self._drop_queue()
        ids = [j.key for j in self._jobs.values() if j.final_seen is None]
        if ids:
            for j in self._jobs.values():
                j.cancelled_by_us = True
            _scancel(ids)
            left = _wait_final(ids, grace)
            if left:
                _scancel(left, "KILL")
                _wait_final(left, 15.0)
        self._finish_all()

    def kill_all(self) -> None:
        """scancel --signal=KILL every job now (waits a few seconds for them to stop)."""
        if self._local is not None:
            self._local.kill_all()
        self._drop_queue()
        ids = [j.key for j in self._jobs.values() if j.final_seen is None]
        if ids:
            for j in self._jobs.values():
                j.cancelled_by_us = True
            _scancel(ids, "KILL")
            _wait_final(ids, 5.0)
        self._finish_all()

    def close(self) -> None:
        """Nothing to release but the local executor of `local: True` jobs: every job was
        followed to its end (or cancelled) before this."""
        if self._local is not None:
            self._local.close()

    # --- building a submission ----------------------------------------------------------

    def sbatch_args(self, spec: JobSpec, workdir: str, log: str) -> tuple[list[str], int | None, int | None]:
        """sbatch's options for the job (without the script); also the time limit in minutes
        and the memory in MB, when set."""
        res = spec.resources or {}
        opts = dict(self.defaults)
        opts.update({k: v for k, v in (res.get("slurm") or {}).items() if v not in (None, "")})
        slurm_log = log.replace("%", "%%")  # sbatch expands %j, %x... in file names
        args = [
            "--parsable",
            f"--job-name={_job_name(spec.name)}",
            f"--chdir={workdir}",
            f"--output={slurm_log}",
            f"--error={slurm_log}",
            "--open-mode=append",
        ]
        cores = _number(res.get("cores", 1)) or 1
        args.append(f"--cpus-per-task={max(1, math.ceil(cores))}")
        mem_mb = limit = None
        mem = _number(res.get("mem", 0))
        if mem:
            mem_mb = max(1, math.ceil(mem / 2**20))
            args.append(f"--mem={mem_mb}M")
        gpus = _number(res.get("gpus", 0))
        if gpus:
            args.append(f"--gres=gpu:{math.ceil(gpus)}")
        runtime = _number(res.get("runtime", 0))
        if runtime:
            limit = max(1, math.ceil(runtime / 60))
            args.append(f"--time={limit}")
        for key, flag in (
            ("partition", "--partition"),
            ("account", "--account"),
            ("qos", "--qos"),
            ("constraint", "--constraint"),
        ):
            if opts.get(key):
                args.append(f"{flag}={opts[key]}")
        if opts.get("extra"):
            args.extend(shlex.split(str(opts["extra"])))
        return args, limit, mem_mb

    def _body(self, spec: JobSpec, shipped: str) -> list[str] | str:
        """The command the wrapper runs, or why the job cannot run on Slurm. A Python body runs
        from its shipped spec (written to `shipped`, relative to the workdir: pyjob.py) with no
        Pipefile; one that uses a top-level name that cannot be shipped, by `--run-job` (node.py)."""
        if spec.shell is not None:
            return [self.shell, "-euo", "pipefail", "-c", spec.shell]
        note = None
        if spec.ship is not None:
            from ..pyjob import RUNNER_COPY, Unshippable

            try:
                spec.files.update(spec.ship(shipped))
                return [self.python, RUNNER_COPY, shipped]
            except Unshippable as e:
                note = f"pyrule: {e}: the node loads the Pipefile again to run it (--run-job)"
        if not spec.pipefile:
            return (
                "a Python body runs on a Slurm node as `python -m pyrule --run-job`, which needs the "
                "job's Pipefile; rules made with the Python API can use only shell bodies there"
            )
        target = spec.target or spec.name
        return [
            *([self.shell, "-c", 'echo "$0" >&2; exec "$@"', note] if note else []),
            self.python,
            "-m",
            "pyrule",
            "--run-job",
            spec.name,
            "-f",
            spec.pipefile,
            "-q",
            "--",
            *spec.overrides,
            target,
        ]

    def _script(
        self, spec: JobSpec, workdir: str, env: dict[str, str], usage: str, body: list[str], command: list[str]
    ) -> str:
        measure = os.path.join(workdir, SLURM_DIR, MEASURE)  # written by start() (_measure_path)
        q = shlex.quote
        lines = [
            "#!/bin/bash",
            f"# pyrule job {spec.name} (attempt {spec.attempt}), written by pyrule's Slurm executor.",
            "# submitted with (or as a task of an array, or in a pack: see its array-*.sh or pack-*.sh):",
            "#   " + " ".join(q(a) for a in command).replace("\n", "\n#   "),
            f"PYRULE_DIR={q(workdir)}",
            f"PYRULE_PYTHON={q(self.python)}",
            'cd "$PYRULE_DIR" || { echo "pyrule: cannot cd to $PYRULE_DIR on $(hostname):'
            ' the project directory must be shared with the nodes" >&2; exit 1; }',
            '[ -x "$PYRULE_PYTHON" ] || { echo "pyrule: no Python at $PYRULE_PYTHON on $(hostname):'
            ' the Python environment with pyrule must be shared with the nodes" >&2; exit 127; }',
        ]
        lines += [f"export {k}={q(v)}" for k, v in env.items() if k.isidentifier()]
        # -S: the wrapper is stdlib-only; the site's hooks (.pth files) can cost more than a short job
        lines.append(" ".join(["exec", '"$PYRULE_PYTHON"', "-S", q(measure), q(usage), "--", *(q(a) for a in body)]))
        return "\n".join(lines) + "\n"

    def _measure_path(self, workdir: str) -> str:
        if self._measure is None:
            path = os.path.join(workdir, SLURM_DIR, MEASURE)
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == MEASURE_SOURCE
            except OSError:
                same = False
            if not same:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                _write(path, MEASURE_SOURCE, 0o644)
            self._measure = path
        return self._measure

    def _sbatch(self, args: list[str]) -> tuple[str, str, int]:
        delay = 0.5
        for attempt in range(4):
            try:
                p = _run(["sbatch", *args])
            except (OSError, subprocess.TimeoutExpired) as e:
                out, err, rc = "", f"sbatch: error: {e}", 1
            else:
                out, err, rc = p.stdout, p.stderr, p.returncode
            if rc == 0 or not _TRANSIENT.search(err) or attempt == 3:
                return out, err, rc
            time.sleep(delay)
            delay *= 2
        return out, err, rc

    def _drop_queue(self) -> None:
        """Jobs started but not submitted yet end cancelled, unsubmitted (stopping)."""
        queue, self._queue = self._queue, []
        for q in queue:
            self._refuse(q.spec, q.log, "cancelled by pyrule before it was submitted", q.submitted, -15)

    def _refuse(self, spec: JobSpec, log: str, reason: str, submitted: float, exit_code: int = 1) -> int:
        if not reason.startswith("sbatch refused"):
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"pyrule: {reason}\n")
        now = time.time()
        self._done.append(
            JobResult(
                name=spec.name,
                exit_code=exit_code,
                start=submitted,
                end=now,
                wall_s=0.0,
                cpu_s=0.0,
                peak_rss_bytes=0,
                reported={},
                pid=0,
                reason=reason,
            )
        )
        return 0

    # --- following jobs -----------------------------------------------------------------

    def _poll(self) -> list[JobResult]:
        waiting = [j for j in self._jobs.values() if j.final_seen is None]
        if waiting:
            self._update(waiting)
        ended = []
        now = time.monotonic()
        for j in list(self._jobs.values()):
            if j.final_seen is None:
                continue
            usage = _read_json(j.usage)
            if usage is None and j.state in ("COMPLETED", "FAILED") and now - j.final_seen < _SIDECAR_GRACE_S:
                continue  # the wrapper wrote it; a network file system may show it late
            del self._jobs[j.spec.name]
            ended.append(self._result(j, usage))
        if ended:
            self._last_change = now
        return ended

    def _update(self, jobs: list[_Job]) -> None:
        ids = sorted({j.job_id for j in jobs})
        try:
            rows = squeue(ids)
        except SlurmError as e:
            if not self._squeue_failing:
                print(f"pyrule: {e}; retrying", file=sys.stderr)
            self._squeue_failing = True
            return
        self._squeue_failing = False
        # sacct -c knows array tasks only by ids of their own: those the usage file settles (_result)
        missing = [j.job_id for j in jobs if j.key not in rows and j.task is None]
        accounted = sacct(missing) if missing else {}
        now = time.monotonic()
        for j in jobs:
            if j.pack is not None and self._pack_job_ended(j, rows.get(j.key), now):
                continue
            if j.key in rows:
                state, reason, _ = rows[j.key]
                j.unknown_polls = 0
            elif j.task is None and j.job_id in accounted:
                state, j.exit_field, j.elapsed_s = accounted[j.job_id]
                reason = ""
            else:
                j.unknown_polls += 1
                if j.unknown_polls < _VANISHED_POLLS:
                    continue
                state, reason = "VANISHED", ""
            if state != j.state:
                self._last_change = now
            j.state, j.reason = state, reason
            if state in FINAL_STATES or state == "VANISHED":
                j.final_seen = now
                if state in _MAY_REQUEUE:  # Slurm may requeue it: it must not run again unseen
                    _scancel([j.key])

    def _result(self, j: _Job, usage: dict[str, Any] | None) -> JobResult:
        # an array task, or a packed job that did not end on its own: what Slurm said goes to its log
        if j.slurm_out and (j.pack is None or usage is None):
            try:
                with open(j.slurm_out, encoding="utf-8", errors="replace") as f:
                    said = f.read()
                if j.pack is None:  # (a pack's is shared by its jobs)
                    os.unlink(j.slurm_out)
            except OSError:
                said = ""
            if said:
                with open(resolve(os.path.abspath(j.spec.workdir), j.spec.log_path), "a", encoding="utf-8") as f:
                    f.write(said)
        state = j.state or "CANCELLED"
        if j.pack is not None and usage is None and state == "COMPLETED":
            state, j.reason = "FAILED", "its pack ended without running it"
        if state == "FAILED" and _memory_killed(resolve(os.path.abspath(j.spec.workdir), j.spec.log_path)):
            state = "OUT_OF_MEMORY"  # killed by JobAcctGatherParams=OverMemoryKill (no cgroups): FAILED to Slurm
        exit_code = usage.get("exit_code") if usage else None
        if not isinstance(exit_code, int):
            exit_code = _state_exit_code(state, j.exit_field)
        if state == "VANISHED" and usage and exit_code == 0:
            state = "COMPLETED"  # gone from squeue and sacct, but its wrapper saw the body succeed
        if state != "COMPLETED" and exit_code == 0:
            exit_code = _state_exit_code(state, j.exit_field) or 1
        reason = None if state == "COMPLETED" else self._reason(j, state)
        now = time.time()
        start = float(usage.get("start", j.submitted)) if usage else j.submitted
        end = float(usage.get("end", now)) if usage else now
        reported = read_report(j.report) if j.report else {}
        reported.setdefault("slurm_job_id", j.key)
        return JobResult(
            name=j.spec.name,
            exit_code=exit_code,
            start=start,
            end=end,
            wall_s=float(usage.get("wall_s", 0.0)) if usage else j.elapsed_s,
            cpu_s=float(usage.get("cpu_s", 0.0)) if usage else 0.0,
            peak_rss_bytes=int(usage.get("peak_rss_bytes", 0)) if usage else 0,
            reported=reported,
            pid=j.job_id,
            reason=reason,
        )

    def _reason(self, j: _Job, state: str) -> str:
        head = f"Slurm job {j.label} {state}"
        if state == "TIMEOUT":
            limit = f" ({j.time_limit_min} min)" if j.time_limit_min else ""
            return f"{head}: it ran over its time limit{limit}; raise the rule's resources: runtime"
        if state == "OUT_OF_MEMORY":
            limit = f" ({j.mem_mb} MB)" if j.mem_mb else ""
            return f"{head}: it used more than its memory limit{limit}; raise the rule's resources: mem"
        if state == "CANCELLED":
            return f"{head}: " + (
                "cancelled by pyrule" if j.cancelled_by_us else "cancelled (scancel, or an administrator)"
            )
        if state == "VANISHED":
            return f"Slurm job {j.label} is no longer known to squeue or sacct (was the cluster restarted?)"
        if state in ("NODE_FAIL", "BOOT_FAIL"):
            return f"{head}: its node failed"
        if state == "FAILED" and j.reason == "JobLaunchFailure":
            return f"{head} (JobLaunchFailure: Slurm killed or could not start it; over its memory limit?)"
        return f"{head}" + (f" ({j.reason})" if j.reason and j.reason != "None" else "")

    def _finish_all(self) -> None:
        """After scancel: every job's result goes to the next wait()."""
        ids = sorted({j.job_id for j in self._jobs.values() if j.final_seen is None})
        rows: dict[str, tuple[str, ...]] = {}
        if ids:
            try:
                rows = squeue(ids)
            except SlurmError:
                pass
        for j in list(self._jobs.values()):
            if j.final_seen is None:
                j.state, j.reason = rows.get(j.key, ("CANCELLED", "", ""))[:2]
                if j.state not in FINAL_STATES:
                    j.state = "CANCELLED"
            self._done.append(self._result(j, _read_json(j.usage)))
        self._jobs.clear()


# --- Slurm client commands ---------------------------------------------------------------


def _run(argv: list[str], timeout: float = _CMD_TIMEOUT_S) -> subprocess.CompletedProcess:
    # Own session: a Ctrl-C on the terminal reaches pyrule (which scancels), not a half-done scancel.
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, start_new_session=True
    )


def squeue(ids: list[int] | list[str], fields: str = "%i|%T|%r|%j") -> dict[str, tuple[str, ...]]:
    """One `squeue -h -r -t all -j IDS` call: {"ID" or "ID_TASK": (state, reason, name)} (more
    with other fields); an array's id gives a row per task. Unknown ids are missing from the
    result. Raises SlurmError if squeue does not answer."""
    if not ids:
        return {}
    argv = ["squeue", "-h", "-r", "-t", "all", "-j", ",".join(sorted({_slurm_id(str(i)).split("_")[0] for i in ids})),
            "-o", fields]
    try:
        p = _run(argv, timeout=30)
    except FileNotFoundError:
        raise SlurmError("squeue not found") from None
    except subprocess.TimeoutExpired:
        raise SlurmError("squeue did not answer within 30 s") from None
    if p.returncode != 0:
        if "Invalid job id" in p.stderr:  # one id, and squeue does not know it
            return {}
        raise SlurmError(f"squeue failed: {p.stderr.strip() or f'exit {p.returncode}'}")
    n = fields.count("|")
    rows: dict[str, tuple[str, ...]] = {}
    for line in p.stdout.splitlines():
        parts = line.strip().split("|", n)
        if len(parts) == n + 1 and parts[0].replace("_", "", 1).isdigit():
            rows[parts[0]] = tuple(parts[1:])
    return rows


def sacct(ids: list[int]) -> dict[int, tuple[str, str, float]]:
    """{id: (state, exitcode, elapsed_s)} for the ids that ended, from `sacct -c` (the job
    completion log, which works without slurmdbd), else from plain `sacct -X` (slurmdbd).
    Errors count as "no row"."""
    rows: dict[int, tuple[str, str, float]] = {}
    fields = ["-n", "--parsable2", "-o", "jobid,state,exitcode,elapsed"]
    for source in (["-c"], ["-X"]):
        left = [i for i in ids if i not in rows]
        if not left:
            break
        try:
            p = _run(["sacct", *source, *fields, "-j", ",".join(map(str, left))], timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            break
        for line in p.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) >= 4 and parts[0].isdigit() and int(parts[0]) in left:
                state = parts[1].split()[0] if parts[1].strip() else ""  # "CANCELLED by 0"
                rows[int(parts[0])] = (state, parts[2], _elapsed(parts[3]))
    return rows


def _scancel(ids: list[str], signal_name: str | None = None) -> None:
    argv = ["scancel", *([f"--signal={signal_name}"] if signal_name else []), *map(str, ids)]
    try:
        _run(argv, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass


def _wait_final(ids: list[str], limit: float) -> list[str]:
    """Poll until every id is final (or unknown); returns the ids still pending/running."""
    deadline = time.monotonic() + limit
    left = list(ids)
    while left:
        try:
            rows = squeue(left)
        except SlurmError:
            rows = {i: ("?",) for i in left}
        left = [i for i in left if i in rows and rows[i][0] not in FINAL_STATES]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    return left


# --- after a pyrule that died --------------------------------------------------------------


def cancel_orphans(
    jobs: list[tuple[str, str]], workdir: str | None = None
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Cancel the Slurm jobs a dead pyrule left pending or running, and wait until they stop.

    jobs: (pyrule job name, Slurm job "ID" or "ID_TASK", or "" when pyrule died before sbatch
    returned one). A known id is cancelled only if its Slurm job still has that name (an array
    task: its rule's name) and working directory
    (ids restart at 1 when a cluster is set up afresh); an unknown id is looked up among the
    user's jobs by name and working directory. Returns ([(name, id, state before)], problems).
    """
    workdir = os.path.realpath(workdir or os.getcwd())
    problems: list[str] = []
    if shutil.which("squeue") is None or shutil.which("scancel") is None:
        known = [f"{name} (Slurm job {jid})" for name, jid in jobs if jid]
        if known:
            problems.append(
                f"cannot check {', '.join(known)}: squeue/scancel not found; "
                "if they still run, cancel them by hand (scancel ID)"
            )
        return [], problems
    fields = "%i|%T|%j|%Z|%o"
    found: dict[str, tuple[str, ...]] = {}
    try:
        ids = [jid for _, jid in jobs if jid]
        if ids:
            found.update(squeue(ids, fields))
        if any(not jid for _, jid in jobs):
            p = _run(["squeue", "-h", "--me", "-o", fields], timeout=30)
            for line in p.stdout.splitlines():
                parts = line.strip().split("|", 4)
                if len(parts) == 5 and parts[0].isdigit():
                    found[parts[0]] = tuple(parts[1:])
    except (SlurmError, OSError, subprocess.TimeoutExpired) as e:
        problems.append(
            f"cannot check the Slurm jobs of the run that died ({e}); "
            f"cancel them by hand if they still run: {', '.join(str(j) for _, j in jobs if j)}"
        )
        return [], problems
    ours: list[tuple[str, str, str]] = []
    for name, jid in jobs:
        if jid:
            rows = [(jid, found[_slurm_id(jid)])] if _slurm_id(jid) in found else []
        else:
            rows = [(k, row) for k, row in found.items() if row[1] == _job_name(name)]
        for key, (state, slurm_name, wd, command) in rows:
            if state not in FINAL_STATES and _runs(key, name, slurm_name, command) and os.path.realpath(wd) == workdir:
                ours.append((name, _slurm_id(key), state))
    if ours:
        _scancel([jid for _, jid, _ in ours])
        left = _wait_final([jid for _, jid, _ in ours], 30.0)
        if left:
            _scancel(left, "KILL")
            left = _wait_final(left, 15.0)
        if left:
            problems.append(f"Slurm job(s) {', '.join(map(str, left))} still not stopped after scancel")
    return ours, problems


# Jobs of a pyrule that died which stop_leftover adopted, for this process's next executor:
# {(project directory, job name): what _adoptable found}.
_ADOPTED: dict[tuple[str, str], dict[str, Any]] = {}


def _adoptable(name: str, key: str, workdir: str) -> dict[str, Any] | None:
    """What following the dead pyrule's Slurm job `key` of job `name` needs (its script, usage
    file, report file, limits, and its state), if Slurm still has it pending or running under
    that name and directory, or it completed (its usage file says exit 0 when Slurm forgot it);
    else None."""
    script = _latest_script(workdir, name)
    if script is None:
        return None
    usage = script[:-3] + ".usage.json"
    try:
        rows = squeue([key], "%i|%T|%j|%Z|%o")
    except SlurmError:
        return None
    if _slurm_id(key) in rows:
        state, slurm_name, wd, command = rows[_slurm_id(key)]
        if not _runs(key, name, slurm_name, command) or os.path.realpath(wd) != os.path.realpath(workdir):
            return None
        if state in FINAL_STATES and state != "COMPLETED":
            return None
    else:
        done = _read_json(usage)
        if not done or done.get("exit_code") != 0:
            return None
        state = "COMPLETED"
    with open(script, encoding="utf-8", errors="replace") as f:
        text = f.read()
    report = re.search(r"^export PYRULE_REPORT=(.*)$", text, re.M)
    mem = re.search(r"--mem=(\d+)M", text)
    limit = re.search(r"--time=(\d+)", text)
    return {"state": state, "key": key, "script": script, "usage": usage, "essence": _essence(text),
            "report": shlex.split(report.group(1))[0] if report else None,
            "mem": int(mem.group(1)) if mem else None, "limit": int(limit.group(1)) if limit else None}


def _runs(key: str, name: str, slurm_name: str, command: str) -> bool:
    """Whether Slurm job `key` ("ID", or "ID_TASK" of an array), named `slurm_name` and running
    the script `command`, runs pyrule job `name`: a job alone has its name; an array task its
    rule's, or, in an array of jobs of several rules (named by the first), its line in the
    array's script."""
    key = str(key)
    if "+" in key:  # a packed job "ID+I": its pack's (named pack-GROUP; the index from the pack's script)
        return slurm_name.startswith(packing.PREFIX)
    if "_" not in key:
        return slurm_name == _job_name(name)
    if slurm_name == _job_name(name.split("[", 1)[0]):
        return True
    return _array_tasks(command).get(key.partition("_")[2]) == name


def _array_tasks(script: str) -> dict[str, str]:
    """An array script's tasks: index -> job name (its lines `  I) exec ... # NAME`)."""
    try:
        with open(script, encoding="utf-8", errors="replace") as f:
            return dict(re.findall(r"^  (\d+)\) exec .* # (.*)$", f.read(), re.M))
    except OSError:
        return {}


def _unrecorded(name: str, workdir: str) -> str:
    """The Slurm job ("ID" or "ID_TASK") of job `name` that a pyrule which died before it
    recorded the id had submitted: among the user's jobs, the one of that name and directory,
    or the array task whose array script (squeue's %o) runs that job, or the pack ("ID+I") whose
    script lists it ("" if none)."""
    try:
        p = _run(["squeue", "-h", "-r", "--me", "-t", "all", "-o", "%i|%T|%j|%Z|%o"], timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    workdir = os.path.realpath(workdir)
    rule = _job_name(name.split("[", 1)[0])
    scripts: dict[str, dict[str, str]] = {}
    for line in p.stdout.splitlines():
        parts = line.strip().split("|", 4)
        if len(parts) != 5 or os.path.realpath(parts[3]) != workdir:
            continue
        key, _state, slurm_name, _wd, command = parts
        if "_" not in key and slurm_name == _job_name(name):
            return key
        if "_" not in key and slurm_name.startswith(packing.PREFIX):  # a pack: is the job in it?
            index = packing.index_in(command, name)
            if index is not None:
                return f"{key}+{index}"
        if "_" in key and slurm_name == rule:
            if command not in scripts:
                scripts[command] = _array_tasks(command)
            if scripts[command].get(key.partition("_")[2]) == name:
                return key
    return ""


def dependency_args(keys: list[str]) -> list[str]:
    """sbatch's options for a job that may start only once the Slurm jobs `keys` ("ID" or
    "ID_TASK") completed; cancelled by Slurm if one of them fails (it would wait forever)."""
    return [f"--dependency=afterok:{':'.join(keys)}", "--kill-on-invalid-dep=yes"] if keys else []


def _essence(script: str) -> str:
    """A job script without what differs between runs of the same job (its run's id and report
    file, its attempt, comments): equal for an adopted job only if it runs what this run would."""
    lines = [ln for ln in script.splitlines()
             if not ln.startswith(("export PYRULE_JOB=", "export PYRULE_REPORT=", "# pyrule job", "# submitted"))]
    # (nor the Slurm jobs it waited for: a detached run's, which a collecting run finds done)
    text = re.sub(r" --dependency=afterok:\S+ --kill-on-invalid-dep=yes", "", "\n".join(lines))
    # (nor whether the measuring wrapper starts without site hooks: scripts before -S run the same job)
    text = text.replace('exec "$PYRULE_PYTHON" -S ', 'exec "$PYRULE_PYTHON" ')
    return re.sub(r"\.a\d+\.(sh|usage\.json|pyjob\.json)", r".aN.\1", text)


def _latest_script(workdir: str, name: str) -> str | None:
    """.pyrule/slurm/JOB.aN.sh of the job's last attempt."""
    folder = os.path.join(workdir, SLURM_DIR)
    prefix = _safe(name) + ".a"
    try:
        attempts = [int(f[len(prefix):-3]) for f in os.listdir(folder)
                    if f.startswith(prefix) and f.endswith(".sh") and f[len(prefix):-3].isdigit()]
    except OSError:
        return None
    return os.path.join(folder, f"{prefix}{max(attempts)}.sh") if attempts else None


# --- configuration -------------------------------------------------------------------------


def load_profile(project_dir: str) -> dict[str, str]:
    """`[tool.pyrule.slurm]` of project_dir/pyproject.toml: default partition, account, qos,
    constraint, extra. Missing file or table: {}."""
    path = os.path.join(project_dir, "pyproject.toml")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    if b"pyrule" not in raw:
        return {}
    try:
        import tomllib  # type: ignore[import-not-found]
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[import-not-found,no-redef]
        except ImportError:
            if re.search(rb"^\s*\[\s*tool\.pyrule\.slurm\s*\]", raw, re.M):
                raise UsageError(
                    f"{path}: reading [tool.pyrule.slurm] needs Python 3.11 or the tomli package",
                    hint="pip install tomli, or pass --slurm-partition/--slurm-account instead",
                ) from None
            return {}
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: {e}", hint="fix the TOML syntax") from None
    table = doc.get("tool", {}).get("pyrule", {}).get("slurm", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.pyrule.slurm] must be a table")
    out: dict[str, str] = {}
    for key, value in table.items():
        if key not in PROFILE_KEYS:
            raise UsageError(
                f"{path}: unknown key '{key}' in [tool.pyrule.slurm]",
                hint=suggest(key, PROFILE_KEYS) or f"keys are {', '.join(PROFILE_KEYS)}",
            )
        if isinstance(value, list) and key == "extra":
            value = " ".join(shlex.quote(str(v)) for v in value)
        out[key] = str(value)
    return out


# --- small helpers -------------------------------------------------------------------------


def _memory_killed(log: str) -> bool:
    """Whether slurmstepd wrote in the job's log that it killed the job for its memory."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, os.path.getsize(log) - 8192))
            tail = f.read()
    except OSError:
        return False
    return b"slurmstepd" in tail and (b"Exceeded job memory limit" in tail or b"exceeded memory limit" in tail)


def _shared(args: list[str]) -> list[str]:
    """sbatch options without those naming one job (its name and log): what an array shares."""
    own = ("--job-name=", "--output=", "--error=", "--open-mode=")
    return [a for a in args if not a.startswith(own)]


def _safe(name: str) -> str:
    safe = re.sub(r"[^\w.=,\[\]-]+", "_", name)
    if len(safe) > 120:
        import hashlib

        safe = safe[:100] + "-" + hashlib.sha256(name.encode()).hexdigest()[:12]
    return safe


def _job_name(name: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", "_", name)


def _number(value: Any) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _elapsed(text: str) -> float:
    """sacct Elapsed: [D-]HH:MM:SS -> seconds."""
    days, _, hms = text.strip().rpartition("-")
    try:
        seconds = 0.0
        for part in hms.split(":"):
            seconds = seconds * 60 + float(part)
        return seconds + (int(days) * 86400 if days else 0)
    except ValueError:
        return 0.0


def _state_exit_code(state: str, exit_field: str = "") -> int:
    """An exit code for a job whose wrapper wrote no usage file."""
    if state == "COMPLETED":
        return 0
    code, _, sig = exit_field.partition(":")
    if code.isdigit() and int(code):
        return int(code)
    if state == "FAILED" and sig.isdigit() and int(sig):
        return -int(sig)
    return {"CANCELLED": -15, "TIMEOUT": -15, "PREEMPTED": -15, "DEADLINE": -15, "OUT_OF_MEMORY": -9}.get(state, 1)


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: str, text: str, mode: int) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _slurm_id(key: str | int) -> str:
    """The Slurm job a key names: "ID" or "ID_TASK"; a packed job's "ID+I": its pack, "ID"."""
    return str(key).partition("+")[0]


def _pack_settings(profile: dict[str, str]) -> tuple[float, int, int | None]:
    """(pack_below seconds, pack_size, pack_cores or None) from `[tool.pyrule.slurm]` (removed from it)."""
    out: list[Any] = []
    for key, default, minimum, hint in (
        ("pack_below", "0", 0, "pack_below = 60 packs jobs whose runtime is under a minute; 0: only rules with group:"),
        ("pack_size", str(packing.DEFAULT_SIZE), 1, "pack_size = 50: at most 50 jobs per pack"),
        ("pack_cores", "", 1, "pack_cores = 8: a pack asks for at most 8 cores"),
    ):
        value = profile.pop(key, default)
        if value == "":
            out.append(None)
            continue
        try:
            number = float(value)
        except ValueError:
            number = -1
        if number < minimum or (key != "pack_below" and not number.is_integer()):
            raise UsageError(f"[tool.pyrule.slurm] {key} = {value}: not a number >= {minimum}", hint=hint)
        out.append(number if key == "pack_below" else int(number))
    return out[0], out[1], out[2]
