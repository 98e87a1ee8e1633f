"""Unit tests of checkpoint re-planning (pyrule/replan.py), in-process and without processes:
a scripted planner (what graph.Replanner promises: `asked`, `checkpoint_ran`, `replan`), a real
Schedule, and a judge that decides each new job as the test says. What the runner does with each
`Replanned` record (tell it, record outcomes) is the end-to-end tests' (tests/test_checkpoints.py)."""

from __future__ import annotations

import pytest

from pyrule.errors import PyruleError
from pyrule.executors.local import LocalExecutor
from pyrule.graph import Job
from pyrule.replan import Replanned, replan_askers
from pyrule.rules import Rule
from pyrule.schedule import Schedule


def job(name: str, *deps: Job, checkpoint: bool = False) -> Job:
    rule = Rule(name.split("[")[0], checkpoint=checkpoint, shell="true")
    return Job(rule, {}, name, [f"{name}.out"], [f"{d.name}.out" for d in deps], None, {}, {}, deps=list(deps))


class Planner:
    """Re-plans each asker to the jobs `plans` gives it (its new deps, in dependency order),
    or raises the PyruleError given instead."""

    def __init__(self, asked: dict[Job, list[Job]], plans: dict[Job, list[Job] | PyruleError]):
        self.asked = asked
        self.plans = plans
        self.ran: list[Job] = []
        self.replanned: list[Job] = []

    def checkpoint_ran(self, checkpoint: Job) -> None:
        self.ran.append(checkpoint)

    def replan(self, asker: Job) -> list[Job]:
        self.replanned.append(asker)
        plan = self.plans[asker]
        if isinstance(plan, PyruleError):
            raise plan
        asker.deps = list(plan)
        return [*plan, asker]


def scheduled(stale: list[Job], checkpoint: Job, askers: set[Job]) -> Schedule:
    """A schedule of `stale` in which the checkpoint has run and finished."""
    s = Schedule(stale, {"cores": 4, "mem": 0}, LocalExecutor.needs)
    assert next(s.startable()) is checkpoint
    s.started(checkpoint)
    s.stopped(checkpoint)
    assert s.finished(checkpoint, True, askers) == []
    return s


def ok(_checks: list[Job] | None = None):
    def check(j: Job) -> None:
        if _checks is not None:
            _checks.append(j)
    return check


def replan_all(cp: Job, planner: Planner, jobs: list[Job], sched: Schedule, judge=lambda j: True,
               check=None) -> tuple[list[Replanned], dict[str, Job]]:
    producers = {o: j for j in jobs for o in j.outputs}
    return list(replan_askers(cp, planner, jobs, producers, sched, check or ok(), judge)), producers


def test_the_new_jobs_join_the_graph_before_their_asker_and_the_schedule_before_it():
    split = job("split", checkpoint=True)
    merge = job("merge", split)
    p1, p2 = job("process[p1]", split), job("process[p2]", split)
    planner = Planner({split: [merge]}, {merge: [split, p1, p2]})
    jobs = [split, merge]
    sched = scheduled(list(jobs), split, {merge})
    checked: list[Job] = []
    records, producers = replan_all(split, planner, jobs, sched, check=ok(checked))
    assert planner.ran == [split] and checked == [merge]
    assert records == [Replanned(merge, [p1, p2], [p1, p2], [], [])]
    assert jobs == [split, p1, p2, merge]
    assert producers["process[p1].out"] is p1 and producers["process[p2].out"] is p2
    started = [j for j in sched.startable()]
    assert started == [p1, p2]  # merge waits for both
    for j in started:
        sched.started(j)
        sched.stopped(j)
        sched.finished(j, True)
    assert list(sched.startable()) == [merge]


