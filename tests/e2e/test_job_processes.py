"""What a job leaves running: stopped on Ctrl-C and SIGTERM even when it left the job's process
group, stopped (and said so) when the job ends, found after a kill -9 also when a Python body
forked it; job processes never hold pyrule's locks; recovery acts only on runs whose pyrule is
proven dead, and never asks Slurm about a local run. Real processes, real signals."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import pytest
from harness import alive, kill_with_watchdog, ok, pipefile, pyrule, read_pid, spawn, wait_for

# A writer in its own session (so outside the job's process group) that appends to the output
# for as long as it lives; the job waits while `hold` exists.
SETSID_WRITER = """
    rule w:
        output: "out.txt"
        shell:
            setsid sh -c 'echo $$ > writer.tmp; mv writer.tmp writer.pid; while :; do echo x >> out.txt; sleep 0.05; done' &
            while [ ! -e writer.pid ] || [ ! -e out.txt ]; do sleep 0.01; done  # (its first line written)
            touch started
            while [ -e hold ]; do sleep 0.05; done
"""


def _size_stays(path: Path, seconds: float = 0.4) -> bool:
    """Whether nothing writes `path` (or recreates it) for a while."""
    before = path.stat().st_size if path.exists() else None
    time.sleep(seconds)
    return (path.stat().st_size if path.exists() else None) == before


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_a_signal_stops_a_writer_that_left_the_job_group(tmp_path: Path, signum: int, code: int):
    pipefile(tmp_path, SETSID_WRITER)
    (tmp_path / "hold").touch()
    p = spawn(tmp_path)
    wait_for(lambda: (tmp_path / "started").exists(), what="the job to start its writer")
    writer = read_pid(tmp_path / "writer.pid")
    assert writer and alive(writer) and os.getpgid(writer) != os.getpgid(p.pid)
    wait_for(lambda: (tmp_path / "out.txt").exists(), what="the writer to write")
    p.send_signal(signum)
    _, err = p.communicate(timeout=30)
    assert p.returncode == code, err
    assert not alive(writer), "the job's writer outlived pyrule"
    assert _size_stays(tmp_path / "out.txt") and not (tmp_path / "out.txt").exists()


def test_what_a_job_leaves_running_is_stopped_when_it_ends(tmp_path: Path):
    pipefile(tmp_path, SETSID_WRITER)
    r = ok(tmp_path)
    writer = read_pid(tmp_path / "writer.pid")
    assert writer and not alive(writer), "the job's writer outlived the job"
    assert r.ran == {"w"}
    assert "w left " in r.err and f"{writer} (sh)" in r.err, r.err
    log = (tmp_path / ".pyrule" / "logs" / "w" / "w.log").read_text()
    assert f"pyrule: stopped process {writer} (sh), left running when the job ended" in log, log
    out = tmp_path / "out.txt"
    assert _size_stays(out)
    assert ok(tmp_path).ran == set()  # what was recorded is what stays


DAEMON = """
    rule d:
        output: "d.txt"
        python:
            import os, time
            if os.fork() == 0:  # a daemon: double fork, own session
                os.setsid()
                if os.fork() == 0:
                    open("daemon.tmp", "w").write(str(os.getpid()))
                    os.rename("daemon.tmp", "daemon.pid")
                    while True:
                        time.sleep(0.05)
                os._exit(0)
            while not os.path.exists("daemon.pid"):
                time.sleep(0.01)
            open(output[0], "w").write("partial\\n")
            open("started", "w").close()
            while os.path.exists("hold"):
                time.sleep(0.05)
