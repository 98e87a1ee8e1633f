"""What pyrule prints and writes for people and programs, checked exactly: `--status`, `--stats`,
`--stats RULE`, `--dag` in each format and the data of the HTML report. The real `pyrule`
command on a real project; figures that depend on timing are matched by pattern, or taken
from recorded runs written here with known numbers."""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from harness import ok, pipefile, pyrule, write

PIPEFILE = """
    default: all

    rule all:
        input: "out/a.txt", "out/b.txt", "sum.txt"

    rule make:
        output: "out/{s}.txt"
        input: "in/{s}.txt"
        shell:
            test {wildcards.s} != b || exit 1
            cat {input} > {output}
            printf 'lines\\t1\\n' >> $PYRULE_REPORT

    rule summary:
        output: "sum.txt"
        input: "in/a.txt"
        shell:
            wc -l < {input} > {output}
"""

JOBS = ["make[s=a]", "make[s=b]", "summary", "all"]
EDGES = {("make[s=a]", "all"), ("make[s=b]", "all"), ("summary", "all")}


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """make[s=b] fails; a -k run leaves make[s=a] and summary built."""
    pipefile(tmp_path, PIPEFILE)
    write(tmp_path / "in/a.txt", "a\n")
    write(tmp_path / "in/b.txt", "b\n")
    return tmp_path


def failed_run(d: Path):
    r = pyrule(d, "-k")
    assert r.rc == 1, r
    assert r.ran == {"make[s=a]", "summary"} and r.with_status("failed") == {"make[s=b]"}, r
    return r


def out(d: Path, *args: str) -> str:
    r = ok(d, *args)
    return r.out


# --- --status ----------------------------------------------------------------------------------

def test_status_before_anything_was_built(proj: Path):
    assert out(proj, "--status").splitlines() == [
        "out/a.txt (make[s=a]): missing (output out/a.txt missing)",
        "out/b.txt (make[s=b]): missing (output out/b.txt missing)",
        "sum.txt (summary): missing (output sum.txt missing)",
        "all: not built: input out/a.txt missing",
    ]


def test_status_after_a_failed_run_and_a_change(proj: Path):
    failed_run(proj)
    assert out(proj, "--status").splitlines() == [
        "out/a.txt (make[s=a]): up to date",
        "out/b.txt (make[s=b]): failed in the last run (exit code 1); stale: output out/b.txt missing",
        "sum.txt (summary): up to date",
        "all: not built: input out/b.txt failed in the last run (make[s=b]: exit code 1)",
    ]
    write(proj / "in/a.txt", "a2\n")
    assert out(proj, "--status").splitlines() == [
        "out/a.txt (make[s=a]): stale: input in/a.txt changed (content)",
        "out/b.txt (make[s=b]): failed in the last run (exit code 1); stale: output out/b.txt missing",
        "sum.txt (summary): stale: input in/a.txt changed (content)",
        "all: not built: input out/a.txt is stale (make[s=a]: input in/a.txt changed (content))",
    ]


def test_status_all_up_to_date(proj: Path):
    (proj / "Pipefile").write_text((proj / "Pipefile").read_text().replace("test {wildcards.s} != b || exit 1", "true"))
    ok(proj)
    assert out(proj, "--status").splitlines() == [
        "out/a.txt (make[s=a]): up to date",
        "out/b.txt (make[s=b]): up to date",
        "sum.txt (summary): up to date",
        "all: up to date",
    ]


# --- --stats -----------------------------------------------------------------------------------

T = r"\d+\.\d\ds"  # a time as --stats writes it (0.01s)
# a shell job's peak memory as --stats writes it (measured however short: the spawner), with its bar
PEAK = r"\d+(\.\d)?[KMG] [█▏▎▍▌▋▊▉ ]+"


