"""Unit tests of the scheduler's bookkeeping (pyrule/schedule.py), driven in-process by a fake
executor loop: no processes, no state store. Jobs are real `Job` records (built directly, or
planned from a real Pipefile for the checkpoint tests); the loop below does what run.py's Runner
does with a Schedule, minus the I/O."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyrule.executors.local import LocalExecutor
from pyrule.executors.slurm import SlurmExecutor
from pyrule.graph import Job
from pyrule.load import load
from pyrule.plan import plan
from pyrule.rules import Rule
from pyrule.schedule import BACKFILL, Schedule, critical_path, over_budget


def job(name: str, *deps: Job, priority: int = 0, checkpoint: bool = False, **resources) -> Job:
    rule = Rule(name.split("[")[0], priority=priority, checkpoint=checkpoint, shell="true")
    return Job(rule, {}, name, [f"{name}.out"], [f"{d.name}.out" for d in deps], None, {}, resources,
               deps=list(deps))


def local(j: Job) -> dict[str, float]:
    return LocalExecutor.needs(j)


def schedule(stale: list[Job], cores: float = 1, mem: float = 100, keep_going: bool = False, **extra) -> Schedule:
    return Schedule(stale, {"cores": cores, "mem": mem, **extra}, local, keep_going)


class FakeExecutor:
    """Runs nothing: a started job ends when `end()` says so, with the outcome `fail` gives it
    (True/False, or None for a retry as Runner._ended returns)."""

    def __init__(self, sched: Schedule, fail: dict[str, list] | None = None):
        self.sched = sched
        self.fail = {k: list(v) for k, v in (fail or {}).items()}
        self.running: list[Job] = []
        self.started: list[str] = []
        self.skipped: list[tuple[str, str]] = []

    def start_what_fits(self) -> list[str]:
        now = []
        if not self.sched.stop_new:
            for j in self.sched.startable():
                self.sched.started(j)
                self.running.append(j)
                now.append(j.name)
        self.started += now
        return now

    def end(self, j: Job | None = None) -> None:
        j = j or self.running[0]
        self.running.remove(j)
        self.sched.stopped(j)
        outcomes = self.fail.get(j.name)
        ok = outcomes.pop(0) if outcomes else True
        if ok is None:  # a retry: queued again, not finished
            self.sched.requeue(j)
            return
        self.skipped += [(s.name, why) for s, why in self.sched.finished(j, ok)]

    def run(self) -> list[str]:
        """The runner's loop: start what fits, wait for the oldest running job, until idle."""
        while self.sched.ready or self.running:
            self.start_what_fits()
            if not self.running:
                break
            self.end()
        return self.started


# -- what a job needs, and the budgets ---------------------------------------------------------


def test_needs_on_the_local_executor_are_cores_mem_and_numeric_custom_resources():
    j = job("a", cores=2, mem=1000, gpus=1, disk_io=0.5, runtime=60, label="fast")
    assert LocalExecutor.needs(j) == {"cores": 2, "mem": 1000, "gpus": 1, "disk_io": 0.5}
    assert LocalExecutor.needs(job("b")) == {"cores": 1, "mem": 0}
    # Neither a runtime nor slurm options (whatever their value) are budgets.
    assert LocalExecutor.needs(job("c", slurm=3)) == {"cores": 1, "mem": 0}


def test_needs_on_slurm_are_one_job_slot_and_custom_resources():
    assert SlurmExecutor.needs(job("a", cores=8, mem=10**9, gpus=2)) == {"jobs": 1, "gpus": 2}


def test_over_budget_names_the_first_resource_that_can_never_fit():
    assert over_budget({"cores": 2, "mem": 5}, {"cores": 2, "mem": 5}) is None
    assert over_budget({"cores": 3, "mem": 9}, {"cores": 2, "mem": 5}) == ("cores", 3, 2)
    assert over_budget({"cores": 1, "gpus": 1}, {"cores": 2}) is None  # no gpus budget: not limited
    assert over_budget({"cores": 1, "gpus": 2}, {"cores": 2, "gpus": 1}) == ("gpus", 2, 1)


def test_started_and_stopped_take_and_give_back_every_budgeted_resource():
    a = job("a", cores=2, mem=30, gpus=1, disk=3)
    s = schedule([a], cores=4, gpus=2)
    assert s.used == {"cores": 0, "mem": 0, "gpus": 0}
    s.started(a)
    assert s.used == {"cores": 2, "mem": 30, "gpus": 1}  # disk has no budget: not counted
    s.stopped(a)
    assert s.used == {"cores": 0, "mem": 0, "gpus": 0}


