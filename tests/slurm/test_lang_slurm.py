"""Issue 22's language on a real Slurm cluster (fixture slurm_cluster): `local: True` jobs run here
while the others are submitted; a `script:` body and the run's --config/--configfile reach the
node; `cores = upto(N)` asks the cluster for N."""

from __future__ import annotations

import json
import textwrap

import pytest
from test_executor import pyrule


@pytest.mark.slow
def test_local_submitted_script_and_config_on_slurm(slurm_cluster, tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "node.py").write_text(textwrap.dedent("""\
        import os
        with open(snakemake.output[0], "w") as f:
            f.write(f"{snakemake.config['who']} {snakemake.threads} {os.environ.get('SLURM_JOB_ID') is not None}\\n")
    """))
    (tmp_path / "config.yaml").write_text("who: pipefile\n")
    (tmp_path / "Pipefile").write_text(textwrap.dedent("""\
        configfile: "config.yaml"

        rule all:
            input: "node.txt", "here.txt"

        rule node:
            output: "node.txt"
            resources: cores = upto(2)
            script: "scripts/node.py"

        rule here:
            output: "here.txt"
            local: True
            shell: echo "${{SLURM_JOB_ID:-none}}" > {output}
    """))
    p = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "--config", "who=cli", timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (tmp_path / "node.txt").read_text() == "cli 2 True\n"
    assert (tmp_path / "here.txt").read_text() == "none\n"
    runs = sorted((tmp_path / ".pyrule" / "runs").glob("*/stats.json"))
    ran = {j["job"] for j in json.loads(runs[-1].read_text())["jobs"] if j["status"] == "ran"}
    assert ran == {"node", "here"}
