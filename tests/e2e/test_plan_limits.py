"""Planning refuses what no workflow may do: outputs inside pyrule's own `.pyrule/`, and a
wildcard rule that would match itself forever (a chain with no end)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

from harness import REPO


def test_output_inside_pyrule_state_is_refused(project):
    project.pipefile("""
        rule db:
            output: "{p,.+}.db"
            shell: echo boom > {output}
    """)
    assert project.run("x.db")[0] == 0
    err = project.error(".pyrule/state.db")
    assert "Pipefile:3:5" in err and ".pyrule/state.db" in err and "pyrule's own" in err, err
    assert "^" in err
    # the store is intact: a later run still works
    assert project.run("x.db")[0] == 0
    assert (project / ".pyrule" / "state.db").read_bytes()[:15] == b"SQLite format 3"


def test_literal_output_inside_pyrule_is_refused(project):
    project.pipefile("""
        rule all:
            input: "./.pyrule/logs/mine.txt"

        rule mine:
            output: "./.pyrule/logs/mine.txt"
            shell: echo hi > {output}
    """)
    err = project.error()
    assert "Pipefile:6:5" in err and ".pyrule/logs/mine.txt" in err, err
    assert not (project / ".pyrule" / "logs" / "mine.txt").exists()


def _limited(args: list[str], cwd) -> subprocess.CompletedProcess:
    """pyrule in a child with at most 1 GiB of address space and 60 s: a runaway planner fails
    (MemoryError or the timeout), it cannot eat the machine."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
    return subprocess.run([sys.executable, "-m", "pyrule", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, preexec_fn=limit, stdin=subprocess.DEVNULL)


def test_a_rule_that_matches_itself_forever_is_a_located_error(project):
    project.pipefile("""
        rule grow:
            output: "{x}.txt"
            input: "{x}.x.txt"
            shell: cp {input} {output}
    """)
    proc = _limited(["-n", "a.txt"], project)
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, err[-2000:])
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    assert "Pipefile:4:5" in err, err
    assert "grow" in err and "a.txt" in err and "a.x.txt" in err and "a.x.x.txt" in err, err
    assert len(err) < 3000, err  # the first steps of the chain, not all of it


def test_two_rules_matching_each_other_forever(project):
    # With two candidate rules per step, choosing between them looks ahead (recursively).
    project.pipefile("""
        rule grow:
            output: "{x}.txt"
            input: "{x}.x.txt"
            shell: cp {input} {output}

        rule grow2:
            output: "{x}.txt"
            input: "{x}.y.txt", "source.txt"
            shell: cp {input[0]} {output}
    """)
    proc = _limited(["-n", "a.txt"], project)
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, err[-2000:])
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    assert "Pipefile:" in err and "a.txt" in err, err


def test_a_counter_without_end_is_a_located_error(project):
    # Short names that never repeat: only a depth limit stops this one.
    project.pipefile("""
        rule step:
            output: "s/{n,[0-9]+}.txt"
            input: lambda w: f"s/{int(w.n) + 1}.txt"
            shell: cp {input} {output}
    """)
    proc = _limited(["-n", "s/0.txt"], project)
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, err[-2000:])
    assert "s/0.txt" in err and "s/1.txt" in err and "step" in err, err


def test_an_output_name_no_file_system_can_hold_is_a_located_error(project):
    project.pipefile("""
        rule make:
            output: "out/{name}.txt"
            shell: touch {output}
    """)
    err = project.error("out/" + "n" * 300 + ".txt")
    assert "Pipefile:3:5" in err and "too long for a file name" in err, err
    assert project.run("out/" + "n" * 240 + ".txt")[0] == 0  # long, but a file can have it
