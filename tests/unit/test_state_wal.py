"""The store during a run: its write-ahead log is copied into the database file (a checkpoint,
two fsyncs) rarely, not every ~100 jobs as with SQLite's default of 1000 pages (issue 23, W2:
each checkpoint sat between one job's end and the next one's start). What a kill -9 leaves in
the log is read back by the next process, as before."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from pyrule.state import State

JOBS = 150  # a job's end and the next one's start write ~10 pages: 1,500 pages, past the default


def _record(state: State, i: int) -> None:
    """What a run writes for one job of a chain: marked running, then its record and its output's fingerprint."""
    name = f"link[i={i}]"
    state.mark_running([(name, 0, [f"c/{i}.txt"])], "run-1", 1.0)
    state.set_pgid(name, 1000 + i)
    state.succeeded(name, "link", "digest", {"inputs": {f"c/{i - 1}.txt": "x" * 16}, "shell": "cat"})
    state.remember_file(f"c/{i - 1}.txt", 14, time.time_ns(), 1000 + i, time.time_ns(), "x" * 16)
    state.finished(name)
    state.flush()


def test_a_run_s_job_records_are_not_checkpointed_job_by_job(tmp_path):
    root = str(tmp_path / ".pyrule")
    state = State(root)
    db = os.path.join(root, "state.db")
    _record(state, 1)
    before = os.stat(db)
    for i in range(2, JOBS + 1):
        _record(state, i)
    after = os.stat(db)
    # The database file is untouched: every record is in the log (a checkpoint writes the file).
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert os.path.getsize(db + "-wal") > 1000 * 4096
    state.close()  # the last connection's close copies the log into the file
    reread = State(root)
    assert len(reread.records()) == JOBS and reread.running() == []
    reread.close()


def test_records_only_in_the_log_survive_a_kill_9(tmp_path):
    root = str(tmp_path / ".pyrule")
    State(root).close()  # the store exists (its schema made and checkpointed)
    pid = os.fork()
    if pid == 0:  # a writer killed as `kill -9` would: no close, no checkpoint
        try:
            state = State(root)
            for i in range(1, JOBS + 1):
                _record(state, i)
            state.mark_running([("link[i=151]", 0, ["c/151.txt"])], "run-1", 1.0)
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert os.path.getsize(os.path.join(root, "state.db-wal")) > 0
    state = State(root)
    assert len(state.records()) == JOBS
    assert [r.name for r in state.running()] == ["link[i=151]"]
    state.close()


def _syncs_of_opening(root) -> list[str]:
    """The fsync/fdatasync calls of a process that opens the store at `root` and exits (no close:
    the close's checkpoint syncs, as it should), as strace shows them."""
    trace = root.parent / "trace.txt"
    code = f"import os; from pyrule.state import State; State({str(root)!r}); os._exit(0)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run(["strace", "-f", "-e", "trace=fsync,fdatasync", "-o", str(trace), sys.executable, "-c", code],
                   check=True, env=env, timeout=120)
    return [line for line in trace.read_text().splitlines() if "sync(" in line]


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to see the fsyncs")
def test_creating_a_store_does_not_wait_for_the_disk(tmp_path):
    """A new store's WAL switch and schema are written without fsync (26-34 ms of a fresh
    run's start on a loaded machine, 1.6 ms without): a store cut short by a power loss then is
    a damaged store, set aside and rebuilt, which an empty one costs nothing to be. Checkpoints
    still sync (the first one makes the file whole on disk)."""
    assert _syncs_of_opening(tmp_path / ".pyrule") == []
    state = State(str(tmp_path / ".pyrule"))  # whole, and in WAL mode
    assert state.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal" and state.records() == {}
    state.close()


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to see the fsyncs")
def test_an_existing_store_switched_to_wal_is_synced(tmp_path):
    """Only a new store skips the fsyncs: one that exists in another journal mode (made by hand
    with the sqlite3 shell, say) holds records a torn switch would lose."""
    root = tmp_path / ".pyrule"
    State(str(root)).close()
    db = sqlite3.connect(root / "state.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    assert _syncs_of_opening(root) != []
