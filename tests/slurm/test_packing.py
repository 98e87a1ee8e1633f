"""Packing short jobs on the REAL Slurm test cluster: the jobs of a rule with `group:` started
together go in one allocation (one sbatch per pack) that runs them in parallel; each job has its
own start, end, exit code and peak memory, and a failing job fails only itself.

sbatch calls are counted with the PATH wrapper of test_arrays.py. N jobs: PYRULE_SLURM_PACK_N
(default 200)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import ok, pipefile, pyrule, write
from test_arrays import counting_sbatch, sbatch_calls

N = int(os.environ.get("PYRULE_SLURM_PACK_N", "200"))


def grouped(d: Path, n: int, shell: str, section: str = 'group: "short"') -> None:
    pipefile(d, f"""
        rule all:
            input: [f"out/{{i}}.txt" for i in range({n})]

        rule one:
            output: "out/{{i}}.txt"
            {section}
            shell: {shell}
        """)


def test_grouped_jobs_are_packed_each_with_its_own_stats(slurm_cluster, tmp_path):
    # job 7 holds 200 MB for a moment: its peak must be its own, not its pack's
    grouped(tmp_path, N, 'if [ {i} = 7 ]; then python3 -c "b = bytearray(200 << 20); import time; time.sleep(1)"; '
                         'fi; echo "job {i}" > {output}')
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = ok(tmp_path, "--executor", "slurm", "-j", str(N), "-q", env=env, timeout=1200)
    made = sbatch_calls(calls)
    assert 1 <= len(made) <= 10, made
    assert all("--job-name=pack-short" in c and "--array" not in c for c in made), made
    for i in range(N):
        assert (tmp_path / "out" / f"{i}.txt").read_text() == f"job {i}\n"
    jobs = {n: j for n, j in r.jobs().items() if n.startswith("one[")}
    assert len(jobs) == N and all(j["status"] == "ran" and j["exit_code"] == 0 for j in jobs.values())
    # each job's own start and end: they differ between the jobs of a pack (not the pack's one
    # start for all; two jobs the pack started at once may share a clock reading), in its run
    packs: dict[str, list[float]] = {}
    for j in jobs.values():
        packs.setdefault(j["reported"]["slurm_job_id"], []).append(j["start"])
    assert len({j["start"] for j in jobs.values()}) > N // 2, "each job its own start"
    assert all(len(set(starts)) > 1 for starts in packs.values() if len(starts) > 1), packs
    assert all(j["start"] <= j["end"] for j in jobs.values())
    big, small = jobs["one[i=7]"]["peak_rss_bytes"], jobs["one[i=8]"]["peak_rss_bytes"]
    assert big > 150 << 20 > small, (big, small)
    # the pack's Slurm job: several jobs share it
    ids = {j["reported"]["slurm_job_id"] for j in jobs.values()}
    assert len(ids) == len(made), ids


def test_a_failing_job_fails_alone_in_its_pack(slurm_cluster, tmp_path):
    grouped(tmp_path, 6, 'if [ {i} = 2 ]; then echo "job two fails" >&2; exit 3; fi; echo {i} > {output}')
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = pyrule(tmp_path, "--executor", "slurm", "-k", env=env)
    assert (r.rc, len(sbatch_calls(calls))) == (1, 1), str(r)  # one pack; the run fails
    assert {p.name for p in (tmp_path / "out").iterdir()} == {f"{i}.txt" for i in (0, 1, 3, 4, 5)}
    statuses = {n: (j["status"], j["exit_code"]) for n, j in r.jobs().items() if n.startswith("one[")}
    assert statuses == {f"one[i={i}]": ("failed", 3) if i == 2 else ("ran", 0) for i in range(6)}, statuses
    assert "FAILED one[i=2]: exit code 3: Slurm job" in r.err and "+2 FAILED" in r.err, r.err
    assert "job two fails" in (tmp_path / ".pyrule" / "logs" / "one" / "one.i=2.log").read_text()


def test_group_false_keeps_a_short_rule_unpacked(slurm_cluster, tmp_path):
    """pack_below packs short jobs on its own (their declared runtime here); `group: False` opts out."""
    write(tmp_path / "pyproject.toml", "[tool.pyrule.slurm]\npack_below = 120\n")
    pipefile(tmp_path, """
        rule all:
            input: [f"a/{i}.txt" for i in range(4)], [f"b/{i}.txt" for i in range(4)]

        rule a:
            output: "a/{i}.txt"
            resources: runtime = "1m"
            shell: echo {i} > {output}

        rule b:
            output: "b/{i}.txt"
            resources: runtime = "1m"
            group: False
            shell: echo {i} > {output}
        """)
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    ok(tmp_path, "--executor", "slurm", env=env)
    made = sbatch_calls(calls)
    assert len(made) == 2, made
    assert sum("--job-name=pack-a" in c for c in made) == 1, made
    assert sum("--array=0-3" in c and "--job-name=b" in c for c in made) == 1, made
    assert (tmp_path / "b" / "3.txt").read_text() == "3\n" and (tmp_path / "a" / "3.txt").read_text() == "3\n"


def test_dry_run_shows_the_pack(slurm_cluster, tmp_path):
    grouped(tmp_path, 3, "echo {i} > {output}")
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = ok(tmp_path, "-n", "--executor", "slurm", env=env)
    assert "# 3 jobs as one pack (group short): sbatch " in r.out, r.out
    assert "--job-name=pack-short" in r.out and "pyrule_pack.py" in r.out
    assert "# one[i=1]: in that pack," in r.out and "echo 1 > out/1.txt" in r.out
    assert not sbatch_calls(calls) and not (tmp_path / ".pyrule" / "slurm").exists()


@pytest.mark.parametrize("unrecorded", [False, True], ids=["ids-recorded", "ids-not-recorded"])
def test_a_killed_pyrule_s_pack_is_adopted_not_resubmitted(slurm_cluster, tmp_path, unrecorded):
    """kill -9 while a pack runs (some of its jobs done): the next run adopts each of its jobs,
    submits nothing, and the pack ran once. Also with the ids not on record (pyrule died before
    it recorded them): found through the pack's script."""
    import sqlite3

    from harness import spawn, wait_for
    from test_reattach import UNSUBMITTED, recorded_ids, tasks_in

    d = tmp_path
    grouped(d, 10, 'sleep $(( {i} < 4 ? 1 : 4 )); echo "job {i}" > {output}')
    p = spawn(d, "--executor", "slurm", "-j", "10", env=slurm_cluster.env)
    try:
        wait_for(lambda: list(tasks_in(slurm_cluster, d).values()) == ["RUNNING"], 60, "the pack running")
        wait_for(lambda: len(ids := recorded_ids(d)) == 10 and UNSUBMITTED not in ids, 30, "ids on record")
        wait_for(lambda: (d / "out" / "0.txt").exists(), 60, "a job of the pack done")
    finally:
        p.kill()
        p.communicate()
    left = len(recorded_ids(d))  # (the jobs the killed run saw end are recorded as done)
    assert left >= 5, left
    if unrecorded:
        db = sqlite3.connect(d / ".pyrule" / "state.db")
        with db:
            db.execute("UPDATE running SET pgid=?", (UNSUBMITTED,))
        db.close()
    env, calls = counting_sbatch(d, slurm_cluster.env)
    r = ok(d, "--executor", "slurm", "-j", "10", env=env, timeout=300)
    assert sbatch_calls(calls) == [], r.err  # nothing submitted again
    assert r.err.count("adopted Slurm job") == left, r.err
    assert all((d / "out" / f"{i}.txt").read_text() == f"job {i}\n" for i in range(10))
    # the one pack, once (its last job's end comes just before the pack's)
    wait_for(lambda: list(tasks_in(slurm_cluster, d).values()) == ["COMPLETED"], 30, "the one pack completed")
    statuses = [r.jobs()[f"one[i={i}]"]["status"] for i in range(10)]
    assert statuses.count("ran") == left and set(statuses) <= {"ran", "up-to-date"}, statuses


