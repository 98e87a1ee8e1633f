"""A job that printed nothing leaves no log, however long it ran (issue 23, W7b: a build leaves no
file per job under .pyrule/). While it runs its log exists from one sampling interval on (so
`tail -f` works); when it succeeds with nothing but pyrule's header in it, the log is removed. A
failed job keeps its log (the header names the command), and one that printed keeps what it
printed."""

from __future__ import annotations

import time

from harness import pipefile, pyrule, spawn, wait_for, write

LOGS = ".pyrule/logs"


def _project(d):
    pipefile(d, """
        quiet.txt:
            touch started; while [ ! -e gate ]; do sleep 0.05; done; touch quiet.txt
        loud.txt:
            sleep 0.4; echo said; touch loud.txt
        failing.txt:
            sleep 0.4; exit 3
        """)


def test_a_long_quiet_job_has_a_log_while_it_runs_and_none_after_it_succeeds(tmp_path):
    _project(tmp_path)
    p = spawn(tmp_path, "quiet.txt")
    log = tmp_path / LOGS / "quiet.txt" / "quiet.txt.log"
    try:
        wait_for(lambda: (tmp_path / "started").exists(), what="the job's start")
        wait_for(log.exists, what="the running job's log (tail -f)")
        assert log.read_text().startswith("# pyrule: quiet.txt started ")
        write(tmp_path / "gate")
        assert p.wait(timeout=60) == 0, p.stderr.read() if p.stderr else ""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (tmp_path / "quiet.txt").exists()
    assert not log.exists(), log.read_text()


def test_a_long_job_that_printed_keeps_its_log(tmp_path):
    _project(tmp_path)
    r = pyrule(tmp_path, "loud.txt")
    assert r.rc == 0, str(r)
    header, *rest = (tmp_path / LOGS / "loud.txt" / "loud.txt.log").read_text().splitlines()
    assert header.startswith("# pyrule: loud.txt started ") and rest == ["said"]


def test_a_failed_quiet_job_keeps_its_log(tmp_path):
    _project(tmp_path)
    started = time.monotonic()
    r = pyrule(tmp_path, "failing.txt")
    assert r.rc != 0 and time.monotonic() - started >= 0.4
    text = (tmp_path / LOGS / "failing.txt" / "failing.txt.log").read_text()
    assert text.startswith("# pyrule: failing.txt started ") and "exit 3" in text
