"""Stage 5: run the stale jobs in parallel under budgets, lock, execute, measure, record.

The scheduler is event-driven: it starts what is ready and fits, then blocks in the
executor's wait() until a job ends. Jobs whose outputs another pyrule process holds are set
aside (no slot held) and retried; once a lock is taken the job is re-checked, because the
other process may have built it meanwhile.
"""

from __future__ import annotations

import gc
import os
import signal
import time

from . import executors
from .decide import Decider, Decision, InputError
from .errors import PyruleError, UsageError
from .graph import Job, JobGraph
from .outputs import protect, remove
from .procinfo import alive_since, start_time
from .project import STATE_DIR
from .record import field, record
from .recover import Recovery, dead_jobs
from .rules import Rules
from .schedule import Schedule, over_budget
from .stat_cache import StatCache
from .state import State, StateError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any, Literal, overload

    from .executors.base import Executor
    from .graph import Replanner

_LOCK_RETRY_S = 0.2
_GRACE_S = 5.0


@record
class Options:
    jobs: int | None = None
    mem: str | None = None
    resources: list[str] = field(default_factory=list)
    keep_going: bool = False
    force_all: bool = False
    force: list[str] = field(default_factory=list)
    executor: str = "local"
    argv: list[str] = field(default_factory=list)  # the command line, as recorded with the run
    overrides: list[str] = field(default_factory=list)  # its NAME=VALUE overrides: a Slurm node loads with them
    executor_options: dict[str, Any] = field(default_factory=dict)
    delete_orphans: bool = False
    overwrite_protected: bool = False  # rerun jobs whose protected() outputs exist
    print_commands: bool = False  # -p: each job's command as it starts
    noop_key: str | None = None  # noop_memo.memo_key: a run with nothing to do leaves a memo under it


@record(slots=True)  # one per job: no per-instance __dict__
class JobOutcome:
    """One job's fate in a run, as written to stats.tsv/json."""

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
    reported: dict[str, str] = field(default_factory=dict)
    log: str | None = None


@record
class RunResult:
    """What `Workflow.run` returns and `pyrule` reports."""

    run_id: str
    outcomes: dict[str, JobOutcome]
    status: str  # ok, failed, interrupted
    wall_s: float
    run_dir: str
    signum: int | None = None  # the signal that interrupted the run (SIGINT, SIGTERM), if one did

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.status == status)


class Interrupted(Exception):
    def __init__(self, signum: int):
        self.signum = signum


# --- deciding ----------------------------------------------------------------------------------


def forced_jobs(graph: JobGraph, options: Options) -> set[Job]:
    if options.force_all:
        return set(graph.jobs)
    if not options.force:
        return set()
    roots = graph.select_all("--force", options.force)
    consumers = graph.consumers()
    forced: set[Job] = set()
    stack = list(roots)
    while stack:
        j = stack.pop()
        if j not in forced:
            forced.add(j)
            stack.extend(consumers.get(j, ()))
    return forced


if TYPE_CHECKING:  # read-write: a State, or StateError

    @overload
    def open_state(readonly: Literal[False], console: Any = None) -> State: ...

    @overload
    def open_state(readonly: bool, console: Any = None) -> State | None: ...


def open_state(readonly: bool, console=None) -> State | None:
    """The state store; read-only (dry runs, --status): None when there is none or it cannot be
    read (decisions are then made as for a new project, and `console` hears why)."""
    if readonly and not os.path.lexists(os.path.join(STATE_DIR, "state.db")):
        return None
    try:
        return State(STATE_DIR, readonly=readonly)
    except StateError as e:
        if readonly:
            if console is not None:
                console.warn(e.message)
            return None
        raise


def running_elsewhere(state: State | None) -> dict[str, int]:
    """Jobs that another live pyrule process is running now: name -> that process's pid. Their
    outputs may be half-written: such jobs are stale until their lock is free (then re-checked)."""
    if state is None:
        return {}
    return {r.name: r.owner_pid for r in state.running()
            if r.owner_pid != os.getpid() and alive_since(r.owner_pid, r.owner_start)}


def known_unchanged(key: str) -> tuple[int, int] | None:
    """(jobs up to date, paths checked) if the no-op memo under `key` holds (noop_memo.py): the
    run (or dry run) would find nothing to do. Read-only: such a run writes nothing, not even
    its entry in the store's list of runs."""
    state = open_state(readonly=True)
    if state is None:
        return None
    from .noop_memo import unchanged

    try:
        return unchanged(state, key)
    finally:
        state.close()


