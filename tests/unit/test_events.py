"""Unit tests of the run's event sink (pyrule/events.py): each fact is told once, and reaches the
console (a recording stand-in with ui.Console's methods) and the run log (a real RunLog, read
back from its file) in the words the end-to-end tests and run.log readers expect."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrule.decide import Decision
from pyrule.errors import PyruleError, UsageError
from pyrule.events import Events
from pyrule.graph import Job
from pyrule.jobs import JobOutcome
from pyrule.rules import Rule
from pyrule.runlog import RunLog


class Console:
    """ui.Console's run methods, recorded: (method, args)."""

    def __init__(self):
        self.calls: list[tuple] = []

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, *args))


def job(name: str, retries: int = 0) -> Job:
    return Job(Rule(name.split("[")[0], shell="true", retries=retries), {}, name, [f"{name}.out"], [], None, {}, {})


a = job("a", retries=1)  # the job of every fact below


@pytest.fixture
def sink(tmp_path: Path):
    console, log = Console(), RunLog(str(tmp_path / "run"))
    log.keep()
    events = Events(console, log)

    def logged() -> list[str]:
        log.flush()
        text = (tmp_path / "run" / "run.log").read_text()
        # without the timestamp (a command's continuation lines have none)
        return [line if line.startswith(" ") else line.split(" ", 1)[1] for line in text.splitlines()]

    return events, console, logged


def test_each_job_fact_goes_once_to_the_console_and_once_to_the_log(sink):
    events, console, logged = sink
    out = JobOutcome(a, "ran", wall_s=1.5, peak_rss_bytes=2048, logged=".pyrule/logs/a.log")
    events.started(a, 1, "output a.out is missing", "echo hi\necho there", False)
    events.retrying(a, "exit code 1", 1)
    events.finished(out)
    events.failed(out, "exit code 2")
    events.failed(out, "cannot start: E2BIG", ran=False)
    assert console.calls == [
        ("job_started", a, "output a.out is missing"),
        ("note", "a failed (exit code 1); retrying (2 of 2)"),
        ("job_finished", out),
        ("job_failed", out, "exit code 2"),
        ("job_failed", out, "cannot start: E2BIG"),
    ]
    assert logged() == [
        "start a (attempt 1): output a.out is missing",
        "command a: echo hi",
        "    echo there",
        "retry a: exit code 1 (attempt 1 of 2)",
        "end a: ok in 1.50s, peak 2048 B",
        "fail a: exit code 2; log .pyrule/logs/a.log",
        "fail a: cannot start: E2BIG",
    ]


def test_the_command_reaches_the_console_only_with_print_commands(sink):
    events, console, logged = sink
    events.started(a, 2, "forced", "true", True)
    events.started(a, 3, "forced", None, True)  # a Python body: no command to show
    assert console.calls == [("job_started", a, "forced"), ("command", "a", "true"), ("job_started", a, "forced")]
    assert logged() == ["start a (attempt 2): forced", "command a: true", "start a (attempt 3): forced"]


def test_waiting_leftovers_and_orphans_say_each_fact_in_each_sinks_words(sink):
    events, console, logged = sink
    events.waiting(a, "a job of this name runs in pyrule process 7; waiting", "running in process 7")
    events.leftover(a, ["sleep (pid 12)"])
    events.orphans_removed(3, ["old", "older"], [])
    events.orphaned([("gone", ["x.txt", "y.txt"])])
    assert console.calls == [
        ("job_waiting", a, "a job of this name runs in pyrule process 7; waiting"),
        ("warn", "a left 1 process running when it ended: stopped sleep (pid 12) (see its log)"),
        ("note", "removed 3 orphaned output(s) of 2 job(s) no longer in the graph"),
        ("warn", "orphaned: x.txt, y.txt (made by gone, no longer in the graph)"),
        ("note", "  remove them with --delete-orphans"),
    ]
    assert logged() == ["wait a: running in process 7", "leftover a: stopped sleep (pid 12)",
                        "orphans removed: ['old', 'older']"]


def test_the_logs_own_facts_do_not_reach_the_console(sink):
    events, console, logged = sink
    cp = job("split")
    events.decided(Decision(a, "input in.txt changed"))
    events.decided(Decision(a, None, "unchanged since the last run"), cp)
    events.up_to_date_now(a, "up to date after all (built by another pyrule)")
    events.skipped(a, "upstream b failed")
    events.interrupted(a)
    events.temp_removed("t.txt")
    events.logged("recover a: removed incomplete outputs ['a.out']")
    events.run_error(UsageError("job a needs cores=4 but the budget is 2"))
    events.run_ended("ok")
    assert console.calls == []
    assert logged() == [
        "decide a: stale: input in.txt changed",
        "decide a (after checkpoint split): up to date: unchanged since the last run",
        "skip a: up to date after all (built by another pyrule)",
        "skip a: upstream b failed",
        "interrupted a: removed partial outputs",
        "temp t.txt: removed, every consumer is done",
        "recover a: removed incomplete outputs ['a.out']",
        "run error: job a needs cores=4 but the budget is 2",
        "run ok",
    ]


def test_the_consoles_own_facts_do_not_reach_the_log(sink):
    events, console, logged = sink
    events.note("n")
    events.warn("w")
    events.run_started(2, 3)
    events.settled(a)
    events.stopping(2)
    events.store_failed("the state store is full")
    events.run_finished("result")
    assert console.calls == [("note", "n"), ("warn", "w"), ("run_started", 2, 3), ("job_settled", a),
                             ("note", "stopping 2 running job(s)"), ("warn", "the state store is full; stopping"),
                             ("run_finished", "result")]
    assert logged() == []


def test_checkpoint_facts(sink):
    events, console, logged = sink
    asker, cp, old, new = job("merge"), job("split"), job("old"), job("new")
    err = PyruleError("cannot read chunks/")
    refusal = UsageError("job new would rewrite its protected output new.out")
    events.replan_failed(asker, err)
    events.refused(new, refusal)
    events.dropped(old, cp)
    events.replanned(asker, cp, 2, 1)
    assert console.calls == [("error", err), ("error", refusal), ("more_jobs", -1), ("more_jobs", 1)]
    assert logged() == [
        "replan merge failed: error: cannot read chunks/",  # str(e), as ever: "error: " and the hint
        "fail new: job new would rewrite its protected output new.out",
        "drop old: no longer needed after checkpoint split",
        "replan merge after checkpoint split: 2 new job(s)",
    ]


def test_before_the_log_is_kept_its_lines_wait_and_a_no_op_writes_none(tmp_path: Path):
    console, log = Console(), RunLog(str(tmp_path / "run"))
    events = Events(console, log)
    events.decided(Decision(job("a"), None, "unchanged"))
    events.run_ended("ok")
    log.close()
    assert not (tmp_path / "run").exists()  # never kept: a no-op leaves no run directory
