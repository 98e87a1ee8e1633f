"""Values (issue 20) with `--executor slurm`: a Python body's value comes back from the node
that ran it, and sets a downstream job's Slurm memory request (real single-node cluster)."""

from __future__ import annotations

import json

from harness import pipefile
from test_executor import pyrule


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
