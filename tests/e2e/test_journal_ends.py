"""A job is open in its run's journal (journal.py) only while the store has it marked running:
a job that could not start, or whose journal line cannot be written, leaves neither behind, so
the next run does not take it for one "running when pyrule died" (it would warn so, remove its
outputs and say `incomplete after an interrupted run`). The kills between the two steps:
tests/reliability/test_kill_windows.py."""

from __future__ import annotations

from pathlib import Path

from harness import pipefile, pyrule


def test_a_job_that_could_not_start_leaves_no_open_journal(tmp_path: Path):
    pipefile(tmp_path, """
        # exec takes no string over 128 KiB (MAX_ARG_STRLEN): the job's spawn fails (E2BIG)
        _BIG = __import__("os").environ.setdefault("BIG", "x" * 140_000)

        rule shell:
            output: "shell.txt"
            shell: echo never > {output}
    """)
    r = pyrule(tmp_path)
    assert r.rc == 1 and "cannot start: Argument list too long" in r.err, str(r)
    running = tmp_path / ".pyrule" / "running"
    assert not running.exists() or list(running.iterdir()) == []
    again = pyrule(tmp_path, "-n")
    assert "incomplete after an interrupted run" not in again.out, str(again)
    assert "shell: output shell.txt missing" in again.out, str(again)


def test_a_journal_that_cannot_be_written_stops_the_run_and_leaves_no_mark(tmp_path: Path):
    pipefile(tmp_path, """
        rule a:
            output: "a.txt"
            shell: echo a > {output}
    """)
    (tmp_path / ".pyrule").mkdir()
    (tmp_path / ".pyrule" / "running").write_text("")  # a file where the journals' directory goes
    r = pyrule(tmp_path)
    assert r.rc == 2, str(r)
    assert "error: cannot write the journal of running jobs" in r.err and "Traceback" not in r.err, str(r)
    assert not (tmp_path / "a.txt").exists()
    (tmp_path / ".pyrule" / "running").unlink()
    again = pyrule(tmp_path, "-n")
    assert again.out.splitlines()[0] == "a: output a.txt missing", str(again)
