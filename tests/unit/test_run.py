"""What a run hands on, explicitly: the signal that interrupted it on RunResult.signum (the exit
code follows it), and the run statistics written from the result plus the graph's jobs, the
command line and the Pipefiles (stats.write_stats), not from the runner's insides. In-process:
real Pipefiles, real job processes, a real signal."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import xxhash
from harness import pipefile, write

from pyrule.load import load
from pyrule.plan import plan
from pyrule.run import JobOutcome, Options, Runner, RunResult, execute
from pyrule.stats import write_stats
from pyrule.ui import Console

SLOW = """
    rule slow:
        output: "slow.txt"
        shell: touch started; sleep 30; touch {output}
"""


def _signal_once_started(signum: int) -> threading.Thread:
    """Sends `signum` to this process once the job has started (its `started` file exists)."""
    def send() -> None:
        deadline = time.monotonic() + 30
        while not os.path.exists("started") and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signum)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"])
def test_the_interrupting_signal_is_on_the_result_and_gives_the_exit_code(tmp_path: Path, monkeypatch, signum, code):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, SLOW)
    rules = load("Pipefile")
    sender = _signal_once_started(signum)
    result = Runner(plan(rules, []), rules, Options(), Console(quiet=2)).run()
    sender.join()
    assert (result.status, result.signum) == ("interrupted", signum)
    assert result.outcomes["slow"].status == "interrupted"
    os.unlink("started")
    sender = _signal_once_started(signum)
    assert execute(plan(rules, []), rules, Options(), Console(quiet=2)) == code
    sender.join()


def test_a_run_that_ends_by_itself_has_no_signal(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, SLOW.replace("sleep 30", "true"))
    rules = load("Pipefile")
    result = Runner(plan(rules, []), rules, Options(), Console(quiet=2)).run()
    assert (result.status, result.signum) == ("ok", None)


def test_write_stats_takes_what_it_records_explicitly(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, """
        rule b:
            output: "b.txt"
            input: "a.txt"
            shell: cp {input} {output}

        rule a:
            output: "a.txt"
            shell: echo a > {output}
    """)
    write(tmp_path / "other.inc", "included\n")
    graph = plan(load("Pipefile"), [])
    a, b = graph.jobs
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # b before a in the outcomes, and a job of no outcome: the rows follow `jobs`, and skip it.
    outcomes = {"b": JobOutcome(b, "ran", "forced", start=2.0, end=3.0, wall_s=1.0),
                "a": JobOutcome(a, "up-to-date", start=0.0)}
    result = RunResult("RUN", outcomes, "ok", 1.5, str(run_dir))
    write_stats(result, [a, b], ["pyrule", "-B"], ["Pipefile", "other.inc", "missing.inc"])
    stats = json.loads((run_dir / "stats.json").read_text())
    h = xxhash.xxh3_64()
    for p in ("Pipefile", "other.inc"):  # an unreadable file adds nothing
        h.update((tmp_path / p).read_bytes())
    assert stats["argv"] == ["pyrule", "-B"] and stats["pipefile_hash"] == h.hexdigest()[:16]
    assert (stats["run_id"], stats["status"], stats["wall_s"]) == ("RUN", "ok", 1.5)
    assert [j["job"] for j in stats["jobs"]] == ["a", "b"]
    assert (stats["start"], stats["end"]) == (2.0, 3.0)
    assert stats["totals"] == {"ran": 1, "up-to-date": 1, "failed": 0, "interrupted": 0, "skipped": 0}
    rows = (run_dir / "stats.tsv").read_text().splitlines()
    assert [r.split("\t")[1] for r in rows[1:]] == ["a", "b"]
    write_stats(result, [b], [], [])
    assert [j["job"] for j in json.loads((run_dir / "stats.json").read_text())["jobs"]] == ["b"]