def test_fits_counts_what_runs_and_allows_exactly_the_budget():
    a, b = job("a", cores=2, mem=60), job("b", cores=2, mem=40)
    s = schedule([a, b], cores=4, mem=100)
    assert s.fits(a) and s.fits(b)
    s.started(a)
    assert s.fits(b)  # 4 of 4 cores, 100 of 100 mem
    assert not s.fits(job("c", cores=3))
    assert not s.fits(job("d", mem=41))
    assert s.fits(job("e", gpus=5))  # no gpus budget


def test_a_job_that_does_not_fit_waits_and_a_smaller_one_backfills():
    running, big, small = job("running", cores=2, priority=9), job("big", cores=4, priority=5), job("small", cores=1)
    s = schedule([running, big, small], cores=4)
    fake = FakeExecutor(s)
    # big comes first (priority) but needs 4 of the 2 free cores: small starts past it.
    assert fake.start_what_fits() == ["running", "small"]
    assert s.used["cores"] == 3 and s.ready  # big waits, still queued
    fake.end(running)
    assert fake.start_what_fits() == []  # 1 + 4 > 4
    fake.end(small)
    assert fake.start_what_fits() == ["big"]
    assert s.used["cores"] == 4


def test_the_memory_budget_holds_jobs_back_too():
    a, b, c = job("a", mem=60), job("b", mem=60), job("c", mem=40)
    fake = FakeExecutor(schedule([a, b, c], cores=8, mem=100))
    assert fake.start_what_fits() == ["a", "c"]
    fake.end(a)
    assert fake.start_what_fits() == ["b"]


def test_a_custom_resource_budget_holds_jobs_back():
    a, b, c = job("a", gpus=1), job("b", gpus=1), job("c")
    fake = FakeExecutor(schedule([a, b, c], cores=8, gpus=1))
    assert fake.start_what_fits() == ["a", "c"]
    fake.end(a)
    assert fake.start_what_fits() == ["b"]


def test_no_job_starts_once_every_slot_is_taken_even_one_needing_no_core():
    a, b = job("a"), job("b", cores=0)
    fake = FakeExecutor(schedule([a, b], cores=1))
    assert fake.start_what_fits() == ["a"]  # b would fit (0 cores) but the slots are full
    fake.end()
    assert fake.start_what_fits() == ["b"]


def test_on_slurm_the_slots_are_the_jobs_budget():
    jobs = [job(f"j{i}", cores=16) for i in range(4)]
    s = Schedule(jobs, {"jobs": 2}, SlurmExecutor.needs)
    fake = FakeExecutor(s)
    assert fake.start_what_fits() == ["j0", "j1"]
    fake.end()
    assert fake.start_what_fits() == ["j2"]


@pytest.mark.parametrize("blocked", [BACKFILL - 1, BACKFILL])
def test_backfill_looks_past_at_most_16_jobs_that_do_not_fit(blocked: int):
    assert BACKFILL == 16
    big = [job(f"big{i}", cores=2, priority=1) for i in range(blocked)]
    small = job("small", cores=1)
    s = schedule([*big, small], cores=1)
    fake = FakeExecutor(s)
    assert fake.start_what_fits() == (["small"] if blocked < BACKFILL else [])
    # The jobs looked past stay queued, in their order (none fits 1 core: the run would stop).
    order = []
    s.budget["cores"] = 3
    while s.ready:
        first = s.startable()
        order.append(next(first).name)
        first.close()
    assert order == [b.name for b in big] + ([] if blocked < BACKFILL else ["small"])


def test_startable_gives_back_the_jobs_it_looked_past_when_the_caller_stops_early():
    a, b, c = job("a", cores=2, priority=2), job("b", priority=1), job("c")
    s = schedule([a, b, c], cores=1)
    for j in s.startable():
        assert j is b
        break
    s.budget["cores"] = 2
    assert [j.name for j in s.startable()][:1] == ["a"]


# -- the order of ready jobs -------------------------------------------------------------------


def test_critical_path_is_the_longest_chain_to_the_end():
    a = job("a")
    b = job("b", a)
    c = job("c", b)
    d = job("d", a)
    e = job("e")
    stale = [a, b, c, d, e]
    consumers = {a: [b, d], b: [c], c: [], d: [], e: []}
    assert critical_path(stale, consumers) == {a: 3, b: 2, c: 1, d: 1, e: 1}
    assert Schedule(stale, {"cores": 1}, local).depth == {a: 3, b: 2, c: 1, d: 1, e: 1}


