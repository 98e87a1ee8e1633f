"""Tests that the real single-node Slurm test cluster behaves as the Slurm executor expects.

Observed on Debian 12 / Slurm 22.05.8 (see docs/slurm-test-cluster.md).  Everything here runs
in ~15 s except test_time_limit_gives_timeout (marked slow): Slurm time limits have a
one-minute resolution and slurmctld checks them every ~30 s, so a TIMEOUT takes 60-90 s.  To
keep the whole run under ~2 minutes, that job is submitted when this module starts (fixture
_timeout_job) and the test that checks it runs last.
"""

from __future__ import annotations

import time

import pytest

TIMEOUT_TEST = "test_time_limit_gives_timeout"


@pytest.fixture(scope="module", autouse=True)
def _timeout_job(request, slurm_cluster, tmp_path_factory):
    """Submit the --time=1 job first thing, so its 60-90 s overlap the other tests."""
    if not any(item.name == TIMEOUT_TEST for item in request.session.items):
        yield None  # deselected (e.g. -m "not slow")
        return
    d = tmp_path_factory.mktemp("timeout")
    job = slurm_cluster.sbatch("--time=1", "--wrap", "echo started; sleep 300", cwd=d)
    yield job, d, time.monotonic()
    slurm_cluster.run("scancel", job, check=False)


def test_echo_job_completes(slurm_cluster, tmp_path):
    t0 = time.monotonic()
    job = slurm_cluster.sbatch("--wrap", "echo hi > out.txt", cwd=tmp_path)
    assert job.isdigit()
    states = slurm_cluster.wait(job, timeout=30)
    elapsed = time.monotonic() - t0
    assert states[job] == "COMPLETED"
    assert (tmp_path / "out.txt").read_text() == "hi\n"
    # Default output file: slurm-<id>.out in the submit directory.
    assert (tmp_path / f"slurm-{job}.out").exists()
    info = slurm_cluster.show_job(job)
    assert info["JobState"] == "COMPLETED"
    assert info["ExitCode"] == "0:0"
    assert info["Partition"] == "debug"
    assert info["WorkDir"] == str(tmp_path)
    print(f"job {job}: submit -> COMPLETED seen in {elapsed:.2f} s")
    assert elapsed < 20


def test_failing_job_is_failed_with_exit_code(slurm_cluster, tmp_path):
    job = slurm_cluster.sbatch("--wrap", "echo oops >&2; exit 3", cwd=tmp_path)
    assert slurm_cluster.wait(job)[job] == "FAILED"
    info = slurm_cluster.show_job(job)
    assert (info["JobState"], info["Reason"], info["ExitCode"]) == (
        "FAILED",
        "NonZeroExitCode",
        "3:0",
    )
    # stderr goes to the same slurm-<id>.out unless -e is given.
    assert "oops" in (tmp_path / f"slurm-{job}.out").read_text()
    row = _sacct_eventually(slurm_cluster, job)
    assert (row["state"], row["exitcode"]) == ("FAILED", "3:0")


def test_scancel_running_job_is_cancelled(slurm_cluster, tmp_path):
    job = slurm_cluster.sbatch("--wrap", "sleep 300", cwd=tmp_path)
    slurm_cluster.wait_state(job, "RUNNING", timeout=30)
    slurm_cluster.run("scancel", job)
    assert slurm_cluster.wait(job, timeout=30)[job] == "CANCELLED"
    info = slurm_cluster.show_job(job)
    assert info["JobState"] == "CANCELLED"
    assert info["ExitCode"] == "0:15"  # killed by SIGTERM
    # sacct -c reports 0:0 for a cancelled job, not 0:15.
    assert _sacct_eventually(slurm_cluster, job)["state"] == "CANCELLED"


def test_scancel_pending_job_is_cancelled(slurm_cluster, tmp_path):
    job = slurm_cluster.sbatch("--begin=now+3600", "--wrap", "true", cwd=tmp_path)
    slurm_cluster.wait_state(job, "PENDING", timeout=10)
    assert slurm_cluster.show_job(job)["Reason"] == "BeginTime"
    slurm_cluster.run("scancel", job)
    assert slurm_cluster.wait(job, timeout=10)[job] == "CANCELLED"


def test_scancel_unknown_job_is_silent(slurm_cluster):
    # scancel of an unknown (or long gone) id exits 0 and prints nothing (only with -v:
    # "scancel: error: Kill job error on job id 99999: Invalid job id specified").
    proc = slurm_cluster.run("scancel", "99999", check=False)
    assert proc.returncode == 0


def test_bad_partition_is_rejected_by_sbatch(slurm_cluster, tmp_path):
    proc = slurm_cluster.run("sbatch", "--parsable", "-p", "nosuch", "--wrap", "true", cwd=tmp_path, check=False)
    # Observed exactly (exit status 1, nothing on stdout):
    #   sbatch: error: invalid partition specified: nosuch
    #   sbatch: error: Batch job submission failed: Invalid partition name specified
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "sbatch: error: invalid partition specified: nosuch" in proc.stderr
    assert "Batch job submission failed: Invalid partition name specified" in proc.stderr


def test_too_much_memory_is_rejected_by_sbatch(slurm_cluster, tmp_path):
    proc = slurm_cluster.run("sbatch", "--parsable", "--mem=100T", "--wrap", "true", cwd=tmp_path, check=False)
    # Observed exactly (exit status 1, nothing on stdout):
    #   sbatch: error: Memory specification can not be satisfied
    #   sbatch: error: Batch job submission failed: Requested node configuration is not available
    # NOTE: slurmctld still creates a job record for it (squeue -t all shows the next job id as
    # FAILED, Reason=BadConstraints); sbatch does not print that id.
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Memory specification can not be satisfied" in proc.stderr
    assert "Requested node configuration is not available" in proc.stderr


