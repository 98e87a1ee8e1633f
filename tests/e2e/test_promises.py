"""Promises that a one-line break of the feature must make fail (issue 25).

Each test here was checked against the break named in its docstring: applied to pyrule, the test
fails; reverted, it passes. Real `pyrule` subprocesses on real files; event-based where timing
matters, and every spawned process is stopped in a `finally`.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from harness import alive, ok, pipefile, pyrule, read_pid, spawn, wait_for


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.kill()
    p.communicate(timeout=30)


def test_jobs_read_dev_null_even_when_pyrule_has_a_real_stdin(tmp_path: Path):
    """Break: a job's fd 0 not pointed at /dev/null (posix_spawn's file action, or the forked
    child's dup2). pytest's own fd 0 is /dev/null already, so pyrule is given a pipe here."""
    pipefile(tmp_path, """
        default: all
        rule all:
            input: "simple.txt", "shell.txt", "py.txt"
        rule simple:
            output: "simple.txt"
            shell: readlink /proc/self/fd/0 > {output}
        rule shell:
            output: "shell.txt"
            shell: x=$(readlink /proc/$$/fd/0); echo "$x" > {output}
        rule py:
            output: "py.txt"
            python:
                import os
                with open(output[0], "w") as f:
                    f.write(os.readlink("/proc/self/fd/0") + "\\n")
    """)
    p = spawn(tmp_path, stdin=subprocess.PIPE)  # (communicate closes our end: still a pipe, at EOF)
    try:
        out, err = p.communicate(timeout=60)
    finally:
        _stop(p)
    assert p.returncode == 0, err
    for name in ("simple.txt", "shell.txt", "py.txt"):
        assert (tmp_path / name).read_text().strip() == "/dev/null", name


def test_a_second_ctrl_c_kills_at_once_without_the_grace(tmp_path: Path):
    """Break: the second SIGINT no longer ends the 5 s grace of the first. The job ignores
    SIGTERM, so only the SIGKILL stops it; it must be dead well before the grace is over."""
    pipefile(tmp_path, """
        rule stubborn:
            output: "out.txt"
            shell: trap '' TERM; echo $$ > pid; sleep 60; touch {output}
    """)
    errf = open(tmp_path / "stderr.txt", "w+")
    p = spawn(tmp_path, stderr=errf)
    try:
        job = wait_for(lambda: read_pid(tmp_path / "pid"), 30, "the job to start")
        p.send_signal(signal.SIGINT)
        # In the grace period: the runner said it is stopping the job (SIGTERM sent, ignored).
        wait_for(lambda: "stopping 1 running job" in (tmp_path / "stderr.txt").read_text(), 20,
                 "pyrule to start stopping the job")
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        wait_for(lambda: not alive(job), 20, "the job to die")
        took = time.monotonic() - t0
        p.wait(timeout=20)
    finally:
        _stop(p)
        errf.close()
    # The grace is 5 s; a kill takes milliseconds. 2.5 s leaves room for a loaded machine.
    assert took < 2.5, f"the job lived {took:.1f} s after the second Ctrl-C (the grace is 5 s)"
    assert p.returncode == 130
    assert not (tmp_path / "out.txt").exists()


def test_temp_output_kept_when_a_consumer_failed_before_another_succeeded(tmp_path: Path):
    """Break: a failed consumer counted as done for temp() clean-up. -j1 and priority make the
    order fixed: `bad` fails first, then `good` succeeds and the temp file is looked at."""
    pipefile(tmp_path, """
        default: all
        rule all:
            input: "good.txt", "bad.txt"
        rule mid:
            output: temp("mid.txt")
            shell: echo mid > {output}
        rule good:
            output: "good.txt"
            input: "mid.txt"
            shell: cp {input} {output}
        rule bad:
            output: "bad.txt"
            input: "mid.txt"
            priority: 10
            shell: echo bad >> order.txt; exit 1
    """)
    r = pyrule(tmp_path, "-k", "-j1")
    assert r.rc == 1
    assert (tmp_path / "good.txt").exists() and (tmp_path / "order.txt").exists()
    assert (tmp_path / "mid.txt").exists(), "the temp file was removed while its consumer bad failed"


def test_critical_path_first_with_one_slot(tmp_path: Path):
    """Break: critical-path ordering off (ready jobs by discovery order). With -j1, the head of
    the longest chain (a -> b -> c) must start before the lone job, which is found first."""
    pipefile(tmp_path, """
        default: all
        rule all:
            input: "lone.txt", "c.txt"
        rule lone:
            output: "lone.txt"
            shell: echo lone >> order.txt; touch {output}
        rule a:
            output: "a.txt"
            shell: echo a >> order.txt; touch {output}
        rule b:
            output: "b.txt"
            input: "a.txt"
            shell: echo b >> order.txt; touch {output}
        rule c:
            output: "c.txt"
            input: "b.txt"
            shell: echo c >> order.txt; touch {output}
    """)
    ok(tmp_path, "-j1")
    order = (tmp_path / "order.txt").read_text().split()
    assert order[:2] == ["a", "b"], order


def test_memory_budget_keeps_jobs_apart(tmp_path: Path):
    """Break: the memory budget ignored while scheduling. Two jobs of 600M under --mem 1G and
    -j2 must not overlap: each, while running, looks for the other's running marker."""
    pipefile(tmp_path, """
        default: all
        rule all:
            input: "x.txt", "y.txt"
        rule big:
            output: "{n}.txt"
            resources: mem = "600M"
            shell:
                touch running.{wildcards.n}
                for i in $(seq 25); do
                    if ls running.* | grep -qv "running.{wildcards.n}$"; then echo overlap >> overlap.txt; fi
                    sleep 0.02
                done
                rm running.{wildcards.n}
                touch {output}
    """)
    ok(tmp_path, "-j2", "--mem", "1G")
    assert not (tmp_path / "overlap.txt").exists(), "two 600M jobs ran together under --mem 1G"


