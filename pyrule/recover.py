"""Crash recovery: clean up after a pyrule process that died while it ran jobs.

Such a job's outputs may be half-written, and its processes (or its Slurm job) may still be
writing them. Two sources name those jobs: the store's "running" marks, and the journals
(journal.py) that each run writes before a job starts, which survive a damaged or removed store.
Each dead job is stopped by its executor (`executors.owner(...).stop_leftover`), its outputs
removed, and it is reported; the run then rebuilds it. The Runner (run.py) gives this module
what it needs explicitly: the store, the lock directory, its own run id and where to report.
"""

from __future__ import annotations

import os

from . import executors
from .outputs import remove
from .procinfo import alive_since
from .project import STATE_DIR, outside
from .state import RunningJob, State

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable, Container

    from .stat_cache import StatCache


def dead_jobs(state: State | None) -> list[RunningJob]:
    """Jobs that a pyrule process which no longer exists left marked as running."""
    if state is None:
        return []
    return [r for r in state.running() if not alive_since(r.owner_pid, r.owner_start)]


class Recovery:
    """Recovers dead jobs for one run. `busy` (the run's: job name -> pid of the live pyrule
    running it) receives, as pid 0, the jobs another pyrule is recovering or rebuilding now;
    `producers` are the paths the current Pipefile writes; `stats` forgets each path removed."""

    def __init__(self, state: State, lock_dir: int | None, run_id: str, busy: dict[str, int],
                 producers: Container[str], stats: StatCache, warn: Callable[[str], None],
                 log: Callable[[str], None]):
        self.state = state
        self.lock_dir = lock_dir
        self.run_id = run_id
        self.busy = busy
        self.producers = producers
        self.stats = stats
        self.warn = warn
        self.log = log
        self.failed_detached: set[str] = set()  # jobs of detached runs found failed: their attempt counts

    def at_start(self) -> set[str]:
        """Clean up every dead job of the store and of dead runs' journals, each under its lock,
        so that two pyrule processes starting together never remove what the other has begun to
        rebuild. Returns the names of the jobs recovered."""
        names = self._rows(dead_jobs(self.state), locked=False)
        return names | self._journals(names)

    def locked(self, rows: list[RunningJob]) -> set[str]:
        """Clean up dead jobs whose lock the caller holds already."""
        return self._rows(rows, locked=True)

    def _rows(self, rows: list[RunningJob], locked: bool) -> set[str]:
        from .journal import settle
        from .locks import JobLock

        names = set()
        for r in rows:
            lock = None if locked else JobLock(STATE_DIR, list(r.outputs) or [r.name], dir_fd=self.lock_dir)
            if lock is not None and not lock.try_acquire():
                # Another pyrule is recovering or rebuilding it now (which one, the store does not
                # say yet: r.owner_pid is the dead one's).
                self.busy[r.name] = 0
                continue
            try:
                now = self.state.running_job(r.name)
                if now is None or now.run_id != r.run_id:
                    continue  # cleaned up (and perhaps rebuilt) by another pyrule meanwhile
                if not self.one(r):  # (an adopted job stays marked until its new run ends it)
                    # Ended in the dead run's journal before its mark goes, as a run ends its own
                    # jobs (jobs.JobLife.start): a kill between the two must leave it marked.
                    settle(STATE_DIR, r.run_id, {r.name})
                    self.state.forget_running([r.name])
                names.add(r.name)
            finally:
                if lock is not None:
                    lock.release()
        return names

    def _journals(self, done: set[str]) -> set[str]:
        """Clean up the jobs that a dead pyrule's journal (journal.py) has open, as _rows does
        for the store's marks: they may be half-written even when the store, damaged or
        removed since, knows nothing of them. `done`: jobs recovered from the store already."""
        from .journal import dead
        from .journal import remove as remove_journal
        from .locks import JobLock

        names = set()
        for path, entries in dead(STATE_DIR, own=self.run_id):
            kept = False
            for e in entries:
                if e.name in done:
                    continue
                lock = JobLock(STATE_DIR, list(e.outputs) or [e.name], dir_fd=self.lock_dir)
                if not lock.try_acquire():
                    self.busy[e.name] = 0  # another pyrule is recovering or rebuilding it now (not the dead owner)
                    kept = True
                    continue
                try:
                    if not os.path.exists(path):
                        break  # recovered by another pyrule meanwhile
                    # No record of its handle: the journal is written before the job starts; its
                    # executor finds it otherwise (a local job's processes by their marker).
                    pgid = executors.known(e.executor).unstarted
                    self.one(RunningJob(e.name, e.run_id, e.owner_pid, e.owner_start, pgid, e.outputs, e.started))
                    names.add(e.name)
                finally:
                    lock.release()
            if not kept:
                remove_journal(path)
        return names

    def one(self, r: RunningJob) -> bool:
        """Stop one dead job and remove its outputs (the caller holds its lock); or, when its
        executor adopts it (a Slurm job still pending, running or completed), leave both: True."""
        # Its executor stops it first (a local one's processes, a Slurm job), as it would go on
        # writing the outputs unseen; only a job recorded as its own is asked about.
        detached = r.run_id in self.detached
        if detached:  # submitted by `pyrule --detach` (detach.py), which ended on purpose
            from .detached import whose

            if executors.owner(r.pgid).stop_leftover(r, self.warn, self.log, whose(r.run_id)):
                return True
        elif executors.owner(r.pgid).stop_leftover(r, self.warn, self.log):
            return True
        from .containers import stop_leftover

        if stop_leftover(r.run_id, r.name):
            self.log(f"recover {r.name}: stopped its container")
        for p in r.outputs:
            if outside(p) and p not in self.producers:
                # Only the store says this job writes there (it may be damaged or edited): an
                # output of the current Pipefile, or inside the project, is removed; not this.
                self.warn(f"{r.name}: the store names '{p}' as its output, outside the project and "
                          "not an output of this Pipefile: left alone")
                continue
            remove(p)
            self.stats.forget(p)
        if detached:
            from .detached import detached_states

            word, said = detached_states([r]).get(r.name, ("", executors.owner(r.pgid).describe(r)))
            what = "failed" if word == "failed" else "could not be followed"  # (e.g. its script changed)
            if word == "failed":
                self.failed_detached.add(r.name)
            self.warn(f"{r.name} {what}: {said} (submitted by detached run {r.run_id}); "
                      "removed its outputs; it will be submitted again")
            self.log(f"recover {r.name}: detached, {said}; removed its outputs {r.outputs}")
            return False
        self.warn(f"{r.name} was running when pyrule died: removed its outputs; it will be rebuilt")
        self.log(f"recover {r.name}: removed incomplete outputs {r.outputs}")
        return False

    _detached: set[str] | None = None

    @property
    def detached(self) -> set[str]:
        """The ids of detached runs (detach.py): their jobs' owner ended on purpose."""
        if self._detached is None:
            from .detached import detached_runs

            self._detached = detached_runs(self.state)
        return self._detached