def test_pack_below_packs_jobs_by_their_recorded_runtime(slurm_cluster, tmp_path):
    """No declared runtime: the first run (nothing recorded) submits an array; once their wall
    times are recorded (short), pack_below packs them."""
    grouped(tmp_path, 4, "echo {i} > {output}", section="priority: 0")
    write(tmp_path / "pyproject.toml", "[tool.pyrule.slurm]\npack_below = 30\n")
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    ok(tmp_path, "--executor", "slurm", env=env)
    assert ["--array=0-3" in c for c in sbatch_calls(calls)] == [True]
    ok(tmp_path, "--executor", "slurm", "-B", env=env)
    made = sbatch_calls(calls)[1:]  # (and `all` alone: -B reruns it too)
    assert sum("--job-name=pack-one" in c for c in made) == 1 and not any("--array" in c for c in made), made


def test_sigterm_cancels_the_pack_and_its_jobs(slurm_cluster, tmp_path):
    import signal
    import subprocess

    from harness import spawn, wait_for
    from test_reattach import tasks_in

    grouped(tmp_path, 6, 'sleep 30; echo "job {i}" > {output}')
    p = spawn(tmp_path, "--executor", "slurm", "-j", "6", env=slurm_cluster.env, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: list(tasks_in(slurm_cluster, tmp_path).values()) == ["RUNNING"], 60, "the pack running")
        wait_for(lambda: len(list((tmp_path / ".pyrule" / "logs" / "one").glob("*.log"))) >= 2, 30, "jobs started")
        p.send_signal(signal.SIGTERM)
        code = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert code == 143
    assert list(tasks_in(slurm_cluster, tmp_path).values()) == ["CANCELLED"]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_bad_pack_setting_says_which_and_what_to_write(slurm_cluster, tmp_path):
    grouped(tmp_path, 2, "echo {i} > {output}")
    write(tmp_path / "pyproject.toml", "[tool.pyrule.slurm]\npack_size = 0\n")
    r = pyrule(tmp_path, "--executor", "slurm", env=slurm_cluster.env)
    assert r.rc == 2 and "[tool.pyrule.slurm] pack_size = 0: not a number >= 1" in r.err, r.err
    assert "hint: pack_size = 50" in r.err and "Traceback" not in r.err


