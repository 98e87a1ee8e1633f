"""Several pyrule processes at once in one directory, on a 250-job workflow (200 `make` jobs, 50
`group` jobs that each need 4 of them). Every job appends its name to ledger.txt with one
O_APPEND write (bash's `>>` and a short `echo`), so the ledger counts how often each job ran.

What "correct" means here:

- same targets, normal runs: every job runs exactly once, every process exits 0;
- a `-B` run racing a normal run: every job ends up built and correct, both exit 0, no output is
  partial, each job runs at least once (the -B run forces it) and at most twice (once per
  process), and a job never runs concurrently with itself: each job creates a "running" marker
  with O_EXCL (bash noclobber) when it starts and removes it when it ends; finding the marker
  taken is a violation;
- a process killed with SIGKILL while it holds job locks: the kernel frees its locks, the others
  recover the jobs it left half-done and finish (exit 0), and the tree is complete and correct.

CI: one round of each; --soak: ten rounds with different kill moments.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from harness import ok, pipefile, spawn, wait_for
from reliability_util import base_seed, read_pids, record, wait_dead

N_MAKE, N_GROUP = 200, 50

PIPEFILE = """
    default: all

    rule all:
        input: expand("group/{g}.txt", g=range(50))

    rule make:
        output: "out/{i}.txt"
        shell:
            echo make-{wildcards.i} >> ledger.txt
            echo $$ >> pids.txt
            MARK(make-{wildcards.i})
            printf 'make %s\\n' {wildcards.i} > {output}
            sleep 0.01
            printf 'done\\n' >> {output}
            UNMARK(make-{wildcards.i})

    rule group:
        output: "group/{g}.txt"
        input: lambda w: [f"out/{int(w.g) * 4 + k}.txt" for k in range(4)]
        shell:
            echo group-{wildcards.g} >> ledger.txt
            echo $$ >> pids.txt
            MARK(group-{wildcards.g})
            cat {input} > {output}
            sleep 0.01
            echo end >> {output}
            UNMARK(group-{wildcards.g})