def dry_run(graph: JobGraph, rules: Rules, options: Options, console=None) -> list[Decision]:
    """Every job of the graph with its decision, in dependency order; nothing is written."""
    from .journal import dead

    state = open_state(readonly=True, console=console)
    incomplete = {r.name for r in dead_jobs(state)}
    incomplete.update(e.name for _, entries in dead(STATE_DIR) for e in entries)
    forced, busy = forced_jobs(graph, options), running_elsewhere(state)
    lost = state is None and _run_without_store()  # then decided as a run would after waiting (Runner._enter)
    decider = Decider(state, StatCache(), forced, incomplete, busy, adopt=not lost)
    if lost and console is not None:
        console.warn(f"another pyrule process is running in this directory, and {STATE_DIR}/ was deleted "
                     "during its run: deciding as after it (outputs without a record are not adopted)")
    return decider.decide_all(graph.jobs)


def _run_without_store() -> bool:
    """Whether another process holds the project lock (locks.ProjectLock) with no store here."""
    import fcntl

    from .locks import ProjectLock

    try:
        lock = ProjectLock(".")
    except OSError:
        return False
    try:
        return not lock.take(fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        lock.close()


# --- running -------------------------------------------------------------------------------------


def execute(graph: JobGraph, rules: Rules, options: Options, console) -> int:
    result = Runner(graph, rules, options, console).run()
    if result.status == "interrupted":
        return 130 if result.signum in (None, signal.SIGINT) else 143
    return 0 if result.ok else 1


def run(rules: Rules, targets: list[str], directory: str = ".", jobs: int | None = None, dry_run_: bool = False,
        keep_going: bool = False, console=None, **kw: Any) -> RunResult | list[Decision]:
    """The Python API's run (Workflow.run): plan and run targets in `directory`."""
    from .plan import plan
    from .ui import Console

    cwd = os.getcwd()
    os.chdir(directory)
    try:
        if jobs:
            rules.cores_budget = jobs  # `cores = upto(N)` gets min(N, jobs)
        graph = plan(rules, targets, until=kw.pop("until", None))
        want_dry_run = kw.pop("dry_run", dry_run_)  # before Options(**kw), which has no such field
        options = Options(jobs=jobs, keep_going=keep_going, **kw)
        if want_dry_run:
            return dry_run(graph, rules, options)
        return Runner(graph, rules, options, console or Console(quiet=2)).run()
    finally:
        os.chdir(cwd)


class Runner:
    def __init__(self, graph: JobGraph, rules: Rules, options: Options, console):
        self.graph = graph
        self.rules = rules
        self.options = options
        self.console = console
        # The planner's: every path it looked at is stat'ed once per invocation, not twice.
        self.stats = graph.planner.stats if graph.planner is not None else StatCache()
        # Microseconds: ids sort in start order (run_dirs, --stats) and stay unique when one
        # process (the Python API) runs twice within a second.
        now = time.time()
        self.run_id = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}-{os.getpid()}"
        self.run_dir = os.path.join(STATE_DIR, "runs", self.run_id)
        self.outcomes: dict[str, JobOutcome] = {}
        executors.check(options.executor)  # a name that is no executor: refused before anything
        self._asked = _asked_budgets(options)  # checked now, made budgets when jobs are to start
        self.interrupted: int | None = None
        self._told_waiting: set[str] = set()  # jobs we said wait for another pyrule's job of their name

    schedule: Schedule | None = None  # made by _schedule, when there is anything to run
    _budget: dict[str, float] | None = None

    @property
    def executor_class(self) -> type[Executor]:
        """The executor's class (executors/), imported when first asked: a run that has nothing
        to start imports none."""
        return executors.get(self.options.executor)

    @property
    def budget(self) -> dict[str, float]:
        """The executor's budgets (cores and memory of this machine, or its own), and --resources."""
        if self._budget is None:
            mem, custom = self._asked
            self._budget = {**self.executor_class.budgets(self.options.jobs, mem), **custom}
        return self._budget

    @property
    def failed(self) -> bool:
        return self.schedule is not None and self.schedule.failed

    # -- setup ---------------------------------------------------------------------------------

    def run(self) -> RunResult:
        try:
            return self._run()
        except BaseException as e:
            # Raised before the schedule (recovery, decisions): the run, recorded as started,
            # must not stay "running". Afterwards it is recorded already, and the store closed.
            state = getattr(self, "state", None)
            if state is not None:
                try:
                    state.run_ended(self.run_id, "interrupted" if isinstance(e, (Interrupted, KeyboardInterrupt))
                                    else "error")
                    state.close()
                except Exception:  # noqa: BLE001 - closed already, or failing: the error raised says more
                    pass
            raise

    def _run(self) -> RunResult:
        from .runlog import RunLog

        t0 = time.time()
        _check_layout()
        self._enter()
        try:
            self.state = open_state(readonly=False)
            self.lock_dir: int | None = _lock_dir()
            if getattr(self, "_creating", False) and self.project_lock:  # the store exists now: let other runs in
                import fcntl

                self.project_lock.take(fcntl.LOCK_SH)
        except BaseException:
            self._leave()
            raise
        if self.state.warning:
            self.console.warn(self.state.warning)
        self.log = RunLog(self.run_dir)
        from .journal import Journal

        self.journal = Journal(STATE_DIR, self.run_id, os.getpid(), _self_start())
        # Before anything the decisions read; a memo needs nothing marked running then, as a new
        # mark raises the generation and a removed one does not.
        generation = None if self.state.running() else self.state.generation()
        self.state.run_started(self.run_id, self.options.argv)
        self.busy = running_elsewhere(self.state)
        self.recovery = Recovery(self.state, self.lock_dir, self.run_id, self.busy, self.graph.producers, self.stats,
                                 self.console.warn, self.log.write)
        incomplete = self.recovery.at_start()
        self.decider = Decider(self.state, self.stats, forced_jobs(self.graph, self.options), incomplete, self.busy,
                               adopt=not self.after_lost_store)
        decisions = self.decider.decide_all(self.graph.jobs)
        if not gc.isenabled():  # the command line turned it off for planning (see cli._main)
            gc.freeze()
            gc.enable()
        stale = [d for d in decisions if d.reason is not None]
        try:
            self._check_fit(stale)
            if not self.options.overwrite_protected:
                check_protected(stale)
        except UsageError as e:  # nothing started: close the run as an error, not left "running"
            self.state.run_ended(self.run_id, "error")
            self.state.close()
            self._leave()
            self.log.write(f"run error: {e.message}")
            self.log.close()
            raise
        for d in decisions:
            self.log.write(f"decide {d.job.name}: " + (f"stale: {d.reason}" if d.reason else f"up to date: {d.why}"))
            if d.reason is None:
                self._up_to_date(d)
        if stale or incomplete or any(d.adopt for d in decisions):  # something to run or record
            self.log.keep()
        gathers = sum(1 for d in decisions if d.reason is None and d.job.gather)
        pending = sum(1 for d in stale if d.pending)
        self.console.run_started(len(stale) - pending, len(decisions) - len(stale) - gathers)
        # A build's decisions (one per job) are not kept through it: at 100,000 jobs, memory.
        stale_jobs, noop = [d.job for d in stale], (decisions if not stale else None)
        del decisions, stale
        status = "ok"
        store_error: StateError | None = None
        internal: BaseException | None = None
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            if stale_jobs:  # a no-op run needs no executor, no locks, no process bookkeeping
                self._schedule(stale_jobs)
            if self.failed:
                status = "failed"
                self._skip_unstarted(stale_jobs)
            self._orphans()
            if self.options.noop_key is not None and not self.failed and not self.busy:
                from .noop_memo import leave

                leave(self.state, self.options.noop_key, generation, self.stats, self.graph.jobs, self.decider, noop,
                      self.log.write)
        except Interrupted:
            status = "interrupted"
            self._stop_all()
        except StateError as e:
            # The store cannot record what runs (full disk, size limit, I/O error, held locked):
            # nothing may run unrecorded, so stop the running jobs and remove their outputs.
            status, store_error = "error", e
            self.console.warn(f"{e.message}; stopping")
            self._stop_all("stopped: the state store cannot record what runs")  # failed, not interrupted
        except BaseException as e:
            # A bug in pyrule, or an error nobody foresaw: stop what runs, and record the run as
            # the error it is (never "ok"), with no job of it left marked running.
            status, internal = "error", e
            try:
                self._stop_all("stopped: pyrule met an internal error")
                self._unmark_all("not started: pyrule met an internal error")
            except (StateError, Interrupted):  # still marked: the next run cleans them up
                pass
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            if getattr(self, "executor", None) is not None:  # the local one lets its watchdog go
                self.executor.close()
            self.journal.close()
            try:
                self.state.flush()
                self.state.run_ended(self.run_id, status)
            except StateError as e:
                store_error = store_error or e
            try:
                self.state.close()
            except StateError as e:
                store_error = store_error or e
            self._leave()
        result = RunResult(self.run_id, self.outcomes, status, time.time() - t0, self.run_dir,
                           self.interrupted if status == "interrupted" else None)
        self.log.write(f"run {status}")
        try:
            if self.log.kept:
                from .stats import write_stats

                write_stats(result, self.graph.jobs, self.options.argv, self.rules.files)
        except OSError as e:  # full disk, or .pyrule/ deleted meanwhile: the run itself is done
            self.log.error = self.log.error or e
        self.log.close()
        if self.log.error is not None:
            self.console.warn(f"could not write the run's log and stats under {self.run_dir}: "
                              f"{self.log.error.strerror or self.log.error}")
        if store_error is not None:
            raise store_error
        if internal is not None:
            raise internal
        self.console.run_finished(result)
        return result

    after_lost_store = False  # this run waited for one whose .pyrule/ was deleted (see _enter)
    project_lock = None  # locks.ProjectLock, held while the run lasts

    def _enter(self) -> None:
        """Take the project lock (locks.ProjectLock), shared, before opening the store. With no
        store to open, take it exclusively to create one: refused while another run holds it,
        that run's .pyrule/ was deleted under it (or a run is creating the store this instant):
        wait for it to end, as one waits for a job's lock. It may have left half-written
        outputs that nothing records (its journal went with .pyrule/), so this run then adopts
        nothing: what has no record is rebuilt."""
        import fcntl

        from .locks import ProjectLock

        try:
            lock = ProjectLock(".")
        except OSError:  # an unreadable directory: as before the project lock
            return
        try:
            lock.take(fcntl.LOCK_SH | fcntl.LOCK_NB)  # False if a run is creating the store: taken below
        except OSError:  # a file system without flock: as before the project lock
            lock.close()
            return
        self.project_lock = lock
        store = os.path.join(STATE_DIR, "state.db")
        refused = 0
        try:
            while True:
                lock.take(fcntl.LOCK_SH)  # held exclusively only while a store is being created
                if os.path.lexists(store):
                    return
                if lock.take(fcntl.LOCK_EX | fcntl.LOCK_NB):
                    self._creating = True
                    return
                refused += 1
                if refused == 2:  # twice: not a run creating the store right now
                    self.console.note(f"another pyrule process is running in this directory, and {STATE_DIR}/ was "
                                      "deleted during its run: waiting for it to end")
                    self.after_lost_store = True
                time.sleep(0.05 + (time.monotonic_ns() % 100_000_000) / 1e9)  # 50-150 ms, jittered
        except BaseException:
            lock.close()
            raise

    def _leave(self) -> None:
        lock_dir = getattr(self, "lock_dir", None)
        if lock_dir is not None:
            os.close(lock_dir)
            self.lock_dir = None
        if self.project_lock is not None:
            self.project_lock.close()

    def _orphans(self) -> None:
        from .orphans import delete_orphans, find_orphans

        self.state.flush()
        orphans = find_orphans(self.graph, self.state)
        if not orphans:
            return
        if self.options.delete_orphans:
            n = delete_orphans(orphans, self.state)
            self.console.note(f"removed {n} orphaned output(s) of {len(orphans)} job(s) no longer in the graph")
            self.log.write(f"orphans removed: {[name for name, _ in orphans]}")
            return
        for name, outputs in orphans:
            self.console.warn(f"orphaned: {', '.join(outputs)} (made by {name}, no longer in the graph)")
        self.console.note("  remove them with --delete-orphans")

    def _check_fit(self, stale: list[Decision]) -> None:
        for d in stale:
            self._check_job_fits(d.job)

    def _check_job_fits(self, job: Job) -> None:
        over = over_budget(self.executor_class.needs(job), self.budget)
        if over is not None:
            key, need, have = over
            raise UsageError(
                f"job {job.name} needs {key}={_show(key, need)} but the budget is {_show(key, have)}",
                job.rule.where("resources"),
                f"raise the budget ({_budget_flag(key)}) or lower the rule's resources",
            )

    # -- the loop ------------------------------------------------------------------------------

    def _schedule(self, stale: list[Job]) -> None:
        kind = self.executor_class
        self.executor = kind(**self.options.executor_options)
        os.makedirs(os.path.join(self.run_dir, "reports"), exist_ok=True)  # where jobs report (body.job_spec)
        sched = self.schedule = Schedule(stale, self.budget, kind.needs, self.options.keep_going)
        self.running: dict[str, tuple[Job, Any, float, Any]] = {}  # name -> (job, lock, start, sig)
        lock_wait: list[Job] = []
        attempts: dict[Job, int] = {}
        while sched.ready or self.running or lock_wait:
            if self.interrupted:
                raise Interrupted(self.interrupted)
            stop_new = sched.stop_new
            starts: list[tuple[Job, Any, Any]] = []
            if not stop_new:
                retry, lock_wait = lock_wait, []
                for job in retry:
                    sched.requeue(job)
                for job in sched.startable():
                    prepared = self._prepare(job, lock_wait)
                    if prepared is None:
                        continue
                    if prepared is False:  # up to date after all (early cutoff or built elsewhere)
                        if not job.gather:  # (a gather waiting for its inputs was not counted)
                            self.console.job_settled(job)
                        self._finish(job, True)
                        self._drop_temps(job)
                        continue
                    sched.started(job)
                    starts.append((job, *prepared))
            if starts:
                unstarted = self._start(starts, attempts)
                if unstarted:
                    for job, _lock, why in unstarted:
                        sched.stopped(job)
                        self._not_started(job, why)
                    self.state.flush()  # no longer marked running before the locks go
                    for job, lock, _why in unstarted:
                        lock.release()
                        self._finish(job, False)
            if not self.running:
                if lock_wait and not stop_new:
                    time.sleep(_LOCK_RETRY_S)  # another process holds them: retry shortly
                    continue
                break
            try:
                self._in_wait = True
                if self.interrupted:  # a signal that came after the check above, before _in_wait
                    raise Interrupted(self.interrupted)
                results = self.executor.wait(_LOCK_RETRY_S if lock_wait else None)
            finally:
                self._in_wait = False
            for name, handle in self.executor.assigned():  # submitted at wait() (Slurm arrays)
                self.state.set_pgid(name, kind.recorded(handle), now=kind.record_now)
            ended = []
            for res in results:
                job, lock, start, sig = self.running.pop(res.name)
                sched.stopped(job)
                ended.append((job, lock, self._ended(job, res, sig, attempts[job])))
            # Recorded before the locks go: another pyrule waiting on them re-checks the job
            # against the store at once, and must find this success there.
            self.state.flush()
            self.journal.ended([job.name for job, _, _ in ended])
            for job, lock, ok in ended:
                lock.release()
                if ok is None:  # retry
                    sched.requeue(job)
                    continue
                self._finish(job, ok)
                if ok:
                    self._drop_temps(job)
        self.state.flush()

    def _sched(self) -> Schedule:
        assert self.schedule is not None, "used only while jobs are scheduled"
        return self.schedule

    def _finish(self, job: Job, ok: bool) -> None:
        """The job is done (ran, failed, or up to date after all): record what it skips; a
        checkpoint that ran re-plans the jobs that asked for it."""
        planner = self.graph.planner
        askers = set(planner.asked.get(job, ())) if ok and job.rule.checkpoint and planner is not None else set()
        self._skipped(self._sched().finished(job, ok, askers))
        if askers:
            assert planner is not None  # askers come from it
            self._replan(job, planner)

    def _replan(self, checkpoint: Job, planner: Replanner) -> None:
        """The checkpoint job has run: re-plan the jobs that asked for it, and schedule what is new."""
        sched = self._sched()
        planner.checkpoint_ran(checkpoint)
        known = set(self.graph.jobs)
        for asker in list(planner.asked.get(checkpoint, ())):
            if not sched.pending(asker):
                continue
            before = set(asker.deps)
            try:
                order = planner.replan(asker)
                self._check_job_fits(asker)  # its resources may have waited for the checkpoint
            except PyruleError as e:
                self.console.error(e)
                self.log.write(f"replan {asker.name} failed: {e}")
                self._skipped(sched.skip(asker, f"cannot plan it after checkpoint {checkpoint.name}"))
                continue
            new = [j for j in order if j not in known and j is not asker]
            at = self.graph.jobs.index(asker)
            self.graph.jobs[at:at] = new
            known.update(new)
            stale: list[Job] = []
            refused: list[Job] = []
            for j in new:
                for out in j.outputs:
                    self.graph.producers[out] = j
                if self.options.force_all:
                    self.decider.force(j)
                d = self.decider.decide(j)
                self.log.write(f"decide {j.name} (after checkpoint {checkpoint.name}): "
                               + (f"stale: {d.reason}" if d.reason else f"up to date: {d.why}"))
                if d.reason is None:
                    self._up_to_date(d)
                    continue
                if not self.options.overwrite_protected:
                    try:
                        check_protected([d])
                    except UsageError as e:  # as up front, but jobs already ran: this one fails
                        self.console.error(e)
                        self.log.write(f"fail {j.name}: {e.message}")
                        self.outcomes[j.name] = JobOutcome(j, "failed", "would rewrite a protected output")
                        refused.append(j)
                        continue
                stale.append(j)
            dropped, skipped = sched.graft(asker, stale, before - set(asker.deps), refused)
            for old in dropped:  # no longer part of the workflow (its old outputs are orphans)
                self.graph.jobs.remove(old)
                self.outcomes.pop(old.name, None)
                self.console.more_jobs(-1)
                self.log.write(f"drop {old.name}: no longer needed after checkpoint {checkpoint.name}")
            self.log.write(f"replan {asker.name} after checkpoint {checkpoint.name}: {len(new)} new job(s)")
            self.console.more_jobs(len(stale))
            self._skipped(skipped)

    def _prepare(self, job: Job, lock_wait: list[Job]):
        """Lock the job's outputs and re-check it. None: locked elsewhere; False: up to date now."""
        from .locks import JobLock

        if job.gather:  # it runs and writes nothing: re-decided without locks (its inputs can be 100,000)
            d = self.decider.decide(job, fresh=True)
            if d.reason is None:
                self.log.write(f"skip {job.name}: its inputs are built ({d.why})")
                self._up_to_date(d)
                return False
        # Its inputs that jobs make, shared: no other pyrule may rebuild them while this job reads
        # them (a -B run racing a normal one), nor may this job start while one is being rebuilt.
        made = [p for p in job.inputs if p in self.graph.producers]
        lock = JobLock(STATE_DIR, list(job.outputs) or [job.name], made, dir_fd=self.lock_dir)
        try:
            acquired = lock.try_acquire()
        except FileNotFoundError:
            raise StateError(f"{STATE_DIR}/ was deleted during this run: its jobs are no longer locked against "
                             "other pyrule processes", hint="run pyrule again (it rebuilds what has no record)") from None
        if not acquired:
            if job.name not in self._told_waiting:  # said once, not at every retry
                self._told_waiting.add(job.name)
                what = f"outputs locked by another pyrule process; waiting for {self._holder(job, made)}"
                self.console.job_waiting(job, what)
                self.log.write(f"wait {job.name}: {what}")
            lock_wait.append(job)
            return None
        left = self.state.running_job(job.name)
        if left is not None and left.run_id != self.run_id:
            if left.owner_pid != os.getpid() and alive_since(left.owner_pid, left.owner_start):
                # A live pyrule runs a job of this name on other outputs (`pyrule SAMPLE=a` and
                # `pyrule SAMPLE=b` at once), or is dying (the kernel frees a dying process's
                # locks before it is gone): never recover a live run's job; wait until it is done.
                lock.release()
                if job.name not in self._told_waiting:
                    self._told_waiting.add(job.name)
                    self.console.job_waiting(job, f"a job of this name runs in pyrule process {left.owner_pid}; waiting")
                    self.log.write(f"wait {job.name}: running in process {left.owner_pid}")
                lock_wait.append(job)
                return None
            # Another run has it marked running, yet we hold its lock and its pyrule is gone: it
            # died while running it (after this run started). A run always clears the mark
            # before it gives the lock back, so its outputs are suspect: never adopt or keep them.
            self.decider.mark_incomplete(self.recovery.locked([left]))
            from .journal import settle

            settle(STATE_DIR, left.run_id, {left.name})
        for p in job.outputs:
            self.stats.forget(p)
        d = self.decider.decide(job, fresh=True)
        if d.reason is None:
            self.log.write(f"skip {job.name}: up to date after all ({d.why})")
            self._up_to_date(d)
            if d.adopt:
                self.state.flush()
            lock.release()
            return False
        self.outcomes[job.name] = JobOutcome(job, "pending", d.reason)
        return lock, d

    def _holder(self, job: Job, made: list[str]) -> str:
        """What a job whose locks another process holds waits for: the path, and the job of
        which live pyrule process has it marked running (when the store says so already)."""
        mine = {*job.outputs, *made}
        for r in self.state.running():
            if r.owner_pid != os.getpid() and alive_since(r.owner_pid, r.owner_start):
                both = [p for p in r.outputs if p in mine]
                if both:
                    return f"{both[0]} (being built there by {r.name}, pid {r.owner_pid})"
        return ", ".join(job.outputs[:3]) + (", ..." if len(job.outputs) > 3 else "") if job.outputs else job.name

    def _start(self, starts: list[tuple[Job, Any, Decision]], attempts: dict[Job, int]) -> list[tuple[Job, Any, str]]:
        """Start the jobs; those that cannot start (an input that cannot be read, an output
        directory that cannot be made...) come back as (job, lock, why): they fail unrun."""
        from .jobspec import command_text, job_spec
        from .journal import DIR

        # The journal first: a kill between the two leaves the job journaled, never only marked.
        try:
            self.journal.started([(j.name, list(j.outputs)) for j, _, _ in starts], self.options.executor, time.time())
        except OSError as e:
            for _job, lock, _d in starts:  # not started: nothing to stop, and the locks go back now
                lock.release()
            raise StateError(f"cannot write the journal of running jobs {self.journal.path}: {e.strerror or e}",
                             hint=f"is the disk full, or {STATE_DIR}/{DIR} not a directory pyrule can write in?") from None
        # Which executor runs them is on record from now: recovery asks each executor only about its own jobs.
        kind = self.executor_class
        self.state.mark_running([(j.name, kind.unstarted, list(j.outputs)) for j, _, _ in starts], self.run_id,
                                _self_start())
        pipefile = self.rules.files[0] if self.rules.files else None
        unstarted: list[tuple[Job, Any, str]] = []
        for job, lock, d in starts:
            attempts[job] = attempts.get(job, 0) + 1
            try:
                sig = self.decider.signature(job)  # inputs as they are when the job starts
            except InputError as e:
                unstarted.append((job, lock, str(e)))
                continue
            for p in job.outputs if not self.executor.adopts(job.name) else ():  # (adopted: being made)
                remove(p)
                self.stats.forget(p)
            spec = job_spec(job, self.rules.namespace, self.run_dir, attempts[job])
            self.log.write(f"start {job.name} (attempt {attempts[job]}): {d.reason}")
            command = command_text(job, self.rules.namespace, spec.shell)
            if command is not None:
                self.log.write(f"command {job.name}: " + command.replace("\n", "\n    "))
            self.console.job_started(job, d.reason)
            if command is not None and self.options.print_commands:
                self.console.command(job.name, command)
            self.executor.prepare(spec, job, pipefile, self.options.overrides)
            try:
                pid = self.executor.start(spec)
            except OSError as e:  # e.g. E2BIG from a huge environment, or a log that cannot be made
                unstarted.append((job, lock, f"cannot start: {e.strerror or e}"
                                  + (f": {e.filename}" if e.filename else "")))
                continue
            # At once: from here on, a stop (a signal, an error) must find it.
            self.running[job.name] = (job, lock, time.time(), sig)
            self.outcomes[job.name].log = spec.log_path
            self.state.set_pgid(job.name, kind.recorded(pid), now=kind.record_now)
        return unstarted

    def _unmark_all(self, why: str) -> None:
        """After an error, with every job stopped: what this run still has marked running (not
        started yet, or ended without its end recorded) may have partial outputs: remove them,
        as the next run's recovery would, and unmark it. Jobs it was starting failed (`why`)."""
        for out in self.outcomes.values():
            if out.status == "pending":
                out.status, out.reason = "failed", why
        self.state.flush()
        mine = [r for r in self.state.running() if r.run_id == self.run_id]
        for r in mine:
            for p in r.outputs:
                remove(p)
                self.stats.forget(p)
        self.journal.ended([r.name for r in mine])
        self.state.forget_run(self.run_id)

    def _not_started(self, job: Job, why: str) -> None:
        """A job that could not start fails (not retried: it would fail the same way)."""
        self.state.finished(job.name)
        out = self.outcomes[job.name]
        out.status, out.reason, out.attempts = "failed", why, 1
        self.log.write(f"fail {job.name}: {why}")
        self.console.job_failed(out, why)

    def _ended(self, job: Job, res, sig, attempt: int) -> bool | None:
        out = self.outcomes[job.name]
        out.start, out.end, out.wall_s, out.cpu_s = res.start, res.end, res.wall_s, res.cpu_s
        out.peak_rss_bytes, out.exit_code, out.attempts, out.reported = res.peak_rss_bytes, res.exit_code, attempt, res.reported
        stopped = getattr(res, "stopped", None)
        if stopped:
            # Stopped before its outputs are looked at: what is recorded is what stays. The job
            # does not fail for it (Make would not even wait), but it is said, as a leftover
            # writer of an output would have made it wrong.
            n = len(stopped)
            self.console.warn(f"{job.name} left {n} process{'es' if n > 1 else ''} running when it ended: "
                              f"stopped {', '.join(stopped)} (see its log)")
            self.log.write(f"leftover {job.name}: stopped {', '.join(stopped)}")
        missing = [p for p in job.outputs if not os.path.exists(p)]
        if res.exit_code == 0 and not missing:
            protected = job.flagged("protected")
            for p in job.outputs:
                self.stats.forget(p)
                if "protected" in getattr(p, "flags", ()) or p in protected:
                    protect(p)
            self.state.succeeded(job.name, job.rule.name, sig[0], sig[1])
            # Its consumers are re-decided on their own signatures now (early cutoff), not
            # as "upstream will run".
            self.decider.ran(job)
            out.status = "ran"
            self.log.write(f"end {job.name}: ok in {res.wall_s:.2f}s, peak {res.peak_rss_bytes} B")
            self.console.job_finished(out)
            return True
        for p in job.outputs:
            remove(p)
            self.stats.forget(p)
        why = f"exit code {res.exit_code}" if res.exit_code != 0 else f"exited 0 but did not create {', '.join(missing)}"
        if res.exit_code == 0:
            from .plan import phony_hint

            why += phony_hint(job, missing)
        if getattr(res, "reason", None):  # e.g. the Slurm state, or sbatch's message
            why = f"{why}: {res.reason}"
        if attempt <= job.rule.retries and not self.interrupted:
            self.log.write(f"retry {job.name}: {why} (attempt {attempt} of {job.rule.retries + 1})")
            self.console.note(f"{job.name} failed ({why}); retrying ({attempt + 1} of {job.rule.retries + 1})")
            self.state.finished(job.name)
            return None
        self.state.finished(job.name)
        out.status = "failed"
        out.reason = why
        self.log.write(f"fail {job.name}: {why}; log {out.log}")
        self.console.job_failed(out, why)
        return False

    def _skipped(self, skipped: list[tuple[Job, str]]) -> None:
        for j, why in skipped:
            self.outcomes[j.name] = JobOutcome(j, "skipped", why)
            self.log.write(f"skip {j.name}: {why}")

    def _skip_unstarted(self, stale: list[Job]) -> None:
        """Stale jobs that never started because the run stopped at a failure (no -k): recorded
        as skipped, so that the stats, `--stats` and the report list every job of the run."""
        for j in stale:
            if j.name not in self.outcomes:
                self.outcomes[j.name] = JobOutcome(j, "skipped", "not started: the run stopped after a failure (-k goes on)")
                self.log.write(f"skip {j.name}: not started, the run stopped after a failure")

    def _up_to_date(self, d: Decision) -> None:
        if d.adopt and d.sig is not None:
            self.state.succeeded(d.job.name, d.job.rule.name, d.sig[0], d.sig[1])
        self.outcomes[d.job.name] = JobOutcome(d.job, "up-to-date", d.why)

    def _drop_temps(self, job: Job) -> None:
        """Delete temp() outputs of job's inputs once every consumer in this run is done."""
        consumers, done = self._consumers_all(), self._sched().done
        for dep in job.deps:
            temps = dep.flagged("temp")
            if temps and all(self._status(c) == "up-to-date" or (c in done and self._status(c) == "ran")
                             for c in consumers.get(dep, ())):
                for p in temps:
                    if os.path.lexists(p):
                        remove(p)
                        self.stats.forget(p)
                        self.log.write(f"temp {p}: removed, every consumer is done")

    def _status(self, job: Job) -> str:
        out = self.outcomes.get(job.name)
        return out.status if out is not None else ""

    def _consumers_all(self):
        if not hasattr(self, "_all_consumers"):
            self._all_consumers = self.graph.consumers()
        return self._all_consumers

    # -- signals -------------------------------------------------------------------------------

    _in_wait = False
    _stopping = False  # in the grace period of _stop_all

    def _on_signal(self, signum: int, frame) -> None:
        if self.interrupted:  # a second Ctrl-C: kill at once
            self._second = True
            if self._stopping:
                # Out of the grace period's wait (a select that would otherwise resume for the
                # rest of it); _stop_all kills, outside this handler.
                raise Interrupted(signum)
        self.interrupted = signum
        if self._in_wait:
            raise Interrupted(signum)

    def _stop_all(self, why: str = "interrupted") -> None:
        executor = getattr(self, "executor", None)
        running = getattr(self, "running", {})
        if executor is not None and running:
            self.console.note(f"stopping {len(running)} running job(s)")
            try:
                if getattr(self, "_second", False):
                    executor.kill_all()
                else:
                    self._stopping = True
                    executor.terminate_all(_GRACE_S)
            except Interrupted:
                executor.kill_all()
            finally:
                self._stopping = False
            end = time.time()
            for job, _lock, start, _ in running.values():
                for p in job.outputs:
                    remove(p)
                out = self.outcomes[job.name]
                # Stopped by a signal: interrupted, not failed, with the time it did run.
                out.status, out.reason = ("interrupted" if why == "interrupted" else "failed"), why
                out.start, out.end, out.wall_s = start, end, end - start
                self.state.finished(job.name)
                self.log.write(f"interrupted {job.name}: removed partial outputs")
            try:
                self.state.flush()  # no longer marked running before another pyrule can take the locks
            except StateError:  # the store is failing (that may be why we stop): still marked, so
                pass  # the next run finds them incomplete, and their outputs are gone already
            self.journal.ended(list(running))
            for _job, lock, _start, _ in running.values():
                lock.release()


