"""Unit tests of the state store's public API (pyrule/state.py) on a real SQLite file in a
temporary directory. "Another process" is a real one where it matters (a subprocess opening
the same store); otherwise a second State object, which has its own SQLite connection."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyrule.run import dead_jobs
from pyrule.state import State, StateError

SIG = {"body": "b0", "params": {"k": "1"}, "env": {}, "inputs": ["a.txt"], "outputs": ["b.txt"], "fps": ["f0"]}


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(tmp_path / ".pyrule")


def other_process(root: str, code: str) -> str:
    """Run `code` in another Python process with `state = State(root)` open; its stdout."""
    src = f"from pyrule.state import State\nstate = State({root!r})\n" + textwrap.dedent(code)
    p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_a_new_store_is_created_empty(root: str):
    s = State(root)
    assert os.path.isfile(os.path.join(root, "state.db"))
    assert s.records() == {} and s.file_cache() == {} and s.running() == []
    assert s.generation() == 0
    assert s.warning is None
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()


def test_succeeded_is_written_at_flush_and_read_back(root: str):
    s = State(root)
    assert s.records() == {}  # a run reads the records (deciding) before any job succeeds
    s.succeeded("b", "rule_b", "d1", SIG)
    assert s.record("b").digest == "d1"  # this process sees it at once
    assert State(root).record("b") is None  # the store does not, until the flush
    s.flush()
    t = State(root)
    rec = t.record("b")
    assert rec is not None and rec.digest == "d1"
    assert rec.signature is None  # digests only, until a signature is asked for
    assert t.signature_of("b", rec) == SIG
    assert t.recorded_outputs(["rule_b"]) == [("b", ["b.txt"])]
    assert t.recorded_outputs(["other"]) == [] and t.recorded_outputs([]) == []
    s.close()
    t.close()


def test_a_later_success_replaces_the_record(root: str):
    s = State(root)
    s.succeeded("b", "rule_b", "d1", SIG)
    s.flush()
    s.succeeded("b", "rule_b", "d2", {**SIG, "fps": ["f1"]})
    s.close()  # close flushes
    t = State(root)
    rec = t.record("b")
    assert rec.digest == "d2" and t.signature_of("b", rec)["fps"] == ["f1"]
    assert list(t.records()) == ["b"]
    t.close()


def test_records_are_read_once_unless_fresh_or_reread(root: str):
    s, t = State(root), State(root)
    assert s.record("b") is None
    t.succeeded("b", "rule_b", "d1", SIG)
    t.flush()
    assert s.record("b") is None  # read once per invocation
    assert s.record("b", fresh=True).digest == "d1"
    t.forget_job("b")
    assert s.record("b").digest == "d1"
    s.reread()
    assert s.record("b") is None
    assert s.record("b", fresh=True) is None
    s.close()
    t.close()


def test_fingerprint_cache_round_trip_and_racy_entries_never_match(root: str):
    s = State(root)
    s.remember_file("a.txt", 10, 111, 7, 222, "h-a")
    s.remember_file("r.txt", 20, 333, 8, 444, "h-r", racy=True)
    assert s.file_cache()["r.txt"] == (20, 333, 8, 444, "h-r")  # this run uses it as it is
    s.flush()
    t = State(root)
    assert t.file_cache() == {"a.txt": (10, 111, 7, 222, "h-a"), "r.txt": (-1, 333, 8, 444, "h-r")}
    s.close()
    t.close()


def test_running_marks(root: str):
    s = State(root)
    # An executor's record of a job is any integer (executors/: Slurm's are negative).
    s.mark_running([("b", 0, ["b.txt"]), ("c", -(1 << 62), ["c.txt", "d.txt"])], "run-1", 12.5)
    t = State(root)  # durable at once: no flush needed
    marks = {r.name: r for r in t.running()}
    assert set(marks) == {"b", "c"}
    b, c = marks["b"], marks["c"]
    assert (b.run_id, b.owner_pid, b.owner_start, b.pgid, b.outputs) == ("run-1", os.getpid(), 12.5, 0, ["b.txt"])
    assert c.pgid == -(1 << 62) and c.outputs == ["c.txt", "d.txt"]
    assert t.running_job("b") == b and t.running_job("zzz") is None

    s.set_pgid("b", 4242)  # with the next flush
    assert t.running_job("b").pgid == 0
    s.flush()
    assert t.running_job("b").pgid == 4242
    s.set_pgid("c", -77, now=True)  # at once (a Slurm job id: it outlives us)
    assert t.running_job("c").pgid == -77

    s.finished("b")  # no longer running from the next flush
    assert t.running_job("b") is not None
    s.flush()
    assert t.running_job("b") is None
    s.forget_running(["c"])
    assert t.running() == []
    s.close()
    t.close()


def test_succeeded_clears_the_running_mark_in_the_same_flush(root: str):
    s = State(root)
    s.mark_running([("b", 0, ["b.txt"])], "run-1", 1.0)
    s.succeeded("b", "rule_b", "d1", SIG)
    assert [r.name for r in State(root).running()] == ["b"]
    s.flush()
    t = State(root)
    assert t.running() == [] and t.record("b").digest == "d1"
    s.close()
    t.close()


def test_forget_run_clears_only_that_runs_marks(root: str):
    s = State(root)
    s.mark_running([("b", 0, [])], "run-1", 1.0)
    s.mark_running([("c", 0, [])], "run-2", 1.0)
    s.forget_run("run-1")
    assert [r.name for r in s.running()] == ["c"]
    s.close()


def test_runs_started_and_ended(root: str):
    s = State(root)
    s.run_started("run-1", ["-j", "2", "all"])
    db = sqlite3.connect(os.path.join(root, "state.db"))
    started, ended, status, argv = db.execute("SELECT started, ended, status, argv FROM runs WHERE id='run-1'").fetchone()
    assert (ended, status, json.loads(argv)) == (None, "running", ["-j", "2", "all"])
    s.run_ended("run-1", "ok")
    ended, status = db.execute("SELECT ended, status FROM runs WHERE id='run-1'").fetchone()
    assert status == "ok" and ended >= started
    db.close()
    s.close()


def test_generation_counts_job_records_and_running_marks_only(root: str):
    s = State(root)
    g0 = s.generation()
    s.remember_file("a.txt", 1, 2, 3, 4, "h")
    s.flush()
    s.run_started("r", [])
    assert s.generation() == g0  # fingerprints and runs do not change decisions' inputs
    s.succeeded("b", "rule_b", "d1", SIG)
    s.flush()
    g1 = s.generation()
    assert g1 > g0
    s.mark_running([("b", 0, [])], "r", 1.0)
    g2 = s.generation()
    assert g2 > g1
    s.forget_job("b")
    assert s.generation() > g2
    s.close()


def test_noop_memo_holds_only_at_its_generation(root: str):
    s = State(root)
    g = s.generation()
    assert s.save_noop_memo("k", g, 3, b"paths", "dig")
    assert s.noop_memo("k") == (3, b"paths", "dig")
    assert s.noop_memo("other") is None
    assert not s.save_noop_memo("k2", g - 1, 3, b"p", "d")  # the store moved on since
    s.succeeded("b", "rule_b", "d1", SIG)
    s.flush()
    assert s.noop_memo("k") is None
    s.close()


def test_read_only_opening_reads_and_never_writes(root: str):
    s = State(root)
    s.succeeded("b", "rule_b", "d1", SIG)
    s.close()
    r = State(root, readonly=True)
    assert r.record("b").digest == "d1"
    with pytest.raises(StateError, match="cannot write the state store"):
        r.mark_running([("b", 0, [])], "r", 1.0)
    r.close()
    assert State(root).running() == []


def test_read_only_opening_creates_nothing(tmp_path: Path):
    root = str(tmp_path / "none" / ".pyrule")
    with pytest.raises(StateError, match="cannot open the state store"):
        State(root, readonly=True)
    assert not os.path.exists(os.path.dirname(root))


def test_read_only_opening_in_a_read_only_directory(root: str, read_only):
    s = State(root)
    s.succeeded("b", "rule_b", "d1", SIG)
    s.close()
    read_only(Path(root))
    r = State(root, readonly=True)
    assert r.record("b").digest == "d1"
    r.close()


def test_a_damaged_store_is_set_aside_and_a_new_one_started(root: str):
    os.makedirs(root)
    Path(root, "state.db").write_bytes(b"this is not a database" * 100)
    r = None
    with pytest.raises(StateError, match="is damaged"):
        r = State(root, readonly=True)  # a dry run leaves it where it is
    assert r is None and os.listdir(root) == ["state.db"]
    s = State(root)
    assert s.warning and "was damaged" in s.warning and "moved it to" in s.warning
    assert s.records() == {}
    assert any(n.startswith("state.db.broken-") for n in os.listdir(root))
    s.close()


def test_another_process_sees_marks_and_records_and_its_death(root: str):
    s = State(root)
    out = other_process(root, """
        import os
        state.mark_running([("c", 0, ["c.txt"])], "run-x", __import__("pyrule.procinfo").procinfo.start_time())
        state.succeeded("b", "rule_b", "d-other", {"outputs": ["b.txt"]})
        state.close()
        print(os.getpid())
    """)
    pid = int(out)
    mark = s.running_job("c")
    assert mark is not None and mark.owner_pid == pid and mark.run_id == "run-x"
    assert s.record("b", fresh=True).digest == "d-other"
    assert [r.name for r in dead_jobs(s)] == ["c"]  # that process is gone
    s.close()


def test_a_live_process_marks_are_not_dead(root: str):
    s = State(root)
    s.mark_running([("b", 0, [])], "run-1", __import__("pyrule.procinfo").procinfo.start_time())
    out = other_process(root, """
        from pyrule.run import dead_jobs
        print([r.name for r in dead_jobs(state)], [r.name for r in state.running()])
    """)
    assert out.split("\n")[0] == "[] ['b']"  # this process lives
    s.close()


def test_unflushed_writes_of_a_dead_process_are_lost_not_half_written(root: str):
    other_process(root, """
        import os
        state.succeeded("b", "rule_b", "d1", {})
        state.remember_file("a.txt", 1, 2, 3, 4, "h")
        os._exit(0)  # dies without flushing
    """)
    t = State(root)
    assert t.records() == {} and t.file_cache() == {}
    t.close()