def test_stats_of_the_last_run(proj: Path):
    r = failed_run(proj)
    lines = out(proj, "--stats").splitlines()
    run_id = os.path.basename(r.run_dir)
    assert re.fullmatch(rf"run {re.escape(run_id)}: failed, 2 ran, 1 failed, 1 skipped, wall {T}, "
                        r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", lines[0]), lines[0]
    assert lines[1].split() == ["job", "status", "wall", "cpu", "peak", "mem", "exit", "attempts", "reported"]
    rows = {ln.split()[0]: ln for ln in lines[2:]}
    assert list(rows) == [j["job"] for j in r.stats()["jobs"]]
    assert set(rows) == set(JOBS)
    assert re.fullmatch(rf"make\[s=a\] +ran +{T} [█▏▎▍▌▋▊▉ ]+ +{T} +{PEAK} +0 +1  lines=1", rows["make[s=a]"])
    assert re.fullmatch(rf"make\[s=b\] +failed +{T} [█▏▎▍▌▋▊▉ ]+ +{T} +{PEAK} +1 +1", rows["make[s=b]"])
    assert re.fullmatch(rf"summary +ran +{T} [█▏▎▍▌▋▊▉ ]+ +{T} +{PEAK} +0 +1", rows["summary"])
    assert re.fullmatch(r"all +skipped", rows["all"])
    # columns line up: every value of "exit" ends where its header does
    end = lines[1].index("exit") + len("exit")
    assert all(rows[j][end - 1] in "01" for j in ("make[s=a]", "make[s=b]", "summary"))


def _recorded(d: Path, run_id: str, jobs: dict[str, tuple[str, float, int]], template: dict) -> None:
    """Write a recorded run with known figures: job -> (status, wall_s, peak_rss_bytes)."""
    doc = json.loads(json.dumps(template))
    doc["run_id"] = run_id
    doc["jobs"] = []
    for j in template["jobs"]:
        if j["job"] in jobs:
            status, wall, peak = jobs[j["job"]]
            doc["jobs"].append({**j, "status": status, "wall_s": wall, "peak_rss_bytes": peak,
                                "exit_code": 0 if status == "ran" else 1})
    os.makedirs(d / ".pyrule/runs" / run_id)
    (d / ".pyrule/runs" / run_id / "stats.json").write_text(json.dumps(doc))


def test_stats_of_a_rule_across_runs(proj: Path):
    r = failed_run(proj)
    template = r.stats()
    shutil.rmtree(proj / ".pyrule/runs")
    mib = 1 << 20
    _recorded(proj, "20990101-000001", {"make[s=a]": ("ran", 1.0, 100 * mib), "make[s=b]": ("ran", 3.0, 0)}, template)
    _recorded(proj, "20990101-000002", {"make[s=a]": ("ran", 2.0, 0), "make[s=b]": ("failed", 9.0, 0)}, template)
    _recorded(proj, "20990101-000003", {"summary": ("ran", 70.0, 0)}, template)
    assert out(proj, "--stats", "make").splitlines() == [
        "rule make: 4 job run(s) in 2 of 3 recorded run(s), 1 failed",
        "  wall:        mean 2.00s, max 3.00s",
        "  peak memory: mean 100.0M, max 100.0M",
        "run              jobs  failed  mean wall  max wall  mean peak mem  max peak mem",
        "20990101-000001     2       0      2.00s     3.00s         100.0M        100.0M",
        "20990101-000002     2       1      2.00s     2.00s              —             —",
    ]
    assert out(proj, "--stats", "summary").splitlines() == [
        "rule summary: 1 job run(s) in 1 of 3 recorded run(s)",
        "  wall:        mean 1m10.0s, max 1m10.0s",
        "  peak memory: —",
        "run              jobs  failed  mean wall  max wall  mean peak mem  max peak mem",
        "20990101-000003     1       0    1m10.0s   1m10.0s              —             —",
    ]


def test_stats_of_a_rule_in_a_real_run(proj: Path):
    """(A shell job's memory is measured however short; "—" for one that is not: tests/test_stats.py.)"""
    r = failed_run(proj)
    run_id = os.path.basename(r.run_dir)
    lines = out(proj, "--stats", "summary").splitlines()
    assert lines[0] == "rule summary: 1 job run(s) in 1 of 1 recorded run(s)"
    assert re.fullmatch(rf"  wall:        mean {T}, max {T}", lines[1])
    assert re.fullmatch(r"  peak memory: mean \d+(\.\d)?[KMG], max \d+(\.\d)?[KMG]", lines[2]), lines[2]
    assert re.fullmatch(rf"{re.escape(run_id)} +1 +0 +{T} +{T} +\d+(\.\d)?[KMG] +\d+(\.\d)?[KMG]", lines[4]), lines[4]
    assert len(lines) == 5


def test_stats_of_an_unknown_rule(proj: Path):
    failed_run(proj)
    r = pyrule(proj, "--stats", "mak")
    assert r.rc != 0 and "Traceback" not in r.err
    assert "--stats mak: no recorded run ran a job of rule 'mak'" in r.err
    assert "make" in r.err  # the hint names the rule meant


# --- --dag -------------------------------------------------------------------------------------

STATUS_AFTER = {"make[s=a]": ("up-to-date", "signature unchanged since its last success"),
                "make[s=b]": ("stale", "output out/b.txt missing"),
                "summary": ("up-to-date", "signature unchanged since its last success"),
                "all": ("stale", "upstream make[s=b] will run")}


def test_dag_json(proj: Path):
    failed_run(proj)
    dag = json.loads(out(proj, "--dag", "json"))
    assert [n["id"] for n in dag["nodes"]] == JOBS
    nodes = {n["id"]: n for n in dag["nodes"]}
    assert nodes["make[s=a]"] == {"id": "make[s=a]", "rule": "make", "wildcards": {"s": "a"},
                                  "outputs": ["out/a.txt"], "inputs": ["in/a.txt"],
                                  "status": "up-to-date", "reason": "signature unchanged since its last success"}
    assert {n: (v["status"], v["reason"]) for n, v in nodes.items()} == STATUS_AFTER
    assert nodes["all"]["inputs"] == ["out/a.txt", "out/b.txt", "sum.txt"] and nodes["all"]["outputs"] == []
    assert len(dag["edges"]) == len(EDGES)
    assert {(e["from"], e["to"]) for e in dag["edges"]} == EDGES


def test_dag_dot(proj: Path):
    failed_run(proj)
    text = out(proj, "--dag", "dot")
    assert text == out(proj, "--dag")  # the default format
    assert text.splitlines() == [
        "digraph pyrule {",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fontname="sans-serif"];',
        '    "make[s=a]" [class="up-to-date", fillcolor="#ced4da", fontcolor="#212529", '
        'tooltip="up-to-date: signature unchanged since its last success"];',
        '    "make[s=b]" [class="stale", fillcolor="#1c7ed6", fontcolor="#ffffff", '
        'tooltip="stale: output out/b.txt missing"];',
        '    "summary" [class="up-to-date", fillcolor="#ced4da", fontcolor="#212529", '
        'tooltip="up-to-date: signature unchanged since its last success"];',
        '    "all" [class="stale", fillcolor="#1c7ed6", fontcolor="#ffffff", '
        'tooltip="stale: upstream make[s=b] will run"];',
        '    "make[s=a]" -> "all";',
        '    "make[s=b]" -> "all";',
        '    "summary" -> "all";',
        "}",
    ]