def test_ready_jobs_start_by_priority_then_critical_path_then_submission_order():
    lone1, lone2 = job("lone1"), job("lone2")
    head = job("head")
    tail = job("tail", head)
    urgent = job("urgent", priority=3)
    low = job("low", priority=-1)
    stale = [low, lone2, lone1, head, urgent, tail]
    fake = FakeExecutor(schedule(stale, cores=1))
    # urgent (priority 3); head (depth 2); lone2 and lone1 in the order given; tail became
    # ready after them (a later submission); low (priority -1) last.
    assert fake.run() == ["urgent", "head", "lone2", "lone1", "tail", "low"]


def test_a_job_is_ready_only_when_every_stale_dep_has_finished():
    a, b = job("a"), job("b")
    c = job("c", a, b)
    up_to_date = job("up_to_date")
    d = job("d", up_to_date, c)  # up_to_date is not stale: not waited for
    s = schedule([a, b, c, d], cores=4)
    assert s.waiting == {a: 0, b: 0, c: 2, d: 1}
    assert s.consumers == {a: [c], b: [c], c: [d], d: []}
    fake = FakeExecutor(s)
    assert fake.start_what_fits() == ["a", "b"]
    fake.end(a)
    assert fake.start_what_fits() == []
    fake.end(b)
    assert fake.start_what_fits() == ["c"]
    fake.end(c)
    assert fake.start_what_fits() == ["d"]
    fake.end(d)
    assert not s.ready and s.done == {a, b, c, d} and not s.failed


def test_a_new_schedule_has_nothing_failed_and_stops_new_jobs_after_a_failure_by_default():
    a, b = job("a"), job("b")
    s = Schedule([a, b], {"cores": 1}, local)
    assert s.failed is False and s.stop_new is False
    s.finished(a, False)
    assert s.failed is True and s.stop_new is True


def test_a_job_skipped_while_another_dep_runs_is_not_queued_when_that_dep_ends():
    a, b = job("a"), job("b")
    c = job("c", a, b)
    s = schedule([a, b, c], cores=2)
    assert [j.name for j in s.startable()] == ["a", "b"]
    assert s.finished(a, False) == [(c, "upstream a failed")]
    assert s.finished(b, True) == []
    assert not s.ready


def test_pending_is_a_job_of_the_schedule_not_done_yet():
    a = job("a")
    s = schedule([a])
    assert s.pending(a) and not s.pending(job("other"))
    s.finished(a, True)
    assert not s.pending(a)


# -- failures ----------------------------------------------------------------------------------


def chain_and_branch():
    a = job("a")
    b = job("b", a)
    c = job("c", b)
    d = job("d", a)
    e = job("e")
    return a, b, c, d, e


def test_a_failure_skips_every_transitive_consumer_naming_the_failed_job():
    a, b, c, d, e = chain_and_branch()
    s = schedule([a, b, c, d, e], cores=2)
    assert s.finished(a, False) == [(b, "upstream a failed"), (c, "upstream a failed"), (d, "upstream a failed")]
    assert s.failed and s.stop_new
    assert s.done == {a, b, c, d}
    assert s.finished(e, True) == []  # unrelated: nothing skipped


def test_a_job_skipped_already_is_skipped_once():
    a, b = job("a"), job("b")
    c = job("c", a, b)
    d = job("d", c)
    s = schedule([a, b, c, d], cores=2)
    assert s.finished(a, False) == [(c, "upstream a failed"), (d, "upstream a failed")]
    assert s.finished(b, False) == []


def test_skip_goes_on_past_a_consumer_done_already():
    a, b = job("a"), job("b")
    y = job("y", a)
    x = job("x", a, b)
    s = schedule([a, b, y, x])
    assert s.consumers[a] == [y, x]
    assert s.finished(b, False) == [(x, "upstream b failed")]
    assert s.skip(a, "gone") == [(a, "gone"), (y, "gone")]


def test_skip_marks_the_run_failed_and_skips_downstream():
    a, b, c, d, e = chain_and_branch()
    s = schedule([a, b, c, d, e])
    assert s.skip(b, "cannot plan it") == [(b, "cannot plan it"), (c, "cannot plan it")]
    assert s.failed and s.done == {b, c}


