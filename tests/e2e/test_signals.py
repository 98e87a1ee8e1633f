"""Interrupting pyrule (SIGTERM, SIGINT) and killing it (-9): no job survives, partial outputs
are removed, and the next run finds and cleans up what a dead pyrule left running."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from harness import alive, group_members, kill_with_watchdog, ok, pipefile, read_pid, spawn, wait_for

SHELL_JOB = """
    rule long:
        output: "long.txt"
        shell:
            echo $$ > job.pid
            echo partial > {output}
            if [ -e slow ]; then sleep 30; fi
            echo complete > {output}
"""

PYTHON_JOB = """
    rule long:
        output: "long.txt"
        python:
            import os, time
            open(output[0], "w").write("partial")
            open("job.pid", "w").write(str(os.getpid()))
            while os.path.exists("slow"):
                time.sleep(0.05)
            open(output[0], "w").write("complete\\n")
"""


def _start_long_job(d: Path, body: str) -> tuple[subprocess.Popen, int]:
    pipefile(d, body)
    (d / "slow").touch()
    p = spawn(d)
    pid = wait_for(lambda: read_pid(d / "job.pid"), what="the job to write its pid")
    wait_for(lambda: (d / "long.txt").exists(), what="the partial output")
    return p, pid


@pytest.mark.parametrize("body", [SHELL_JOB, PYTHON_JOB], ids=["shell", "python"])
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"])
def test_signal_stops_jobs_and_removes_partial_output(tmp_path: Path, body: str, signum: int, code: int):
    p, pgid = _start_long_job(tmp_path, body)
    p.send_signal(signum)
    out, err = p.communicate(timeout=30)
    assert p.returncode == code, err
    assert not (tmp_path / "long.txt").exists()
    assert group_members(pgid) == [], "a job process survived pyrule"
    assert "interrupted" in err
    # nothing was recorded for the job, and nothing is left marked as running
    (tmp_path / "slow").unlink()
    r = ok(tmp_path)
    assert "died" not in r.err
    assert r.ran == {"long"}
    assert (tmp_path / "long.txt").read_text() == "complete\n"


def test_sigterm_to_a_job_tree_stops_grandchildren(tmp_path: Path):
    pipefile(tmp_path, """
        rule tree:
            output: "t.txt"
            shell:
                echo $$ > job.pid
                sleep 30 &
                echo $! > child.pid
                sleep 30 &
                wait
                touch {output}
    """)
    p = spawn(tmp_path)
    pgid = wait_for(lambda: read_pid(tmp_path / "job.pid"))
    child = wait_for(lambda: read_pid(tmp_path / "child.pid"))
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    assert p.returncode == 143
    assert not alive(child)
    assert group_members(pgid) == []


KILL_9_JOBS = """
        default: after.txt

        rule long:
            output: "long.txt"
            shell:
                echo $$ > job.pid
                echo partial > {output}
                if [ -e slow ]; then
                    sleep 30 &
                    echo $! > child.pid
                    wait
                fi
                echo complete > {output}

        rule after:
            output: "after.txt"
            input: "long.txt"
            shell: cp {input} {output}
"""


def _start_with_grandchild(d: Path, text: str) -> tuple[subprocess.Popen, int, int]:
    """Start pyrule on a Pipefile whose job writes job.pid and, while `slow` exists, keeps a
    `sleep` child (child.pid); return pyrule, the job's group and the child."""
    pipefile(d, text)
    (d / "slow").touch()
    p = spawn(d)
    return p, wait_for(lambda: read_pid(d / "job.pid")), wait_for(lambda: read_pid(d / "child.pid"))


def test_kill_9_stops_the_whole_job_group(tmp_path: Path):
    """The watchdog process sees pyrule die and kills every job group, grandchildren included."""
    p, pgid, child = _start_with_grandchild(tmp_path, KILL_9_JOBS)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=5)
    wait_for(lambda: not group_members(pgid), timeout=5, what="the watchdog to stop the job group")
    assert not alive(child)
    (tmp_path / "slow").unlink()
    r = ok(tmp_path)
    assert "long was running when pyrule died" in r.err and "stopped process group" not in r.err
    assert r.ran == {"long", "after"}
    assert (tmp_path / "after.txt").read_text() == "complete\n"