def test_dag_mermaid(proj: Path):
    failed_run(proj)
    assert out(proj, "--dag", "mermaid").splitlines() == [
        "flowchart TD",
        '    j0["make[s=a]"]',
        '    j1["make[s=b]"]',
        '    j2["summary"]',
        '    j3["all"]',
        "    j0 --> j3",
        "    j1 --> j3",
        "    j2 --> j3",
        "    classDef up_to_date fill:#ced4da,color:#212529",
        "    class j0,j2 up_to_date",
        "    classDef stale fill:#1c7ed6,color:#ffffff",
        "    class j1,j3 stale",
    ]


SVG = "{http://www.w3.org/2000/svg}"


def test_dag_svg(proj: Path):
    failed_run(proj)
    root = ET.fromstring(out(proj, "--dag", "svg").encode("utf-8"))  # well-formed, or this raises
    assert root.tag == SVG + "svg"
    nodes = [g for g in root.iter(SVG + "g") if g.get("class") == "node"]
    assert sorted(g.get("data-id") for g in nodes) == sorted(JOBS)  # one node per job (in layout order)
    assert len(nodes) == len(JOBS) == int(root.get("data-nodes"))
    assert {g.get("data-id"): g.get("data-status") for g in nodes} == {n: s for n, (s, _) in STATUS_AFTER.items()}
    edges = {(p.get("data-from"), p.get("data-to")) for p in root.iter(SVG + "path") if p.get("class") == "edge"}
    assert edges == EDGES
    titles = {g.get("data-id"): g.find(SVG + "title").text for g in nodes}
    assert titles["make[s=b]"].splitlines() == ["make[s=b]", "rule make", "stale (would run): output out/b.txt missing"]


# --- the HTML report's data ----------------------------------------------------------------------

