"""`venv:` (issue 19, docs/environments.md): a pip requirements file names a Python environment,
built once (per content and Python version) into a shared cache, for two rules and for two
concurrent runs; shell bodies get it on PATH, Python bodies import its packages. A real package
from the package index (pip must reach it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from harness import spawn

PACKAGE = "tabulate==0.9.0"  # small, pure Python, and not among the test environment's packages

pytestmark = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import tabulate"], capture_output=True).returncode == 0,
    reason="tabulate is installed here: the test could not tell the environment's from the host's")

PIPEFILE = """
    rule all:
        input: "shell.txt", "py.txt"

    rule from_shell:
        output: "shell.txt"
        venv: "envs/table.txt"
        shell: python -c 'import tabulate; print(tabulate.__version__)' > {output}

    rule from_python:
        output: "py.txt"
        venv: "envs/table.txt"
        python:
            import tabulate
            with open(output[0], "w") as f:
                f.write(tabulate.tabulate([[1, 2]]) + "\\n")
"""


def environments(cache) -> list[str]:
    return sorted(e for e in os.listdir(cache) if not e.endswith((".lock", ".log")))


def test_two_rules_share_one_environment_with_the_package(project, tmp_path):
    cache = tmp_path / "cache"
    env = {"PYRULE_VENV_CACHE": str(cache)}
    project.pipefile(PIPEFILE)
    project.write("envs/table.txt", PACKAGE + "\n")
    r = project.run(env=env, timeout=300)
    assert r.rc == 0, str(r)
    assert (project / "shell.txt").read_text() == "0.9.0\n"
    assert (project / "py.txt").read_text().split() == ["-", "-", "1", "2", "-", "-"]
    assert len(environments(cache)) == 1 and r.err.count("building the Python environment") == 1, r.err
    r = project.run("--build-envs", env=env)  # built already: nothing to do but say so
    assert r.rc == 0 and "building" not in r.err and "venv envs/table.txt@" in r.out, str(r)
    assert project.run("-n", "-q", env=env).out.strip() == ""  # up to date
    # another package list: another environment, and both rules rerun, saying why
    project.write("envs/table.txt", PACKAGE + "\nsix\n")
    rc, out, err = project.run("-n", "-q", env=env, timeout=300)
    assert rc == 0, err
    lines = sorted(ln.split(":")[0] for ln in out.splitlines() if "environment envs/table.txt changed (" in ln)
    assert lines == ["from_python", "from_shell"], out
    assert len(environments(cache)) == 2


def test_concurrent_runs_build_it_once(tmp_path):
    cache = tmp_path / "cache"
    env = {"PYRULE_VENV_CACHE": str(cache)}
    runs = []
    for name in ("one", "two"):
        d = tmp_path / name
        (d / "envs").mkdir(parents=True)
        (d / "Pipefile").write_text(PIPEFILE.replace("\n    ", "\n").lstrip("\n"))
        (d / "envs" / "table.txt").write_text(PACKAGE + "\n")
        runs.append(spawn(d, env=env))
    results = [p.communicate(timeout=300) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], results
    assert sum(err.count("building the Python environment") for _, err in results) == 1, results
    assert len(environments(cache)) == 1
    for name in ("one", "two"):
        assert (tmp_path / name / "shell.txt").read_text() == "0.9.0\n"