"""

_MARK = (r"set -o noclobber; if ! : > running/\1; then echo \1 >> violations.txt; exit 1; fi; set +o noclobber")


def _pipefile(markers: bool) -> str:
    """The workflow; with markers, each job holds running/JOB (created with O_EXCL) while it runs."""
    import re

    def line(m: re.Match) -> str:
        if not markers:
            return ""
        indent, what, name = m.groups()
        return indent + (_MARK.replace("\\1", name) if what == "MARK" else f"rm running/{name}") + "\n"

    return re.sub(r"([ \t]*)(UNMARK|MARK)\((\S+?)\)\n", line, PIPEFILE)


NAMES = {f"make-{i}" for i in range(N_MAKE)} | {f"group-{g}" for g in range(N_GROUP)}


def _expected() -> dict[str, str]:
    out = {f"out/{i}.txt": f"make {i}\ndone\n" for i in range(N_MAKE)}
    for g in range(N_GROUP):
        out[f"group/{g}.txt"] = "".join(out[f"out/{g * 4 + k}.txt"] for k in range(4)) + "end\n"
    return out


EXPECTED = _expected()


def _project(d: Path, markers: bool = True) -> Path:
    d.mkdir(parents=True)
    pipefile(d, _pipefile(markers))
    (d / "running").mkdir()
    return d


def _groups(lo: int, hi: int) -> list[str]:
    return [f"group/{g}.txt" for g in range(lo, hi)]


def _ledger(d: Path) -> Counter:
    p = d / "ledger.txt"
    return Counter(p.read_text().split()) if p.exists() else Counter()


def _check_tree(d: Path) -> None:
    wrong = []
    for path, text in EXPECTED.items():
        p = d / path
        if not p.exists() or p.read_text() != text:
            wrong.append(path)
    assert not wrong, f"outputs missing, partial or wrong: {wrong[:10]} ({len(wrong)})"
    assert not (d / "violations.txt").exists(), f"jobs ran concurrently with themselves: {(d / 'violations.txt').read_text()}"
    assert list((d / "running").iterdir()) == [], "running markers left behind"
    again = ok(d, "-n", "-q")
    assert again.out.strip() == "", f"not up to date after the runs:\n{again.out}"


def _finish(procs, timeout: float = 300) -> list[tuple[int, str, str]]:
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        results.append((p.returncode, out, err))
    return results


def _rounds(request: pytest.FixtureRequest) -> int:
    from reliability_util import soak_enabled

    return 10 if soak_enabled(request.config) else 1


def test_four_processes_on_overlapping_targets_run_every_job_once(tmp_path: Path, request: pytest.FixtureRequest):
    rounds = _rounds(request)
    for r in range(rounds):
        d = _project(tmp_path / f"round{r}")
        argvs = [_groups(0, 30), _groups(10, 40), _groups(20, 50), []]
        procs = [spawn(d, "-j", "2", *argv) for argv in argvs]
        for rc, out, err in _finish(procs):
            assert rc == 0, f"exit {rc}\n{out}\n{err}"
            assert "Traceback" not in err
        counts = _ledger(d)
        assert set(counts) == NAMES
        twice = {n: c for n, c in counts.items() if c != 1}
        assert not twice, f"jobs that ran more than once: {twice}"
        _check_tree(d)
    record("concurrency", kind="4 processes, overlapping targets", rounds=rounds, processes=4,
           jobs=len(NAMES), runs_per_job=1, lost=0)


@pytest.mark.slow  # over 5 s on a loaded 2-core machine
def test_force_all_racing_a_normal_run(tmp_path: Path, request: pytest.FixtureRequest):
    rounds = _rounds(request)
    for r in range(rounds):
        d = _project(tmp_path / f"round{r}")
        ok(d, "-j", "2", *_groups(0, 25))  # half of it is built before the race
        (d / "ledger.txt").unlink()
        procs = [spawn(d, "-j", "2", "-B"), spawn(d, "-j", "2")]
        for rc, out, err in _finish(procs):
            assert rc == 0, f"exit {rc}\n{out}\n{err}"
            assert "Traceback" not in err
        counts = _ledger(d)
        assert set(counts) == NAMES, f"jobs the -B run did not run: {sorted(NAMES - set(counts))[:10]}"
        assert max(counts.values()) <= 2, {n: c for n, c in counts.items() if c > 2}
        _check_tree(d)
    record("concurrency", kind="-B racing a normal run", rounds=rounds, processes=2, jobs=len(NAMES), lost=0)


def test_a_process_killed_while_holding_locks_does_not_stop_the_others(tmp_path: Path, request: pytest.FixtureRequest):
    rounds = _rounds(request)
    rng = random.Random(base_seed() + 17)
    for r in range(rounds):
        d = _project(tmp_path / f"round{r}", markers=False)
        procs = [spawn(d, "-j", "2") for _ in range(3)]
        victim = procs[0]
        # Once jobs run, kill the first process at a random moment, whatever it holds.
        wait_for(lambda d=d: len(_ledger(d)) >= 10, timeout=60, what="the first jobs")
        time.sleep(rng.uniform(0.0, 1.5))
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        assert wait_dead(read_pids(d / "pids.txt"), 120) == []
        for rc, out, err in _finish(procs[1:]):
            assert rc == 0, f"exit {rc}\n{out}\n{err}"
            assert "Traceback" not in err
        counts = _ledger(d)
        assert set(counts) == NAMES
        _check_tree(d)
    record("concurrency", kind="one of 3 processes killed (SIGKILL) mid-run", rounds=rounds, processes=3,
           jobs=len(NAMES), lost=0)


def test_a_job_never_reads_an_input_that_another_process_is_rebuilding(tmp_path: Path):
    """The race the -B test found: a normal run decided `prod` up to date, then a -B run began to
    rebuild it (removing p.txt, writing it again); the normal run's consumer must wait for that,
    not read the half-written file. (Regression: the consumer now holds its inputs' locks shared.)"""
    d = tmp_path / "proj"
    d.mkdir()
    pipefile(d, """
        rule cons:
            output: "c.txt"
            input: "p.txt", "gate.txt"
            shell: cat {input} > {output}

        rule gate:
            output: "gate.txt"
            shell:
                touch gate-started
                while [ ! -e go ]; do sleep 0.02; done
                echo g > {output}

        rule prod:
            output: "p.txt"
            shell:
                echo start > {output}
                while [ -e hold ] && [ ! -e go2 ]; do sleep 0.02; done
                echo done >> {output}
    """)
    ok(d, "p.txt")
    (d / "hold").touch()
    normal = spawn(d, "c.txt")  # prod is up to date for it; it runs gate, then cons
    wait_for(lambda: (d / "gate-started").exists(), what="gate to start")
    forced = spawn(d, "-B", "p.txt")  # rebuilds prod meanwhile, and holds it half-written
    wait_for(lambda: (d / "p.txt").exists() and (d / "p.txt").read_text() == "start\n", what="the rebuild")
    (d / "go").touch()  # gate ends: cons is ready, while p.txt is half-written
    time.sleep(1.5)
    (d / "go2").touch()
    for p in (normal, forced):
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, f"exit {p.returncode}\n{out}\n{err}"
    assert (d / "c.txt").read_text() == "start\ndone\ng\n"


@pytest.mark.parametrize("recorded", [False, True], ids=["first-build", "rebuild"])
def test_a_dying_owner_s_half_written_output_is_never_kept(tmp_path: Path, recorded: bool):
    """Found by the kill test (1 round in 10): a pyrule killed mid-job frees its locks while
    exiting, before it is gone; another pyrule that took the lock saw the job marked running by a
    process that still looked alive, skipped the recovery, and adopted the half-written output
    (or kept it, as 'signature unchanged', on a rebuild). Here the owner is a process that holds
    no lock and dies while the other pyrule waits: recovery waits until the owner is proven
    gone (a live pyrule's job is never recovered), then rebuilds."""
    import json
    import sqlite3
    import subprocess

    import psutil

    d = tmp_path / "proj"
    d.mkdir()
    pipefile(d, """
        rule a:
            output: "a.txt"
            shell: echo complete > {output}
    """)
    ok(d)
    owner = subprocess.Popen(["sleep", "60"], cwd=d)  # in tmp_path: stopped after the test whatever happens
    con = sqlite3.connect(d / ".pyrule" / "state.db")
    with con:
        if not recorded:
            con.execute("DELETE FROM jobs")
        con.execute("INSERT INTO running VALUES (?,?,?,?,?,?,?)",
                    ("a", "dying-run", owner.pid, psutil.Process(owner.pid).create_time(), 0,
                     json.dumps(["a.txt"]), time.time()))
    con.close()
    (d / "a.txt").write_text("half")
    errfile = tmp_path / "err"
    with open(errfile, "w") as err:
        p = spawn(d, stderr=err)
        wait_for(lambda: "waiting" in errfile.read_text() or p.poll() is not None, what="pyrule to wait for the owner")
        assert p.poll() is None, errfile.read_text()
        assert (d / "a.txt").read_text() == "half"
        owner.kill()
        owner.wait(timeout=30)
        out, _ = p.communicate(timeout=30)
    assert p.returncode == 0, errfile.read_text()
    assert "a was running when pyrule died" in errfile.read_text()
    assert (d / "a.txt").read_text() == "complete\n"