def test_without_keep_going_nothing_new_starts_after_a_failure():
    a, b, c, d, e = chain_and_branch()
    fake = FakeExecutor(schedule([a, b, c, d, e], cores=1), fail={"a": [False]})
    assert fake.run() == ["a"]
    assert fake.skipped == [("b", "upstream a failed"), ("c", "upstream a failed"), ("d", "upstream a failed")]
    assert fake.sched.ready  # e never started


def test_with_keep_going_independent_jobs_still_run_after_a_failure():
    a, b, c, d, e = chain_and_branch()
    fake = FakeExecutor(schedule([a, b, c, d, e], cores=1, keep_going=True), fail={"a": [False]})
    assert fake.run() == ["a", "e"]
    assert fake.sched.failed and not fake.sched.stop_new
    assert len(fake.skipped) == 3


def test_a_retried_job_is_queued_again_after_what_became_ready_meanwhile():
    a, b = job("a"), job("b")
    fake = FakeExecutor(schedule([a, b], cores=1), fail={"a": [None, None, True]})
    assert fake.run() == ["a", "b", "a", "a"]
    assert not fake.sched.failed and fake.sched.done == {a, b}


def test_a_job_done_while_queued_is_not_started():
    a, b = job("a"), job("b")
    s = schedule([a, b], cores=2)
    s.skip(a, "gone")
    assert [j.name for j in s.startable()] == ["b"]
    assert not s.ready


# -- checkpoints: grafting what a re-plan adds ---------------------------------------------------


def test_graft_adds_new_jobs_drops_old_deps_and_recounts_the_asker():
    cp = job("cp", checkpoint=True)
    old = job("old")
    asker = job("asker", cp, old)
    after = job("after", asker)
    s = schedule([cp, old, asker, after], cores=1)
    fake = FakeExecutor(s)
    assert fake.start_what_fits() == ["cp"]  # deeper than old
    fake.running.remove(cp)
    s.stopped(cp)
    assert s.finished(cp, True, {asker}) == []
    assert s.waiting[asker] == 2  # left to the re-plan
    # The re-plan: asker now needs two new jobs (n2 needs n1), no longer old.
    n1 = job("n1")
    n2 = job("n2", n1)
    asker.deps = [cp, n2]
    assert s.graft(asker, [n1, n2], {old}) == ([old], [])
    assert s.waiting[asker] == 1 and s.waiting[n1] == 0 and s.waiting[n2] == 1
    assert s.consumers[n1] == [n2] and s.consumers[n2] == [asker] and s.consumers[old] == []
    assert s.depth[n1] == 1 and s.depth[n2] == 1
    assert old in s.done and not s.pending(old)
    assert fake.run() == ["cp", "n1", "n2", "asker", "after"]  # old never starts


def test_a_checkpoint_s_other_consumers_are_counted_down_its_askers_left_to_the_re_plan():
    cp = job("cp", checkpoint=True)
    asker = job("asker", cp)
    other = job("other", cp)
    s = schedule([cp, asker, other], cores=1)
    assert s.finished(cp, True, {asker}) == []
    assert s.waiting == {cp: 0, asker: 1, other: 0}
    assert [j.name for j in s.startable()] == ["other"]


def test_graft_counts_every_new_dep_the_asker_waits_for():
    cp = job("cp", checkpoint=True)
    asker = job("asker", cp)
    s = schedule([cp, asker], cores=1)
    s.finished(cp, True, {asker})
    n1, n2 = job("n1"), job("n2")
    asker.deps = [cp, n1, n2]
    assert s.graft(asker, [n1, n2]) == ([], [])
    assert s.waiting[asker] == 2 and s.consumers[n1] == [asker] and s.consumers[n2] == [asker]
    assert FakeExecutor(s).run() == ["n1", "n2", "asker"]


def test_graft_keeps_an_old_dep_another_job_still_needs():
    cp = job("cp", checkpoint=True)
    old = job("old")
    asker = job("asker", cp, old)
    other = job("other", old)
    s = schedule([cp, old, asker, other], cores=1)
    s.finished(cp, True, {asker})
    asker.deps = [cp]
    assert s.graft(asker, [], {old}) == ([], [])
    assert s.pending(old) and s.consumers[old] == [other]
    assert s.waiting[asker] == 0
    fake = FakeExecutor(s)
    assert fake.run() == ["old", "asker", "other"]