def test_kill_9_then_next_run_recovers(tmp_path: Path):
    """pyrule and its watchdog both killed: the next run stops what they left running."""
    p, pgid, child = _start_with_grandchild(tmp_path, KILL_9_JOBS)
    kill_with_watchdog(p)
    # Deliberately not reaped yet: a dead pyrule may linger as a zombie; it counts as dead.
    wait_for(lambda: not alive(p.pid), what="pyrule to die")
    assert alive(child), "the grandchild should outlive pyrule (nothing is left to stop it)"
    assert (tmp_path / "long.txt").read_text() == "partial\n"
    (tmp_path / "slow").unlink()

    plan = ok(tmp_path, "-n").out
    assert "long: incomplete after an interrupted run" in plan
    assert alive(child)  # -n changes nothing

    r = ok(tmp_path)
    assert "long was running when pyrule died" in r.err
    assert f"stopped process group {pgid}" in r.err
    wait_for(lambda: not group_members(pgid), timeout=5, what="the orphaned job group to stop")
    assert not alive(child)
    assert r.ran == {"long", "after"}
    assert (tmp_path / "after.txt").read_text() == "complete\n"
    p.wait(timeout=5)
    r = ok(tmp_path)
    assert r.ran == set() and "died" not in r.err


def test_kill_9_after_the_output_was_written_still_rebuilds(tmp_path: Path):
    """pyrule died before it could record the job: its output looks complete but is not trusted."""
    pipefile(tmp_path, """
        rule quick:
            output: "q.txt"
            shell:
                echo $$ > job.pid
                echo "from run $(cat runno)" > {output}
                while [ -e hold ]; do sleep 0.02; done
    """)
    (tmp_path / "hold").touch()
    (tmp_path / "runno").write_text("1")
    p = spawn(tmp_path)
    wait_for(lambda: read_pid(tmp_path / "job.pid"))
    wait_for(lambda: (tmp_path / "q.txt").exists())
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=5)
    (tmp_path / "hold").unlink()
    (tmp_path / "runno").write_text("2")
    r = ok(tmp_path)
    assert "quick was running when pyrule died" in r.err
    assert r.ran == {"quick"}
    assert (tmp_path / "q.txt").read_text() == "from run 2\n"


def test_kill_9_before_the_job_group_was_recorded(tmp_path: Path):
    """pyrule can die between starting a job and recording its process group: the next run
    still finds the job's processes (they carry PYRULE_JOB in their environment)."""
    p, pgid, child = _start_with_grandchild(tmp_path, """
        rule long:
            output: "long.txt"
            shell:
                echo $$ > job.pid
                if [ -e slow ]; then
                    sleep 30 &
                    echo $! > child.pid
                    wait
                fi
                echo complete > {output}
    """)
    kill_with_watchdog(p)
    p.wait(timeout=5)
    with sqlite3.connect(tmp_path / ".pyrule" / "state.db") as db:  # as if it died before recording it
        assert db.execute("UPDATE running SET pgid = 0 WHERE name = 'long'").rowcount == 1
    (tmp_path / "slow").unlink()
    assert alive(child)
    r = ok(tmp_path)
    assert f"stopped process group {pgid}" in r.err
    wait_for(lambda: not alive(child), timeout=5, what="the orphaned job process to stop")
    assert r.ran == {"long"}


def test_second_ctrl_c_kills_at_once(tmp_path: Path):
    """A job that ignores SIGTERM would hold pyrule for the grace period: a second Ctrl-C kills it."""
    pipefile(tmp_path, """
        rule stubborn:
            output: "s.txt"
            shell:
                trap '' TERM
                echo $$ > job.pid
                echo partial > {output}
                sleep 30
    """)
    errfile = tmp_path / "pyrule.err"
    with open(errfile, "w") as err:
        p = spawn(tmp_path, stderr=err)
        pgid = wait_for(lambda: read_pid(tmp_path / "job.pid"))
        wait_for(lambda: (tmp_path / "s.txt").exists())
        p.send_signal(signal.SIGINT)
        wait_for(lambda: "stopping 1 running job(s)" in errfile.read_text(), what="pyrule to stop its jobs")
        assert alive(pgid)  # it ignores SIGTERM: pyrule would wait for the grace period
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=30)
    assert p.returncode == 130, errfile.read_text()
    assert group_members(pgid) == []
    assert not (tmp_path / "s.txt").exists()


def test_the_watchdog_stops_a_job_it_was_never_told_about(tmp_path: Path):
    """pyrule may die between spawning a job and reporting its group (descheduled on a loaded
    machine): at EOF the watchdog also stops every process marked as one of the run's jobs."""
    from pyrule.executors.watchdog import Watchdog

    dog = Watchdog()
    dog.ready("run-1")
    env = {**os.environ, "PYRULE_JOB": "run-1/long"}
    other = {**os.environ, "PYRULE_JOB": "run-2/long"}  # another run's job: not ours to stop
    ours = subprocess.Popen(["sleep", "30"], env=env, start_new_session=True)
    theirs = subprocess.Popen(["sleep", "30"], env=other, start_new_session=True)
    try:
        dog.close(jobs_left=True)  # as the kernel closes the pipe when pyrule dies
        assert ours.wait(timeout=5) == -signal.SIGKILL
        assert theirs.poll() is None
    finally:
        for p in (ours, theirs):
            p.kill()
            p.wait(timeout=30)
