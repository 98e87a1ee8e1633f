"""The local executor between a job's spawn request and the spawner's reply with its pid: a stop
that comes then stops the job too, and a spawner lost then leaves the job to the runner, which
starts it itself. (The pid may come after start() returned: Executor.assigned.)"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from harness import spawner_of, wait_for

from pyrule.executors import JobResult, JobSpec, LocalExecutor
from pyrule.procinfo import marked_processes

RUN = "spawnreplies"


def spec(tmp_path: Path, name: str, shell: str) -> JobSpec:
    return JobSpec(name=name, workdir=str(tmp_path), log_path=f".pyrule/logs/{name}.log", shell=shell,
                   env={"PYRULE_JOB": f"{RUN}{os.getpid()}/{name}"})


def results_of(ex: LocalExecutor, names: set[str]) -> dict[str, JobResult]:
    got: dict[str, JobResult] = {}
    deadline = time.monotonic() + 60
    while set(got) != names and time.monotonic() < deadline:
        got.update((r.name, r) for r in ex.wait(5))
    return got


def test_a_stop_right_after_the_spawn_requests_stops_every_job(tmp_path: Path) -> None:
    ex = LocalExecutor()
    try:
        names = {f"j{i}" for i in range(4)}
        for name in sorted(names):
            ex.start(spec(tmp_path, name, "sleep 100"))
        ex.kill_all()  # at once: the spawner may not have replied yet
        got = results_of(ex, names)
        assert set(got) == names
        assert all(r.exit_code == -signal.SIGKILL and r.pid > 0 for r in got.values()), got
        assert marked_processes(f"{RUN}{os.getpid()}/", prefix=True) == []  # none left running
    finally:
        _signal_all(ex)
        ex.close()


def test_a_spawner_lost_before_it_replied_leaves_the_jobs_to_the_runner(tmp_path: Path) -> None:
    ex = LocalExecutor()
    spawner = wait_for(lambda: spawner_of(os.getpid()), what="the spawner")  # (its argv shows a moment later)
    os.kill(spawner, signal.SIGSTOP)  # it takes no request now: they wait in its socket
    timer = threading.Timer(0.5, os.kill, (spawner, signal.SIGKILL))
    timer.start()
    try:
        names = {"a", "b"}
        for name in sorted(names):
            ex.start(spec(tmp_path, name, f"echo {name} > {name}.txt"))
        got = results_of(ex, names)
        assert {n: r.exit_code for n, r in got.items()} == {"a": 0, "b": 0}
        assert (tmp_path / "a.txt").read_text() == "a\n" and (tmp_path / "b.txt").read_text() == "b\n"
    finally:
        timer.cancel()
        timer.join()
        try:
            os.kill(spawner, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _signal_all(ex)
        ex.close()


def _signal_all(ex: LocalExecutor) -> None:
    ex.kill_all()
    for pid in marked_processes(f"{RUN}{os.getpid()}/", prefix=True):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_job_runs_with_the_runners_scheduling_policy(tmp_path: Path) -> None:
    # The spawner itself runs as SCHED_BATCH (it must not preempt the runner); its jobs must not.
    ex = LocalExecutor()
    try:
        ex.start(spec(tmp_path, "j", "sleep 30"))
        pid = ex.pid("j")
        assert os.sched_getscheduler(pid) == os.sched_getscheduler(0)
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        _signal_all(ex)
        ex.close()
