"""A stale job's life in a run: locked, re-checked, started, ended (ran, retried or failed),
stopped; and each job's outcome (`JobOutcome`), as stats.tsv/json record it.

The runner (run.py) drives the loop and the schedule (schedule.py); `JobLife` does what happens
to one job at each step, against the store, the locks, the journal and the executor it is
given, and tells each fact to the run's event sink (events.py).
"""

from __future__ import annotations

import os
import time

from .decide import InputError
from .errors import UsageError
from .outputs import protect, remove
from .procinfo import alive_since, start_time
from .project import STATE_DIR
from .record import field, record
from .state import StateError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Container
    from typing import Any

    from .cache import JobCache
    from .decide import Decider, Decision
    from .events import Events
    from .executors.base import Executor, JobResult
    from .graph import Job
    from .journal import Journal
    from .recover import Recovery
    from .stat_cache import StatCache
    from .state import State


# The `reported` of every outcome whose job reported nothing: one dict shared by all (a dict a
# job is 64 bytes, 64 MB at a million jobs). Never changed in place: an outcome is given a new one.
NO_REPORT: dict[str, str] = {}


@record(slots=True)  # one per job: no per-instance __dict__
class JobOutcome:
    """One job's fate in a run, as written to stats.tsv/json. `log`: the job's log, once it started."""

    job: Job
    status: str  # ran, up-to-date, failed, interrupted, skipped
    reason: str | None = None
    start: float = 0.0
    end: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_bytes: int = 0
    exit_code: int | None = None
    attempts: int = 0
    reported: dict[str, str] = NO_REPORT
    # The log's path, or True: the one jobspec.log_path names (computed when asked: ~80 bytes a
    # job not kept through a run). Read as `log`.
    logged: str | bool | None = None

    @property
    def log(self) -> str | None:
        if self.logged is True:
            from .jobspec import log_path

            return log_path(self.job)
        return self.logged or None

    @log.setter
    def log(self, path: str | None) -> None:
        self.logged = path


@record
class RunSetting:
    """What a run's jobs are started with (from run.Options and the Pipefile)."""

    run_id: str
    run_dir: str
    executor: str  # its name, as the journal records it
    executor_options: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)  # NAME=VALUE: a Slurm node loads with them
    print_commands: bool = False
    namespace: dict[str, Any] = field(default_factory=dict)  # the Pipefile's (jobspec.job_spec)
    pipefile: str | None = None


_START: float | None = None


def self_start() -> float:
    """This process's start time, as the store and the journal record a run's owner."""
    global _START
    if _START is None:
        _START = start_time() or time.time()
    return _START


