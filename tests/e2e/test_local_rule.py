"""`local: True` (issue 22, Snakemake's localrules): with --executor slurm such a rule's jobs run on
this machine, never submitted. Here every stale job is local, so no Slurm cluster is needed: the
run must finish without sbatch, squeue or sacct (a fake sbatch on PATH would fail the test)."""

from __future__ import annotations

import os

from harness import ok, pipefile, pyrule, write


def _no_slurm(tmp_path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    for tool in ("sbatch", "squeue", "sacct", "scancel"):
        write(bin_dir / tool, f"#!/bin/sh\necho 'no {tool} for local rules' >&2\nexit 99\n").chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_local_rules_run_here_under_the_slurm_executor(tmp_path):
    pipefile(tmp_path, """
        rule all:
            input: "b.txt", "c.txt"
        rule a:
            output: "a.txt"
            local: True
            shell: echo a > {output}
        rule b:
            output: "b.txt"
            input: "a.txt"
            local: True
            python:
                open(output[0], "w").write(open(input[0]).read() + "b\\n")
        rule c:
            output: "c.txt"
            local: True
            shell: exit 0; echo never
    """)
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "Pipefile").rename(work / "Pipefile")
    r = pyrule(work, "--executor", "slurm", "-k", env=_no_slurm(tmp_path))
    assert r.rc == 1, str(r)
    assert (work / "b.txt").read_text() == "a\nb\n"
    assert "no sbatch" not in r.err and "FAILED c: exited 0 but did not create c.txt" in r.out + r.err
    r = ok(work, "-n", "b.txt", "--executor", "slurm", env=_no_slurm(tmp_path))
    assert "nothing to do" in r.out + r.err


def test_local_takes_true_or_false(tmp_path):
    pipefile(tmp_path, """
        rule a:
            output: "a.txt"
            local: "yes"
            shell: touch {output}
    """)
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2 and "local: must be True or False" in r.err and "Pipefile:3:5" in r.err
