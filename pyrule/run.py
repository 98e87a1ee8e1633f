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
from .decide import Decider, Decision
from .errors import UsageError
from .graph import Job, JobGraph
from .jobs import JobLife, JobOutcome, RunSetting, check_protected, self_start
from .outputs import Temps
from .procinfo import alive_since
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
    from .locks import ProjectLock
    from .noop_memo import Partial

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
    cache: str | None = None  # --cache DIR (cache.py); None: $PYRULE_CACHE, else the Pipefile's `cache:`
    # noop_memo.Partial: the graph is the part of the memo's that changed paths reach; the rest is trusted
    partial: Any = None
    detach: bool = False  # --detach (detach.py): submit every job to Slurm, and end without waiting


@record
class RunResult:
    """What `Workflow.run` returns and `pyrule` reports."""

    run_id: str
    outcomes: dict[str, JobOutcome]
    status: str  # ok, failed, interrupted
    wall_s: float
    run_dir: str
    signum: int | None = None  # the signal that interrupted the run (SIGINT, SIGTERM), if one did
    # Job name -> the value its Python body returned (values.py), for the jobs of the run's graph
    # that have one (ran now or earlier).
    values: dict[str, Any] = field(default_factory=dict)
    # Jobs up to date that the no-op memo vouched for without deciding them (noop_memo.Partial):
    # not in `outcomes`, counted in the console's "up to date".
    trusted: int = 0

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


def known_unchanged(key: str, partial: bool = False) -> tuple[int, int] | Partial | None:
    """(jobs up to date, paths checked) if the no-op memo under `key` holds (noop_memo.py): the
    run (or dry run) would find nothing to do. Read-only: such a run writes nothing, not even
    its entry in the store's list of runs. `partial`: when some paths changed, the memo's
    Partial naming them (for partial_graph)."""
    state = open_state(readonly=True)
    if state is None:
        return None
    from .noop_memo import check

    try:
        return check(state, key, partial)
    finally:
        state.close()


def partial_graph(known: Partial, rules: Rules, options: Options, console) -> JobGraph | None:
    """The graph of the jobs the changed paths reach (noop_memo.Partial), planned; None when the
    long way must decide (console -v says why)."""
    from .journal import dead
    from .noop_memo import reads_values
    from .plan import plan

    why = known.why
    if why is None and dead(STATE_DIR):
        why = "a run that died left its journal"
    if why is None and reads_values(rules):
        why = "a Python body may read job values"
    graph = plan(rules, known.targets) if why is None else None
    if graph is not None and (not known.matches(graph.jobs) or any(j.reads or j.after for j in graph.jobs)):
        why, graph = "the planned jobs differ from the memo's", None
    if console.verbose:
        console.note(f"  (memo of the last no-op not usable: {why}; deciding the long way)" if graph is None else
                     f"  ({len(known.changed)} path(s) in the blocks of 64 that changed since a run that had nothing to do: deciding the "
                     f"{len(graph.jobs)} job(s) they reach, trusting the other {known.trusted})")
    if graph is not None:
        options.partial = known
    return graph


def dry_run(graph: JobGraph, rules: Rules, options: Options, console=None) -> list[Decision]:
    """Every job of the graph with its decision, in dependency order; nothing is written."""
    from .journal import dead

    state = open_state(readonly=True, console=console)
    left = dead_jobs(state)
    incomplete = {r.name for r in left}
    incomplete.update(e.name for _, entries in dead(STATE_DIR) for e in entries)
    forced, busy = forced_jobs(graph, options), running_elsewhere(state)
    lost = state is None and _run_without_store()  # then decided as a run would after waiting (Runner._enter)
    # The planner's stat cache, as a run's: planning stat'ed these paths already.
    stats = graph.planner.stats if graph.planner is not None else StatCache()
    decider = Decider(state, stats, forced, incomplete, busy, adopt=not lost)
    if left:
        from .detached import collected

        decider.incomplete_why.update(collected(state, left))
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
    if result.status == "detached":  # (detach.py) its jobs run on; one that failed already: 1
        return 1 if result.count("failed") else 0
    return 0 if result.ok else 1


