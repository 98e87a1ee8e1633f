"""The end of a run: the executor lets its spawner go (spawner.py). With every job reaped, the
runner does not wait for the spawner's own Python to wind down (it is killed and reaped at once),
so a spawner that cannot run any more (stopped, hung) cannot hold the run's end; and the jobs'
CPU time still counts as the run's (the spawner, reaped, hands its children's rusage on)."""

from __future__ import annotations

import os
import resource
import signal
import threading
import time
from pathlib import Path

from harness import spawner_of, wait_for

from pyrule.executors import JobResult, JobSpec, LocalExecutor


def spec(tmp_path: Path, name: str, shell: str) -> JobSpec:
    return JobSpec(name=name, workdir=str(tmp_path), log_path=f".pyrule/logs/{name}.log", shell=shell,
                   env={"PYRULE_JOB": f"spawnerclose{os.getpid()}/{name}"})


def run_one(ex: LocalExecutor, job: JobSpec) -> JobResult:
    ex.start(job)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for r in ex.wait(5):
            return r
    raise AssertionError("the job did not end")


def test_close_with_every_job_reaped_does_not_wait_for_a_stopped_spawner(tmp_path: Path) -> None:
    ex = LocalExecutor()
    # (its argv shows in /proc a moment after posix_spawn returned: the vfork parent goes on at exec)
    spawner = wait_for(lambda: spawner_of(os.getpid()), what="the spawner")
    assert run_one(ex, spec(tmp_path, "j", "true")).exit_code == 0
    os.kill(spawner, signal.SIGSTOP)  # it cannot read the socket's end now
    closing = threading.Thread(target=ex.close, daemon=True)
    closing.start()
    closing.join(30)
    stuck = closing.is_alive()
    if stuck:  # let the old behaviour's close end, to leave nothing behind
        os.kill(spawner, signal.SIGKILL)
        closing.join(30)
    assert not stuck, "close() waited for the spawner to wind down"
    assert not os.path.exists(f"/proc/{spawner}"), "the spawner was not reaped"


def test_the_jobs_cpu_time_counts_as_the_runners_children_s_after_close(tmp_path: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ex = LocalExecutor()
    try:
        burn = "python3 -c 'import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass'"
        result = run_one(ex, spec(tmp_path, "burn", burn))
        assert result.exit_code == 0 and result.cpu_s >= 0.25
    finally:
        ex.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) >= 0.25