def test_a_pack_cancelled_from_outside_fails_each_job_with_what_slurm_said(slurm_cluster, tmp_path):
    """scancel of the pack by hand while two of its four jobs run (two cores) and two wait: the
    running ones end killed, those not started fail as cancelled, Slurm's message in their logs."""
    from harness import wait_for
    from test_reattach import tasks_in

    write(tmp_path / "pyproject.toml", "[tool.pyrule.slurm]\npack_cores = 2\n")
    grouped(tmp_path, 4, 'sleep 60; echo "job {i}" > {output}')
    from harness import spawn

    p = spawn(tmp_path, "--executor", "slurm", "-k", env=slurm_cluster.env)
    try:
        wait_for(lambda: list(tasks_in(slurm_cluster, tmp_path).values()) == ["RUNNING"], 60, "the pack running")
        wait_for(lambda: len(list((tmp_path / ".pyrule" / "logs" / "one").glob("*.log"))) == 2, 30, "two started")
        slurm_cluster.run("scancel", *tasks_in(slurm_cluster, tmp_path))
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1, err
    assert err.count("Slurm job") >= 4 and "CANCELLED" in err, err
    logs = sorted((tmp_path / ".pyrule" / "logs" / "one").glob("*.log"))
    assert len(logs) == 4 and sum("CANCELLED" in log.read_text() for log in logs) >= 2, [x.read_text() for x in logs]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_jobs_asking_for_gpus_are_never_packed(slurm_cluster, tmp_path):
    grouped(tmp_path, 3, "echo {i} > {output}", section='group: "short"\n            resources: gpus = 1')
    r = ok(tmp_path, "-n", "--executor", "slurm", env=slurm_cluster.env)
    assert "# 3 jobs as one array: sbatch " in r.out and "--gres=gpu:1" in r.out, r.out
    assert "pack" not in r.out.split("\n# one[i=0]")[0]
