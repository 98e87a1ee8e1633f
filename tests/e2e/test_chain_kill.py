"""A chain of jobs (each reads the previous one's output) killed with -9 in the middle: the
records of the jobs that completed are kept, whatever the store had not yet copied from its
write-ahead log into the database file, and the next run reruns exactly the job that was
running and those after it (issue 23, W2: the store checkpoints rarely during a run)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from harness import ok, pipefile, spawn, wait_for, write

N = 150  # ~10 pages of the store's log a job: well past SQLite's default checkpoint (1000 pages)
HELD = 140

CHAIN = f"""
N = {N}

rule all:
    input: "c/%d.txt" % N

rule first:
    output: "c/1.txt"
    input: "in.txt"
    shell: cat {{input}} > {{output}}

rule link:
    output: "c/{{i,[0-9]+}}.txt"
    input: lambda wildcards: "c/%d.txt" % (int(wildcards.i) - 1)
    shell:
        if [ {{i}} = {HELD} ] && [ -e hold ]; then
            echo partial > {{output}}
            while [ -e hold ]; do sleep 0.05; done
        fi
        cat {{input}} > {{output}}
"""


def test_a_chain_killed_mid_run_reruns_exactly_the_running_job_and_those_after(tmp_path: Path):
    pipefile(tmp_path, CHAIN)
    write(tmp_path / "in.txt", "chain\n")
    write(tmp_path / "hold")
    os.mkdir(tmp_path / "c")
    p = spawn(tmp_path, "-q")
    try:
        wait_for(lambda: (tmp_path / f"c/{HELD}.txt").exists(), timeout=120, what=f"job {HELD} to start")
    finally:
        os.kill(p.pid, signal.SIGKILL)  # its watchdog stops the job
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    os.unlink(tmp_path / "hold")
    r = ok(tmp_path, "-q")
    rerun = {f"link[i={i}]" for i in range(HELD, N + 1)}
    assert r.ran == rerun, sorted(r.ran ^ rerun)
    assert (tmp_path / f"c/{N}.txt").read_text() == "chain\n"
    assert ok(tmp_path, "-q").ran == set()
