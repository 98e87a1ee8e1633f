"""Key/values a job reports (`report(key, value)`, `$PYRULE_REPORT`) stay with the job's record
until it reruns (issue 20): a later run that finds the job up to date still shows them, in its
stats (stats.json, `pyrule --stats`) and in the HTML report; a rerun replaces them; a failed
rerun removes them with the outputs they described."""

from __future__ import annotations

from harness import ok, pipefile, pyrule, write

PIPE = """
    default: sum.txt other.txt

    rule total:
        output: "sum.txt"
        input: "data.txt"
        python:
            n = sum(int(x) for x in open(input[0]).read().split())
            open(output[0], "w").write(str(n))
            report("total", n)
            report("flavour", "{FLAVOUR}")
            {TAIL}

    rule other:
        output: "other.txt"
        input: "other.in"
        shell: cp {{input}} {{output}}
"""


def _pipe(d, flavour: str, tail: str = "pass") -> None:
    pipefile(d, PIPE.format(FLAVOUR=flavour, TAIL=tail))


def _stats_line(d, job: str) -> str:
    out = ok(d, "--stats").out
    lines = [ln for ln in out.splitlines() if ln.startswith(job + " ")]
    assert len(lines) == 1, out
    return lines[0]


def _report_html(d) -> str:
    ok(d, "--report", "r.html")
    return (d / "r.html").read_text(encoding="utf-8")


def test_reported_values_outlive_the_run_that_ran_the_job(tmp_path):
    write(tmp_path / "data.txt", "1 2 3\n")
    write(tmp_path / "other.in", "x\n")
    _pipe(tmp_path, "salty")
    first = ok(tmp_path)
    assert first.ran == {"total", "other"}
    assert first.jobs()["total"]["reported"] == {"total": "6", "flavour": "salty"}

    # Nothing to do: the values are still what --stats and the report show.
    ok(tmp_path)
    assert "flavour=salty total=6" in _stats_line(tmp_path, "total")
    assert ">salty<" in _report_html(tmp_path)

    # Another job runs; `total` is up to date in this run, and its values are in this run's stats.
    write(tmp_path / "other.in", "y\n")
    second = ok(tmp_path)
    assert second.ran == {"other"}
    job = second.jobs()["total"]
    assert job["status"] == "up-to-date"
    assert job["reported"] == {"total": "6", "flavour": "salty"}
    line = _stats_line(tmp_path, "total")
    assert "up-to-date" in line and "flavour=salty total=6" in line
    html = _report_html(tmp_path)
    assert ">salty<" in html and 'title="reported by the job: click to sort">flavour<' in html

    # The body changes: the job reruns and its new values replace the old ones.
    _pipe(tmp_path, "sweet")
    third = ok(tmp_path)
    assert third.ran == {"total"}
    assert third.jobs()["total"]["reported"] == {"total": "6", "flavour": "sweet"}
    write(tmp_path / "other.in", "z\n")
    fourth = ok(tmp_path)
    assert fourth.jobs()["total"]["reported"] == {"total": "6", "flavour": "sweet"}
    html = _report_html(tmp_path)
    assert ">sweet<" in html and "salty" not in html


def test_a_rerun_that_reports_fewer_keys_drops_the_others(tmp_path):
    write(tmp_path / "data.txt", "4\n")
    write(tmp_path / "other.in", "x\n")
    _pipe(tmp_path, "salty", 'report("extra", 1)')
    assert ok(tmp_path).jobs()["total"]["reported"] == {"total": "4", "flavour": "salty", "extra": "1"}
    _pipe(tmp_path, "salty")
    assert ok(tmp_path).jobs()["total"]["reported"] == {"total": "4", "flavour": "salty"}
    write(tmp_path / "other.in", "y\n")
    assert ok(tmp_path).jobs()["total"]["reported"] == {"total": "4", "flavour": "salty"}


def test_a_failed_rerun_leaves_no_stale_values(tmp_path):
    write(tmp_path / "data.txt", "1 2\n")
    write(tmp_path / "other.in", "x\n")
    _pipe(tmp_path, "salty")
    ok(tmp_path)
    # The rerun fails after reporting: its run shows what the failed attempt reported, as failed.
    _pipe(tmp_path, "bitter", 'raise SystemExit("broken")')
    failed = pyrule(tmp_path)
    assert failed.rc == 1, str(failed)
    job = failed.jobs()["total"]
    assert job["status"] == "failed" and job["reported"] == {"total": "3", "flavour": "bitter"}
    assert "failed" in _stats_line(tmp_path, "total")
    # The failure removed the outputs the old values described, and the values with them: the
    # output made again by hand and marked up to date (--touch) has no values from the old run.
    write(tmp_path / "sum.txt", "3")
    ok(tmp_path, "--touch", "sum.txt")
    write(tmp_path / "other.in", "y\n")
    later = ok(tmp_path)
    job = later.jobs()["total"]
    assert job["status"] == "up-to-date" and job["reported"] == {}, job
    assert "salty" not in _stats_line(tmp_path, "total")
    html = _report_html(tmp_path)
    assert "salty" not in html and "bitter" not in html


def test_shell_reports_persist_too(tmp_path):
    write(tmp_path / "in.txt", "x\n")
    write(tmp_path / "b.in", "x\n")
    pipefile(tmp_path, """
        default: out.txt b.txt

        rule a:
            output: "out.txt"
            input: "in.txt"
            shell: cp {input} {output}; printf 'lines\\t%s\\n' "$(wc -l < {input})" >> "$PYRULE_REPORT"

        rule b:
            output: "b.txt"
            input: "b.in"
            shell: cp {input} {output}
    """)
    assert ok(tmp_path).jobs()["a"]["reported"] == {"lines": "1"}
    write(tmp_path / "b.in", "y\n")
    r = ok(tmp_path)
    assert r.ran == {"b"} and r.jobs()["a"]["reported"] == {"lines": "1"}
