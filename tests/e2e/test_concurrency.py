"""Several pyrule processes in one directory at once, on overlapping targets: every job runs
exactly once and every process succeeds (locks on outputs + re-check after taking them)."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from harness import ok, pipefile, read_pid, spawn, wait_for

# 40 `make` jobs and 10 `group` jobs (each needs 4 makes): 50 jobs; every job appends its
# name to ledger.txt (O_APPEND: one whole line per write).
PIPEFILE = """
    N = 40
    default: all

    rule all:
        input: expand("group/{g}.txt", g=range(10))

    rule make:
        output: "out/{i}.txt"
        shell:
            echo make-{wildcards.i} >> ledger.txt
            sleep 0.02
            echo {wildcards.i} > {output}

    rule group:
        output: "group/{g}.txt"
        input: lambda w: [f"out/{int(w.g) * 4 + k}.txt" for k in range(4)]
        shell:
            echo group-{wildcards.g} >> ledger.txt
            cat {input} > {output}
"""

EXPECTED = {f"make-{i}" for i in range(40)} | {f"group-{g}" for g in range(10)}


def _groups(*gs: int) -> list[str]:
    return [f"group/{g}.txt" for g in gs]


def _run_together(d: Path, argvs: list[list[str]]) -> None:
    procs = [spawn(d, "-j", "3", *argv) for argv in argvs]
    results = [(p, *p.communicate(timeout=120)) for p in procs]
    for p, out, err in results:
        assert p.returncode == 0, f"{p.args}\n{out}\n{err}"


def _check_ledger(d: Path, expected: set[str]) -> None:
    counts = Counter((d / "ledger.txt").read_text().split())
    twice = {name: n for name, n in counts.items() if n != 1}
    assert not twice, f"jobs that ran more than once: {twice}"
    assert set(counts) == expected


@pytest.mark.parametrize("n", [2, 4])
def test_concurrent_runs_on_overlapping_targets_run_each_job_once(tmp_path: Path, n: int):
    pipefile(tmp_path, PIPEFILE)
    if n == 2:
        argvs = [_groups(*range(0, 7)), _groups(*range(3, 10))]
    else:
        argvs = [_groups(0, 1, 2, 3, 4), _groups(3, 4, 5, 6), _groups(*range(5, 10), 0), []]
    _run_together(tmp_path, argvs)
    _check_ledger(tmp_path, EXPECTED)
    for g in range(10):
        lines = (tmp_path / "group" / f"{g}.txt").read_text().split()
        assert lines == [str(g * 4 + k) for k in range(4)]
    assert "nothing to do" in ok(tmp_path).err


def test_concurrent_runs_after_a_change_rerun_each_stale_job_once(tmp_path: Path):
    """Jobs with a recorded (outdated) signature: a waiting process must see the other's new record."""
    pipefile(tmp_path, PIPEFILE.replace("N = 40", "N = 40\n    TAG ?= 'v1'").replace(
        "echo {wildcards.i} > {output}", "echo {wildcards.i} {TAG} > {output}").replace(
        'output: "out/{i}.txt"', 'output: "out/{i}.txt"\n        params: tag = TAG'))
    ok(tmp_path)
    (tmp_path / "ledger.txt").unlink()
    _run_together(tmp_path, [["TAG=v2", *_groups(*range(0, 7))], ["TAG=v2", *_groups(*range(3, 10))],
                             ["TAG=v2"]])
    _check_ledger(tmp_path, EXPECTED)
    assert (tmp_path / "out" / "0.txt").read_text() == "0 v2\n"


def test_many_processes_creating_the_state_store_at_once(tmp_path: Path):
    """The first runs in a fresh directory all create .pyrule/state.db at the same moment."""
    for round_ in range(1):
        d = tmp_path / f"round{round_}"
        d.mkdir()
        pipefile(d, """
            rule one:
                output: "one.txt"
                shell: echo one >> ledger.txt; echo 1 > {output}
        """)
        procs = [spawn(d) for _ in range(6)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        assert (d / "ledger.txt").read_text() == "one\n"


def test_a_job_running_in_another_process_is_waited_for_not_adopted(tmp_path: Path):
    """Its output exists but is half-written: the second process must wait, then find it built."""
    pipefile(tmp_path, """
        default: use.txt

        rule slow:
            output: "slow.txt"
            shell:
                echo slow >> ledger.txt
                echo part1 > {output}
                while [ -e hold ]; do sleep 0.02; done
                echo part2 >> {output}

        rule use:
            output: "use.txt"
            input: "slow.txt"
            shell: cp {input} {output}
    """)
    (tmp_path / "hold").touch()
    first = spawn(tmp_path, "slow.txt")
    wait_for(lambda: (tmp_path / "slow.txt").exists(), what="the first process's job to start writing")
    plan = ok(tmp_path, "-n").out
    assert f"slow: being built by another pyrule process (pid {first.pid})" in plan
    with open(tmp_path / "second.err", "w") as err:
        second = spawn(tmp_path, stderr=err)
        wait_for(lambda: "slow: outputs locked by another pyrule process; waiting" in (tmp_path / "second.err").read_text(),
                 what="the second process to wait for the lock")
        assert not (tmp_path / "use.txt").exists()
        (tmp_path / "hold").unlink()
        out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, (tmp_path / "second.err").read_text()
    first.communicate(timeout=60)
    assert first.returncode == 0
    assert (tmp_path / "use.txt").read_text() == "part1\npart2\n"
    assert (tmp_path / "ledger.txt").read_text() == "slow\n"


def test_a_job_whose_process_dies_while_another_waits_is_rebuilt(tmp_path: Path):
    """The second process waits on the lock; the first is killed -9: the second cleans up and rebuilds."""
    pipefile(tmp_path, """
        rule slow:
            output: "slow.txt"
            shell:
                echo $$ > job.pid
                echo part1 > {output}
                while [ -e hold ]; do sleep 0.02; done
                echo part2 >> {output}
    """)
    (tmp_path / "hold").touch()
    first = spawn(tmp_path)
    wait_for(lambda: (tmp_path / "slow.txt").exists() and read_pid(tmp_path / "job.pid"))
    with open(tmp_path / "second.err", "w") as err:
        second = spawn(tmp_path, stderr=err)
        wait_for(lambda: "waiting" in (tmp_path / "second.err").read_text(), what="the second process to wait")
        (tmp_path / "hold").unlink()
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        second.communicate(timeout=60)
    text = (tmp_path / "second.err").read_text()
    assert second.returncode == 0, text
    assert "slow was running when pyrule died" in text
    assert (tmp_path / "slow.txt").read_text() == "part1\npart2\n"
    assert ok(tmp_path).ran == set()
