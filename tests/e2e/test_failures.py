"""Failing jobs, retries and output flags (temp, protected, directory), and reported values,
end to end with the real `pyrule` command."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

from harness import ok, pipefile, pyrule, write


def test_nonzero_exit_fails_removes_partial_output_and_shows_log(tmp_path: Path):
    pipefile(tmp_path, """
        rule broken:
            output: "out/broken.txt"
            shell:
                echo partial > {output}
                echo "the tool said: bad input on line 7" >&2
                exit 3
    """)
    r = pyrule(tmp_path)
    assert r.rc == 1, r
    assert not (tmp_path / "out" / "broken.txt").exists()
    assert "FAILED broken: exit code 3" in r.err
    assert "the tool said: bad input on line 7" in r.err  # the log's tail
    log = ".pyrule/logs/broken/broken.log"
    assert f"log: {log}" in r.err
    assert "bad input on line 7" in (tmp_path / log).read_text()
    job = r.jobs()["broken"]
    assert job["status"] == "failed" and job["exit_code"] == 3
    assert "1 failed" in r.err
    # a failed job is not recorded: the next run tries again
    assert "broken: output out/broken.txt missing" in ok(tmp_path, "-n").out


def test_exit_zero_without_creating_an_output_fails(tmp_path: Path):
    pipefile(tmp_path, """
        rule lazy:
            output: "one.txt", "two.txt"
            shell: echo 1 > {output[0]}
    """)
    r = pyrule(tmp_path)
    assert r.rc == 1, r
    assert "FAILED lazy: exited 0 but did not create two.txt" in r.err
    assert not (tmp_path / "one.txt").exists()  # the partial set is removed too
    assert r.jobs()["lazy"]["status"] == "failed"


def test_without_keep_going_no_new_job_starts_after_a_failure(tmp_path: Path):
    pipefile(tmp_path, """
        default: all

        rule all:
            input: "fail.txt", "slow.txt", "later.txt"

        rule fail:
            output: "fail.txt"
            priority: 10
            shell: touch failing; exit 1

        rule slow:
            output: "slow.txt"
            priority: 5
            shell:
                while [ ! -e failing ]; do sleep 0.02; done
                sleep 0.5
                echo slow > {output}

        rule later:
            output: "later.txt"
            shell: echo later > {output}
    """)
    r = pyrule(tmp_path, "-j", "2")
    assert r.rc == 1, r
    assert (tmp_path / "slow.txt").read_text() == "slow\n"  # the running sibling finished
    assert not (tmp_path / "later.txt").exists()  # nothing new started
    jobs = r.jobs()
    assert jobs["fail"]["status"] == "failed"
    assert jobs["slow"]["status"] == "ran"
    assert jobs.get("later", {}).get("status") != "ran"
    assert "start later" not in r.err


def test_keep_going_runs_independent_jobs_and_skips_dependants(tmp_path: Path):
    pipefile(tmp_path, """
        default: all

        rule all:
            input: "final.txt", "other.txt"

        rule fail:
            output: "fail.txt"
            priority: 10
            shell: exit 1

        rule dependant:
            output: "dep.txt"
            input: "fail.txt"
            shell: cp {input} {output}

        rule final:
            output: "final.txt"
            input: "dep.txt"
            shell: cp {input} {output}

        rule other:
            output: "other.txt"
            shell: sleep 0.2; echo other > {output}
    """)
    r = pyrule(tmp_path, "-k", "-j", "1")
    assert r.rc == 1, r
    jobs = r.jobs()
    assert jobs["fail"]["status"] == "failed"
    assert jobs["other"]["status"] == "ran"
    assert jobs["dependant"]["status"] == "skipped"
    assert jobs["final"]["status"] == "skipped"
    assert (tmp_path / "other.txt").exists()
    assert not (tmp_path / "dep.txt").exists()
    assert "skipped" in r.err


def test_retries_until_success(tmp_path: Path):
    pipefile(tmp_path, """
        rule flaky:
            output: "flaky.txt"
            retries: 2
            shell:
                n=$(cat counter 2>/dev/null || echo 0)
                n=$((n + 1))
                echo $n > counter
                echo "attempt $n" > {output}
                [ $n -ge 3 ]
    """)
    r = ok(tmp_path)
    assert (tmp_path / "counter").read_text().strip() == "3"
    assert (tmp_path / "flaky.txt").read_text() == "attempt 3\n"
    job = r.jobs()["flaky"]
    assert job["status"] == "ran" and job["attempts"] == 3
    assert "retrying" in r.err


def test_retries_exhausted(tmp_path: Path):
    pipefile(tmp_path, """
        rule flaky:
            output: "flaky.txt"
            retries: 1
            shell:
                echo x >> counter
                exit 1
    """)
    r = pyrule(tmp_path)
    assert r.rc == 1
    assert (tmp_path / "counter").read_text() == "x\nx\n"
    assert r.jobs()["flaky"]["attempts"] == 2


def test_temp_output_removed_once_all_consumers_succeeded(tmp_path: Path):
    pipefile(tmp_path, """
        default: all

        rule all:
            input: "left.txt", "right.txt"

        rule mid:
            output: temp("mid.txt")
            shell: echo mid > {output}

        rule left:
            output: "left.txt"
            input: "mid.txt"
            shell: cp {input} {output}

        rule right:
            output: "right.txt"
            input: "mid.txt"
            shell: sleep 0.3; cp {input} {output}
    """)
    r = ok(tmp_path, "-j", "2")
    assert r.ran == {"mid", "left", "right"}
    assert not (tmp_path / "mid.txt").exists()
    assert (tmp_path / "left.txt").read_text() == "mid\n"
    assert (tmp_path / "right.txt").read_text() == "mid\n"
    run_log = (Path(r.run_dir) / "run.log").read_text()
    assert "temp mid.txt: removed" in run_log


TEMP_CHAIN = """
    default: all

    rule all:
        input: "left.txt", "right.txt"

    rule mid:
        output: temp("mid.txt")
        input: "src.txt"
        shell: echo mid >> ledger.txt; sort {input} > {output}

    rule left:
        output: "left.txt"
        input: "mid.txt"
        shell: echo left >> ledger.txt; cp {input} {output}

    rule right:
        output: "right.txt"
        input: "mid.txt", "extra.txt"
        shell: echo right >> ledger.txt; cat {input} > {output}
