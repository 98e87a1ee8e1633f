"""Reattach, never resubmit, on the REAL Slurm test cluster: pyrule is killed (-9) while its
Slurm jobs run; the next pyrule adopts those still pending or running, collects those that
completed meanwhile, and submits nothing again."""

from __future__ import annotations

import os
import sqlite3
import time

from harness import ok, spawn, wait_for
from test_arrays import counting_sbatch, many, sbatch_calls

UNSUBMITTED = -(1 << 62)


def recorded_ids(d) -> list[int]:
    """The Slurm records of the store's running jobs (all submitted: none UNSUBMITTED)."""
    try:
        db = sqlite3.connect(f"file:{d / '.pyrule' / 'state.db'}?mode=ro", uri=True, timeout=1)
        try:
            return [pgid for (pgid,) in db.execute("SELECT pgid FROM running")]
        finally:
            db.close()
    except sqlite3.Error:
        return []


def tasks_in(cluster, d) -> dict[str, str]:
    """Every Slurm job or array task (squeue -r -t all) whose working directory is d: {id: state}."""
    out = cluster.run("squeue", "-h", "-r", "-t", "all", "-o", "%i|%T|%Z").stdout
    return {jid: state for jid, state, wd in (line.strip().split("|", 2) for line in out.splitlines())
            if os.path.realpath(wd) == os.path.realpath(d)}


def kill_once_submitted(cluster, d, n: int) -> None:
    """Run pyrule until its n jobs are submitted, their ids on record and most running; kill -9."""
    p = spawn(d, "--executor", "slurm", "-j", str(n), env=cluster.env)
    try:
        wait_for(lambda: len(tasks_in(cluster, d)) == n, 60, f"{n} Slurm tasks")
        wait_for(lambda: len(ids := recorded_ids(d)) == n and UNSUBMITTED not in ids, 30, "ids on record")
        wait_for(lambda: list(tasks_in(cluster, d).values()).count("RUNNING") >= min(n, 12), 60, "running")
    finally:
        p.kill()
        p.communicate()


def test_killed_pyrule_jobs_are_adopted_not_resubmitted(slurm_cluster, tmp_path):
    many(tmp_path, 20, 'sleep $(( {i} < 10 ? 2 : 15 )); echo "job {i}" > {output}')
    kill_once_submitted(slurm_cluster, tmp_path, 20)
    time.sleep(4)  # the short ones complete while no pyrule follows them
    before = tasks_in(slurm_cluster, tmp_path)
    assert "COMPLETED" in before.values() and "RUNNING" in before.values(), before

    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = ok(tmp_path, "--executor", "slurm", "-j", "20", env=env, timeout=300)
    assert sbatch_calls(calls) == [], r.err  # nothing submitted again
    assert r.err.count("adopted Slurm job") == 20, r.err
    for i in range(20):
        assert (tmp_path / "out" / f"{i}.txt").read_text() == f"job {i}\n"
    after = tasks_in(slurm_cluster, tmp_path)
    assert set(after) == set(before) and len(after) == 20, (before, after)  # each job ran once
    assert set(after.values()) == {"COMPLETED"}
    jobs = r.jobs()
    assert all(jobs[f"one[i={i}]"]["status"] == "ran" for i in range(20))
    assert ok(tmp_path, "--executor", "slurm", env=env).ran == set()  # recorded: up to date


def test_jobs_whose_ids_were_not_recorded_are_found_and_adopted(slurm_cluster, tmp_path):
    """pyrule died after sbatch answered, before it recorded the ids: the jobs are found among
    the user's (an array task through its array's script) and adopted all the same."""
    many(tmp_path, 6, 'sleep 6; echo "job {i}" > {output}')
    kill_once_submitted(slurm_cluster, tmp_path, 6)
    db = sqlite3.connect(tmp_path / ".pyrule" / "state.db")
    with db:
        db.execute("UPDATE running SET pgid=?", (UNSUBMITTED,))
    db.close()
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = ok(tmp_path, "--executor", "slurm", env=env, timeout=300)
    assert sbatch_calls(calls) == [], r.err
    assert r.err.count("adopted Slurm job") == 6, r.err
    assert all((tmp_path / "out" / f"{i}.txt").read_text() == f"job {i}\n" for i in range(6))
    assert len(tasks_in(slurm_cluster, tmp_path)) == 6