class JobLife:
    """The jobs of one run, one step at a time. `outcomes` (job name -> JobOutcome) is every
    job's fate so far; `running` (name -> (job, lock, start, signature)) what runs now."""

    def __init__(self, setting: RunSetting, state: State, decider: Decider, stats: StatCache,
                 producers: dict[str, Job], lock_dir: int | None, recovery: Recovery, journal: Journal,
                 events: Events):
        self.setting, self.events = setting, events
        self.state, self.journal, self.lock_dir, self.recovery = state, journal, lock_dir, recovery
        self.decider, self.stats, self.producers = decider, stats, producers
        self.outcomes: dict[str, JobOutcome] = {}
        self.running: dict[str, tuple[Job, Any, float, Any]] = {}
        self.attempts: dict[Job, int] = {}  # the jobs started and not ended (or ended to be retried)
        self.executor: Executor | None = None  # made by open(), when there is a job to start
        self.kind: type[Executor] | None = None  # its class
        self._told_waiting: set[str] = set()  # jobs we said wait for another pyrule's job of their name
        self.cache: JobCache | None = None  # cache.py: set by the run with --cache, $PYRULE_CACHE or `cache:`

    def open(self, kind: type[Executor]) -> Executor:
        """Make the executor (of class `kind`), and the directory jobs report in (jobspec.job_spec)."""
        self.kind = kind
        self.executor = kind(**self.setting.executor_options)
        os.makedirs(os.path.join(self.setting.run_dir, "reports"), exist_ok=True)
        return self.executor

    def close(self) -> None:
        if self.executor is not None:  # the local one lets its watchdog go
            self.executor.close()

    # -- outcomes without running --------------------------------------------------------------

    def up_to_date(self, d: Decision) -> None:
        if d.adopt and d.sig is not None:
            self.state.succeeded(d.job.name, d.job.rule.name, d.sig[0], d.sig[1])
        # What it reported when it last ran stays with it until it runs again (issue 20).
        reported = self.state.reports().get(d.job.name)
        self.outcomes[d.job.name] = JobOutcome(d.job, "up-to-date", d.why, reported=dict(reported) if reported else NO_REPORT)

    def skipped(self, skipped: list[tuple[Job, str]]) -> None:
        for j, why in skipped:
            self.outcomes[j.name] = JobOutcome(j, "skipped", why)
            self.events.skipped(j, why)

    def skip_unstarted(self, stale: list[Job]) -> None:
        """Stale jobs that never started because the run stopped at a failure (no -k): recorded
        as skipped, so that the stats, `--stats` and the report list every job of the run."""
        for j in stale:
            if j.name not in self.outcomes:
                self.outcomes[j.name] = JobOutcome(j, "skipped", "not started: the run stopped after a failure (-k goes on)")
                self.events.skipped(j, "not started, the run stopped after a failure")

    def status(self, job: Job) -> str:
        out = self.outcomes.get(job.name)
        return out.status if out is not None else ""

    def added(self, job: Job, checkpoint: Job, force: bool, overwrite_protected: bool) -> bool | None:
        """Decide a job that checkpoint's re-planning added (replan.replan_askers' judge): True
        to run it, None up to date, False refused (it would rewrite a protected output: fails)."""
        if force:
            self.decider.force(job)
        d = self.decider.decide(job)
        self.events.decided(d, checkpoint)
        if d.reason is None:
            self.up_to_date(d)
            return None
        if not overwrite_protected:
            try:
                check_protected([d])
            except UsageError as e:  # as up front, but jobs already ran: this one fails
                self.events.refused(job, e)
                self.outcomes[job.name] = JobOutcome(job, "failed", "would rewrite a protected output")
                return False
        return True

    # -- before it starts ----------------------------------------------------------------------

    def prepare(self, job: Job, lock_wait: list[Job]):
        """Lock the job's outputs and re-check it. None: locked elsewhere; False: up to date now."""
        from .locks import JobLock

        if job.gather:  # it runs and writes nothing: re-decided without locks (its inputs can be 100,000)
            d = self.decider.decide(job, fresh=True)
            if d.reason is None:
                self.events.up_to_date_now(job, f"its inputs are built ({d.why})")
                self.up_to_date(d)
                return False
        # Its inputs that jobs make, shared: no other pyrule may rebuild them while this job reads
        # them (a -B run racing a normal one), nor may this job start while one is being rebuilt.
        made = [p for p in job.inputs if p in self.producers]
        lock = JobLock(STATE_DIR, list(job.outputs) or [job.name], made, dir_fd=self.lock_dir)
        try:
            acquired = lock.try_acquire()
        except FileNotFoundError:
            raise StateError(f"{STATE_DIR}/ was deleted during this run: its jobs are no longer locked against "
                             "other pyrule processes", hint="run pyrule again (it rebuilds what has no record)") from None
        if not acquired:
            if job.name not in self._told_waiting:  # said once, not at every retry
                self._told_waiting.add(job.name)
                what = f"outputs locked by another pyrule process; waiting for {self.holder(job, made)}"
                self.events.waiting(job, what, what)
            lock_wait.append(job)
            return None
        left = self.state.running_job(job.name)
        if left is not None and left.run_id != self.setting.run_id:
            if left.owner_pid != os.getpid() and alive_since(left.owner_pid, left.owner_start):
                # A live pyrule runs a job of this name on other outputs (`pyrule SAMPLE=a` and
                # `pyrule SAMPLE=b` at once), or is dying (the kernel frees a dying process's
                # locks before it is gone): never recover a live run's job; wait until it is done.
                lock.release()
                if job.name not in self._told_waiting:
                    self._told_waiting.add(job.name)
                    self.events.waiting(job, f"a job of this name runs in pyrule process {left.owner_pid}; waiting",
                                        f"running in process {left.owner_pid}")
                lock_wait.append(job)
                return None
            # Another run has it marked running, yet we hold its lock and its pyrule is gone: it
            # died while running it (after this run started). A run always clears the mark
            # before it gives the lock back, so its outputs are suspect: never adopt or keep them.
            self.decider.mark_incomplete(self.recovery.locked([left]))  # (ended in its journal too)
        for p in job.outputs:
            self.stats.forget(p)
        d = self.decider.decide(job, fresh=True)
        if d.reason is None:
            self.events.up_to_date_now(job, f"up to date after all ({d.why})")
            self.up_to_date(d)
            if d.adopt:
                self.state.flush()
            lock.release()
            return False
        hit = self.cache.restore(job, self.decider) if self.cache is not None else None
        if hit is not None:  # restored from the cache (cache.py): recorded as if it had run
            self.decider.ran(job)
            self.up_to_date(hit.decision)
            self.outcomes[job.name].reported = hit.reported
            self.state.keep_reported(job.name, hit.reported)
            if job.rule.returns_value:  # its value with its outputs
                self.state.set_value(job.name, hit.value)
            self.state.flush()
            lock.release()
            return False
        self.outcomes[job.name] = JobOutcome(job, "pending", d.reason)
        return lock, d

    def holder(self, job: Job, made: list[str]) -> str:
        """What a job whose locks another process holds waits for: the path, and the job of
        which live pyrule process has it marked running (when the store says so already)."""
        mine = {*job.outputs, *made}
        for r in self.state.running():
            if r.owner_pid != os.getpid() and alive_since(r.owner_pid, r.owner_start):
                both = [p for p in r.outputs if p in mine]
                if both:
                    return f"{both[0]} (being built there by {r.name}, pid {r.owner_pid})"
        return ", ".join(job.outputs[:3]) + (", ..." if len(job.outputs) > 3 else "") if job.outputs else job.name

    # -- start and end -------------------------------------------------------------------------

    def start(self, starts: list[tuple[Job, Any, Decision]], unmade: Container[Job] = ()) -> list[tuple[Job, Any, str]]:
        """Start the jobs; those that cannot start (an input that cannot be read, an output
        directory that cannot be made...) come back as (job, lock, why): they fail unrun.
        `unmade`: jobs whose inputs are not made yet (a detached run submits them to wait for
        the jobs that make them: detach.py); their inputs are not signed now."""
        from .jobspec import command_text, job_spec
        from .journal import DIR

        executor, kind = self.executor, self.kind
        assert executor is not None and kind is not None, "open() first"
        setting, attempts = self.setting, self.attempts
        # The store's mark first, then the journal; at the end the journal first, then the mark goes
        # (run.Runner's wait loop): a job is open in the journal only while the store has it
        # marked. Another live pyrule that takes the lock of a dead run's job sees only the mark
        # (and then ends the job in that run's journal too: recover.Recovery); the next run sees
        # both, and would otherwise rebuild a job the other one finished.
        # Which executor runs them is on record from now: recovery asks each executor only about its own jobs.
        self.state.mark_running([(j.name, kind.unstarted, list(j.outputs)) for j, _, _ in starts], setting.run_id,
                                self_start())
        try:
            self.journal.started([(j.name, list(j.outputs)) for j, _, _ in starts], setting.executor, time.time())
        except OSError as e:
            # not started: nothing to stop; unmarked before the locks go back
            self.state.forget_running([j.name for j, _, _ in starts])
            for _job, lock, _d in starts:
                lock.release()
            raise StateError(f"cannot write the journal of running jobs {self.journal.path}: {e.strerror or e}",
                             hint=f"is the disk full, or {STATE_DIR}/{DIR} not a directory pyrule can write in?") from None
        unstarted: list[tuple[Job, Any, str]] = []
        for job, lock, d in starts:
            attempts[job] = attempts.get(job, 0) + 1
            try:
                # inputs as they are when the job starts (a detached run's collector signs its own)
                sig = None if job in unmade else self.decider.signature(job)
            except InputError as e:
                unstarted.append((job, lock, str(e)))
                continue
            for p in job.outputs if not executor.adopts(job.name) else ():  # (adopted: being made)
                remove(p)
                self.stats.forget(p)
            self.state.forget_reported(job.name)  # they described the outputs just removed
            spec = job_spec(job, setting.namespace, setting.run_dir, attempts[job])
            if "PYRULE_VALUE" in spec.env and not executor.adopts(job.name):
                # a previous attempt's value must not come back as this one's (an adopted job's is its own)
                from .values import clear

                clear(spec.env["PYRULE_VALUE"])
            self.events.started(job, attempts[job], d.reason, command_text(job, setting.namespace, spec.shell),
                                setting.print_commands)
            executor.prepare(spec, job, setting.pipefile, setting.overrides)
            try:
                pid = executor.start(spec)
            except OSError as e:  # e.g. E2BIG from a huge environment, or a log that cannot be made
                unstarted.append((job, lock, f"cannot start: {e.strerror or e}"
                                  + (f": {e.filename}" if e.filename else "")))
                continue
            # At once: from here on, a stop (a signal, an error) must find it.
            self.running[job.name] = (job, lock, time.time(), sig)
            self.outcomes[job.name].logged = True  # spec.log_path: jobspec.log_path(job)
            self.state.set_pgid(job.name, kind.recorded(pid), now=kind.record_now)
        return unstarted

    def not_started(self, job: Job, why: str) -> None:
        """A job that could not start fails (not retried: it would fail the same way). Its end is
        in the journal at once and its mark goes with the caller's next flush (see start())."""
        self.journal.ended([job.name])
        self.state.finished(job.name)
        out = self.outcomes[job.name]
        out.status, out.reason, out.attempts = "failed", why, 1
        self.events.failed(out, why, ran=False)

    def assigned(self) -> list[tuple[Job, Any, str]]:
        """Record the ids the executor gave at its last wait() (jobs it submits together there:
        Slurm arrays; the local executor's pids, which its spawner gives after start() returned),
        as start() records those it gives at once. Returns the jobs that could not start after all,
        as start() does: (job, lock, why), no longer running; they fail unrun (not_started)."""
        executor, kind = self.executor, self.kind
        assert executor is not None and kind is not None, "open() first"
        for name, handle in executor.assigned():
            self.state.set_pgid(name, kind.recorded(handle), now=kind.record_now)
        unstarted = []
        for name, why in executor.failed_starts():
            job, lock, _start, _sig = self.running.pop(name)
            unstarted.append((job, lock, why))
        return unstarted

    def ended(self, res: JobResult, retrying: bool = True) -> tuple[Job, Any, bool | None]:
        """A running job ended (`res`, from the executor's wait()): its outputs are kept and
        recorded (True), or removed: to retry it (None) or failed (False). `retrying`: a failed
        job that has attempts left is retried (not after a signal). Returns (job, lock, that)."""
        job, lock, _start, sig = self.running.pop(res.name)
        # Kept only while it may start again (a retry): the dict holds the running jobs, not all.
        attempt = self.attempts.pop(job)
        out = self.outcomes[job.name]
        out.start, out.end, out.wall_s, out.cpu_s = res.start, res.end, res.wall_s, res.cpu_s
        out.peak_rss_bytes, out.exit_code, out.attempts = res.peak_rss_bytes, res.exit_code, attempt
        out.reported = res.reported or NO_REPORT
        stopped = getattr(res, "stopped", None)
        if stopped:
            # Stopped before its outputs are looked at: what is recorded is what stays. The job
            # does not fail for it (Make would not even wait), but it is said, as a leftover
            # writer of an output would have made it wrong.
            self.events.leftover(job, stopped)
        missing = [p for p in job.outputs if not os.path.exists(p)]
        value, value_error = self._value(job) if res.exit_code == 0 else (None, None)
        if res.exit_code == 0 and not missing and value_error is None:
            protected = job.flagged("protected")
            for p in job.outputs:
                self.stats.forget(p)
                if "protected" in getattr(p, "flags", ()) or p in protected:
                    protect(p)
            self.state.succeeded(job.name, job.rule.name, sig[0], sig[1])
            self.state.keep_reported(job.name, res.reported)
            if job.rule.returns_value:
                self.state.set_value(job.name, value)
            if self.cache is not None:  # published (cache.py)
                self.cache.publish(job, sig, res, value)
            # Its consumers are re-decided on their own signatures now (early cutoff), not
            # as "upstream will run".
            self.decider.ran(job)
            out.status = "ran"
            self.events.finished(out)
            return job, lock, True
        for p in job.outputs:
            remove(p)
            self.stats.forget(p)
        if job.rule.returns_value:  # a failed job has no value
            self.state.set_value(job.name, None)
        why = f"exit code {res.exit_code}" if res.exit_code != 0 else f"exited 0 but did not create {', '.join(missing)}"
        if value_error is not None:
            why = value_error
        elif res.exit_code == 0:
            from .plan import phony_hint

            why += phony_hint(job, missing)
        if getattr(res, "reason", None):  # e.g. the Slurm state, or sbatch's message
            why = f"{why}: {res.reason}"
        if attempt <= job.rule.retries and retrying:
            self.attempts[job] = attempt
            self.events.retrying(job, why, attempt)
            self.state.finished(job.name)
            return job, lock, None
        self.state.finished(job.name)
        out.status = "failed"
        out.reason = why
        self.events.failed(out, why)
        return job, lock, False

    def _value(self, job: Job) -> tuple[Any, str | None]:
        """The value the job's Python body returned (values.py): (Stored or None, None), or
        (None, why) when it cannot be read."""
        rule = job.rule
        if rule.python is None and rule.func is None:
            return None, None
        from .jobspec import value_path
        from .values import read

        try:
            return read(value_path(job)), None
        except (OSError, ValueError, KeyError) as e:
            return None, f"its value cannot be read back: {e}"

    # -- stopped -------------------------------------------------------------------------------

    def stopped_all(self, why: str) -> None:
        """Every running job was stopped (the executor terminated or killed them): remove their
        partial outputs, record them interrupted (or failed: `why` says why they were stopped),
        and let their locks go once the store no longer has them marked running."""
        running = self.running
        end = time.time()
        for job, _lock, start, _ in running.values():
            for p in job.outputs:
                remove(p)
            out = self.outcomes[job.name]
            # Stopped by a signal: interrupted, not failed, with the time it did run.
            out.status, out.reason = ("interrupted" if why == "interrupted" else "failed"), why
            out.start, out.end, out.wall_s = start, end, end - start
            self.state.finished(job.name)
            self.events.interrupted(job)
        self.journal.ended(list(running))  # (before the marks go: see start())
        try:
            self.state.flush()  # no longer marked running before another pyrule can take the locks
        except StateError:  # the store is failing (that may be why we stop): still marked, so
            pass  # the next run finds them incomplete, and their outputs are gone already
        for _job, lock, _start, _ in running.values():
            lock.release()

    def unmark_all(self, why: str) -> None:
        """After an error, with every job stopped: what this run still has marked running (not
        started yet, or ended without its end recorded) may have partial outputs: remove them,
        as the next run's recovery would, and unmark it. Jobs it was starting failed (`why`)."""
        for out in self.outcomes.values():
            if out.status == "pending":
                out.status, out.reason = "failed", why
        self.state.flush()
        mine = [r for r in self.state.running() if r.run_id == self.setting.run_id]
        for r in mine:
            for p in r.outputs:
                remove(p)
                self.stats.forget(p)
        self.journal.ended([r.name for r in mine])
        self.state.forget_run(self.setting.run_id)


def check_protected(stale: list[Decision]) -> None:
    """Refuse (before anything runs) to rerun jobs whose protected() outputs exist: a rerun
    would delete and rewrite them. --overwrite-protected allows it."""
    rules = {d.job.rule.name: d.job.rule for d in stale}
    flagged = {n for n, r in rules.items() if any("protected" in getattr(v, "flags", ()) for _, value in r.outputs
                                                  for v in ([value] if isinstance(value, str) else value))}
    if not flagged:  # the common case: one pass over the stale jobs, no file looked at
        return
    found = [(d, p) for d in stale if d.job.rule.name in flagged for p in d.job.outputs
             if p in d.job.flagged("protected") and os.path.lexists(p)]
    if not found:
        return
    d, p = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    raise UsageError(
        f"job {d.job.name} would rewrite its protected output {p}{more} ({d.reason})",
        d.job.rule.where("output"),
        "pass --overwrite-protected to rebuild protected outputs; nothing was run")
