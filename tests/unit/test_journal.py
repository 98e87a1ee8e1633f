"""The journal of running jobs (pyrule/journal.py): what a later run reads back from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pyrule import journal
from pyrule.procinfo import start_time


def _dead_pid() -> tuple[int, float]:
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    start = start_time(p.pid)
    p.wait(timeout=30)
    return p.pid, start


def test_a_dead_runs_open_jobs_are_read_back_and_a_live_runs_are_not(tmp_path: Path):
    root = str(tmp_path / ".pyrule")
    pid, start = _dead_pid()
    j = journal.Journal(root, "dead-run", pid, start)
    j.started([("a", ["a.txt"]), ("b", ["b.txt", "b2.txt"])], "local", 1.0)
    j.started([("c", ["c\nnewline.txt"])], "local", 2.0)
    j.ended(["a"])
    with open(j.path, "ab") as f:
        f.write(b'\n["end", ["c"')  # cut short by a full disk: it ends nothing
    j.started([("d", [])], "local", 3.0)  # ... and does not swallow the next line
    j.close()  # kept: jobs are open
    live = journal.Journal(root, "live-run", os.getpid(), start_time())
    live.started([("e", ["e.txt"])], "local", 4.0)
    found = journal.dead(root, own="mine")
    assert [p for p, _ in found] == [os.path.join(root, "running", "dead-run")]
    entries = {e.name: e for e in found[0][1]}
    assert set(entries) == {"b", "c", "d"}
    assert entries["b"].outputs == ["b.txt", "b2.txt"] and entries["c"].outputs == ["c\nnewline.txt"]
    assert entries["b"].owner_pid == pid and entries["b"].run_id == "dead-run" and entries["d"].started == 3.0
    live.ended(["e"])
    live.close()
    assert not os.path.exists(live.path), "a run that ended with nothing open leaves no journal"


def test_a_journal_without_a_whole_first_line_is_left_alone(tmp_path: Path):
    d = tmp_path / ".pyrule" / "running"
    d.mkdir(parents=True)
    (d / "x").write_text(json.dumps({"run": "x", "pid": 1})[:10])
    assert journal.dead(str(tmp_path / ".pyrule")) == []
