"""Unit tests of crash recovery (pyrule/recover.py), called in this process on a real state store,
real journal files, real locks and real processes: a "pyrule that died" is a subprocess that
marked its jobs running (or wrote its journal) and exited; a job it left running is a process
carrying that job's PYRULE_JOB mark; "another pyrule" holding a job's lock is a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyrule import journal
from pyrule.procinfo import alive_since, start_time
from pyrule.recover import Recovery, dead_jobs
from pyrule.stat_cache import StatCache
from pyrule.state import RunningJob, State

ROOT = ".pyrule"  # project.STATE_DIR, relative to the project directory (the test's cwd)


class Said:
    """What recovery reported: the console's warnings and the run log's lines."""

    def __init__(self):
        self.warned: list[str] = []
        self.logged: list[str] = []


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def store(project: Path):
    s = State(ROOT)
    yield s
    s.close()


def _recovery(state: State, busy: dict[str, int] | None = None, producers=(), stats: StatCache | None = None,
              run_id: str = "this-run", lock_dir: int | None = None) -> tuple[Recovery, Said]:
    said = Said()
    return Recovery(state, lock_dir, run_id, {} if busy is None else busy, producers,
                    StatCache() if stats is None else stats, said.warned.append, said.logged.append), said


def _python(code: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], **kw)


def _died_running(jobs: list[tuple[str, list[str]]], run_id: str = "dead-run") -> None:
    """A pyrule process marks jobs running in the store, then dies (exits without cleaning up)."""
    p = _python(f"""
        from pyrule.procinfo import start_time
        from pyrule.state import State
        s = State({ROOT!r})
        s.mark_running([(n, 0, outs) for n, outs in {jobs!r}], {run_id!r}, start_time())
        s.close()
        """)
    assert p.wait(timeout=60) == 0


def _dead_pid() -> tuple[int, float]:
    p = _python("import time; time.sleep(0.2)")
    start = start_time(p.pid)
    p.wait(timeout=30)
    assert start is not None
    return p.pid, start


def _leftover(mark: str) -> subprocess.Popen:
    """A job process a dead pyrule left running (its own session: recovery kills its group)."""
    p = _python("import sys, time; print(flush=True); time.sleep(300)", stdout=subprocess.PIPE,
                env={**os.environ, "PYRULE_JOB": mark}, start_new_session=True)
    assert p.stdout is not None
    p.stdout.readline()  # it runs (its environment is readable in /proc)
    return p


def _holding(outputs: list[str]) -> subprocess.Popen:
    """Another live pyrule holding a job's lock (recovering or rebuilding it)."""
    p = _python(f"""
        import sys
        from pyrule.locks import JobLock
        lock = JobLock({ROOT!r}, {outputs!r})
        assert lock.try_acquire()
        print("held", flush=True)
        sys.stdin.read()
        """, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline() == "held\n"
    return p


def test_a_dead_pyrules_job_is_stopped_its_outputs_removed_and_its_mark_forgotten(store: State, project: Path):
    (project / "b.txt").write_text("half")
    (project / "c.txt").write_text("half")
    _died_running([("b", ["b.txt", "c.txt"]), ("d", [])])
    job = _leftover("dead-run/b")
    stats = StatCache()
    stats["b.txt"] = None  # a stat result the planner had: stale once the file is removed
    stats["kept.txt"] = None
    try:
        rec, said = _recovery(store, stats=stats)
        assert [r.name for r in dead_jobs(store)] == ["b", "d"]
        assert rec.at_start() == {"b", "d"}
        assert job.wait(timeout=30) == -9, "the job the dead pyrule left running was not stopped"
    finally:
        job.kill()
        job.wait()
    assert not (project / "b.txt").exists() and not (project / "c.txt").exists()
    assert store.running() == [] and dead_jobs(store) == []
    assert "b.txt" not in stats and "kept.txt" in stats
    assert said.warned[-2:] == ["b was running when pyrule died: removed its outputs; it will be rebuilt",
                                "d was running when pyrule died: removed its outputs; it will be rebuilt"]
    assert any(w.startswith("stopped process group ") and w.endswith(" left running by a pyrule that died (b)")
               for w in said.warned)
    assert said.logged == ["recover b: removed incomplete outputs ['b.txt', 'c.txt']",
                           "recover d: removed incomplete outputs []"]


def test_a_live_pyrules_jobs_are_not_dead_and_are_left_alone(store: State, project: Path):
    (project / "b.txt").write_text("being written")
    store.mark_running([("b", 0, ["b.txt"])], "live-run", start_time() or 0.0)  # this process: alive
    live = journal.Journal(ROOT, "live-run", os.getpid(), start_time() or 0.0)
    live.started([("e", ["e.txt"])], "local", 1.0)
    (project / "e.txt").write_text("being written")
    rec, said = _recovery(store)
    assert dead_jobs(store) == [] and dead_jobs(None) == []
    assert rec.at_start() == set()
    assert (project / "b.txt").read_text() == "being written" and (project / "e.txt").exists()
    assert [r.name for r in store.running()] == ["b"] and os.path.exists(live.path)
    assert said.warned == [] and said.logged == []
    live.ended(["e"])
    live.close()


def test_an_output_outside_the_project_is_removed_only_if_this_pipefile_makes_it(store: State, project: Path,
                                                                                tmp_path_factory):
    away = tmp_path_factory.mktemp("elsewhere")
    mine, theirs = away / "mine.txt", away / "theirs.txt"
    mine.write_text("half")
    theirs.write_text("someone else's")
    _died_running([("b", [str(theirs), str(mine)])])
    rec, said = _recovery(store, producers={str(mine)})
    assert rec.at_start() == {"b"}
    assert not mine.exists()
    assert theirs.read_text() == "someone else's"
    assert said.warned == [f"b: the store names '{theirs}' as its output, outside the project and not an output "
                           "of this Pipefile: left alone",
                           "b was running when pyrule died: removed its outputs; it will be rebuilt"]
    assert store.running() == []


def test_a_dead_runs_journal_is_recovered_and_removed_and_this_runs_own_is_not_read(store: State, project: Path):
    pid, start = _dead_pid()
    dead = journal.Journal(ROOT, "dead-run", pid, start)
    dead.started([("a", ["a.txt"]), ("b", ["b.txt"])], "local", 1.0)
    dead.ended(["a"])
    dead.close()
    mine = journal.Journal(ROOT, "this-run", pid, start)  # as if dead, but the run's own id
    mine.started([("m", ["m.txt"])], "local", 1.0)
    mine.close()
    for name in ("a", "b", "m"):
        (project / f"{name}.txt").write_text("half")
    rec, said = _recovery(store)
    assert rec.at_start() == {"b"}
    assert (project / "a.txt").exists(), "a job its journal ended is complete"
    assert not (project / "b.txt").exists()
    assert (project / "m.txt").exists() and os.path.exists(mine.path)
    assert not os.path.exists(dead.path), "a recovered journal is removed"
    assert said.logged == ["recover b: removed incomplete outputs ['b.txt']"]


def test_a_job_recovered_from_the_store_is_not_recovered_again_from_its_journal(store: State, project: Path):
    pid, start = _dead_pid()
    dead = journal.Journal(ROOT, "dead-run", pid, start)
    dead.started([("b", ["b.txt"]), ("c", ["c.txt"])], "local", 1.0)
    dead.close()
    _died_running([("b", ["b.txt"])])
    rec, said = _recovery(store)
    assert rec.at_start() == {"b", "c"}
    assert said.logged == ["recover b: removed incomplete outputs ['b.txt']",
                           "recover c: removed incomplete outputs ['c.txt']"]
    assert not os.path.exists(dead.path)


def test_a_dead_job_whose_lock_another_pyrule_holds_is_left_to_it(store: State, project: Path):
    (project / "b.txt").write_text("half")
    (project / "c.txt").write_text("half")
    (project / "e.txt").write_text("half")
    _died_running([("b", ["b.txt"]), ("e", ["e.txt"])])
    pid, start = _dead_pid()
    dead = journal.Journal(ROOT, "other-dead-run", pid, start)
    dead.started([("c", ["c.txt"]), ("d", ["d.txt"])], "local", 1.0)
    dead.close()
    other = _holding(["b.txt"])
    other_c = _holding(["c.txt"])
    try:
        busy = {"x": 123}
        rec, said = _recovery(store, busy=busy)
        assert rec.at_start() == {"d", "e"}
    finally:
        for p in (other, other_c):
            p.communicate(timeout=30)
    assert busy == {"x": 123, "b": 0, "c": 0}
    assert (project / "b.txt").exists() and (project / "c.txt").exists()
    assert [r.name for r in store.running()] == ["b"]
    assert os.path.exists(dead.path), "a journal with a job left to another pyrule is kept"
    assert not (project / "e.txt").exists()
    assert said.logged == ["recover e: removed incomplete outputs ['e.txt']",
                           "recover d: removed incomplete outputs ['d.txt']"]
    # Once the other pyrule is gone, a later run recovers what it left; d again, as the kept journal
    # still has it open (removing what is gone already costs nothing, and is never wrong).
    rec, said = _recovery(store, busy={})
    assert rec.at_start() == {"b", "c", "d"}
    assert not os.path.exists(dead.path)


def test_rows_whose_lock_the_caller_holds_are_recovered_unless_cleaned_up_meanwhile(store: State, project: Path):
    (project / "b.txt").write_text("half")
    (project / "c.txt").write_text("rebuilt")
    _died_running([("b", ["b.txt"]), ("c", ["c.txt"])])
    b, c = sorted(dead_jobs(store), key=lambda r: r.name)
    store.forget_running(["c"])
    store.mark_running([("c", 0, ["c.txt"])], "newer-run", start_time() or 0.0)  # rebuilt by another run since
    other = _holding(["b.txt"])  # locked() takes no lock: the caller holds it
    try:
        rec, said = _recovery(store)
        assert rec.locked([c, b]) == {"b"}  # c first: skipping it does not end the loop
    finally:
        other.communicate(timeout=30)
    assert not (project / "b.txt").exists() and (project / "c.txt").read_text() == "rebuilt"
    assert [r.run_id for r in store.running()] == ["newer-run"]
    gone = RunningJob("g", "dead-run", 1, 0.0, 0, ["g.txt"], 1.0)  # no longer in the store at all
    assert rec.locked([gone]) == set()


def test_a_job_a_dead_runs_journal_names_is_stopped_by_its_mark(store: State, project: Path):
    """No process group was recorded (the journal is written before the job starts): the local
    executor finds the job's processes by their PYRULE_JOB mark, RUN-ID/NAME of the journal."""
    pid, start = _dead_pid()
    dead = journal.Journal(ROOT, "dead-run", pid, start)
    dead.started([("b", ["b.txt"])], "local", 1.0)
    dead.close()
    job = _leftover("dead-run/b")
    try:
        rec, said = _recovery(store)
        assert rec.at_start() == {"b"}
        assert job.wait(timeout=30) == -9, "the job the dead pyrule left running was not stopped"
    finally:
        job.kill()
        job.wait()


def test_locks_are_taken_in_the_runs_lock_directory_not_by_path(store: State, project: Path):
    """The run's lock directory (locks.open_dir, opened at its start): when .pyrule/locks is
    replaced meanwhile, another pyrule's locks in the run's directory still exclude it."""
    from pyrule.locks import open_dir

    (project / "b.txt").write_text("half")
    (project / "c.txt").write_text("half")
    _died_running([("b", ["b.txt"])])
    pid, start = _dead_pid()
    dead = journal.Journal(ROOT, "other-dead-run", pid, start)
    dead.started([("c", ["c.txt"])], "local", 1.0)
    dead.close()
    others = [_holding(["b.txt"]), _holding(["c.txt"])]  # in .pyrule/locks
    fd = open_dir(ROOT)
    try:
        os.rename(os.path.join(ROOT, "locks"), os.path.join(ROOT, "locks-then"))
        rec, said = _recovery(store, busy=(busy := {}), lock_dir=fd)
        assert rec.at_start() == set()
        assert busy == {"b": 0, "c": 0}
    finally:
        os.close(fd)
        for p in others:
            p.communicate(timeout=30)
    assert (project / "b.txt").exists() and (project / "c.txt").exists()


def test_the_dead_pid_helper_gives_a_dead_process():
    pid, start = _dead_pid()
    assert not alive_since(pid, start)
