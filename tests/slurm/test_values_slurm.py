"""Values (issue 20) with `--executor slurm`: a Python body's value comes back from the node
that ran it, and sets a downstream job's Slurm memory request (real single-node cluster)."""

from __future__ import annotations

import json

import pytest
from harness import ok, pipefile, wait_for
from test_arrays import counting_sbatch, sbatch_calls
from test_executor import pyrule
from test_reattach import kill_once_submitted


def test_a_value_from_a_node_sets_a_slurm_mem_request(slurm_cluster, tmp_path):
    pipefile(tmp_path, """
        rule estimate:
            python:
                import os
                return {"mem_mb": 100 + len(wildcards.s), "on_slurm": "SLURM_JOB_ID" in os.environ}

        rule use:
            output: "{s}.txt"
            params: on_slurm = lambda w: values.estimate.get(**w)["on_slurm"]
            resources: mem = lambda w: values.estimate.get(**w)["mem_mb"]
            shell: echo "$SLURM_MEM_PER_NODE {params.on_slurm}" > {output}
    """)
    p = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "ab.txt", timeout=180)
    assert p.returncode == 0, p.stderr
    # 102 MB, as sbatch --mem got it from the value the node returned
    assert (tmp_path / "ab.txt").read_text() == "102 True\n"
    p = pyrule(slurm_cluster, tmp_path, "--value", "estimate[s=ab]")
    assert json.loads(p.stdout) == {"mem_mb": 102, "on_slurm": True}
    p = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "ab.txt")
    assert p.returncode == 0 and "nothing to do" in p.stderr + p.stdout, p.stderr


def test_a_body_on_a_node_reads_its_values_without_the_top_level_running_again(slurm_cluster, tmp_path):
    """Shipped (pyjob.py): the value returned on a node and the values a body read travel in the
    job's spec; the Pipefile's top level runs on the submitting host only."""
    pipefile(tmp_path, """
        python:
            import os
            with open("top.log", "a") as f:
                f.write("top\\n")

        rule estimate:
            python:
                return [len(wildcards.s), "SLURM_JOB_ID" in os.environ]

        rule use:
            output: "{s}.txt"
            params: first = lambda w: values.estimate.get(**w)[0]
            python:
                with open(output[0], "w") as f:
                    f.write(f"{params.first} {values.estimate.get(**wildcards)}\\n")
    """)
    p = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "abc.txt", timeout=180)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "abc.txt").read_text() == "3 [3, True]\n"
    assert (tmp_path / "top.log").read_text() == "top\n", "the top level ran again on a node"


@pytest.mark.slow
def test_a_killed_pyrules_value_job_is_adopted_and_its_value_kept(slurm_cluster, tmp_path):
    """A value is written where the job (not the run) says: the run that adopts a job a killed
    pyrule left running on Slurm reads the value that job returns, and its reader gets it."""
    pipefile(tmp_path, """
        rule use:
            output: "use.txt"
            params: n = lambda w: values.estimate.get()
            shell: echo {params.n} > {output}

        rule estimate:
            python:
                import time
                time.sleep(6)
                return 42
    """)
    kill_once_submitted(slurm_cluster, tmp_path, 1)
    # the job ends (its value written) while no pyrule follows it; the next run adopts it then
    wait_for(lambda: list((tmp_path / ".pyrule" / "values").glob("*.val")), 60, "the value written")
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = ok(tmp_path, "--executor", "slurm", "use.txt", env=env, timeout=300)
    assert "adopted Slurm job" in r.err, r.err
    assert sbatch_calls(calls) == [sbatch_calls(calls)[0]] and "--job-name=use" in sbatch_calls(calls)[0], r.err
    assert (tmp_path / "use.txt").read_text() == "42\n"
    assert json.loads(pyrule(slurm_cluster, tmp_path, "--value", "estimate").stdout) == 42