def test_a_new_job_up_to_date_is_not_scheduled_and_one_refused_skips_its_asker():
    split = job("split", checkpoint=True)
    merge, report = job("merge", split), job("report", split)
    after = job("after", merge)
    p1, p2 = job("p1", split), job("p2", split)
    q1 = job("q1", split)
    verdicts = {p1: None, p2: True, q1: False}
    planner = Planner({split: [merge, report]}, {merge: [split, p1, p2], report: [split, q1]})
    jobs = [split, merge, report, after]
    sched = scheduled(list(jobs), split, {merge, report})
    judged: list[Job] = []

    def judge(j: Job) -> bool | None:
        judged.append(j)
        return verdicts[j]

    records, _ = replan_all(split, planner, jobs, sched, judge)
    assert judged == [p1, p2, q1]
    assert records == [Replanned(merge, [p1, p2], [p2], [], []),
                       Replanned(report, [q1], [], [], [(report, "upstream q1 failed")])]
    assert jobs == [split, p1, p2, merge, q1, report, after]
    assert sched.failed and q1 in sched.done and report in sched.done
    assert sched.stop_new  # a failure stops new starts (no -k)


def test_an_asker_that_cannot_be_planned_is_skipped_with_what_waits_for_it():
    split = job("split", checkpoint=True)
    merge = job("merge", split)
    after = job("after", merge)
    err = PyruleError("cannot read chunks/")
    planner = Planner({split: [merge]}, {merge: err})
    jobs = [split, merge, after]
    sched = scheduled(list(jobs), split, {merge})
    records, _ = replan_all(split, planner, jobs, sched)
    why = "cannot plan it after checkpoint split"
    assert records == [Replanned(merge, error=err, skipped=[(merge, why), (after, why)])]
    assert jobs == [split, merge, after]


def test_a_check_that_refuses_the_replanned_asker_skips_it():
    """Its resources may have waited for the checkpoint: over the budget, it cannot run."""
    split = job("split", checkpoint=True)
    merge = job("merge", split)
    p1 = job("p1", split)
    planner = Planner({split: [merge]}, {merge: [split, p1]})
    sched = scheduled([split, merge], split, {merge})
    err = PyruleError("job merge needs cores=64 but the budget is 4")

    def check(j: Job) -> None:
        raise err

    records, _ = replan_all(split, planner, [split, merge], sched, check=check)
    assert [(r.asker, r.error, r.new) for r in records] == [(merge, err, [])]


def test_old_jobs_the_asker_no_longer_needs_are_dropped_from_the_graph_and_the_schedule():
    split = job("split", checkpoint=True)
    old = job("old")  # stale, not started: only merge needed it
    shared = job("shared")  # needed by another job still: kept
    merge = job("merge", split, old, shared)
    other = job("other", shared)
    p1 = job("p1", split)
    planner = Planner({split: [merge]}, {merge: [split, p1]})
    jobs = [split, old, shared, merge, other]
    sched = Schedule(list(jobs), {"cores": 1, "mem": 0}, LocalExecutor.needs)
    assert next(sched.startable()) is split  # one slot: old and shared wait
    sched.started(split)
    sched.stopped(split)
    sched.finished(split, True, {merge})
    records, _ = replan_all(split, planner, jobs, sched)
    assert records == [Replanned(merge, [p1], [p1], [old], [])]
    assert jobs == [split, shared, p1, merge, other]
    assert old in sched.done and not sched.pending(old) and sched.pending(shared)


def test_an_asker_no_longer_to_run_is_not_replanned():
    split = job("split", checkpoint=True)
    merge = job("merge", split)
    planner = Planner({split: [merge]}, {merge: [split]})
    sched = scheduled([split, merge], split, {merge})
    sched.skip(merge, "upstream x failed")
    records, _ = replan_all(split, planner, [split, merge], sched)
    assert records == [] and planner.ran == [split] and planner.replanned == []


def test_each_record_comes_before_the_next_asker_is_replanned():
    """The runner tells each asker's facts in the order the old loop wrote them."""
    split = job("split", checkpoint=True)
    a, b = job("a", split), job("b", split)
    planner = Planner({split: [a, b]}, {a: [split], b: [split]})
    sched = scheduled([split, a, b], split, {a, b})
    it = replan_askers(split, planner, [split, a, b], {}, sched, ok(), lambda j: True)
    assert next(it).asker is a and planner.replanned == [a]
    assert next(it).asker is b and planner.replanned == [a, b]
    with pytest.raises(StopIteration):
        next(it)