def test_graft_lets_go_of_an_old_dep_that_was_up_to_date():
    cp, fresh = job("cp", checkpoint=True), job("fresh")  # fresh: up to date, not in the schedule
    asker = job("asker", cp, fresh)
    s = schedule([cp, asker], cores=1)
    s.finished(cp, True, {asker})
    asker.deps = [cp]
    assert s.graft(asker, [], {fresh}) == ([], [])
    assert not s.pending(fresh) and fresh not in s.done
    assert FakeExecutor(s).run() == ["asker"]


def test_graft_keeps_an_old_dep_already_done():
    cp, old = job("cp", checkpoint=True), job("old")
    asker = job("asker", cp, old)
    s = schedule([cp, old, asker], cores=1)
    s.finished(old, True)
    s.finished(cp, True, {asker})
    asker.deps = [cp]
    assert s.graft(asker, [], {old}) == ([], [])
    assert s.waiting[asker] == 0
    assert FakeExecutor(s).run() == ["asker"]


def test_graft_keeps_the_asker_waiting_for_a_dep_it_still_has():
    cp, kept = job("cp", checkpoint=True), job("kept")
    asker = job("asker", cp, kept)
    s = schedule([cp, kept, asker], cores=1)
    s.finished(cp, True, {asker})
    assert s.graft(asker, []) == ([], [])
    assert s.waiting[asker] == 1 and s.consumers[kept] == [asker]  # not listed twice
    assert FakeExecutor(s).run() == ["kept", "asker"]


def test_graft_with_a_refused_new_job_skips_the_asker_and_its_consumers():
    cp = job("cp", checkpoint=True)
    asker = job("asker", cp)
    after = job("after", asker)
    s = schedule([cp, asker, after], cores=1)
    s.finished(cp, True, {asker})
    refused, fine = job("refused"), job("fine")
    asker.deps = [cp, fine, refused]
    dropped, skipped = s.graft(asker, [fine], (), [refused])
    assert dropped == []
    assert skipped == [(asker, "upstream refused failed"), (after, "upstream refused failed")]
    assert s.failed and refused in s.done and asker in s.done
    assert s.stop_new
    assert [j.name for j in s.startable()] == ["fine"]  # queued: with -k it would start


CHECKPOINT = """
default: merged.txt

checkpoint split:
    output: directory("chunks")
    input:  "input.txt"
    shell:  true

rule process:
    output: "processed/{part}.txt"
    input:  "chunks/{part}.txt"
    shell:  true

python:
    import os
    def chunks(wildcards):
        d = checkpoints.split.get().output[0]
        return expand("processed/{part}.txt", part=sorted(glob_wildcards(os.path.join(d, "{part}.txt")).part))

rule merge:
    output: "merged.txt"
    input:  chunks
    shell:  true
"""


def test_a_planned_checkpoint_grafts_the_jobs_its_outputs_call_for(tmp_path: Path, monkeypatch):
    """A real Pipefile, planned by pyrule: the fake loop 'runs' the checkpoint by writing its
    outputs, re-plans the asker as Runner._replan does, and grafts the new jobs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Pipefile").write_text(CHECKPOINT)
    (tmp_path / "input.txt").write_text("x\n")
    graph = plan(load("Pipefile"), [])
    planner = graph.planner
    assert [j.name for j in graph.jobs] == ["split", "merge"]
    split, merge = graph.jobs
    s = Schedule(list(graph.jobs), {"cores": 2, "mem": 0}, local)
    assert [j.name for j in s.startable()] == ["split"]
    s.started(split)
    os.makedirs("chunks")
    for part in ("p1", "p2"):
        (tmp_path / "chunks" / f"{part}.txt").write_text(part)
    s.stopped(split)
    askers = set(planner.asked.get(split, ()))
    assert askers == {merge}
    assert s.finished(split, True, askers) == []
    planner.checkpoint_ran(split)
    before = set(merge.deps)
    new = [j for j in planner.replan(merge) if j not in graph.jobs]
    assert [j.name for j in new] == ["process[part=p1]", "process[part=p2]"]
    assert s.graft(merge, new, before - set(merge.deps)) == ([], [])
    fake = FakeExecutor(s)
    assert fake.start_what_fits() == ["process[part=p1]", "process[part=p2]"]
    fake.end()
    assert fake.start_what_fits() == []
    fake.end()
    assert fake.run() == ["process[part=p1]", "process[part=p2]", "merge"]
    assert s.done == {split, merge, *new}
