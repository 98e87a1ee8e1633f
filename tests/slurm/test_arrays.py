"""Job arrays on the REAL Slurm test cluster: jobs of one rule with the same sbatch options,
started together, go as one `sbatch --array`; each task is followed (and fails) on its own.

The number of sbatch calls is counted with a PATH wrapper that logs each call and execs the
real sbatch. N jobs: PYRULE_SLURM_ARRAY_N (default 200; 500 was measured by hand, see
docs/slurm.md)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from harness import ok, pipefile, pyrule, write

N = int(os.environ.get("PYRULE_SLURM_ARRAY_N", "200"))


def counting_sbatch(d: Path, env: dict[str, str]) -> tuple[dict[str, str], Path]:
    """env with an `sbatch` first on PATH that appends its arguments to a log, then execs the
    real one; returns (env, log)."""
    real = shutil.which("sbatch", path=env["PATH"])
    assert real, "no sbatch on PATH"
    bin_dir, calls = d / "bin", d / "sbatch-calls.log"
    write(bin_dir / "sbatch", f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n').chmod(0o755)
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}, calls


def sbatch_calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def many(d: Path, n: int, shell: str = 'sleep 1; echo "job {i}" > {output}') -> None:
    """n jobs of rule `one` (wildcard i: 0..n-1) running `shell`, and `all` asking for them."""
    pipefile(d, f"""
        rule all:
            input: [f"out/{{i}}.txt" for i in range({n})]

        rule one:
            output: "out/{{i}}.txt"
            shell: {shell}
        """)


def test_one_rule_goes_as_arrays(slurm_cluster, tmp_path):
    many(tmp_path, N)
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    t0 = time.monotonic()
    r = ok(tmp_path, "--executor", "slurm", "-j", str(N), "-q", env=env, timeout=1200)
    wall = time.monotonic() - t0
    made = sbatch_calls(calls)
    assert 1 <= len(made) <= 10, made
    assert all("--array=" in c for c in made), made
    for i in range(N):
        assert (tmp_path / "out" / f"{i}.txt").read_text() == f"job {i}\n"
    jobs = r.jobs()
    assert len([j for n, j in jobs.items() if n.startswith("one[") and j["status"] == "ran"]) == N
    print(f"\n{N} one-second jobs as arrays: {wall:.1f} s, {len(made)} sbatch call(s)")


def test_a_failing_task_fails_only_its_job(slurm_cluster, tmp_path):
    many(tmp_path, 5, 'if [ {i} = 2 ]; then echo "task two fails" >&2; exit 3; fi; echo {i} > {output}')
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = pyrule(tmp_path, "--executor", "slurm", "-k", env=env)
    assert r.rc == 1, str(r)
    assert len(sbatch_calls(calls)) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.txt", "1.txt", "3.txt", "4.txt"]
    jobs = r.jobs()
    assert jobs["one[i=2]"]["status"] == "failed"
    assert jobs["one[i=2]"]["exit_code"] == 3
    assert [j["status"] for n, j in jobs.items() if n.startswith("one[") and n != "one[i=2]"] == ["ran"] * 4
    assert "exit code 3: Slurm job" in r.err and "_2 FAILED" in r.err, r.err
    assert "task two fails" in (tmp_path / ".pyrule" / "logs" / "one" / "one.i=2.log").read_text()
    # its own job id, "ARRAY_TASK", is what it reports
    assert jobs["one[i=0]"]["reported"]["slurm_job_id"].endswith("_0"), jobs["one[i=0]"]


def test_array_size_one_submits_one_by_one(slurm_cluster, tmp_path):
    """[tool.pyrule.slurm] array_size = 1: no arrays (a cluster that forbids them)."""
    many(tmp_path, 4)
    write(tmp_path / "pyproject.toml", "[tool.pyrule.slurm]\narray_size = 1\n")
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    ok(tmp_path, "--executor", "slurm", "-q", env=env)
    made = sbatch_calls(calls)
    assert len(made) == 4 and not any("--array" in c for c in made), made


def test_dry_run_shows_the_sbatch_commands_and_scripts(slurm_cluster, tmp_path):
    pipefile(tmp_path, """
        rule all:
            input: [f"out/{i}.txt" for i in range(3)], "big.txt"

        rule one:
            output: "out/{i}.txt"
            shell: echo {i} > {output}

        rule big:
            output: "big.txt"
            resources: mem = "300M"
            shell: echo big > {output}
        """)
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = ok(tmp_path, "-n", "--executor", "slurm", env=env)
    assert "# 3 jobs as one array: sbatch " in r.out and "--array=0-2" in r.out, r.out
    assert 'case "$SLURM_ARRAY_TASK_ID" in' in r.out
    assert "# big: sbatch " in r.out and "--mem=300M" in r.out
    assert "echo big > big.txt" in r.out and "echo 1 > out/1.txt" in r.out
    assert not sbatch_calls(calls)
    assert not (tmp_path / ".pyrule" / "slurm").exists() and not (tmp_path / "out").exists()


def test_sigterm_while_submitting_cancels_the_whole_array(slurm_cluster, tmp_path):
    """SIGTERM while sbatch submits the array: handled once sbatch has answered, so the array is
    tracked and cancelled, never left running unseen."""
    import signal
    import subprocess

    from harness import spawn, wait_for

    many(tmp_path, 40, 'sleep 30; echo "job {i}" > {output}')
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    p = spawn(tmp_path, "--executor", "slurm", "-j", "40", env=env)
    try:
        wait_for(lambda: sbatch_calls(calls), 60, "sbatch called")
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    assert p.returncode == 143
    out = slurm_cluster.run("squeue", "-h", "-r", "-t", "all", "-o", "%i|%T|%Z").stdout
    mine = [line for line in out.splitlines() if line.split("|")[2] == str(tmp_path)]
    # (tasks cancelled while pending may show folded, as 645_[0-22])
    assert mine and all(line.split("|")[1] == "CANCELLED" for line in mine), out
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
