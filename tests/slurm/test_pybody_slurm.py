"""Issue 21 "no re-parse on nodes", on a real Slurm cluster (fixture slurm_cluster): a `python:` body
runs on the node from its shipped spec (pyjob.py) without the Pipefile's top level running again
there; its traceback names the Pipefile's line; a body that uses a top-level name that cannot be
shipped (a class defined in the Pipefile) falls back to re-loading the Pipefile on the node."""

from __future__ import annotations

import subprocess
import textwrap

import pytest
from envs.images import ENV, make_python_image
from harness import ok
from test_arrays import counting_sbatch, sbatch_calls
from test_executor import PYRULE, _env, pyrule
from test_reattach import kill_once_submitted

PIPEFILE = """\
import os
STEP = 10
python:
    with open("toplevel.log", "a") as f:  # counts the runs of the top level
        f.write(f"{os.environ.get('SLURM_JOB_ID', 'here')}\\n")

    def scaled(x):
        return x * STEP

    class Box:
        pass

rule all:
    input: "a.txt", "b.txt"

rule make:
    output: "{s}.txt"
    params: k = 2
    resources: cores = 1
    python:
        with open(output[0], "w") as f:
            f.write(f"{wildcards.s} {scaled(params.k)} {threads} {os.environ.get('SLURM_JOB_ID') is not None}\\n")
        report("made", wildcards.s)
        shell("echo shelled {wildcards.s} >> {output}")

rule bad:
    output: "bad.txt"
    python:
        x = 1
        raise ValueError("broken on purpose")

rule boxed:
    output: "boxed.txt"
    python:
        open(output[0], "w").write(type(Box()).__name__ + "\\n")
"""


def top_level_runs(d) -> list[str]:
    return (d / "toplevel.log").read_text().splitlines()


@pytest.mark.slow
def test_python_bodies_run_on_the_node_without_the_top_level(slurm_cluster, tmp_path):
    (tmp_path / "Pipefile").write_text(PIPEFILE)
    p = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (tmp_path / "a.txt").read_text() == "a 20 1 True\nshelled a\n"
    assert (tmp_path / "b.txt").read_text() == "b 20 1 True\nshelled b\n"
    assert top_level_runs(tmp_path) == ["here"]  # once, on the submit host: never on a node
    header, *rows = [ln.split("\t") for ln in
                     sorted((tmp_path / ".pyrule" / "runs").glob("*/stats.tsv"))[-1].read_text().splitlines()]
    made = {row[1]: row[header.index("made")] for row in rows if row[0] == "make"}
    assert made == {"make[s=a]": "a", "make[s=b]": "b"}, made  # report() from the node
    scripts = list((tmp_path / ".pyrule" / "slurm").glob("make*.sh"))
    assert scripts and all("--run-job" not in s.read_text() for s in scripts)

    # a failing body: its traceback names the Pipefile's line; still no top level on the node
    p = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "bad.txt", timeout=240)
    assert p.returncode == 1, p.stdout + p.stderr
    line = PIPEFILE.splitlines().index('        raise ValueError("broken on purpose")') + 1
    log = (tmp_path / ".pyrule" / "logs" / "bad" / "bad.log").read_text()
    assert f'File "Pipefile", line {line}, in <module>' in log and "ValueError: broken on purpose" in log, log
    assert "run.py\", line" not in log, log  # the runner's own frames are left out
    assert top_level_runs(tmp_path) == ["here", "here"]

    # a class defined in the Pipefile cannot be shipped: the node loads the Pipefile again, and says why
    p = pyrule(slurm_cluster, tmp_path, "--executor", "slurm", "boxed.txt", timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (tmp_path / "boxed.txt").read_text() == "Box\n"
    runs = top_level_runs(tmp_path)
    assert runs[:3] == ["here"] * 3 and len(runs) == 4 and runs[3].isdigit(), runs  # the 4th: on the node
    script = next((tmp_path / ".pyrule" / "slurm").glob("boxed*.sh")).read_text()
    assert "--run-job" in script, script
    log = (tmp_path / ".pyrule" / "logs" / "boxed" / "boxed.log").read_text()
    assert "its body uses the top-level name 'Box': the class Box is defined in the Pipefile" in log, log


@pytest.mark.slow
def test_a_python_body_with_a_venv_on_the_node(slurm_cluster, tmp_path):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "table.txt").write_text("tabulate==0.9.0\n")
    (tmp_path / "Pipefile").write_text(textwrap.dedent("""\
        python:
            with open("toplevel.log", "a") as f:
                f.write("run\\n")

        rule table:
            output: touch("table.txt")
            venv: "envs/table.txt"
            python:
                import os, tabulate
                with open(output[0], "w") as f:
                    f.write(f"{tabulate.__version__} {os.environ.get('SLURM_JOB_ID') is not None}\\n")
    """))
    env = {**_env(slurm_cluster), "PYRULE_VENV_CACHE": str(tmp_path / "cache")}
    p = subprocess.run([*PYRULE, "--executor", "slurm"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (tmp_path / "table.txt").read_text() == "0.9.0 True\n"
    assert top_level_runs(tmp_path) == ["run"]


@pytest.mark.slow
def test_a_killed_pyrules_python_jobs_are_adopted_not_resubmitted(slurm_cluster, tmp_path):
    """The shipped spec is named by job and attempt, not by run: the next run's script is the same,
    so a Python job left running by a pyrule killed with -9 is adopted (reattach, issue 21)."""
    (tmp_path / "Pipefile").write_text(textwrap.dedent("""\
        python:
            with open("toplevel.log", "a") as f:
                f.write("here\\n")

        rule all:
            input: expand("out/{i}.txt", i=range(4))

        rule slow:
            output: "out/{i}.txt"
            python:
                import time
                time.sleep(8)
                open(output[0], "w").write(f"job {wildcards.i}\\n")
    """))
    kill_once_submitted(slurm_cluster, tmp_path, 4)
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    r = ok(tmp_path, "--executor", "slurm", env=env, timeout=300)
    assert sbatch_calls(calls) == [], r.err  # nothing submitted again
    assert r.err.count("adopted Slurm job") == 4, r.err
    for i in range(4):
        assert (tmp_path / "out" / f"{i}.txt").read_text() == f"job {i}\n"
    assert top_level_runs(tmp_path) == ["here", "here"]  # the killed run and this one: none on a node


@pytest.mark.slow
def test_a_python_body_in_a_container_on_the_node(slurm_cluster, tmp_path):
    """A Python body with `container:` on Slurm: the node's job script runs podman, the image's
    python3 runs the shipped spec (issue 19 with issue 21)."""
    image = make_python_image(tmp_path)
    d = tmp_path / "project"
    d.mkdir()
    (d / "Pipefile").write_text(textwrap.dedent(f"""\
        python:
            with open("toplevel.log", "a") as f:
                f.write("here\\n")
            def tag(x):
                return "<" + x + ">"

        rule inside:
            output: "in.txt"
            container: "{image}"
            python:
                open(output[0], "w").write(tag(open("/etc/os-release").read().strip()) + "\\n")
                report("where", "image")
    """))
    env = {**_env(slurm_cluster), **ENV}
    p = subprocess.run([*PYRULE, "--executor", "slurm"], cwd=d, env=env, capture_output=True, text=True,
                       timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (d / "in.txt").read_text() == "<ID=pyrule-python>\n"
    assert top_level_runs(d) == ["here"]
    script = next((d / ".pyrule" / "slurm").glob("inside*.sh")).read_text()
    assert "podman run" in script and ".pyrule/pyjob/run.py" in script, script
