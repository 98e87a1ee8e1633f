"""Issue 19 on a real Slurm cluster (fixture slurm_cluster): a `container:` job's script runs podman
on the node, and a `venv:` shell job gets its environment there (docs/environments.md#slurm)."""

from __future__ import annotations

import subprocess
import textwrap

import pytest
from envs.images import ENV, IMAGE, make_image
from test_executor import PYRULE, _env


@pytest.mark.slow
def test_container_and_venv_jobs_on_slurm(slurm_cluster, tmp_path):
    make_image(tmp_path, IMAGE, "pyrule-test")
    d = tmp_path / "project"
    (d / "envs").mkdir(parents=True)
    (d / "envs" / "table.txt").write_text("tabulate==0.9.0\n")
    (d / "Pipefile").write_text(textwrap.dedent(f"""\
        rule all:
            input: "in.txt", "venv.txt"

        rule inside:
            output: "in.txt"
            container: "{IMAGE}"
            shell: cat /etc/os-release > {{output}}; echo "${{SLURM_JOB_ID:+on a node}}" >> {{output}}

        rule table:
            output: "venv.txt"
            venv: "envs/table.txt"
            shell: python -c 'import tabulate; print(tabulate.__version__)' > {{output}}
    """))
    env = {**_env(slurm_cluster), **ENV, "PYRULE_VENV_CACHE": str(tmp_path / "cache")}
    p = subprocess.run([*PYRULE, "--executor", "slurm"], cwd=d, env=env, capture_output=True, text=True,
                       timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (d / "in.txt").read_text().startswith("ID=pyrule-test\n")
    assert (d / "venv.txt").read_text() == "0.9.0\n"
