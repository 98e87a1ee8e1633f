"""Unit tests of a job's life in a run (pyrule/jobs.py: JobLife), in-process: a real Pipefile,
planned; a real state store, journal, job locks and decider; the executor is one that runs
nothing (it starts what it is given and the test says how each job ends, writing its outputs
itself), so each step is seen without processes: lock and re-check, start, end, retry, fail."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from pyrule.decide import Decider
from pyrule.events import Events
from pyrule.executors.base import Executor, JobResult, JobSpec
from pyrule.jobs import JobLife, RunSetting, self_start
from pyrule.journal import Journal
from pyrule.load import load
from pyrule.locks import JobLock, open_dir
from pyrule.plan import plan
from pyrule.recover import Recovery
from pyrule.runlog import RunLog
from pyrule.stat_cache import StatCache
from pyrule.state import State
from pyrule.ui import Console

PIPEFILE = """\
rule b:
    output:  "b.txt"
    input:   "a.txt"
    retries: 1
    shell:   cp a.txt b.txt
"""
RUN = "20260101-000000.000000-1"


class Started(Executor):
    """Starts nothing: remembers each spec; the test ends jobs with `result()`."""

    def __init__(self):
        self.specs: list[JobSpec] = []

    def start(self, spec: JobSpec) -> int:
        self.specs.append(spec)
        return 4242

    def close(self) -> None:
        pass


def result(name: str, exit_code: int = 0) -> JobResult:
    return JobResult(name, exit_code, 1.0, 3.5, 2.5, 0.1, 4096, {}, 4242)


@pytest.fixture
def life(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    Path("Pipefile").write_text(PIPEFILE)
    Path("a.txt").write_text("a\n")
    rules = load("Pipefile")
    graph = plan(rules, [])
    state, stats = State(".pyrule"), StatCache()
    lock_dir = open_dir(".pyrule")
    state.run_started(RUN, [])
    decider = Decider(state, stats)
    journal = Journal(".pyrule", RUN, os.getpid(), self_start())
    log = RunLog(os.path.join(".pyrule", "runs", RUN))
    console = Console(stream=io.StringIO())  # not a terminal: plain lines
    recovery = Recovery(state, lock_dir, RUN, {}, graph.producers, stats, console.warn, log.write)
    setting = RunSetting(RUN, os.path.join(".pyrule", "runs", RUN), "local", {}, [], False, rules.namespace,
                         "Pipefile")
    jobs = JobLife(setting, state, decider, stats, graph.producers, lock_dir, recovery, journal,
                   Events(console, log))
    executor = jobs.open(Started)
    yield jobs, executor, graph.jobs[0], console, log
    jobs.close()
    journal.close()
    state.close()
    os.close(lock_dir)


def said(console: Console) -> list[str]:
    return console.err.getvalue().splitlines()


def start(jobs: JobLife, job) -> None:
    lock_wait: list = []
    prepared = jobs.prepare(job, lock_wait)
    assert prepared and lock_wait == []
    assert jobs.start([(job, *prepared)]) == []


def test_a_job_starts_and_ends_recorded_and_said_once(life):
    jobs, executor, b, console, log = life
    start(jobs, b)
    assert [s.name for s in executor.specs] == ["b"] and list(jobs.running) == ["b"]
    assert jobs.outcomes["b"].status == "pending" and jobs.state.running_job("b") is not None
    Path("b.txt").write_text("a\n")  # what the job would have written
    job, lock, ok = jobs.ended(result("b"))
    assert (job, ok) == (b, True) and jobs.running == {}
    lock.release()
    out = jobs.outcomes["b"]
    assert (out.status, out.wall_s, out.peak_rss_bytes, out.attempts) == ("ran", 2.5, 4096, 1)
    assert said(console) == ["start b", "done  b in 2.50s [1/0]"]  # 4 KiB: below the peak the done line shows
    assert [line for _, line in log.pending] == ["start b (attempt 1): output b.txt missing",
                                                 "command b: cp a.txt b.txt", "end b: ok in 2.50s, peak 4096 B"]
    jobs.state.flush()
    assert jobs.state.running_job("b") is None
    assert jobs.decider.decide(b, fresh=True).reason is None  # recorded: up to date now


def test_a_failed_job_is_retried_then_fails_and_its_outputs_go(life):
    jobs, executor, b, console, log = life
    start(jobs, b)
    Path("b.txt").write_text("half")
    job, lock, ok = jobs.ended(result("b", 1))
    lock.release()
    assert ok is None and not Path("b.txt").exists()  # retried: its partial output removed
    start(jobs, b)
    job, lock, ok = jobs.ended(result("b", 2))
    lock.release()
    assert ok is False and jobs.outcomes["b"].status == "failed" and jobs.outcomes["b"].attempts == 2
    assert said(console)[:3] == ["start b", "b failed (exit code 1); retrying (2 of 2)", "start b"]
    lines = [line for _, line in log.pending]
    assert "retry b: exit code 1 (attempt 1 of 2)" in lines and lines[-1].startswith("fail b: exit code 2; log ")


def test_no_retry_once_the_run_is_interrupted(life):
    jobs, executor, b, console, log = life
    start(jobs, b)
    job, lock, ok = jobs.ended(result("b", 1), retrying=False)
    lock.release()
    assert ok is False


def test_a_job_whose_outputs_another_holds_waits_and_is_said_once(life):
    jobs, executor, b, console, log = life
    other = JobLock(".pyrule", ["b.txt"])  # another pyrule's lock on b's output
    assert other.try_acquire()
    try:
        for _ in range(2):
            lock_wait: list = []
            assert jobs.prepare(b, lock_wait) is None and lock_wait == [b]
    finally:
        other.release()
    assert said(console) == ["b: outputs locked by another pyrule process; waiting for b.txt"]
    assert [line for _, line in log.pending] == ["wait b: outputs locked by another pyrule process; waiting for b.txt"]


def test_a_job_built_meanwhile_is_up_to_date_when_its_turn_comes(life):
    jobs, executor, b, console, log = life
    start(jobs, b)
    Path("b.txt").write_text("a\n")
    jobs.ended(result("b"))[1].release()
    jobs.state.flush()
    assert jobs.prepare(b, []) is False
    assert jobs.outcomes["b"].status == "up-to-date" and executor.specs[1:] == []
    assert [line for _, line in log.pending][-1].startswith("skip b: up to date after all (")


def test_stopped_jobs_are_interrupted_with_their_outputs_removed(life):
    jobs, executor, b, console, log = life
    start(jobs, b)
    Path("b.txt").write_text("half")
    jobs.stopped_all("interrupted")
    assert not Path("b.txt").exists() and jobs.outcomes["b"].status == "interrupted"
    assert jobs.state.running_job("b") is None
    assert [line for _, line in log.pending][-1] == "interrupted b: removed partial outputs"
