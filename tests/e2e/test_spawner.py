"""The spawner process that starts shell jobs (pyrule/executors/spawner.py): losing it fails
the jobs it was running, stops them, and the run goes on spawning from the runner."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from harness import alive, pipefile, spawn, spawner_of, wait_for


def test_a_lost_spawner_fails_its_running_jobs_and_the_run_goes_on(tmp_path: Path):
    pipefile(tmp_path, """
        default: all

        rule two_seconds:
            output: "out/{i}.txt"
            shell: echo $$ > {output}.pid; sleep 2; echo {wildcards.i} > {output}

        rule all:
            input: expand("out/{i}.txt", i=range(4))
    """)
    p = spawn(tmp_path, "-j", "2", "-k")
    try:
        wait_for(lambda: len(list((tmp_path / "out").glob("*.pid"))) == 2, what="two jobs running")
        pid = wait_for(lambda: spawner_of(p.pid), what="the spawner")
        jobs = [int(f.read_text()) for f in (tmp_path / "out").glob("*.pid")]
        os.kill(pid, signal.SIGKILL)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1, err
    assert err.count("spawner process was lost") == 2, err
    assert not any(alive(j) for j in jobs), jobs  # stopped, not left running unwatched
    built = sorted(f.name for f in (tmp_path / "out").glob("*.txt"))
    assert len(built) == 2, (built, err)  # the other two ran, started by the runner itself