# --- helpers -------------------------------------------------------------------------------------


def _check_layout() -> None:
    """What pyrule keeps in .pyrule/ are directories: a file there (put by hand, or by a tool) is
    a clear error before anything is recorded or run, not a crash in the middle of the run."""
    for entry in ("", "locks", "logs", "runs"):
        path = os.path.join(STATE_DIR, entry) if entry else STATE_DIR
        if os.path.lexists(path) and not os.path.isdir(path):
            raise StateError(f"{path} is not a directory: pyrule keeps its {entry or 'state'} there",
                             hint=f"remove {path} (pyrule creates it again), then run pyrule again")


def _lock_dir() -> int:
    from .locks import open_dir

    try:
        return open_dir(STATE_DIR)
    except OSError as e:
        raise StateError(f"cannot open {os.path.join(STATE_DIR, 'locks')}: {e.strerror or e}",
                         hint=f"{STATE_DIR}/locks must be a directory pyrule can write in") from None


def _asked_budgets(options: Options) -> tuple[int | None, dict[str, float]]:
    """--mem (bytes; None: the executor's default) and the --resources budgets, checked."""
    from .units import parse_size

    try:
        mem = parse_size(options.mem) if options.mem else None
    except ValueError as e:
        raise UsageError(f"--mem {options.mem}: {e}") from None
    custom: dict[str, float] = {}
    for item in options.resources:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.isidentifier():
                raise ValueError
            custom[name] = float(value)
        except ValueError:
            raise UsageError(f"--resources {item}: write NAME=N, e.g. gpus=2 or disk_io=4") from None
    return mem, custom


def _show(key: str, value: float) -> str:
    if key == "mem":
        from .units import format_size

        return format_size(value)
    return f"{value:g}"


def _budget_flag(key: str) -> str:
    return {"cores": "-j N", "mem": "--mem SIZE"}.get(key, f"--resources {key}=N")




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


_START: float | None = None


def _self_start() -> float:
    global _START
    if _START is None:
        _START = start_time() or time.time()
    return _START