def test_other_partition_and_mem_request(slurm_cluster, tmp_path):
    job = slurm_cluster.sbatch(
        "-p", "other", "--mem=100M", "-c", "1", "-J", "pyrule-x", "--wrap", "echo ok", cwd=tmp_path
    )
    assert slurm_cluster.wait(job)[job] == "COMPLETED"
    info = slurm_cluster.show_job(job)
    assert info["Partition"] == "other"
    assert info["MinMemoryNode"] == "100M"
    assert info["JobName"] == "pyrule-x"
    out = slurm_cluster.run("squeue", "-h", "-t", "all", "-j", job, "-o", "%i|%T|%P|%j|%m").stdout
    assert out.strip() == f"{job}|COMPLETED|other|pyrule-x|100M"


def test_memory_exceeded_is_detected(slurm_cluster, tmp_path):
    script = "import time; a = bytearray(300 * 1024 * 1024); time.sleep(5)"
    job = slurm_cluster.sbatch("--mem=100M", "--wrap", f"python3 -c '{script}'", cwd=tmp_path)
    state = slurm_cluster.wait(job, timeout=30)[job]
    info = slurm_cluster.show_job(job)
    out = (tmp_path / f"slurm-{job}.out").read_text()
    if slurm_cluster.memory_mode == "cgroup":
        # task/cgroup + ConstrainRAMSpace: the kernel OOM-kills the process.
        assert (state, info["Reason"], info["ExitCode"]) == ("OUT_OF_MEMORY", "OutOfMemory", "0:125")
        assert "oom-kill event" in out
        assert _sacct_eventually(slurm_cluster, job)["state"] == "OUT_OF_MEMORY"
    elif slurm_cluster.memory_mode == "poll":
        # jobacct_gather/linux + OverMemoryKill: no OUT_OF_MEMORY state without cgroups.
        assert (state, info["Reason"], info["ExitCode"]) == ("FAILED", "JobLaunchFailure", "0:9")
        assert "Exceeded job memory limit" in out
    else:
        pytest.fail(f"unknown memory mode {slurm_cluster.memory_mode!r}")


def test_twenty_jobs_at_once(slurm_cluster, tmp_path):
    t0 = time.monotonic()
    jobs = [slurm_cluster.sbatch("-J", f"many{i}", "--wrap", f"echo {i} > out{i}.txt", cwd=tmp_path) for i in range(20)]
    submitted = time.monotonic() - t0
    states = slurm_cluster.wait(jobs, timeout=60)  # one squeue call per poll for all 20
    elapsed = time.monotonic() - t0
    assert set(states.values()) == {"COMPLETED"}, states
    for i in range(20):
        assert (tmp_path / f"out{i}.txt").read_text() == f"{i}\n"
    rows = _sacct_eventually(slurm_cluster, jobs)
    assert {r["state"] for r in rows.values()} == {"COMPLETED"}
    print(f"20 jobs: submitted in {submitted:.2f} s, all COMPLETED after {elapsed:.2f} s")
    assert elapsed < 30


def test_squeue_unknown_ids(slurm_cluster):
    # A single unknown id is an error (exit 1,
    # "slurm_load_jobs error: Invalid job id specified"); in a list of ids, unknown ones are
    # silently left out (exit 0) -- an executor must treat "missing" as "ask sacct -c".
    single = slurm_cluster.run("squeue", "-h", "-j", "99999", check=False)
    assert single.returncode == 1
    assert "Invalid job id specified" in single.stderr
    several = slurm_cluster.run("squeue", "-h", "-t", "all", "-j", "99998,99999", check=False)
    assert (several.returncode, several.stdout) == (0, "")
    # sacct -c: unknown id -> no rows, exit 0.
    assert slurm_cluster.sacct("99999") == {}


@pytest.mark.slow
def test_time_limit_gives_timeout(slurm_cluster, _timeout_job):
    """--time=1 (one minute is the minimum: '--time=0:01' is rounded up to 1 minute)."""
    assert _timeout_job is not None
    job, d, submitted_at = _timeout_job
    states = slurm_cluster.wait(job, timeout=max(10, 150 - (time.monotonic() - submitted_at)))
    took = time.monotonic() - submitted_at
    assert states[job] == "TIMEOUT"
    info = slurm_cluster.show_job(job)
    assert (info["JobState"], info["Reason"], info["ExitCode"]) == ("TIMEOUT", "TimeLimit", "0:15")
    assert info["TimeLimit"] == "00:01:00"
    out = (d / f"slurm-{job}.out").read_text()
    assert "DUE TO TIME LIMIT" in out
    assert _sacct_eventually(slurm_cluster, job)["state"] == "TIMEOUT"
    print(f"job {job}: TIMEOUT seen {took:.1f} s after submission")


def _sacct_eventually(cluster, job_ids, timeout: float = 10):
    """sacct -c rows for job_ids, retrying until all are there (the completion log line is
    written by slurmctld when the job ends; it can lag squeue by a moment)."""
    ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
    deadline = time.monotonic() + timeout
    while True:
        rows = cluster.sacct(ids)
        if all(j in rows for j in ids):
            return rows[ids[0]] if isinstance(job_ids, str) else rows
        if time.monotonic() > deadline:
            raise AssertionError(f"sacct -c has no rows for {set(ids) - set(rows)}")
        time.sleep(0.2)
