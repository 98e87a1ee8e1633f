"""Run jobs as processes on this machine; report their end and measurements.

Every job runs in its own session (so its whole tree is one process group that `os.killpg` can
stop), with cwd = workdir, stdin = /dev/null and stdout+stderr appended to its log. A shell job
is started by the run's spawner process (spawner.py: so that its peak memory is its own), which
reports its end, status and rusage over a socket; a Python body is a forked child of the
runner. Completion is event-driven: that socket and one pidfd per forked job in a selector
(fallback: SIGCHLD through `signal.set_wakeup_fd`), then `os.wait4` for the status and rusage. The tree
sampling of `TreeMonitor` runs from `wait()` via the selector timeout; there is no thread.

Spawning: shell jobs start through os.posix_spawn (vfork: ~0.7 ms at any RSS, where fork+exec
copies the page tables: 1.5 ms at 10 MB, 4.5 ms at 100 MB), in the spawner (or in the runner if
the spawner is lost), and a body that is one simple command skips bash (simple_command.py). A vfork child cannot set its own
parent-death signal, so one watchdog process per run stops every job group when the runner
dies (watchdog.py). Python bodies (and shell jobs in another directory) fork, and set
PR_SET_PDEATHSIG in the child.

A job ends when its first process exits: whatever it left running (in its group, or marked as
its own after leaving it: see procinfo's job marks) is stopped then, before its outputs are
checked, and its log says so (_stop_leftovers).
"""

from __future__ import annotations

import os
import selectors
import signal
import sys
import time
from collections import deque
from collections.abc import Callable

from pyrule.executors import simple_command
from pyrule.executors.base import Executor, JobResult, JobSpec, exit_code_of, read_report, resolve, which, write_files
from pyrule.executors.joblog import LogFiles
from pyrule.executors.spawner import Ended, Spawner
from pyrule.executors.watchdog import Watchdog
from pyrule.monitor import TreeMonitor
from pyrule.procinfo import boot_time, mark_self, marked_processes
from pyrule.record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    import resource

    from pyrule.state import RunningJob

_PR_SET_PDEATHSIG = 1
_SPAWNER = -1  # the selector's data for the spawner's socket (the others: a job's pid)
# What a job leaves running gets this long after SIGTERM, then SIGKILL.
_LEFTOVER_GRACE_S = 1.0
# A job that ran this long is looked for among all processes when it ends; a shorter one only
# among the pids allocated since it started (pids cannot wrap around twice meanwhile).
_FULL_SCAN_S = 1.0
_prctl_fn: Callable[..., int] | None = None


def _prctl() -> Callable[..., int]:
    """libc's prctl, through ctypes, loaded on first use: a run that only spawns (no forked
    child) never pays ctypes' import. _fork() loads it in the runner, for the child to inherit."""
    global _prctl_fn
    if _prctl_fn is None:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).prctl
        fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        fn.restype = ctypes.c_int
        _prctl_fn = fn
    return _prctl_fn


def _fork() -> int:
    """os.fork, with prctl loaded first: the child only has to call it."""
    _prctl()
    return os.fork()


def _find_shell() -> list[str]:
    bash = "/bin/bash" if os.access("/bin/bash", os.X_OK) else which("bash")
    if bash:
        return [bash, "-euo", "pipefail", "-c"]
    return [which("sh") or "/bin/sh", "-e", "-c"]


