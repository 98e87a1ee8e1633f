"""pyrule/containers.py in-process: which engine is chosen (the search order, the one named), the
errors when there is none, and the command lines the engines' templates build. Podman and docker
also run for real (tests/e2e/test_containers.py); apptainer/singularity cannot be installed on
Debian 12 (docs/environments.md), so its command line is checked here, option by option, against
apptainer's documented `exec` usage."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from pyrule import containers
from pyrule.errors import UsageError
from pyrule.jobspec import job_spec
from pyrule.load import load
from pyrule.plan import plan


def programs(d: Path, *names: str) -> str:
    """A directory holding executable files NAMES (never run: only found on PATH); its path."""
    d.mkdir(exist_ok=True)
    for name in names:
        (d / name).write_text("#!/bin/sh\nexit 1\n")
        (d / name).chmod(0o755)
    return str(d)


@pytest.mark.parametrize(("found", "chosen"), [
    (("apptainer", "singularity", "docker", "podman"), "podman"),
    (("singularity", "apptainer", "docker"), "docker"),
    (("singularity", "apptainer"), "apptainer"),
    (("singularity",), "singularity"),
])
def test_the_first_engine_on_path_in_the_documented_order(tmp_path, monkeypatch, found, chosen):
    monkeypatch.delenv(containers.ENGINE_VAR, raising=False)
    monkeypatch.setenv("PATH", programs(tmp_path / "bin", *found))
    assert containers.ENGINES == ("podman", "docker", "apptainer", "singularity")  # as docs/environments.md says
    assert containers.engine() == chosen


def test_the_engine_named_wins_over_the_order(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", programs(tmp_path / "bin", "podman", "docker"))
    monkeypatch.setenv(containers.ENGINE_VAR, "docker")
    assert containers.engine() == "docker"
    path = programs(tmp_path / "elsewhere", "apptainer") + "/apptainer"
    monkeypatch.setenv(containers.ENGINE_VAR, path)  # a path, off PATH
    assert containers.engine() == path and containers.kind(path) == "apptainer"


def test_a_named_engine_not_on_path_says_where_it_was_named_and_what_is_there(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", programs(tmp_path / "bin", "podman"))
    monkeypatch.setenv(containers.ENGINE_VAR, "dokcer")
    with pytest.raises(UsageError) as info:
        containers.engine()
    e = info.value
    assert e.message == "container engine 'dokcer' is not on PATH"
    assert e.hint == ("--container-engine (or $PYRULE_CONTAINER_ENGINE) named it: install it (docs/environments.md), "
                      "or name one on PATH now: podman")


def test_no_engine_on_path_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv(containers.ENGINE_VAR, raising=False)
    monkeypatch.setenv("PATH", programs(tmp_path / "bin"))
    with pytest.raises(UsageError) as info:
        containers.engine()
    e = info.value
    assert e.message == "no container engine on PATH"
    assert e.hint is not None and "podman, docker, apptainer, singularity" in e.hint and "--container-engine" in e.hint


def script(project, monkeypatch, engine: str) -> list[str]:
    """The engine's command line (split as bash would) that a container job's script runs; the
    job has an input outside the project."""
    outside = project.root.parent / "ref.fa"
    outside.write_text(">ref\n")
    project.pipefile(f"""
        rule x:
            output: "x.txt"
            input: "{outside}"
            container: "tools.sif"
            env: GREETING = "hi"
            shell: cat {{input}} > {{output}}
    """)
    program = programs(project.root.parent / "bin", engine) + "/" + engine
    monkeypatch.setenv(containers.ENGINE_VAR, program)
    rules = load("Pipefile")
    [job] = plan(rules, []).jobs
    spec = job_spec(job, rules.namespace, str(project.root / ".pyrule" / "runs" / "r1"), 1)
    assert spec.shell is not None
    command = spec.shell[spec.shell.index(program + " "):]  # to the end, or (podman, docker) to ` &` wait
    return shlex.split(command.partition(" &\nwait $!")[0])


@pytest.mark.parametrize("engine", ["apptainer", "singularity"])
def test_the_apptainer_command_line(project, monkeypatch, engine):
    # apptainer exec [exec options...] <container> <command>: --bind src[:dest[:opts]], --pwd dir
    # (the documented usage of apptainer 1.x and singularity 3.x; the environment passes by default)
    workdir = os.getcwd()
    outside = str(project.root.parent / "ref.fa")
    argv = script(project, monkeypatch, engine)
    assert argv[0].endswith("/" + engine)
    assert argv[1:9] == ["exec", "--bind", workdir, "--bind", f"{outside}:{outside}:ro", "--pwd", workdir,
                         "tools.sif"]
    assert argv[9:11] == ["sh", "-euc"] and argv[11].endswith(f"cat {outside} > x.txt\n") and len(argv) == 12


def test_the_docker_command_line(project, monkeypatch):
    workdir = os.getcwd()
    outside = str(project.root.parent / "ref.fa")
    argv = script(project, monkeypatch, "docker")
    name = argv[argv.index("--name") + 1]
    assert name.startswith("pyrule-")
    i = argv.index("-v")
    assert argv[i:i + 6] == ["-v", f"{workdir}:{workdir}", "-v", f"{outside}:{outside}:ro", "-w", workdir]
    assert ["-e", "GREETING"] == argv[argv.index("GREETING") - 1:argv.index("GREETING") + 1]
    assert argv[argv.index("--user") + 1] == f"{os.getuid()}:{os.getgid()}"
    assert argv[argv.index("tools.sif") + 1:argv.index("tools.sif") + 3] == ["sh", "-euc"]