def check_software(rules: Rules, graph: JobGraph) -> None:
    """Before any job starts (and before -n decides), for the command and the Python API alike:
    the image of every container: rule the graph's jobs use is resolved and every venv: built
    (containers.check), so that a missing engine, image or environment is an error naming the
    rule, not a failure of the rule's first job after others have run (issue 19)."""
    if any(r.container is not None or r.venv is not None for r in rules.rules.values()):
        from .containers import check

        check(graph, rules.namespace)


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
        check_software(rules, graph)
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
        # Every fact of the run, told once: to the console and to run.log (kept only if the run has work).
        from .events import Events
        from .runlog import RunLog

        self.events = Events(console, RunLog(self.run_dir))
        self.log = self.events.log
        self.outcomes: dict[str, JobOutcome] = {}
        executors.check(options.executor)  # a name that is no executor: refused before anything
        self._asked = _asked_budgets(options)  # checked now, made budgets when jobs are to start
        self.interrupted: int | None = None

    schedule: Schedule | None = None  # made by _schedule, when there is anything to run
    life: JobLife | None = None  # each job's steps (jobs.py), made once the store is open
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

    _failed = False  # the schedule's `failed`, once it is let go

    @property
    def failed(self) -> bool:
        return self._failed or (self.schedule is not None and self.schedule.failed)

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
        t0 = time.time()
        _check_layout()
        self._enter()
        try:
            self.state = open_state(readonly=False)
            self.state.few = self.options.partial is not None  # a few jobs decided of many: read them alone
            self.lock_dir: int | None = _lock_dir()
            if self._creating and self.project_lock:  # the store exists now: let other runs in
                import fcntl

                self.project_lock.take(fcntl.LOCK_SH)
        except BaseException:
            self._leave()
            raise
        planner = self.graph.planner
        if planner is not None:  # values.NAME.get() reads what this run records (values.py)
            if planner.value_store is not None and planner.value_store is not self.state:
                planner.value_store.close()  # (the read-only one planning opened)
            planner.value_store = self.state
            if not (planner.asked or planner.readers):  # no checkpoint or value re-plans a job (replan.py):
                planner.release()  # its maps back before deciding (~140 bytes a job)
        events = self.events
        if self.state.warning:
            events.warn(self.state.warning)
        from .journal import Journal

        journal = Journal(STATE_DIR, self.run_id, os.getpid(), self_start())
        # Before anything the decisions read; a memo needs nothing marked running then, as a new
        # mark raises the generation and a removed one does not.
        generation = None if self.state.running() else self.state.generation()
        if generation is None and not executors.EXECUTORS[self.options.executor].detach:
            self._check_collector()  # marks left: a detached run's jobs, which this executor cannot follow?
        self.state.run_started(self.run_id, self.options.argv)
        self.busy = running_elsewhere(self.state)
        recovery = Recovery(self.state, self.lock_dir, self.run_id, self.busy, self.graph.producers, self.stats,
                            events.warn, events.logged)
        incomplete = recovery.at_start()
        self.decider = Decider(self.state, self.stats, forced_jobs(self.graph, self.options), incomplete, self.busy,
                               adopt=not self.after_lost_store)
        life = self.life = self._make_life(journal, recovery)
        self.outcomes = life.outcomes
        from .cache import open_cache

        life.cache = open_cache(self.options.cache, self.rules.cache, self.run_id, events, events.logged)
        decisions = self.decider.decide_all(self.graph.jobs)
        if not gc.isenabled():  # the command line turned it off for planning (see cli._main)
            gc.freeze()
            gc.enable()
        stale = [d for d in decisions if d.reason is not None]
        try:
            will_run = self.decider.will_run
            for d in stale:
                # (a job reading the value of a job that runs first is checked when re-planned
                # with the new value: planned with the old one, it may ask for more than it will)
                if not (d.job.reads and any(p in will_run for p in d.job.reads)):
                    self._check_job_fits(d.job)
            if not self.options.overwrite_protected:
                check_protected(stale)
        except UsageError as e:  # nothing started: close the run as an error, not left "running"
            self.state.run_ended(self.run_id, "error")
            self.state.close()
            self._leave()
            events.run_error(e)
            self.log.close()
            raise
        if stale or incomplete or any(d.adopt for d in decisions):  # something to run or record
            self.log.keep()  # first: each decision's line then goes to the file, not to a list of N
        for d in decisions:
            events.decided(d)
            if d.reason is None:
                life.up_to_date(d)
        gathers = sum(1 for d in decisions if d.reason is None and d.job.gather)
        pending = sum(1 for d in stale if d.pending)
        # (the jobs the no-op memo vouched for without deciding them are up to date too)
        trusted = self.options.partial.trusted if self.options.partial is not None else 0
        events.run_started(len(stale) - pending, len(decisions) - len(stale) - gathers + trusted)
        # A build's decisions (one per job) are not kept through it: at 100,000 jobs, memory.
        stale_jobs, noop = [d.job for d in stale], (decisions if not stale else None)
        del decisions, stale
        status = "ok"
        store_error: StateError | None = None
        internal: BaseException | None = None
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            if stale_jobs and self.options.detach:  # submitted to Slurm, collected by a later run
                from .detach import submit_all

                status = submit_all(self._life(), self.executor_class, self.options.executor, self.events, stale_jobs,
                                    self._check_signal)
            elif stale_jobs:  # a no-op run needs no executor, no locks, no process bookkeeping
                self._schedule(stale_jobs)
                # Nothing runs now: the schedule's maps (four entries a job) go before the memo's check.
                self._failed, self.schedule = self.failed, None
            if self.failed:
                status = "failed"
                life.skip_unstarted(stale_jobs)
            self._orphans()
            if self.options.noop_key is not None and status == "ok" and not self.failed and not self.busy:
                from .noop_memo import leave

                leave(self.state, self.options.noop_key, generation, self.stats, self.graph.jobs, self.decider, noop,
                      events.logged, self.options.partial)
        except Interrupted:
            status = "interrupted"
            self._stop_all()
        except StateError as e:
            # The store cannot record what runs (full disk, size limit, I/O error, held locked):
            # nothing may run unrecorded, so stop the running jobs and remove their outputs.
            status, store_error = "error", e
            events.store_failed(e.message)
            self._stop_all("stopped: the state store cannot record what runs")  # failed, not interrupted
        except BaseException as e:
            # A bug in pyrule, or an error nobody foresaw: stop what runs, and record the run as
            # the error it is (never "ok"), with no job of it left marked running.
            status, internal = "error", e
            try:
                self._stop_all("stopped: pyrule met an internal error")
                life.unmark_all("not started: pyrule met an internal error")
            except (StateError, Interrupted):  # still marked: the next run cleans them up
                pass
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            life.close()
            journal.close()
            values: dict[str, Any] = {}
            try:
                self.state.flush()
                self.state.run_ended(self.run_id, status)
                values = _values(self.state, self.graph.jobs)
            except StateError as e:
                store_error = store_error or e
            try:
                self.state.close()
            except StateError as e:
                store_error = store_error or e
            self.stats.clear()  # (every path's stat result: nothing decides after this)
            self._leave()
        result = RunResult(self.run_id, self.outcomes, status, time.time() - t0, self.run_dir,
                           self.interrupted if status == "interrupted" else None, values, trusted)
        events.run_ended(status)
        try:
            if self.log.kept:
                from .stats import write_stats

                write_stats(result, self.graph.jobs, self.options.argv, self.rules.files)
        except OSError as e:  # full disk, or .pyrule/ deleted meanwhile: the run itself is done
            self.log.error = self.log.error or e
        self.log.close()
        if self.log.error is not None:
            events.warn(f"could not write the run's log and stats under {self.run_dir}: "
                        f"{self.log.error.strerror or self.log.error}")
        if store_error is not None:
            raise store_error
        if internal is not None:
            raise internal
        events.run_finished(result)
        return result

    def _make_life(self, journal, recovery: Recovery) -> JobLife:
        """The job lifecycle of this run (jobs.py), given what it works with."""
        o, rules = self.options, self.rules
        setting = RunSetting(self.run_id, self.run_dir, o.executor, o.executor_options, o.overrides, o.print_commands,
                             rules.namespace, rules.files[0] if rules.files else None)
        life = JobLife(setting, self.state, self.decider, self.stats, self.graph.producers, self.lock_dir, recovery,
                       journal, self.events)
        if recovery.failed_detached:  # (detached.py) their failed attempt counts, as if this run had made it
            for job in self.graph.jobs:
                if job.name in recovery.failed_detached and job.rule.retries >= 1:
                    life.attempts[job] = 1
        return life

    after_lost_store = False  # this run waited for one whose .pyrule/ was deleted (see _enter)
    project_lock: ProjectLock | None = None  # held while the run lasts
    _creating = False  # the project lock is held exclusively: this run creates the store

    def _enter(self) -> None:
        """Take the project lock (locks.enter_project), waiting while a run whose .pyrule/ was
        deleted goes on: this run then adopts nothing."""
        from .locks import enter_project

        def waiting() -> None:
            self.events.note(f"another pyrule process is running in this directory, and {STATE_DIR}/ was "
                             "deleted during its run: waiting for it to end")

        self.project_lock, self._creating, self.after_lost_store = enter_project(os.path.join(STATE_DIR, "state.db"),
                                                                                 waiting)

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
            n, kept = delete_orphans(orphans, self.state, self.options.overwrite_protected)
            left = set(kept)  # the jobs counted are those with an output removed
            self.events.orphans_removed(n, [name for name, outs in orphans if any((name, p) not in left for p in outs)],
                                        kept)
            return
        self.events.orphaned(orphans)

    def _check_job_fits(self, job: Job) -> None:
        over = over_budget(self.executor_class.needs(job), self.budget)
        if over is not None:
            key, need, have = over
            raise UsageError(
                f"job {job.name} needs {key}={_show(key, need)} but the budget is {_show(key, have)}",
                job.rule.where("resources"),
                f"raise the budget ({_budget_flag(key)}) or lower the rule's resources"
                + (" (cores = upto(N) takes what the budget gives)" if key == "cores" else ""),
            )

    # -- the loop ------------------------------------------------------------------------------

    def _schedule(self, stale: list[Job]) -> None:
        kind = self.executor_class
        life = self._life()
        executor = life.open(kind)
        sched = self.schedule = Schedule(stale, self.budget, kind.needs, self.options.keep_going)
        stats, events = self.stats, self.events

        def removed(path: str) -> None:
            stats.forget(path)
            events.temp_removed(path)

        temps = Temps(self.graph.consumers, removed)
        status = life.status

        def done(c: Job) -> bool:  # a consumer of a temp() output that no longer needs it
            return status(c) == "up-to-date" or (c in sched.done and status(c) == "ran")

        lock_wait: list[Job] = []
        while sched.ready or life.running or lock_wait:
            if self.interrupted:
                raise Interrupted(self.interrupted)
            stop_new = sched.stop_new
            starts: list[tuple[Job, Any, Any]] = []
            if not stop_new:
                retry, lock_wait = lock_wait, []
                for job in retry:
                    sched.requeue(job)
                for job in sched.startable():
                    prepared = life.prepare(job, lock_wait)
                    if prepared is None:
                        continue
                    if prepared is False:  # up to date after all (early cutoff or built elsewhere)
                        if not job.gather:  # (a gather waiting for its inputs was not counted)
                            events.settled(job)
                        self._finish(job, True)
                        temps.drop(job, done)
                        continue
                    sched.started(job)
                    starts.append((job, *prepared))
            if starts:
                self._not_started(life.start(starts))
            if not life.running:
                if lock_wait and not stop_new:
                    time.sleep(_LOCK_RETRY_S)  # another process holds them: retry shortly
                    continue
                break
            try:
                self._in_wait = True
                if self.interrupted:  # a signal that came after the check above, before _in_wait
                    raise Interrupted(self.interrupted)
                results = executor.wait(_LOCK_RETRY_S if lock_wait else None)
            finally:
                self._in_wait = False
            self._not_started(life.assigned())
            ended = []
            for res in results:
                job, lock, ok = life.ended(res, retrying=not self.interrupted)
                sched.stopped(job)
                ended.append((job, lock, ok))
            # Ended in the journal before the store's marks go (JobLife.start says why); recorded
            # before the locks go: another pyrule waiting on them re-checks the job against the
            # store at once, and must find this success there.
            life.journal.ended([job.name for job, _, _ in ended])
            self.state.flush()
            for job, lock, ok in ended:
                lock.release()
                if ok is None:  # retry
                    sched.requeue(job)
                    continue
                self._finish(job, ok)
                if ok:
                    temps.drop(job, done)
        self.state.flush()

    def _not_started(self, unstarted: list[tuple[Job, Any, str]]) -> None:
        """Jobs that could not start (JobLife.start, JobLife.assigned) fail unrun."""
        if not unstarted:
            return
        sched, life = self._sched(), self._life()
        for job, _lock, why in unstarted:
            sched.stopped(job)
            life.not_started(job, why)
        self.state.flush()  # no longer marked running before the locks go
        for job, lock, _why in unstarted:
            lock.release()
            self._finish(job, False)

    def _check_collector(self) -> None:
        from .detached import check_collector

        try:
            check_collector(self.state, self.options.executor)
        except UsageError:  # nothing recorded yet: the run never started
            self.state.close()
            self._leave()
            raise

    def _check_signal(self) -> None:
        if self.interrupted:
            raise Interrupted(self.interrupted)

    def _sched(self) -> Schedule:
        assert self.schedule is not None, "used only while jobs are scheduled"
        return self.schedule

    def _life(self) -> JobLife:
        assert self.life is not None, "made once the store is open"
        return self.life

    def _finish(self, job: Job, ok: bool) -> None:
        """The job is done (ran, failed, or up to date after all): record what it skips; a
        checkpoint that ran re-plans the jobs that asked for it."""
        planner = self.graph.planner
        askers = set(planner.asked.get(job, ())) if ok and job.rule.checkpoint and planner is not None else set()
        # Jobs that read its value while planned (values.py): planned again with the value it
        # returned now (an equal one leaves them up to date when they are decided again).
        readers: list[Job] = []
        if ok and planner is not None and planner.readers and job in planner.readers:
            readers = [*(planner.asked.get(job, ()) if askers else ()),
                       *(r for r in planner.readers[job] if r not in askers)]
            askers |= set(readers)
        life = self._life()
        life.skipped(self._sched().finished(job, ok, askers))
        if not askers:
            return
        assert planner is not None  # askers come from it
        # Re-planned (replan.py): each asker's new jobs decided (jobs.py), and what happened told.
        from .replan import replan_askers

        events, o = self.events, self.options

        def judge(j: Job) -> bool | None:
            return life.added(j, job, o.force_all, o.overwrite_protected)

        for r in replan_askers(job, planner, self.graph.jobs, self.graph.producers, self._sched(),
                               self._check_job_fits, judge, readers or None):
            if r.error is not None:
                events.replan_failed(r.asker, r.error)
                life.skipped(r.skipped)
                continue
            for old in r.dropped:  # no longer part of the workflow (its old outputs are orphans)
                life.outcomes.pop(old.name, None)
                events.dropped(old, job)
            events.replanned(r.asker, job, len(r.new), len(r.stale))
            life.skipped(r.skipped)

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
        life = self.life
        executor = life.executor if life is not None else None
        if life is None or executor is None or not life.running:
            return
        self.events.stopping(len(life.running))
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
        life.stopped_all(why)


# --- helpers -------------------------------------------------------------------------------------


def _values(state: State, jobs: list[Job]) -> dict[str, Any]:
    """The values of these jobs that the store has (values.py): one query when there are none."""
    import sqlite3

    try:
        names = state.valued()
    except sqlite3.Error:  # (a store in trouble: the run's own outcome says so; no values then)
        return {}
    out: dict[str, Any] = {}
    for job in jobs if names else ():
        if job.name not in names:
            continue
        try:
            stored = state.value_of(job.name)
            if stored is not None:
                out[job.name] = stored.load()
        except Exception:  # noqa: BLE001 - an unpickling error (the class is gone), a store error: left out
            continue
    return out


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