"""


def test_removed_temp_output_does_not_make_the_next_run_redo_anything(tmp_path: Path):
    pipefile(tmp_path, TEMP_CHAIN)
    write(tmp_path / "src.txt", "b\na\n")
    write(tmp_path / "extra.txt", "x\n")
    assert ok(tmp_path).ran == {"mid", "left", "right"}
    assert not (tmp_path / "mid.txt").exists()
    assert "nothing to do" in ok(tmp_path, "-n").out
    r = ok(tmp_path)
    assert r.ran == set() and r.run_dir is None  # a run with nothing to do leaves no run directory
    assert "temp() outputs were removed" in ok(tmp_path, "--why", "left.txt", "-v").out
    assert not (tmp_path / "mid.txt").exists()
    assert sorted((tmp_path / "ledger.txt").read_text().split()) == ["left", "mid", "right"]


def test_removed_temp_output_is_rebuilt_when_a_consumer_needs_it(tmp_path: Path):
    pipefile(tmp_path, TEMP_CHAIN)
    write(tmp_path / "src.txt", "b\na\n")
    write(tmp_path / "extra.txt", "x\n")
    ok(tmp_path)
    (tmp_path / "ledger.txt").unlink()
    write(tmp_path / "extra.txt", "y\n")
    plan = ok(tmp_path, "-n").out.splitlines()
    assert plan[:2] == ["mid: temp output mid.txt was removed; right needs it", "right: input extra.txt changed (content)"]
    assert ok(tmp_path).ran == {"mid", "right"}
    assert (tmp_path / "right.txt").read_text() == "a\nb\ny\n"
    assert not (tmp_path / "mid.txt").exists()  # every consumer is done (left was up to date)
    # an input change upstream of the temp file reruns the whole chain
    write(tmp_path / "src.txt", "c\na\n")
    assert ok(tmp_path).ran == {"mid", "left", "right"}
    assert (tmp_path / "left.txt").read_text() == "a\nc\n"
    # the same bytes again: the temp file is rebuilt, its consumers are not (early cutoff)
    write(tmp_path / "src.txt", "a\nc\n")
    assert ok(tmp_path).ran == {"mid"}
    assert not (tmp_path / "mid.txt").exists()
    # a consumer's output removed: rebuilt from a rebuilt temp file
    (tmp_path / "left.txt").unlink()
    assert ok(tmp_path).ran == {"mid", "left"}
    assert (tmp_path / "left.txt").read_text() == "a\nc\n"
    assert ok(tmp_path).ran == set()


def test_temp_output_kept_when_a_consumer_fails(tmp_path: Path):
    pipefile(tmp_path, """
        default: all

        rule all:
            input: "left.txt", "right.txt"

        rule mid:
            output: temp("mid.txt")
            shell: echo mid > {output}

        rule left:
            output: "left.txt"
            input: "mid.txt"
            shell: cp {input} {output}

        rule right:
            output: "right.txt"
            input: "mid.txt"
            shell: exit 1
    """)
    r = pyrule(tmp_path, "-k")
    assert r.rc == 1
    assert (tmp_path / "mid.txt").exists()  # still needed by the failed consumer


def test_protected_output_is_read_only_and_can_be_rebuilt(tmp_path: Path):
    pipefile(tmp_path, """
        rule keep:
            output: protected("precious.txt")
            shell: echo gold > {output}
    """)
    ok(tmp_path)
    mode = os.stat(tmp_path / "precious.txt").st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert pyrule(tmp_path, "-B").rc == 2  # would rewrite it: refused unless told so
    assert ok(tmp_path, "-B", "--overwrite-protected").ran == {"keep"}
    assert not os.stat(tmp_path / "precious.txt").st_mode & stat.S_IWUSR
    assert ok(tmp_path).ran == set()


def test_directory_output_is_one_output(tmp_path: Path):
    pipefile(tmp_path, """
        default: total.txt

        rule split:
            output: directory("parts")
            input: "in.txt"
            shell:
                mkdir -p {output}/sub
                cp {input} {output}/a.txt
                echo b > {output}/sub/b.txt

        rule total:
            output: "total.txt"
            input: "parts"
            shell: cat {input}/a.txt {input}/sub/b.txt > {output}
    """)
    write(tmp_path / "in.txt", "a\n")
    r = ok(tmp_path)
    assert r.ran == {"split", "total"}
    assert (tmp_path / "total.txt").read_text() == "a\nb\n"
    assert ok(tmp_path).ran == set()
    write(tmp_path / "in.txt", "A\n")
    assert ok(tmp_path).ran == {"split", "total"}
    assert (tmp_path / "total.txt").read_text() == "A\nb\n"
    # a stray file in the directory is removed with it when the job reruns
    write(tmp_path / "parts" / "stray.txt", "x")
    ok(tmp_path, "--force", "split")
    assert not (tmp_path / "parts" / "stray.txt").exists()


def test_failed_directory_output_is_removed(tmp_path: Path):
    pipefile(tmp_path, """
        rule split:
            output: directory("parts")
            shell:
                mkdir -p {output}
                echo a > {output}/a.txt
                exit 1
    """)
    assert pyrule(tmp_path).rc == 1
    assert not (tmp_path / "parts").exists()


def test_python_body_with_shell_and_report(tmp_path: Path):
    pipefile(tmp_path, """
        import json

        SAMPLES = ["a", "b"]
        default: summary.json

        rule count:
            output: "counts/{s}.txt"
            input: "reads/{s}.txt"
            shell: wc -l < {input} > {output}

        rule summarize:
            output: "summary.json"
            input: expand("counts/{s}.txt", s=SAMPLES)
            python:
                rows = {path: int(open(path).read()) for path in input}
                json.dump(rows, open(output[0], "w"))
                shell("echo from-shell {input[0]} > side.txt")
                report("samples", len(rows))
                report("total_lines", sum(rows.values()))
    """)
    write(tmp_path / "reads" / "a.txt", "1\n2\n3\n")
    write(tmp_path / "reads" / "b.txt", "1\n")
    r = ok(tmp_path)
    assert r.ran == {"count[s=a]", "count[s=b]", "summarize"}
    assert (tmp_path / "side.txt").read_text() == "from-shell counts/a.txt\n"
    assert (tmp_path / "summary.json").read_text() == '{"counts/a.txt": 3, "counts/b.txt": 1}'
    assert r.jobs()["summarize"]["reported"] == {"samples": "2", "total_lines": "4"}
    with open(Path(r.run_dir) / "stats.tsv", newline="") as f:
        rows = {row["job"]: row for row in csv.DictReader(f, delimiter="\t")}
    assert rows["summarize"]["samples"] == "2"
    assert rows["summarize"]["total_lines"] == "4"
    assert rows["count[s=a]"]["samples"] == ""


def test_python_body_exception_fails_the_job_with_traceback(tmp_path: Path):
    pipefile(tmp_path, """
        rule boom:
            output: "boom.txt"
            python:
                def check():
                    raise ValueError("no good")
                open(output[0], "w").write("partial")
                check()
    """)
    r = pyrule(tmp_path)
    assert r.rc == 1
    assert "ValueError: no good" in r.err
    # the traceback names Pipefile lines, in the body and in a function it defines
    assert 'File "Pipefile", line 7, in <module>' in r.err and 'File "Pipefile", line 5, in check' in r.err
    assert not (tmp_path / "boom.txt").exists()


def test_shell_body_reports_through_env_file(tmp_path: Path):
    pipefile(tmp_path, """
        rule count:
            output: "n.txt"
            shell:
                echo 42 > {output}
                printf 'lines\\t%s\\n' 42 >> "$PYRULE_REPORT"
                printf 'tool\\tv1.2\\n' >> "$PYRULE_REPORT"
    """)
    r = ok(tmp_path)
    assert r.jobs()["count"]["reported"] == {"lines": "42", "tool": "v1.2"}
    with open(Path(r.run_dir) / "stats.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert rows[0]["lines"] == "42" and rows[0]["tool"] == "v1.2"
