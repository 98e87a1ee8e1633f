"""Running jobs under budgets, end to end with real processes (the Python API's run: tests/unit/test_api.py)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from harness import intervals_overlap, ok, pipefile, pyrule, read_intervals, timed, write


def test_first_run_builds_in_dependency_order(tmp_path: Path):
    pipefile(tmp_path, """
        default: c.txt

        rule a:
            output: "a.txt"
            shell: echo a > {output}; echo a >> order.txt

        rule b:
            output: "b.txt"
            input: "a.txt"
            shell: cat {input} > {output}; echo b >> order.txt

        rule c:
            output: "c.txt"
            input: "b.txt", "a.txt"
            shell: cat {input} > {output}; echo c >> order.txt
    """)
    r = ok(tmp_path)
    assert (tmp_path / "order.txt").read_text() == "a\nb\nc\n"
    assert (tmp_path / "c.txt").read_text() == "a\na\n"
    assert r.ran == {"a", "b", "c"}
    assert "done: 3 ran, 0 up to date, 0 failed, 0 skipped" in r.err
    assert f"stats in {os.path.relpath(r.run_dir, tmp_path)}/stats.tsv" in r.err
    assert "\x1b[" not in r.err  # no control codes on a pipe


def test_output_directories_are_created_and_jobs_run_in_project_dir(tmp_path: Path):
    pipefile(tmp_path, """
        rule deep:
            output: "x/y/z/out.txt"
            shell: pwd > {output}
    """)
    sub = tmp_path / "sub"
    sub.mkdir()
    ok(sub)  # the nearest Pipefile above
    assert (tmp_path / "x/y/z/out.txt").read_text().strip() == str(tmp_path)


def test_cores_budget_two_core_jobs_never_overlap(tmp_path: Path):
    pipefile(tmp_path, f"""
        default: all

        rule all:
            input: expand("w/{{i}}.txt", i=range(4))

        rule work:
            output: "w/{{i}}.txt"
            resources: cores = 2
            shell: {timed("{wildcards.i}", 0.2)}; touch {{output}}
    """)
    ok(tmp_path, "-j", "2")
    spans = read_intervals(tmp_path / "times.txt")
    assert sorted(spans) == ["0", "1", "2", "3"]
    assert not intervals_overlap(list(spans.values())), spans


def test_cores_budget_allows_parallel_one_core_jobs(tmp_path: Path):
    pipefile(tmp_path, """
        default: all

        rule all:
            input: expand("w/{i}.txt", i=range(2))

        rule work:
            output: "w/{i}.txt"
            shell:
                touch started-{wildcards.i}
                for _ in $(seq 200); do [ -e started-0 ] && [ -e started-1 ] && break; sleep 0.05; done
                [ -e started-0 ] && [ -e started-1 ]
                touch {output}
    """)
    ok(tmp_path, "-j", "2")  # each job waits to see the other one started


def test_custom_resource_serialises(tmp_path: Path):
    pipefile(tmp_path, f"""
        default: all

        rule all:
            input: expand("w/{{i}}.txt", i=range(3))

        rule work:
            output: "w/{{i}}.txt"
            resources: foo = 1
            shell: {timed("{wildcards.i}", 0.2)}; touch {{output}}
    """)
    ok(tmp_path, "-j", "4", "--resources", "foo=1")
    spans = read_intervals(tmp_path / "times.txt")
    assert len(spans) == 3
    assert not intervals_overlap(list(spans.values())), spans


@pytest.mark.parametrize(("args", "resources", "message"), [
    (["-j", "2"], "cores = 4", "needs cores=4 but the budget is 2"),
    (["-j", "4", "--mem", "1G"], 'mem = "2G"', "needs mem="),
    (["-j", "4", "--resources", "gpus=1"], "gpus = 2", "needs gpus=2 but the budget is 1"),
])
def test_job_larger_than_the_budget_is_an_error_before_anything_starts(tmp_path: Path, args, resources, message):
    pipefile(tmp_path, f"""
        default: all

        rule all:
            input: "small.txt", "big.txt"

        rule small:
            output: "small.txt"
            shell: touch {{output}}

        rule big:
            output: "big.txt"
            input: "small.txt"
            resources: {resources}
            shell: touch {{output}}
    """)
    r = pyrule(tmp_path, *args)
    assert r.rc == 2, r
    assert message in r.err
    assert "Pipefile:" in r.err  # points at the rule's resources line
    assert not (tmp_path / "small.txt").exists()
    assert not (tmp_path / ".pyrule" / "logs").exists()
    with sqlite3.connect(tmp_path / ".pyrule" / "state.db") as db:  # the run is not left "running"
        assert db.execute("SELECT status FROM runs").fetchall() == [("error",)]


def test_up_to_date_jobs_do_not_count_against_the_budget_check(tmp_path: Path):
    pipefile(tmp_path, """
        default: all
        rule all:
            input: "big.txt", "small.txt"
        rule big:
            output: "big.txt"
            resources: cores = 4
            shell: touch {output}
        rule small:
            output: "small.txt"
            input: "src.txt"
            shell: cp {input} {output}
    """)
    write(tmp_path / "src.txt", "1\n")
    ok(tmp_path, "-j", "4")
    # The long way (no memo: a changed input): big is decided up to date, only small runs.
    write(tmp_path / "src.txt", "2\n")
    assert ok(tmp_path, "-j", "1").ran == {"small"}
    # Nothing to run, memo or not: nothing too big (the memo ignores budgets, see how-it-decides.md).
    ok(tmp_path, "-j", "1", env={"PYRULE_NOOP_MEMO": "0"})
    ok(tmp_path, "-j", "1")


def test_priority_orders_ready_jobs(tmp_path: Path):
    pipefile(tmp_path, """
        default: all

        rule all:
            input: "low.txt", "high.txt", "mid.txt"

        rule low:
            output: "low.txt"
            shell: echo low >> order.txt; touch {output}

        rule high:
            output: "high.txt"
            priority: 10
            shell: echo high >> order.txt; touch {output}

        rule mid:
            output: "mid.txt"
            priority: 5
            shell: echo mid >> order.txt; touch {output}
    """)
    ok(tmp_path, "-j", "1")
    assert (tmp_path / "order.txt").read_text().split() == ["high", "mid", "low"]


def test_dry_run_runs_nothing_and_lists_in_order(tmp_path: Path):
    pipefile(tmp_path, """
        default: b.txt

        rule a:
            output: "a.txt"
            shell: touch {output}

        rule b:
            output: "b.txt"
            input: "a.txt"
            shell: touch {output}
    """)
    r = ok(tmp_path, "-n")
    assert r.out.splitlines() == ["a: output a.txt missing", "b: output b.txt missing", "2 job(s) would run, 0 up to date"]
    assert not (tmp_path / "a.txt").exists()
    assert r.run_dir is None


def test_log_section_receives_output(tmp_path: Path):
    pipefile(tmp_path, """
        rule talk:
            output: "t.txt"
            log: "logs/talk.log"
            shell: echo hello; echo oops >&2; touch {output}
    """)
    r = ok(tmp_path)
    assert (tmp_path / "logs/talk.log").read_text() == "hello\noops\n"
    assert r.jobs()["talk"]["log"] == "logs/talk.log"


def test_env_section_is_exported_and_in_the_signature(tmp_path: Path):
    pipefile(tmp_path, """
        LEVEL ?= 1

        rule env:
            output: "e.txt"
            env: LEVEL = LEVEL
            shell: echo "level=$LEVEL" > {output}
    """)
    ok(tmp_path)
    assert (tmp_path / "e.txt").read_text() == "level=1\n"
    assert "env: env.LEVEL: 1 → 2" in ok(tmp_path, "-n", "LEVEL=2").out
    ok(tmp_path, "LEVEL=2")
    assert (tmp_path / "e.txt").read_text() == "level=2\n"


def test_phony_rule_runs_whenever_requested(tmp_path: Path):
    pipefile(tmp_path, """
        rule hello:
            shell: echo hi >> hello.txt
    """)
    ok(tmp_path, "hello")
    ok(tmp_path, "hello")
    assert (tmp_path / "hello.txt").read_text() == "hi\nhi\n"