def _child_common(parent: int, log_fd: int, devnull: int, workdir: str) -> None:
    """Child side, before exec or a Python body: own session, death signal, fds, cwd."""
    os.setsid()
    # PR_SET_PDEATHSIG covers only this direct child, and fires when the *thread* that forked
    # it exits: start() must run on a thread that lives as long as the run (normally the main
    # one). Grandchildren are not covered; the scheduler's recovery on the next run stops them
    # through the process groups it recorded.
    _prctl()(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        # The runner died before the prctl took effect: nobody would ever deliver the signal.
        os.kill(os.getpid(), signal.SIGKILL)
    os.dup2(devnull, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.chdir(workdir)


def _exec_child(parent: int, log_fd: int, devnull: int, workdir: str, argv: list[str], env: dict[str, str]) -> None:
    try:
        _child_common(parent, log_fd, devnull, workdir)
        # exec resets caught signals but keeps ignored ones; Python ignores SIGPIPE and
        # SIGXFSZ, which would make `cmd | head` report EPIPE errors (as Popen restore_signals).
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the runner's inheritable fds, if any
        os.execve(argv[0], argv, env)
    except BaseException as e:  # nothing may return into the runner's code
        try:
            os.write(2, f"pyrule: cannot start job: {e}\n".encode())
        finally:
            os._exit(127)


_exit_code = exit_code_of


def _python_child(
    parent: int,
    log_fd: int,
    devnull: int,
    workdir: str,
    body: Callable[[], None],
    env: dict[str, str],
    close_fds: list[int],
) -> None:
    code = 1
    # Keep the inherited stream objects alive: if they were freed, their finalizers would
    # flush the runner's pending output into this job's log.
    inherited = (sys.stdin, sys.stdout, sys.stderr)
    try:
        _child_common(parent, log_fd, devnull, workdir)
        try:
            signal.set_wakeup_fd(-1)
        except ValueError:
            pass
        # Every other descriptor of the runner's (its lock files, the store, ...) would live on in
        # a daemon the body forks, and with it a lock of a run that died: /dev/null takes their
        # numbers (objects of the runner's still name them: a closed number could be reused).
        ours = {*close_fds, log_fd, devnull}
        for fd in _open_fds():
            if fd > 2 and fd not in ours:
                os.dup2(devnull, fd, inheritable=False)  # (the listing's own fd, closed since: harmless)
        # The executor's selector, pidfds and wakeup pipe, and the originals of fds 0-2.
        for fd in ours:
            os.close(fd)
        # The runner's handlers (SIGTERM -> shut down the run) must not run in a job.
        for sig in (
            signal.SIGTERM,
            signal.SIGHUP,
            signal.SIGCHLD,
            signal.SIGALRM,
            signal.SIGUSR1,
            signal.SIGUSR2,
            signal.SIGQUIT,
        ):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.update(env)
        if "PYRULE_JOB" in env:  # /proc shows the runner's environment here: mark it another way
            mark_self(env["PYRULE_JOB"])
        # New objects on fds 0-2: the inherited ones may be a test runner's capture buffers.
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
        body()
        code = 0
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException:  # a failing body is a failed job, nothing more
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream not in inherited:
                    stream.flush()
            except BaseException:
                pass
        os._exit(code)


@record
class _Job:
    spec: JobSpec
    pid: int
    start: float  # time.time()
    start_mono: float
    pidfd: int  # -1 in SIGCHLD mode
    report: str | None
    next_sample: float
    log_fd: int  # its log while still unnamed (joblog.py), else -1
    script: str = ""  # the script file a long shell body runs from, removed when it ends
    log_header: int = -1  # its log's header size once named while it runs (a quiet success removes it)


@record(slots=True)
class _Request:
    """A shell job asked of the spawner, whose reply (its pid) has not been read yet."""

    job: _Job  # its pid still 0
    argv: list[str]  # the shell's, should the runner have to start it itself (the spawner lost)
    env: dict[str, str]  # the job's own variables, on top of the runner's
    log_fd: int  # kept open until the reply (the spawner got its own copy with the request)
    unnamed: bool  # the log is unnamed (joblog.py): the job keeps log_fd


class LocalExecutor(Executor):
    """Runs jobs as child processes of the calling process.

    Not thread-safe: call every method from one thread (the one that lives for the run).
    """

    def __init__(self, sample_interval: float = 0.2, use_pidfd: bool | None = None, pid_later: bool = True) -> None:
        self.sample_interval = sample_interval
        # start() sends a shell job's request to the spawner and returns without its pid (0): the
        # pid comes out of assigned() after a wait(), and a spawn that failed out of
        # failed_starts(). False: start() waits for the spawner's reply and returns the pid.
        self._pid_later = pid_later
        self._pending: deque[_Request] = deque()  # asked of the spawner, in order, no reply read yet
        self._assigned: list[tuple[str, int]] = []  # (name, pid) of jobs whose pid came after start()
        self._unstarted: list[tuple[str, int, str]] = []  # (name, errno, why) of jobs whose spawn failed after start()
        self._shell = _find_shell()
        # Shell jobs start through posix_spawn (vfork: no copy of the runner's page tables, ~2x
        # cheaper than fork+exec from a runner of tens of MB); one simple command skips the shell
        # (simple_command.py). A vfork child cannot set a parent-death signal: the watchdog
        # process stops every job group if the runner dies.
        self._watchdog = Watchdog()
        # Shell jobs are forked by a small process (spawner.py), so that their peak memory is
        # their own, not the runner's; started now, it imports while the runner prepares.
        self._spawner = Spawner(on_lost=self._sel_forget)
        self._spawned: set[int] = set()  # the running jobs the spawner started (and reaps)
        self._logs = LogFiles()
        self._host = os.uname().nodename
        self._programs: dict[tuple[str, str], str | None] = {}  # (command, PATH) -> executable
        self._cwd = os.getcwd()
        self._environ = dict(os.environ)  # decoded once, not for every job
        self._jobs: dict[int, _Job] = {}
        # The last jobs reaped: a job's leftovers are looked for among the pids allocated since it
        # started, where the other jobs' own processes (marked as theirs) need not be read.
        self._reaped: deque[int] = deque(maxlen=64)
        self._done: list[JobResult] = []  # reaped, not yet returned by wait()
        self._monitor = TreeMonitor()
        self._sel = selectors.DefaultSelector()
        self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        if use_pidfd is None:
            use_pidfd = _pidfd_works()
        self._use_pidfd = use_pidfd
        self._wake_r = self._wake_w = -1
        self._old_wakeup = -1
        self._old_sigchld: object = None
        self._hwm = 0  # the runner's own peak RSS, as last read (see _reap)
        self._run_mark = ""  # the RUN-ID of PYRULE_JOB=RUN-ID/NAME, which marks the run's job processes
        self._stopping = False  # in terminate_all or kill_all
        if not use_pidfd:
            self._install_sigchld()
        if os.environ.get("PYRULE_SPAWNER", "1") != "0":  # 0: the runner spawns (measurements)
            try:
                self._spawner.start()
                self._sel.register(self._spawner.fd, selectors.EVENT_READ, _SPAWNER)
            except OSError:
                pass  # the runner spawns itself, as before

    # -- how the state store records a local job: its process group (0 until known) ----------

    @classmethod
    def owns(cls, record: int) -> bool:
        return record >= 0

    @classmethod
    def describe(cls, job: RunningJob) -> str:
        # The store has the job's process group only from the runner's next flush: until then,
        # its process is found by its mark (PYRULE_JOB=RUN-ID/JOB).
        pid = job.pgid if job.pgid > 0 else min(marked_processes(f"{job.run_id}/{job.name}"), default=0)
        return f"job pid {pid}" if pid else "job starting"

    @classmethod
    def stop_leftover(cls, job: RunningJob, warn: Callable[[str], None], log: Callable[[str], None],
                      whose: str = "left by a pyrule that died") -> bool:
        """Its recorded process group, and the groups of the processes marked as the job's
        (PYRULE_JOB), because pyrule may have died before it recorded the group (pgid 0), and a
        process may have left its group."""
        marked = marked_processes(f"{job.run_id}/{job.name}")
        # After a reboot (power loss) the recorded group id may belong to anything now.
        groups = {job.pgid} if job.pgid > 0 and job.started > boot_time() else set()
        for pid in marked:
            try:
                groups.add(os.getpgid(pid))
            except OSError:
                pass
        groups.discard(os.getpgrp())
        for pgid in sorted(groups):
            try:
                os.killpg(pgid, signal.SIGKILL)
                warn(f"stopped process group {pgid} left running by a pyrule that died ({job.name})")
            except (ProcessLookupError, PermissionError):
                pass
        for pid in marked:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return False

    # -- running jobs -------------------------------------------------------------------------

    def _header(self, spec: JobSpec) -> bytes:
        """The first line of pyrule's own log of a job: when, where and what it ran (one line:
        the newlines of a multi-line body written `\\n`, so the failure's tail can leave it out)."""
        when = time.strftime("%Y-%m-%d %H:%M:%S")
        what = "(a Python body)" if spec.shell is None else spec.shell.strip().replace("\n", "\\n")
        again = f", attempt {spec.attempt}" if spec.attempt > 1 else ""
        return f"# pyrule: {spec.name} started {when} on {self._host}{again}: {what}\n".encode("utf-8", "surrogateescape")

    # --- the Executor interface -------------------------------------------------------

    def start(self, spec: JobSpec) -> int:
        if (spec.shell is None) == (spec.python is None):
            raise ValueError(f"job {spec.name}: exactly one of shell and python is required")
        workdir = spec.workdir
        for d in spec.output_dirs:
            _output_dir(workdir, d)
        write_files(workdir, spec.files)
        log = resolve(workdir, spec.log_path)
        env = dict(spec.env)
        report = None
        if spec.report_path:
            report = os.path.abspath(resolve(workdir, spec.report_path))
            env["PYRULE_REPORT"] = report
            try:  # a previous attempt's values must not come back as this one's
                os.unlink(report)
            except FileNotFoundError:
                pass
        parent = os.getpid()
        self._run_mark = env.get("PYRULE_JOB", "").partition("/")[0]
        self._watchdog.ready(self._run_mark)
        try:
            log_fd, unnamed = self._logs.open(log, spec.log_optional, spec.attempt <= 1,
                                              self._header(spec) if spec.log_optional else b"")
        except OSError as e:  # e.g. a full disk: say it is the log, not the job, that failed
            raise OSError(e.errno, f"its log could not be written: {e.strerror}", spec.log_path) from None
        script = ""
        asked = False
        try:
            if spec.shell is not None:
                argv = [*self._shell, spec.shell]
                if len(spec.shell) > _LONG_BODY // 4 and len(spec.shell.encode()) > _LONG_BODY and spec.script_path:
                    script = os.path.abspath(resolve(workdir, spec.script_path))
                    _write_script(script, spec.shell)
                    argv = [*self._shell[:-1], script]  # the shell's flags, without -c
                start, start_mono = time.time(), time.monotonic()
                job = _Job(spec, 0, start, start_mono, -1, report, start_mono + self.sample_interval,
                           log_fd if unnamed else -1, script)
                if self._via_spawner(spec.shell, argv, env, log_fd, os.path.abspath(workdir)):
                    # Asked: the runner goes on while the spawner starts it; its pid comes with the
                    # reply (_take_replies). Until then a stop finds it by its mark (PYRULE_JOB).
                    self._pending.append(_Request(job, argv, env, log_fd, unnamed))
                    asked = True
                else:
                    pid = self._spawn_here(spec.shell, argv, env, log_fd, workdir)
            else:
                assert spec.python is not None
                own_fds = self._own_fds()
                start, start_mono = time.time(), time.monotonic()
                job = _Job(spec, 0, start, start_mono, -1, report, start_mono + self.sample_interval,
                           log_fd if unnamed else -1, script)
                pid = _fork()
                if pid == 0:
                    _python_child(parent, log_fd, self._devnull, workdir, spec.python, env, own_fds)
        except BaseException:
            os.close(log_fd)
            if script:
                _unlink(script)
            raise
        if asked:
            return 0 if self._pid_later else self._wait_pid(spec.name)
        try:
            self._track(job, pid)
        finally:
            if not unnamed:
                os.close(log_fd)
        return pid

    def _track(self, job: _Job, pid: int) -> None:
        """A job whose process exists: told to the watchdog, its end watched, its tree sampled."""
        # At once: until the watchdog knows the group, a pyrule killed now would leave the job
        # to the watchdog's search by marks (the watchdog was started before the spawn: start()).
        self._watchdog.started(pid)
        if self._use_pidfd and pid not in self._spawned:  # the spawner reports its jobs' ends
            pidfd = -1
            try:
                # A child that already exited is a zombie until wait4, so this cannot miss it.
                pidfd = os.pidfd_open(pid)
                self._sel.register(pidfd, selectors.EVENT_READ, pid)
            except BaseException:  # e.g. out of fds: never leave a job running untracked
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self._watchdog.reaped(pid)
                if pidfd >= 0:
                    os.close(pidfd)
                raise
            job.pidfd = pidfd
        job.pid = pid
        self._jobs[pid] = job
        self._monitor.add(pid)

    def _spawn_here(self, script: str, argv: list[str], env: dict[str, str], log_fd: int, workdir: str) -> int:
        """Start a shell job from the runner itself (no spawner, or it could not take the job)."""
        full_env = {**self._environ, **env}
        if os.path.abspath(workdir) == self._cwd:  # posix_spawn cannot chdir (Python < 3.13)
            return self._spawn(script, argv, full_env, log_fd)
        parent = os.getpid()
        pid = _fork()
        if pid == 0:
            _exec_child(parent, log_fd, self._devnull, workdir, argv, full_env)
        return pid

    def _take_replies(self) -> None:
        """The spawner's replies to the requests, in their order: each job's pid (assigned()) or
        why it could not start (failed_starts()). The jobs it was asked for and will never answer
        (it was lost) were perhaps forked, perhaps not: their marked processes are stopped, and
        the runner starts them itself (or, while stopping, reports them not started)."""
        replies, pending = self._spawner.replies, self._pending
        while replies and pending:
            reply, req = replies[0], pending[0]
            if reply[0] == "S":
                pid = int(reply[1])
                if pid not in self._jobs:  # (not seen by a nested call already)
                    self._spawned.add(pid)
                    self._track(req.job, pid)
                    self._assigned.append((req.job.spec.name, pid))
            else:
                self._not_started(req, int(reply[1]), str(reply[2]))
            replies.popleft()
            pending.popleft()
            if not req.unnamed or reply[0] != "S":
                os.close(req.log_fd)
        while pending and self._spawner.lost:
            req = pending.popleft()
            if mark := req.env.get("PYRULE_JOB"):  # a job nobody would know of must not run on
                _signal(marked_processes(mark), signal.SIGKILL)
            try:
                if self._stopping:
                    raise OSError(0, "pyrule's spawner process was lost (killed?) as the run stopped")
                assert req.job.spec.shell is not None
                pid = self._spawn_here(req.job.spec.shell, req.argv, req.env, req.log_fd, req.job.spec.workdir)
                self._track(req.job, pid)
                self._assigned.append((req.job.spec.name, pid))
            except OSError as e:
                self._not_started(req, e.errno or 0, e.strerror or str(e))
                os.close(req.log_fd)
            else:
                if not req.unnamed:
                    os.close(req.log_fd)

    def _not_started(self, req: _Request, errno: int, why: str) -> None:
        self._unstarted.append((req.job.spec.name, errno, why))
        if req.job.script:
            _unlink(req.job.script)

    def _settle(self) -> None:
        """Wait for the spawner's reply to every request: every job asked for runs (its pid is
        known) or did not start."""
        if self._pending:
            self._spawner.settle()
            self._take_replies()

    def _pid_of(self, name: str) -> int:
        return next((pid for pid, j in self._jobs.items() if j.spec.name == name), 0)

    def _wait_pid(self, name: str) -> int:
        """start() without pid_later: the job's pid, or the OSError its spawn failed with."""
        self._settle()
        pid = self._pid_of(name)
        failed = [u for u in self._unstarted if u[0] == name]
        if failed:
            self._unstarted.remove(failed[0])
            raise OSError(failed[0][1], failed[0][2])
        return pid

    def pid(self, name: str) -> int:
        """The pid of running job `name` (0: none), once the spawner's reply is read."""
        self._settle()
        return self._pid_of(name)

    def assigned(self) -> list[tuple[str, int]]:
        out, self._assigned = self._assigned, []
        return out

    def failed_starts(self) -> list[tuple[str, str]]:
        out, self._unstarted = self._unstarted, []
        return [(name, f"cannot start: {why}") for name, _errno, why in out]

    def wait(self, timeout: float | None) -> list[JobResult]:
        if self._done or self._unstarted:
            self._reap_ready(0)
        elif self._jobs or self._pending:
            deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
            while not self._done and not self._unstarted and (self._jobs or self._pending):
                now = time.monotonic()
                delay = min((j.next_sample for j in self._jobs.values()), default=now + self.sample_interval) - now
                if deadline is not None:
                    if now >= deadline:
                        break
                    delay = min(delay, deadline - now)
                self._reap_ready(max(delay, 0.0))
        done, self._done = self._done, []
        return done

    def running(self) -> list[int]:
        self._settle()
        return list(self._jobs)

    def terminate_all(self, grace: float = 5.0) -> None:
        """SIGTERM every job's group, and those of the processes that left them, SIGKILL after
        grace; the reaped jobs' results come out of the next wait()."""
        self._stopping = True
        self._settle()  # a job asked of the spawner may run already: its pid first
        groups = list(self._jobs)  # each job leads its own session/process group
        groups += self._stray_groups(groups)
        deadline = time.monotonic() + grace
        self._signal_groups(groups, signal.SIGTERM)
        self._signal_groups(groups, signal.SIGCONT)  # a stopped process would never see TERM
        while self._jobs and (left := deadline - time.monotonic()) > 0:
            self._reap_ready(left, sample=False)
        # Members that outlive their leader (they ignore SIGTERM, or are still exiting) get
        # the rest of the grace period; polling is fine on this one-off shutdown path.
        groups = [g for g in groups if _group_alive(g)]
        while groups and time.monotonic() < deadline:
            time.sleep(0.02)
            groups = [g for g in groups if _group_alive(g)]
        self._signal_groups(groups, signal.SIGKILL)
        self._reap_all_blocking()
        self._kill_strays()
        _wait_groups_gone(groups, 2.0)

    def kill_all(self) -> None:
        """SIGKILL every job's group, and what left them, now; the results come out of the next wait()."""
        self._stopping = True
        self._settle()  # a job asked of the spawner may run already: its pid first
        groups = list(self._jobs)
        groups += self._stray_groups(groups)
        self._signal_groups(groups, signal.SIGKILL)
        self._reap_all_blocking()
        self._kill_strays()

    # --- extras -----------------------------------------------------------------------

    def close(self) -> None:
        """Release the selector, /dev/null, the SIGCHLD setup and the watchdog (which stops jobs
        still running: call it after every job was reaped)."""
        for job in self._jobs.values():
            if job.pidfd >= 0:
                os.close(job.pidfd)
        for req in self._pending:  # (after an error: the watchdog stops them, by their marks)
            os.close(req.log_fd)
        self._sel.close()
        os.close(self._devnull)
        self._spawner.close(idle=not (self._spawned or self._pending or self._spawner.asked))
        self._watchdog.close(jobs_left=bool(self._jobs or self._pending))
        self._logs.close()
        if self._wake_r >= 0:
            signal.set_wakeup_fd(self._old_wakeup)
            signal.signal(signal.SIGCHLD, self._old_sigchld)  # type: ignore[arg-type]
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals --------------------------------------------------------------------

    def _via_spawner(self, script: str, argv: list[str], env: dict[str, str], log_fd: int, cwd: str) -> bool:
        """Ask the spawner to start the job: the command itself when it is one simple command
        (then the shell if a redirection or the exec fails, as _spawn), else the shell. `env`: the
        job's own variables, on top of the runner's. False: the spawner cannot (lost, or too big a
        request): the caller spawns it."""
        if self._spawner.sock is None:
            return False
        cmd = simple_command.parse(script)
        program = self._program(cmd.argv[0], env.get("PATH", self._environ.get("PATH", os.defpath))) if cmd else None
        attempts = [(program, cmd.argv, cmd.redirects)] if cmd is not None and program is not None else []
        attempts.append((argv[0], argv, []))
        if self._spawner.request(cwd, self._environ, env, attempts, [self._devnull, log_fd]):
            return True
        self._take_replies()  # lost now, perhaps: what it was asked before is the runner's
        return False

    def _spawn(self, script: str, argv: list[str], env: dict[str, str], log_fd: int) -> int:
        """posix_spawn the job: the command itself when it is one simple command, else the shell."""
        actions = [(os.POSIX_SPAWN_DUP2, self._devnull, 0), (os.POSIX_SPAWN_DUP2, log_fd, 1),
                   (os.POSIX_SPAWN_DUP2, log_fd, 2)]
        cmd = simple_command.parse(script)
        program = self._program(cmd.argv[0], env.get("PATH", os.defpath)) if cmd else None
        if cmd is not None and program is not None:
            try:
                return os.posix_spawn(program, cmd.argv, env, setsid=True, setsigmask=(),
                                      setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
                                      file_actions=actions + [(os.POSIX_SPAWN_OPEN, fd, path, flags, 0o666)
                                                              for fd, path, flags in cmd.redirects])
            except OSError:
                pass  # a redirection or the exec failed: bash fails the same way, and says so in the log
        return os.posix_spawn(argv[0], argv, env, setsid=True, setsigmask=(),
                              setsigdef=(signal.SIGPIPE, signal.SIGXFSZ), file_actions=actions)

    def _program(self, name: str, path: str) -> str | None:
        key = (name, path)
        if key not in self._programs:
            self._programs[key] = which(name, path=path)
        return self._programs[key]

    def _inherited(self, peak: int) -> bool:
        """Whether a child's ru_maxrss may be the runner's own high-water mark: a spawned (vfork)
        or forked child starts from the runner's memory, and the kernel keeps that mark across
        exec, so `true` from a 200 MB runner reports 200 MB. Re-read only when it looks larger."""
        if peak <= self._hwm:
            return True
        self._hwm = _self_hwm()
        return peak <= self._hwm

    def _sel_forget(self, fd: int) -> None:
        try:
            self._sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    def _own_fds(self) -> list[int]:
        fds = [self._sel.fileno()] if hasattr(self._sel, "fileno") else []
        fds += [j.pidfd for j in self._jobs.values() if j.pidfd >= 0]
        fds += [fd for fd in (self._wake_r, self._wake_w, self._watchdog.fd, self._spawner.fd) if fd >= 0]
        fds += [j.log_fd for j in self._jobs.values() if j.log_fd >= 0]
        fds += [r.log_fd for r in self._pending]
        return fds + self._logs.spare_fds()

    def _reap_ready(self, timeout: float, sample: bool = True) -> None:
        """Wait up to timeout for ends; sample due trees; reap the ended jobs into _done."""
        events = self._sel.select(timeout)
        if sample:
            self._sample_due()
        # The spawner's replies wake no one (spawner.py): read with an end, or whenever it wakes.
        if self._pending or any(key.data == _SPAWNER for key, _ in events):
            self._spawner.poll()
        if self._pending:
            self._take_replies()
        if self._use_pidfd:
            pids = [key.data for key, _ in events if key.data != _SPAWNER]
            flags = 0
        else:
            if any(key.data != _SPAWNER for key, _ in events):
                _drain(self._wake_r)
            pids = [pid for pid in self._jobs if pid not in self._spawned]
            flags = os.WNOHANG
        pids += [pid for pid in self._spawner.ended if pid in self._jobs]
        if self._spawner.lost:
            pids += [pid for pid in self._spawned if pid in self._jobs]
        for pid in pids:
            self._reap(pid, flags)

    def _sample_due(self) -> None:
        now = time.monotonic()
        # Coalesce: trees due within a quarter interval are sampled in the same pass.
        horizon = now + self.sample_interval / 4
        due = [pid for pid, j in self._jobs.items() if j.next_sample <= horizon]
        if not due:
            return
        self._monitor.sample(due)
        for pid in due:
            job = self._jobs[pid]
            job.next_sample = now + self.sample_interval
            if job.log_fd >= 0 and self._logs.name(job.log_fd, resolve(job.spec.workdir, job.spec.log_path)):
                job.log_header = self._logs.named(job.log_fd)
                os.close(job.log_fd)  # a longer job: its log gets its name now, for `tail -f`
                job.log_fd = -1

    def _reap(self, pid: int, flags: int) -> None:
        """wait4 one job (unless WNOHANG finds it running) and queue its result in _done.

        The runner's signal handler may call kill_all in the middle of any method here, or
        raise out of wait(): so a result goes to _done at once (the next wait() returns it),
        and a pid that a nested call already reaped is skipped.
        """
        ru: resource.struct_rusage | Ended | None
        lost = None
        if pid in self._spawned:
            ru = self._spawner.ended.pop(pid, None)
            if ru is None and (flags == 0 or self._spawner.lost):
                ru = self._spawner.wait_for(pid)
                if ru is None:  # the spawner is lost: its job's end cannot be known; it must not run on
                    self._signal_groups([pid], signal.SIGKILL)
            elif ru is None:
                return
            self._spawned.discard(pid)
            got, status = pid, ru.status if ru else 255 << 8
            if ru is None:
                lost = "its end was not seen: pyrule's spawner process was lost (killed?); the job was stopped"
        else:
            try:
                got, status, ru = os.wait4(pid, flags)
            except ChildProcessError:  # reaped, but an exception came before its result was made
                got, status, ru = pid, 255 << 8, None
        if got == 0:
            return
        end = time.time()
        job = self._jobs.pop(pid, None)
        if job is None:
            return
        if job.pidfd >= 0:
            self._sel.unregister(job.pidfd)
            os.close(job.pidfd)
        self._watchdog.reaped(pid)
        stopped = [] if self._stopping else self._stop_leftovers(job, pid)
        self._reaped.append(pid)
        if job.log_fd >= 0:
            self._logs.finish(job.log_fd, resolve(job.spec.workdir, job.spec.log_path), not _group_exists(pid))
        elif job.log_header >= 0 and status == 0:
            self._logs.remove_quiet(resolve(job.spec.workdir, job.spec.log_path), job.log_header)
        if job.script:
            _unlink(job.script)
        st = self._monitor.remove(pid)
        ru_cpu = ru.ru_utime + ru.ru_stime if ru else 0.0
        kernel_peak = ru.ru_maxrss * 1024 if ru else 0
        # wait4's rusage holds the child and the descendants it reaped (ru_maxrss: the largest
        # single one); the samples see the tree's sum while it ran. Each misses something.
        cpu = max(ru_cpu, st.cpu_s)
        # But for a child of the runner, ru_maxrss starts at the runner's own peak (see _inherited):
        # it counts only above it; below, only samples measure, and a job shorter than one sample
        # interval reports 0. A job of the spawner's starts from the spawner's few MB: its own.
        if isinstance(ru, Ended):
            peak = max(kernel_peak, st.peak_rss_bytes)
        else:
            peak = max(0 if self._inherited(kernel_peak) else kernel_peak, st.peak_rss_bytes)
        result = JobResult(
            name=job.spec.name,
            exit_code=os.waitstatus_to_exitcode(status),
            start=job.start,
            end=end,
            wall_s=time.monotonic() - job.start_mono,
            cpu_s=cpu,
            peak_rss_bytes=peak,
            reported=read_report(job.report) if job.report else {},
            pid=pid,
            reason=lost,
            stopped=stopped,
        )
        self._done.append(result)

    def _stop_leftovers(self, job: _Job, pid: int) -> list[str]:
        """Stop what the ended job left running (in its group, or marked as its own after leaving
        it: a setsid writer, a daemon), and say so in its log. Cheap when there is none: one
        killpg probe and a look at the pids allocated since the job started."""
        mark = job.spec.env.get("PYRULE_JOB")
        recent = time.monotonic() - job.start_mono < _FULL_SCAN_S
        others = {*self._jobs, *self._reaped} if recent else ()
        pids = set(marked_processes(mark, newer_than=pid if recent else 0, own_jobs=True, skip=others)) if mark else set()
        if not pids and not _group_exists(pid):
            return []
        groups = {pid} | {g for g in map(_pgid, pids) if g > 0}
        groups.discard(os.getpgrp())
        found = _members(groups, pids)
        if not found:
            return []  # only zombies
        self._signal_groups(list(groups), signal.SIGTERM)
        self._signal_groups(list(groups), signal.SIGCONT)
        _signal(pids, signal.SIGTERM)
        deadline = time.monotonic() + _LEFTOVER_GRACE_S
        while _members(groups, pids) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._signal_groups(list(groups), signal.SIGKILL)
        _signal(pids, signal.SIGKILL)
        _wait_groups_gone(list(groups), 2.0)
        stopped = [f"{p} ({comm})" for p, comm in sorted(found.items())]
        note = "".join(f"pyrule: stopped process {d}, left running when the job ended\n" for d in stopped)
        try:
            if job.log_fd >= 0:
                os.write(job.log_fd, note.encode())
            else:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
                fd = os.open(resolve(job.spec.workdir, job.spec.log_path), flags, 0o666)
                try:
                    os.write(fd, note.encode())
                finally:
                    os.close(fd)
        except OSError:  # the runner says so too (JobResult.stopped)
            pass
        return stopped

    def _stray_groups(self, groups: list[int]) -> list[int]:
        """The groups of the run's job processes that left their job's group."""
        own = {os.getpgrp(), *groups}
        return sorted({g for g in map(_pgid, self._strays()) if g > 0 and g not in own})

    def _strays(self) -> list[int]:
        return marked_processes(self._run_mark + "/", prefix=True, own_jobs=True) if self._run_mark else []

    def _kill_strays(self) -> None:
        """After the groups: SIGKILL any process still marked as one of the run's jobs (one
        forked meanwhile into a new session)."""
        _signal(self._strays(), signal.SIGKILL)

    def _reap_all_blocking(self) -> None:
        for pid in list(self._jobs):
            self._reap(pid, 0)

    def _signal_groups(self, groups: list[int], sig: int) -> None:
        for pgid in groups:
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                # A child signalled right after fork may not have called setsid yet: its group
                # does not exist, but the unreaped pid is still ours to signal.
                if pgid in self._jobs:
                    try:
                        os.kill(pgid, sig)
                    except ProcessLookupError:
                        pass
            except PermissionError:
                pass

    def _install_sigchld(self) -> None:
        # Fallback for kernels without pidfd_open (< 5.3): SIGCHLD's C handler writes to the
        # wakeup pipe, which the selector watches. Main thread only; it replaces any wakeup fd
        # set before (restored by close()).  Every wakeup polls every job with WNOHANG.
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_sigchld = signal.signal(signal.SIGCHLD, lambda *_: None)
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)


def _pidfd_works() -> bool:
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def _open_fds() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return []


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except OSError:
        return 0


def _signal(pids, sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _members(groups: set[int], pids: set[int]) -> dict[int, str]:
    """pid -> command name of the live (not zombie) processes in `groups` or among `pids`."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                comm, _, rest = f.read().partition(b" (")[2].rpartition(b")")
        except OSError:
            continue
        fields = rest.split()  # state, ppid, pgrp
        pid = int(entry.name)
        if fields and fields[0] not in (b"Z", b"X") and (int(fields[2]) in groups or pid in pids):
            found[pid] = comm.decode(errors="replace")
    return found


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


# exec takes no argument over 128 KiB (MAX_ARG_STRLEN: E2BIG): a body over 64 KiB runs from a file.
_LONG_BODY = 1 << 16


def _write_script(path: str, body: str) -> None:
    try:
        f = open(path, "w", encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        f = open(path, "w", encoding="utf-8", errors="surrogateescape")
    with f:
        f.write(body)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _output_dir(workdir: str, directory: str) -> None:
    """Create an output's directory; a file in the way is said in words, not as 'File exists'."""
    try:
        _ensure_dir(resolve(workdir, directory))
    except OSError as e:
        part = directory
        while part and not (os.path.lexists(resolve(workdir, part)) and not os.path.isdir(resolve(workdir, part))):
            part = os.path.dirname(part)
        why = f"{part} is not a directory" if part else e.strerror
        raise OSError(e.errno, f"cannot create directory {directory} for its outputs: {why}") from None


def _ensure_dir(path: str) -> None:
    # One stat when it exists; makedirs(exist_ok=True) pays for a failed mkdir and an exception.
    if path and not os.path.isdir(path):
        os.makedirs(path, exist_ok=True)


def _self_hwm() -> int:
    """The runner's peak RSS (VmHWM), in bytes."""
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _group_exists(pgid: int) -> bool:
    """Whether any process is left in the group, zombies included (one we may not signal too)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _group_alive(pgid: int) -> bool:
    """Whether a member of the group still runs. Zombies do not count: orphans killed with
    their leader wait for init to reap them (~1.5 s on some container inits), yet
    killpg(pgid, 0) still finds them."""
    if not _group_exists(pgid):
        return False
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        # after the command: state, ppid, pgrp
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _wait_groups_gone(groups: list[int], limit: float) -> None:
    """After SIGKILL, members die at once unless stuck in the kernel; wait for that (bounded)."""
    deadline = time.monotonic() + limit
    while groups and time.monotonic() < deadline:
        groups = [g for g in groups if _group_alive(g)]
        if groups:
            time.sleep(0.01)
