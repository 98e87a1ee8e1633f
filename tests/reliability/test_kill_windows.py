"""A pyrule process killed (SIGKILL) at an exact step of starting or ending a job, while another
pyrule process runs in the same directory: the other one must finish the job and leave the tree
up to date, with no stale "interrupted" trace that makes the next run rebuild it.

A job is noted as running twice, in the store (state.py, a row per job) and in the run's journal
(journal.py, a file per run, which survives a damaged store). A live process that later takes the
dead one's job lock sees only the store; the next run sees both. So the journal may have a job
open only while the store has it marked: opened after the mark, ended before the mark goes. Found
by tests/reliability/test_concurrency_stress.py on CI: a kill between the store's flush and the
journal's "end" line left `make[i=83]: incomplete after an interrupted run` after both other
processes had finished it.

The kill is aimed by running pyrule with one of its own steps wrapped to kill the process when
it reaches that step for job `j` (KILLER below): everything else is the real pyrule, real files
and real processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from harness import ok, pipefile, spawn, wait_for

KILLER = """
import os, runpy, signal, sys

step = os.environ["KILL_AT"]

def killing(cls, name, hits):
    inner = getattr(cls, name)
    def step_then_die(self, *args, **kwargs):
        if hits(*args):
            os.kill(os.getpid(), signal.SIGKILL)
        return inner(self, *args, **kwargs)
    setattr(cls, name, step_then_die)

def killing_function(module, name, hits):
    inner = getattr(module, name)
    def step_then_die(*args, **kwargs):
        if hits(*args):
            os.kill(os.getpid(), signal.SIGKILL)
        return inner(*args, **kwargs)
    setattr(module, name, step_then_die)

import pyrule.journal
from pyrule.journal import Journal
from pyrule.state import State

if step == "mark_running":
    killing(State, "mark_running", lambda jobs, *rest: any(j[0] == "j" for j in jobs))
elif step == "journal_started":
    killing(Journal, "started", lambda jobs, *rest: any(j[0] == "j" for j in jobs))
elif step == "journal_ended":
    killing(Journal, "ended", lambda names: "j" in names)
elif step == "settle":  # another run's job, taken over: ended in that run's journal
    killing_function(pyrule.journal, "settle", lambda root, run_id, names: "j" in names)
elif step == "forget_running":  # another run's job, taken over: its mark goes
    killing(State, "forget_running", lambda names: "j" in list(names))
sys.argv[0] = "pyrule"
runpy.run_module("pyrule", run_name="__main__")
"""

PIPEFILE = """
    rule all:
        input: "j.txt", "k.txt"

    rule p:
        output: "p.txt"
        shell:
            touch p-started
            while [ ! -e gate-p ]; do sleep 0.02; done
            echo p > {output}

    rule j:
        output: "j.txt"
        input: "p.txt"
        shell: cat {input} > {output}; echo j >> {output}

    rule k:
        output: "k.txt"
        shell:
            touch k-started
            while [ ! -e gate-k ]; do sleep 0.02; done
            echo k > {output}
"""


def _killed_at(step: str, d: Path, *args: str) -> subprocess.Popen:
    """pyrule ARGS in d, killed (SIGKILL, by itself) when it reaches `step` for job j (KILLER)."""
    env = dict(os.environ, KILL_AT=step, NO_COLOR="1")
    env.pop("PYRULE_REPORT", None)
    return subprocess.Popen([sys.executable, "-c", KILLER, *args], cwd=d, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def _kill_left(procs: list[subprocess.Popen]) -> None:
    """A failed test leaves no pyrule running."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.communicate()


@pytest.mark.parametrize("step", ["mark_running", "journal_started", "journal_ended"])
def test_killed_at_a_step_of_a_job_another_run_finishes_it_and_the_tree_is_up_to_date(tmp_path: Path, step: str):
    d = tmp_path / "proj"
    d.mkdir()
    pipefile(d, PIPEFILE)
    # A builds j.txt; it is killed at `step` of job j, after p (which holds it until gate-p).
    a = _killed_at(step, d, "j.txt")
    procs = [a]
    try:
        wait_for(lambda: (d / "p-started").exists(), timeout=60, what="A's job p")
        # B starts while A lives (so its start-up recovery has nothing to do) and runs k, alone
        # (-j1), until gate-k: it meets j only after A is dead.
        b = spawn(d, "-j1", "all")
        procs.append(b)
        wait_for(lambda: (d / "k-started").exists(), timeout=60, what="B's job k")
        (d / "gate-p").touch()
        _, a_err = a.communicate(timeout=60)
        assert a.returncode == -signal.SIGKILL, f"A was not killed at {step} (exit {a.returncode}):\n{a_err}"
        (d / "gate-k").touch()
        b_out, b_err = b.communicate(timeout=60)
        assert b.returncode == 0, f"B exit {b.returncode}\n{b_out}\n{b_err}"
    finally:
        _kill_left(procs)
    assert (d / "j.txt").read_text() == "p\nj\n"
    again = ok(d, "-n", "-q")
    assert again.out.strip() == "", f"not up to date after B finished:\n{again.out}"


TAKEOVER = PIPEFILE.replace("""
    rule p:""", """
    rule c:
        input: "j.txt", "m.txt"

    rule m:
        output: "m.txt"
        shell:
            touch m-started
            while [ ! -e gate-m ]; do sleep 0.02; done
            echo m > {output}

    rule p:""").replace("shell: cat {input} > {output}; echo j >> {output}", """shell:
            touch j-started
            while [ ! -e gate-j ]; do sleep 0.02; done
            cat {input} > {output}; echo j >> {output}""")


@pytest.mark.parametrize("step", ["settle", "forget_running"])
def test_killed_while_taking_over_a_dead_runs_job_a_third_run_finishes_it(tmp_path: Path, step: str):
    """A dies running j; B takes j over (its mark in the store, its line in A's journal) and is
    killed at `step`; C then takes j over from what B left, and the tree ends up to date."""
    d = tmp_path / "proj"
    d.mkdir()
    pipefile(d, TAKEOVER)
    (d / "gate-p").touch()
    procs: list[subprocess.Popen] = []
    try:
        a = spawn(d, "j.txt")
        procs.append(a)
        wait_for(lambda: (d / "j-started").exists(), timeout=60, what="A's job j")
        # B and C start while A lives, each held in a job of its own until its gate opens.
        b = _killed_at(step, d, "-j1", "all")
        procs.append(b)
        wait_for(lambda: (d / "k-started").exists(), timeout=60, what="B's job k")
        c = spawn(d, "-j1", "c")
        procs.append(c)
        wait_for(lambda: (d / "m-started").exists(), timeout=60, what="C's job m")
        a.kill()
        a.communicate(timeout=60)
        (d / "gate-j").touch()
        (d / "gate-k").touch()
        _, b_err = b.communicate(timeout=60)
        assert b.returncode == -signal.SIGKILL, f"B was not killed at {step} (exit {b.returncode}):\n{b_err}"
        (d / "gate-m").touch()
        c_out, c_err = c.communicate(timeout=60)
        assert c.returncode == 0, f"C exit {c.returncode}\n{c_out}\n{c_err}"
    finally:
        _kill_left(procs)
    assert (d / "j.txt").read_text() == "p\nj\n"
    again = ok(d, "-n", "-q", "all", "c")
    assert again.out.strip() == "", f"not up to date after C finished:\n{again.out}"