class _Report(HTMLParser):
    """The jobs table (each row: data-job, class, and every cell's data-v), and the graph's nodes
    and edges, as the report embeds them."""

    def __init__(self) -> None:
        super().__init__()
        self.heads: list[str] = []
        self.rows: list[tuple[dict, list[str | None]]] = []
        self.nodes: dict[str, str] = {}
        self.edges: set[tuple[str, str]] = set()
        self._in_table = self._in_th = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "jobs":
            self._in_table = True
        elif self._in_table and tag == "th":
            self._in_th = True
            self.heads.append("")
        elif self._in_table and tag == "tr" and "data-job" in a:
            self.rows.append((a, []))
        elif self._in_table and tag == "td" and self.rows:
            self.rows[-1][1].append(a.get("data-v"))
        elif tag == "g" and a.get("class") == "node" and "data-id" in a:
            self.nodes[a["data-id"]] = a.get("data-status")
        elif tag == "path" and a.get("class") == "edge":
            self.edges.add((a["data-from"], a["data-to"]))

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag == "th":
            self._in_th = False

    def handle_data(self, data):
        if self._in_th:
            self.heads[-1] += data


def test_report_data_matches_the_runs_stats(proj: Path):
    r = failed_run(proj)
    ok(proj, "--report", "r.html")
    doc = r.stats()
    p = _Report()
    p.feed((proj / "r.html").read_text(encoding="utf-8"))
    assert p.heads == ["#", "job", "rule", "status", "reason", "start", "wall", "CPU", "peak RSS", "mem declared",
                       "cores", "exit", "attempts", "lines", "log"]
    col = {h: i for i, h in enumerate(p.heads)}
    assert [a["data-job"] for a, _ in p.rows] == [j["job"] for j in doc["jobs"]]
    assert set(p.nodes) == {j["job"] for j in doc["jobs"]}
    assert p.edges == {(dep, j["job"]) for j in doc["jobs"] for dep in j["deps"]}
    t0 = doc["start"]
    for (attrs, cells), j in zip(p.rows, doc["jobs"]):
        assert attrs["class"] == f"st-{j['status']}"
        assert p.nodes[j["job"]] == j["status"]
        assert cells[col["job"]] == j["job"] and cells[col["rule"]] == j["rule"]
        assert cells[col["status"]] == j["status"] and cells[col["reason"]] == j["reason"]
        assert cells[col["attempts"]] == str(j["attempts"])
        if j["start"] is None:  # did not run: no times
            assert cells[col["start"]] == cells[col["wall"]] == cells[col["CPU"]] == ""
            continue
        assert float(cells[col["start"]]) == pytest.approx(j["start"] - t0)
        assert float(cells[col["wall"]]) == j["wall_s"] > 0
        assert float(cells[col["CPU"]]) == j["cpu_s"]
        assert j["start"] >= t0 and j["end"] >= j["start"]
        assert cells[col["exit"]] == str(j["exit_code"])
        assert cells[col["lines"]] == ("1" if j["job"] == "make[s=a]" else "")
        assert cells[col["log"]] == (j["log"] or "")
    statuses = {j["job"]: j["status"] for j in doc["jobs"]}
    assert statuses == {"make[s=a]": "ran", "make[s=b]": "failed", "summary": "ran", "all": "skipped"}
    assert doc["totals"] == {"ran": 2, "up-to-date": 0, "failed": 1, "interrupted": 0, "skipped": 1}
    html = (proj / "r.html").read_text(encoding="utf-8")
    assert f"Run <code>{doc['run_id']}</code>" in html and 'class="status status-failed"' in html
    assert '<strong>2</strong>' in html  # ran
    assert 'id="fail-2"' in html  # make[s=b]'s failure, with its log tail


def test_jobs_not_started_after_a_failure_are_in_the_runs_data(proj: Path):
    # Without -k no new job starts after make[s=b] fails (-j1: summary is the last in line): the
    # run's data still lists every job of the graph, and the closing line counts as the first did.
    r = pyrule(proj, "-j1")
    assert r.rc == 1, r
    assert r.err.startswith("3 job(s) to run, 0 up to date\n"), r.err
    assert "FAILED: 1 ran, 0 up to date, 1 failed, 1 skipped in " in r.err, r.err
    jobs = r.jobs()
    assert set(jobs) == set(JOBS)
    assert {n: j["status"] for n, j in jobs.items()} == {
        "make[s=a]": "ran", "make[s=b]": "failed", "summary": "skipped", "all": "skipped"}
    assert jobs["summary"]["reason"] == "not started: the run stopped after a failure (-k goes on)"
    assert jobs["summary"]["start"] is None and jobs["summary"]["attempts"] == 0
    ok(proj, "--report", "r.html")
    p = _Report()
    p.feed((proj / "r.html").read_text(encoding="utf-8"))
    assert {a["data-job"] for a, _ in p.rows} == set(JOBS)
    assert re.fullmatch(r"summary +skipped", next(ln for ln in out(proj, "--stats").splitlines()
                                                 if ln.startswith("summary")))