"""


def _lock_fds(pid: int) -> list[str]:
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if "/.pyrule/locks/" in target:
            found.append(target)
    return found


def _start_daemon_job(d: Path):
    pipefile(d, DAEMON)
    (d / "hold").touch()
    p = spawn(d)
    wait_for(lambda: (d / "started").exists(), what="the Python body to start its daemon")
    daemon = read_pid(d / "daemon.pid")
    assert daemon and alive(daemon)
    return p, daemon


def test_a_python_body_daemon_holds_no_lock_and_is_stopped_after_kill_9(tmp_path: Path):
    """pyrule and its watchdog killed: the daemon a Python body forked (own session, no exec, so
    no PYRULE_JOB in its environment) must not keep the locks, and the next run stops it."""
    p, daemon = _start_daemon_job(tmp_path)
    assert _lock_fds(daemon) == [], "a job process holds pyrule's locks"
    group = os.getpgid(daemon)  # its own session's, not the job's
    kill_with_watchdog(p)
    p.wait(timeout=5)
    assert alive(daemon)
    (tmp_path / "hold").unlink()
    r = pyrule(tmp_path, timeout=20)
    assert r.rc == 0, str(r)
    assert "locked by another pyrule" not in r.err
    assert "d was running when pyrule died" in r.err
    assert f"stopped process group {group} left running by a pyrule that died (d)" in r.err, r.err
    wait_for(lambda: not alive(daemon), timeout=5, what="the daemon to stop")
    assert r.ran == {"d"}


def test_the_watchdog_stops_a_python_body_daemon(tmp_path: Path):
    p, daemon = _start_daemon_job(tmp_path)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=5)
    wait_for(lambda: not alive(daemon), timeout=5, what="the watchdog to stop the daemon")


def test_ctrl_c_stops_a_python_body_daemon(tmp_path: Path):
    p, daemon = _start_daemon_job(tmp_path)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert not alive(daemon), "the daemon a Python body forked outlived pyrule"


def test_a_python_body_daemon_is_stopped_when_the_job_ends(tmp_path: Path):
    pipefile(tmp_path, DAEMON)
    r = ok(tmp_path)
    daemon = read_pid(tmp_path / "daemon.pid")
    assert daemon and not alive(daemon)
    assert "d left 1 process running" in r.err, r.err


SAMPLES = """
    SAMPLE ?= "a"

    rule work:
        output: f"out_{SAMPLE}.txt"
        shell:
            echo partial > {output}
            touch started_{SAMPLE}
            while [ -e hold_{SAMPLE} ]; do sleep 0.05; done
            echo complete >> {output}
"""


def test_a_live_run_with_the_same_job_name_is_left_alone(tmp_path: Path):
    """`pyrule SAMPLE=a` and `pyrule SAMPLE=b` at once: one job name, two outputs. The second
    run must not take the first for dead (it is alive): it waits for it, then runs its own job."""
    pipefile(tmp_path, SAMPLES)
    (tmp_path / "hold_a").touch()
    a = spawn(tmp_path, "SAMPLE=a")
    wait_for(lambda: (tmp_path / "started_a").exists(), what="run a's job to start")
    errfile = tmp_path / "b.err"
    with open(errfile, "w") as err:
        b = spawn(tmp_path, "SAMPLE=b", stderr=err)
        wait_for(lambda: "waiting" in errfile.read_text() or b.poll() is not None, what="run b to wait")
        assert b.poll() is None, errfile.read_text()
        assert (tmp_path / "out_a.txt").read_text() == "partial\n"
        (tmp_path / "hold_a").unlink()
        out, err_a = a.communicate(timeout=30)
        b.wait(timeout=30)
    err_b = errfile.read_text()
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    assert "died" not in err_b and "stopped process" not in err_b
    assert (tmp_path / "out_a.txt").read_text() == "partial\ncomplete\n"
    assert (tmp_path / "out_b.txt").read_text() == "partial\ncomplete\n"


def test_local_recovery_never_asks_slurm(tmp_path: Path):
    """With Slurm's client on PATH but the run local, recovery after a kill -9 calls no squeue
    or scancel (they would stall on a missing controller)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "slurm-calls"
    for tool in ("squeue", "scancel", "sacct", "sbatch"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\nsleep 2\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    d = tmp_path / "p"
    d.mkdir()
    pipefile(d, """
        rule a:
            output: "a.txt"
            shell:
                echo partial > {output}
                touch started
                while [ -e hold ]; do sleep 0.05; done
    """)
    (d / "hold").touch()
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    p = spawn(d, env=env)
    wait_for(lambda: (d / "started").exists(), what="the job to start")
    kill_with_watchdog(p)
    p.wait(timeout=5)
    (d / "hold").unlink()
    r = ok(d, env=env)
    assert "a was running when pyrule died" in r.err
    assert not calls.exists(), calls.read_text()
