"""A `container:` job with docker on the real Slurm cluster (fixture slurm_cluster): the job script
runs docker on the node, with the engine and the daemon's address passed to the node in the
environment (docs/environments.md#slurm). The podman case is tests/slurm/test_envs_slurm.py."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest
from envs.images import DOCKER_ENV, cli, make_image, start_docker, stop_docker
from test_executor import PYRULE, _env, jobs_of


@pytest.mark.slow
def test_a_docker_container_job_on_slurm(slurm_cluster, tmp_path):
    started = start_docker()
    tag = f"localhost/pyrule-slurm-docker-{os.getpid()}:1"
    try:
        make_image(tmp_path, tag, "on-docker", "docker")
        d = tmp_path / "project"
        d.mkdir()
        (d / "Pipefile").write_text(textwrap.dedent(f"""\
            rule inside:
                output: "in.txt"
                container: "{tag}"
                shell: cat /etc/os-release > {{output}}
        """))
        env = {**_env(slurm_cluster), **DOCKER_ENV}
        p = subprocess.run([*PYRULE, "--executor", "slurm"], cwd=d, env=env, capture_output=True, text=True,
                           timeout=300, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stdout + p.stderr
        assert (d / "in.txt").read_text() == "ID=on-docker\n"
        assert jobs_of(d)["inside"]["reported"]["slurm_job_id"].isdigit()  # a Slurm job ran the engine
    finally:
        cli("docker", "rmi", "-f", tag)
        if started:
            stop_docker()
