"""The scheduler's bookkeeping, pure: which stale jobs are ready, in what order, within which
budgets, what is done, what a failure skips, and how jobs a checkpoint adds join the run.

No I/O, no processes, no console: the runner (run.py, jobs.py) locks, starts, waits and reports, and
tells a Schedule what happened (Ninja's Plan beside its Builder; pydoit's TaskDispatcher).
Jobs are only keys here: their `deps`, `rule.priority` and `name` are all it reads.
"""

from __future__ import annotations

import heapq
import itertools

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from .graph import Job

BACKFILL = 16  # ready jobs looked at past the first that does not fit


def over_budget(need: dict[str, float], budget: dict[str, float]) -> tuple[str, float, float] | None:
    """The first (resource, need, budget) a job could never fit in, even alone."""
    for key, n in need.items():
        have = budget.get(key)
        if have is not None and n > have:
            return key, n, have
    return None


def critical_path(stale: list[Job], consumers: dict[Job, list[Job]]) -> dict[Job, int]:
    """Each job's depth: the longest chain of jobs from it to the end, itself included."""
    depth: dict[Job, int] = {}
    for j in reversed(stale):  # stale is in dependency order: consumers come later
        depth[j] = 1 + max((depth[c] for c in consumers[j]), default=0)
    return depth


