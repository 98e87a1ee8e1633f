"""Checkpoint re-planning, beside the scheduler (schedule.py): once a checkpoint job has run, the
jobs that asked for its outputs are planned again and the jobs they now need are grafted into
the graph and the schedule.

No console, no run log, no store: the planner (graph.Replanner) reads the checkpoint's outputs,
the caller's `judge` decides each new job, and what happened comes back as one `Replanned`
record per asker, for the runner to tell and record (run.py).
"""

from __future__ import annotations

from .errors import PyruleError
from .record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .graph import Job, Replanner
    from .schedule import Schedule


@record
class Replanned:
    """One asker of a checkpoint, re-planned: the jobs added to the graph (`new`), those of them
    to run (`stale`, now in the schedule), the old jobs it no longer needs (`dropped`: out of the
    graph and the schedule) and the jobs skipped. `error`: it could not be planned (then skipped)."""

    asker: Job
    new: list[Job] = field(default_factory=list)
    stale: list[Job] = field(default_factory=list)
    dropped: list[Job] = field(default_factory=list)
    skipped: list[tuple[Job, str]] = field(default_factory=list)
    error: PyruleError | None = None


def replan_askers(checkpoint: Job, planner: Replanner, jobs: list[Job], producers: dict[str, Job],
                  sched: Schedule, check: Callable[[Job], None],
                  judge: Callable[[Job], bool | None], askers: list[Job] | None = None) -> Iterator[Replanned]:
    """The checkpoint job has run: re-plan each asker still to run, one `Replanned` each, in
    the order the planner lists them (`askers`: these instead, e.g. the readers of a job's value). `jobs` and `producers` (the graph's) receive the new jobs,
    each right before its asker, and lose the dropped ones. `check(asker)` raises a PyruleError
    if the re-planned asker cannot run (its resources may have waited for the checkpoint);
    `judge(job)` decides each new job: True to run it, None up to date, False refused (it fails
    unrun, and its asker is skipped). A record is yielded before the next asker is re-planned."""
    planner.checkpoint_ran(checkpoint)
    known = set(jobs)
    for asker in list(planner.asked.get(checkpoint, ())) if askers is None else askers:
        if not sched.pending(asker):
            continue
        before = set(asker.deps)
        try:
            order = planner.replan(asker)
            check(asker)
        except PyruleError as e:
            yield Replanned(asker, error=e,
                            skipped=sched.skip(asker, f"cannot plan it after checkpoint {checkpoint.name}"))
            continue
        new = [j for j in order if j not in known and j is not asker]
        at = jobs.index(asker)
        jobs[at:at] = new
        known.update(new)
        stale: list[Job] = []
        refused: list[Job] = []
        for j in new:
            for out in j.outputs:
                producers[out] = j
            verdict = judge(j)
            if verdict:
                stale.append(j)
            elif verdict is False:
                refused.append(j)
        dropped, skipped = sched.graft(asker, stale, before - set(asker.deps), refused)
        for old in dropped:  # no longer part of the workflow (its old outputs are orphans)
            jobs.remove(old)
        yield Replanned(asker, new, stale, dropped, skipped)
