"""A gather rule (a phony rule without a body, like `all`) is only as done as its inputs: when
one of them failed, is missing or was skipped, --status, --dag, the run's record (stats, hence
the report) and -n say so instead of "up to date"."""

from __future__ import annotations

import json
import re

GATHER = """
rule all:
    input: "a.txt", "b.txt"

rule make:
    output: "{x}.txt"
    shell: test {wildcards.x} != b && echo hi > {output}
"""


def _last_stats(project) -> dict[str, dict]:
    latest = sorted((project / ".pyrule" / "runs").glob("*/stats.json"))[-1]
    return {j["job"]: j for j in json.loads(latest.read_text())["jobs"]}


def test_gather_whose_input_failed_is_not_recorded_up_to_date(project):
    project.pipefile(GATHER)
    rc, _, _ = project.run("-k")
    assert rc == 1
    jobs = _last_stats(project)
    assert jobs["make[x=b]"]["status"] == "failed"
    assert jobs["all"]["status"] == "skipped", jobs["all"]
    assert "make[x=b]" in jobs["all"]["reason"]
    # the HTML report is drawn from that record
    rc, _, err = project.run("--report", "r.html")
    assert rc == 0, err
    html = (project / "r.html").read_text()
    row = re.search(r'<tr id="[^"]*"( class="[^"]*")? data-job="all">', html)
    assert row is not None and row.group(1) == ' class="st-skipped"', row and row.group(0)


def test_gather_whose_input_failed_shows_in_status_and_dag(project):
    project.pipefile(GATHER)
    assert project.run("-k")[0] == 1
    rc, out, err = project.run("--status")
    assert rc == 0, err
    status = dict(line.split(": ", 1) for line in out.splitlines())
    assert status["all"].startswith("not built: input b.txt failed in the last run"), status["all"]
    rc, out, err = project.run("--dag", "json")
    nodes = {n["id"]: n for n in json.loads(out)["nodes"]}
    assert nodes["all"]["status"] == "stale", nodes["all"]
    assert "make[x=b]" in nodes["all"]["reason"]
    rc, out, _ = project.run("--dag", "dot")
    assert '"all" [class="stale"' in out


def test_gather_whose_input_is_missing(project):
    project.pipefile(GATHER.replace("test {wildcards.x} != b && ", ""))
    assert project.run()[0] == 0
    (project / "b.txt").unlink()
    rc, out, _ = project.run("--status")
    status = dict(line.split(": ", 1) for line in out.splitlines())
    assert status["all"] == "not built: input b.txt missing", status["all"]
    # -n lists the jobs to run; the gather is implied by them (as before), but --why tells
    assert project.dry() == ["make[x=b]: output b.txt missing"]
    rc, out, _ = project.run("--why", "all")
    assert out.splitlines()[0] == "all will run: upstream make[x=b] will run"
    # once built again, the gather is up to date: in the record and in --status
    assert project.run()[0] == 0
    assert _last_stats(project)["all"]["status"] == "up-to-date"
    rc, out, _ = project.run("--status")
    assert "all: up to date" in out.splitlines()


def test_gather_skipped_after_a_failure_upstream(project):
    project.pipefile("""
        rule all:
            input: "c.txt"

        rule c:
            output: "c.txt"
            input: "b.txt"
            shell: cp {input} {output}

        rule b:
            output: "b.txt"
            shell: exit 1
    """)
    assert project.run()[0] == 1
    jobs = _last_stats(project)
    assert jobs["c"]["status"] == "skipped" and jobs["all"]["status"] == "skipped", jobs
    rc, out, _ = project.run("--status")
    status = dict(line.split(": ", 1) for line in out.splitlines())
    assert status["all"].startswith("not built: input c.txt"), status["all"]