class Schedule:
    """The stale jobs of one run, from the first ready one to the last done.

    Ready jobs come out by rule priority, then critical-path depth, then the order they became
    ready. A job is ready when every stale job it needs has finished. `startable()` yields the
    ready jobs that fit the budgets; the caller says which it `started()`, which `stopped()`
    (budget back) and which `finished()`; `requeue()` puts a job back (a retry, a lock held
    elsewhere). A failure skips every job downstream, and stops new starts unless keep_going.
    """

    def __init__(self, stale: list[Job], budget: dict[str, float], need: Callable[[Job], dict[str, float]],
                 keep_going: bool = False):
        self.budget = budget
        # The first budget's units are the slots (the executor's: cores here, jobs on Slurm):
        # while none is free, no job starts, even one that needs none of it.
        self.slot = next(iter(budget))
        self.used: dict[str, float] = dict.fromkeys(budget, 0)
        self._need = need
        self.keep_going = keep_going
        self.failed = False
        self.done: set[Job] = set()  # finished, skipped or dropped: never to start (again)
        # Every job of the schedule is a key of both (of `consumers` until it finished); consumers
        # are stale jobs only.
        self.consumers: dict[Job, list[Job]] = {j: [] for j in stale}
        self.waiting: dict[Job, int] = {}
        for j in stale:
            n = 0
            for d in j.deps:
                if d in self.consumers:
                    self.consumers[d].append(j)
                    n += 1
            self.waiting[j] = n
        self.depth = critical_path(stale, self.consumers)
        self._ready: list[tuple] = []
        self._seq = itertools.count()  # among equals, first ready first started
        for j in stale:
            if self.waiting[j] == 0:
                self.requeue(j)

    # -- the queue -----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Jobs are queued (some may turn out done when popped: dropped after a checkpoint)."""
        return bool(self._ready)

    @property
    def stop_new(self) -> bool:
        return self.failed and not self.keep_going

    def pending(self, job: Job) -> bool:
        """Part of this schedule and not done yet."""
        return job in self.waiting and job not in self.done

    def requeue(self, job: Job) -> None:
        heapq.heappush(self._ready, (-job.rule.priority, -self.depth[job], next(self._seq), job))

    def startable(self) -> Iterator[Job]:
        """The ready jobs that fit, best first; call started(job) for each one started before
        asking for the next. Every job takes at least one slot: with none free, or after looking
        past BACKFILL jobs that do not fit, it stops: scanning the whole queue each time would
        make a long queue quadratic. The jobs looked past stay queued."""
        skipped: list[tuple] = []
        slot = self.slot
        try:
            while self._ready and self.used[slot] < self.budget[slot] and len(skipped) < BACKFILL:
                entry = heapq.heappop(self._ready)
                job = entry[-1]
                if job in self.done:  # dropped after it became ready (a checkpoint no longer needs it)
                    continue
                if not self.fits(job):
                    skipped.append(entry)
                    continue
                yield job
        finally:
            for entry in skipped:
                heapq.heappush(self._ready, entry)

    # -- budgets -------------------------------------------------------------------------------

    def fits(self, job: Job) -> bool:
        return all(self.used[k] + v <= self.budget[k] for k, v in self._need(job).items() if k in self.budget)

    def started(self, job: Job) -> None:
        """The job runs: it holds its share of the budgets."""
        for k, v in self._need(job).items():
            if k in self.used:
                self.used[k] += v

    def stopped(self, job: Job) -> None:
        """The job runs no more (it ended, or did not start after all): its share is free."""
        for k, v in self._need(job).items():
            if k in self.used:
                self.used[k] -= v

    # -- done ----------------------------------------------------------------------------------

    def finished(self, job: Job, ok: bool, replanned: Iterable[Job] = ()) -> list[tuple[Job, str]]:
        """The job is done: its consumers wait for one job less, or, if it failed, are skipped,
        returned as (job, why) in the order skipped. `replanned`: consumers the caller re-plans
        (askers of a checkpoint) and then grafts, which recounts what they wait for."""
        self.done.add(job)
        skipped: list[tuple[Job, str]] = []
        if not ok:
            self.failed = True
        # Its list goes: a done job's consumers are never looked at again (skip stops at it), and
        # at a million jobs the lists are ~70 MB.
        for c in self.consumers.pop(job, ()):
            if not ok:
                skipped += self.skip(c, f"upstream {job.name} failed")
                continue
            if c in replanned:
                continue
            self.waiting[c] -= 1
            if self.waiting[c] == 0 and c not in self.done:
                self.requeue(c)
        return skipped

    def skip(self, job: Job, why: str) -> list[tuple[Job, str]]:
        """The job will not run (the run failed there): neither will anything downstream of it.
        Returns the jobs newly skipped, with why, in the order skipped."""
        self.failed = True
        skipped: list[tuple[Job, str]] = []
        stack = [job]
        while stack:
            j = stack.pop()
            if j in self.done:
                continue
            self.done.add(j)
            skipped.append((j, why))
            stack.extend(self.consumers[j])
        return skipped

    # -- checkpoints ---------------------------------------------------------------------------

    def graft(self, asker: Job, stale: list[Job], old_deps: Iterable[Job] = (),
              refused: Sequence[Job] = ()) -> tuple[list[Job], list[tuple[Job, str]]]:
        """A checkpoint has run and `asker` was re-planned: add the new stale jobs it needs (in
        dependency order), let go of `old_deps` it no longer needs, and recount what it waits
        for. `refused`: new jobs that failed before they could be scheduled; the asker is then
        skipped. Returns the old jobs dropped (needed by no job left) and the jobs skipped."""
        for j in stale:
            self.consumers[j] = []
            self.depth[j] = 1
            self.waiting[j] = 0
            self._count(j)
            if self.waiting[j] == 0:
                self.requeue(j)
        self.done.update(refused)  # failed already (the asker's skip below marks the run failed)
        dropped: list[Job] = []
        for old in old_deps:
            if asker in self.consumers.get(old, ()):
                self.consumers[old].remove(asker)
            if self.pending(old) and not any(c not in self.done for c in self.consumers[old]):
                # No longer part of the workflow: never started (its old outputs are orphans).
                self.done.add(old)
                dropped.append(old)
        self.waiting[asker] = 0
        self._count(asker)
        if refused:
            return dropped, self.skip(asker, f"upstream {refused[0].name} failed")
        if self.waiting[asker] == 0:
            self.requeue(asker)
        return dropped, []

    def _count(self, job: Job) -> None:
        """Count the stale deps job waits for, becoming their consumer."""
        for dep in job.deps:
            if self.pending(dep):
                if job not in self.consumers[dep]:
                    self.consumers[dep].append(job)
                self.waiting[job] += 1
