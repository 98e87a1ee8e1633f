"""Out of memory on the REAL Slurm test cluster: a job over its `mem` is reported as out of
memory, and `retries:` with `mem = "80M" * attempt` asks for more at the next attempt, which
succeeds. Works in both memory modes of the test cluster (cluster.sh): cgroup (Slurm says
OUT_OF_MEMORY) and poll (JobAcctGatherParams=OverMemoryKill: Slurm says FAILED, slurmstepd
writes "Exceeded job memory limit" in the job's output)."""

from __future__ import annotations

from harness import ok, pipefile

HOG = 'python3 -c "import time; x = bytearray(100 * 2**20); x[::4096] = b\\"x\\" * len(x[::4096]); time.sleep(3)"'


def test_out_of_memory_then_more_on_retry(slurm_cluster, tmp_path):
    pipefile(tmp_path, f"""
        rule all:
            input: "big.txt", "alone.txt"

        rule big:
            output: "big.txt"
            retries: 1
            resources: mem = "80M" * attempt
            shell: {HOG}; echo done > {{output}}

        rule alone:
            output: "alone.txt"
            resources: runtime = 5 * attempt
            shell: echo alone > {{output}}
        """)
    r = ok(tmp_path, "--executor", "slurm", env=slurm_cluster.env, timeout=300)
    assert (tmp_path / "big.txt").read_text() == "done\n"
    job = r.jobs()["big"]
    assert job["attempts"] == 2, job
    assert "big failed (" in r.err and "memory limit (80 MB)" in r.err and "raise the rule's resources: mem" in r.err, r.err
    assert "retrying (2 of 2)" in r.err
    first = (tmp_path / ".pyrule" / "slurm" / "big.a1.sh").read_text()
    second = (tmp_path / ".pyrule" / "slurm" / "big.a2.sh").read_text()
    assert "--mem=80M" in first and "--mem=160M" in second
    assert "--time=5" in (tmp_path / ".pyrule" / "slurm" / "alone.a1.sh").read_text()