def test_a_change_past_the_first_64_kib_is_seen(tmp_path: Path):
    """Break: files over 64 KiB hashed in their first 64 KiB only. One byte changed at 100 KiB,
    same size, mtime set back: the content differs, so the consumer reruns."""
    data = bytearray(b"x" * 200_000)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    pipefile(tmp_path, """
        rule copy:
            output: "copy.bin"
            input: "big.bin"
            shell: cp {input} {output}
    """)
    assert ok(tmp_path).ran == {"copy"}
    st = os.stat(src)
    data[100_000] = ord("y")
    src.write_bytes(data)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert ok(tmp_path).ran == {"copy"}
    assert (tmp_path / "copy.bin").read_bytes() == bytes(data)


def _running_marks(d: Path) -> list[str]:
    with sqlite3.connect(f"file:{d / '.pyrule' / 'state.db'}?mode=ro", uri=True, timeout=30) as db:
        return [name for (name,) in db.execute("SELECT name FROM running")]


def test_after_kill_9_the_next_run_recovers_from_the_stores_marks(tmp_path: Path):
    """Break: recovery from the store's marks off (run.dead_jobs() returning []). The dead run's
    journal (journal.py) recovers the same jobs, which hid the break: here the store is all the
    next run has (the journal is removed, as if lost), and it must still remove the half-written
    output, say so, and clear the dead run's marks, while it builds something else."""
    pipefile(tmp_path, """
        rule half:
            output: "half.txt"
            shell:
                echo $$ > pid
                echo one > {output}
                while [ -e hold ]; do sleep 0.02; done
                echo two >> {output}
        rule other:
            output: "other.txt"
            shell: touch {output}
    """)
    (tmp_path / "hold").touch()
    p = spawn(tmp_path, "half.txt")
    try:
        job = wait_for(lambda: (tmp_path / "half.txt").exists() and read_pid(tmp_path / "pid"), 30, "half to start")
        p.kill()
        p.communicate(timeout=30)
        wait_for(lambda: not alive(job), 20, "the job to die with pyrule")
    finally:
        _stop(p)
    assert _running_marks(tmp_path) == ["half"]
    for journal in (tmp_path / ".pyrule" / "running").iterdir():
        journal.unlink()
    (tmp_path / "hold").unlink()
    r = ok(tmp_path, "other.txt")
    assert "half was running when pyrule died: removed its outputs" in r.err
    assert not (tmp_path / "half.txt").exists(), "a half-written output survived the next run"
    assert _running_marks(tmp_path) == []
    assert ok(tmp_path).ran == {"half"}
    assert (tmp_path / "half.txt").read_text() == "one\ntwo\n"
