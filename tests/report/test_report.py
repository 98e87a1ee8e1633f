"""The HTML report and `--dag svg|png` without a browser: escaping, collapsing, the layout,
lanes and critical path, and the command line (real `pyrule` runs in temporary directories)."""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pyrule.report import COLLAPSE_ABOVE, render_report, write_report
from pyrule.report.layout import NODE_H, layout
from pyrule.report.timeline import critical_path, lanes

SVG = "{http://www.w3.org/2000/svg}"
NASTY = '<b>&"x"'


class _Tags(HTMLParser):
    """Start tags and text of an HTML document (inside <script>/<style> excluded from text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


def svgs(html: str, cls: str) -> list[ET.Element]:
    """The inline SVG drawings of class `cls`, parsed as XML (so badly escaped text would fail)."""
    return [ET.fromstring(m) for m in re.findall(rf'<svg [^>]*class="{cls}".*?</svg>', html, re.S)]


def job(name: str, rule: str = "r", status: str = "ran", deps=(), start: float | None = 100.0,
        end: float | None = 101.0, **kw) -> dict:
    timed = status in ("ran", "failed")
    d = {"rule": rule, "job": name, "status": status, "reason": kw.pop("reason", "output missing"),
         "start": start if timed else None, "end": end if timed else None,
         "wall_s": (end - start) if timed and start and end else 0.0, "cpu_s": 0.1 if timed else 0.0,
         "peak_rss_bytes": 10_000_000 if timed else 0, "exit_code": (1 if status == "failed" else 0) if timed else None,
         "attempts": 1 if timed else 0, "reported": {}, "log": None, "inputs": [], "outputs": [f"out/{name}"],
         "deps": list(deps), "resources": {"cores": 1, "mem": 100 * 2**20}}
    d.update(kw)
    return d


def doc(jobs: list[dict], **kw) -> dict:
    d = {"run_id": "20260101-000000-1", "pyrule_version": "0.1.0", "argv": ["-j", "2"], "pipefile_hash": "abc",
         "status": "ok", "wall_s": 1.0, "start": 100.0, "end": 102.0,
         "totals": {s: sum(j["status"] == s for j in jobs) for s in ("ran", "up-to-date", "failed", "skipped")},
         "jobs": jobs}
    d.update(kw)
    return d


# --- escaping ----------------------------------------------------------------------------------


def test_a_job_named_with_markup_is_escaped_everywhere():
    jobs = [job(NASTY, rule="r", reported={NASTY: NASTY}, reason=NASTY, log=NASTY),
            job("after", rule="s", deps=[NASTY], start=101.0, end=102.0),
            job("gather", rule="all", status="up-to-date", deps=["after"])]
    html = render_report(doc(jobs, argv=[NASTY, "-j", "2"], run_id=NASTY, pipefile_hash=NASTY))
    assert NASTY not in html  # never verbatim: always as &lt;b&gt;&amp;&quot;x&quot;
    page = parse(html)
    assert "b" not in page.tags
    text = "".join(page.text)
    assert text.count(NASTY) >= 4  # the job table's name, reason, reported key and value, ...
    # the drawings are well-formed XML with the name as text and as attribute values
    graph = svgs(html, "pr-graph")[0]
    assert NASTY in {g.get("data-id") for g in graph.iter(f"{SVG}g") if g.get("class") == "node"}
    timeline = svgs(html, "pr-timeline")[0]
    assert NASTY in {g.get("data-job") for g in timeline.iter(f"{SVG}g") if g.get("class", "").startswith("bar")}


def test_log_tail_is_capped_escaped_and_read_when_the_report_is_made(tmp_path: Path):
    run_dir = tmp_path / ".pyrule" / "runs" / "R1"
    run_dir.mkdir(parents=True)
    log = tmp_path / "logs" / "bad.log"
    log.parent.mkdir()
    log.write_text("".join(f"line-{i:03d} <script>alert({i})</script> \x1b[31mred\x1b[0m\n" for i in range(80)))
    jobs = [job("bad", status="failed", log="logs/bad.log", reason="exit code 1")]
    (run_dir / "stats.json").write_text(json.dumps(doc(jobs, status="failed")))
    out = tmp_path / "r.html"
    write_report(str(run_dir), str(out))
    html = out.read_text()
    tail = re.search(r'<pre class="logtail">(.*?)</pre>', html, re.S).group(1)
    assert len(tail.split("\n")) == 50
    assert "line-030" in tail and "line-079" in tail and "line-029" not in tail
    assert "&lt;script&gt;alert(79)&lt;/script&gt;" in tail
    assert "\x1b" not in html  # terminal colours removed
    assert parse(html).tags.count("script") == 1  # only the report's own


# --- the graph ---------------------------------------------------------------------------------


def _chain_jobs(n: int) -> list[dict]:
    """n jobs: (n - 1) // 2 pairs a[i] -> b[i], then `all` on every b (and one more a if n is even)."""
    jobs, k = [], 0
    while len(jobs) + 2 <= n - 1:
        jobs += [job(f"a[i={k}]", "a"), job(f"b[i={k}]", "b", deps=[f"a[i={k}]"])]
        k += 1
    while len(jobs) < n - 1:
        jobs.append(job(f"a[i={k}]", "a"))
        k += 1
    jobs.append(job("all", "all", status="up-to-date", deps=[j["job"] for j in jobs if j["rule"] == "b"]))
    return jobs


@pytest.mark.parametrize("n, collapsed", [(COLLAPSE_ABOVE, False), (COLLAPSE_ABOVE + 1, True)])
def test_graph_collapses_to_rules_above_the_threshold(n: int, collapsed: bool):
    jobs = _chain_jobs(n)
    assert len(jobs) == n
    html = render_report(doc(jobs))
    assert f'data-collapsed="{"true" if collapsed else "false"}"' in html
    graph = svgs(html, "pr-graph")[0]
    nodes = [g for g in graph.iter(f"{SVG}g") if g.get("class") == "node"]
    if collapsed:
        assert sorted(g.get("data-id") for g in nodes) == ["a", "all", "b"]
        labels = {"".join(g.itertext()).split("\n")[-1] for g in nodes}
        assert any(label.endswith(f"×{sum(j['rule'] == 'a' for j in jobs)}") for label in labels)
    else:
        assert len(nodes) == n
    # every job is in the table either way
    assert len(re.findall(r'<tr id="job-\d+"', html)) == n


def test_graph_nodes_link_to_their_rows():
    jobs = _chain_jobs(7)
    html = render_report(doc(jobs))
    rows = dict(re.findall(r'<tr id="(job-\d+)"[^>]*data-job="([^"]*)"', html))
    graph = svgs(html, "pr-graph")[0]
    for g in graph.iter(f"{SVG}g"):
        if g.get("class") == "node":
            a = g.find(f"{SVG}a")
            assert rows[a.get("href")[1:]] == g.get("data-id")


def test_layout_layers_and_gaps():
    ids = ["a", "b", "c", "d", "e", "f"]
    edges = [("a", "c"), ("b", "c"), ("c", "d"), ("a", "e"), ("d", "f"), ("e", "f")]
    lay = layout(ids, edges, {n: 60.0 for n in ids})
    for a, b in edges:  # dependencies above
        assert lay.nodes[a].y < lay.nodes[b].y
    assert lay.nodes["a"].layer == 0 and lay.nodes["f"].layer == 3  # longest path
    by_layer: dict[int, list] = {}
    for p in lay.nodes.values():
        by_layer.setdefault(p.layer, []).append(p)
    for ps in by_layer.values():  # no overlap within a layer
        ps.sort(key=lambda p: p.x)
        for p, q in zip(ps, ps[1:]):
            assert q.x - q.width / 2 >= p.x + p.width / 2
    assert lay.crossings == 0
    # the long edge a -> e bends through its dummy, the others are direct
    pts = {(a, b): p for a, b, p in lay.edges}
    assert len(pts[("a", "c")]) == 2 and pts[("a", "c")][0][1] == lay.nodes["a"].y + NODE_H / 2


def test_barycentric_ordering_removes_crossings():
    # given in an order that crosses every edge: tops 0..4, bottoms reversed
    tops = [f"t{i}" for i in range(5)]
    bottoms = [f"b{i}" for i in range(5)][::-1]
    lay = layout(tops + bottoms, [(f"t{i}", f"b{i}") for i in range(5)])
    assert lay.crossings == 0


# --- timeline ----------------------------------------------------------------------------------


def test_lanes_are_greedy_by_start_and_never_overlap():
    jobs = [job("a", start=0.0, end=3.0), job("b", start=0.5, end=1.0), job("c", start=1.0, end=2.0),
            job("d", start=1.5, end=4.0), job("e", start=3.0, end=5.0)]
    lane = lanes(jobs)
    assert lane == {"a": 0, "b": 1, "c": 1, "d": 2, "e": 0}


def test_critical_path_follows_the_dependency_that_ended_last_through_jobs_that_did_not_run():
    jobs = [job("x", start=0.0, end=1.0), job("y", start=0.0, end=2.0), job("z", start=0.0, end=0.5),
            job("gate", status="up-to-date", deps=["x", "y"]),
            job("m", deps=["gate", "z"], start=2.0, end=3.0), job("other", start=0.0, end=2.5)]
    assert critical_path(jobs) == ["y", "m"]


def test_one_timeline_bar_per_job_that_ran():
    jobs = _chain_jobs(9) + [job("skipme", "b", status="skipped")]
    html = render_report(doc(jobs))
    bars = [g for g in svgs(html, "pr-timeline")[0].iter(f"{SVG}g") if g.get("class", "").startswith("bar")]
    assert sorted(g.get("data-job") for g in bars) == sorted(j["job"] for j in jobs if j["status"] == "ran")


# --- the command line --------------------------------------------------------------------------

PIPE = """\
rule all:
    input: expand("out/{i}.txt", i=range(3))
rule make:
    output: "out/{i}.txt"
    resources: mem = "100M"
    shell: echo {wildcards.i} > {output}
"""


def test_report_without_any_run_is_a_clear_usage_error(project):
    err = project.error("--report")
    assert "no recorded run" in err and "run pyrule first" in err
    project.pipefile(PIPE)  # with a Pipefile too: still nothing recorded
    err = project.error("--report", "x.html")
    assert "run pyrule first" in err
    assert not (project / "x.html").exists()


def test_report_of_the_last_run_and_of_another(project):
    project.pipefile(PIPE)
    rc, _, err = project.run("-j", "2")
    assert rc == 0, err
    first = os.listdir(project / ".pyrule" / "runs")
    rc, _, err = project.run("-B", "-j", "2")
    assert rc == 0, err
    runs = sorted(os.listdir(project / ".pyrule" / "runs"))
    assert len(runs) == 2
    rc, _, err = project.run("--report")
    assert rc == 0, err
    assert runs[1] in (project / "pyrule-report.html").read_text()
    assert "written to pyrule-report.html" in err
    rc, _, err = project.run("--report", "sub/old.html", "--run", first[0])
    assert rc == 0, err
    old = (project / "sub" / "old.html").read_text()
    assert first[0] in old and "-B" not in old.split("<main>")[1].split("</dl>")[0]
    err = project.error("--report", "--run", "nope")
    assert "--run nope" in err and runs[1] in err
    # from a subdirectory, the runs of the project above are found (as a run would find its Pipefile)
    (project / "deeper").mkdir()
    rc, _, err = project.run("--report", "here.html", cwd=project / "deeper")
    assert rc == 0, err
    assert (project / "deeper" / "here.html").exists()


def test_report_does_not_need_a_valid_pipefile(project):
    project.pipefile(PIPE)
    assert project.run("-j", "2")[0] == 0
    project.pipefile("rule broken:\n    output: 'x\n")
    rc, _, err = project.run("--report", "r.html")
    assert rc == 0, err


def test_dag_svg_is_valid_xml_with_current_status(project):
    project.pipefile(PIPE)
    rc, out, err = project.run("--dag", "svg")
    assert rc == 0, err
    root = ET.fromstring(out.encode("utf-8"))
    nodes = {g.get("data-id"): g.get("data-status") for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    # `all` (no body, no outputs) is whatever the dry run decides for it; the makes would run
    assert set(nodes) == {"make[i=0]", "make[i=1]", "make[i=2]", "all"}
    assert [nodes[f"make[i={i}]"] for i in range(3)] == ["stale"] * 3
    assert project.run("-j", "2")[0] == 0
    (project / "out" / "1.txt").unlink()
    rc, out, err = project.run("--dag", "svg")
    root = ET.fromstring(out.encode("utf-8"))
    nodes = {g.get("data-id"): g.get("data-status") for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    assert nodes["make[i=0]"] == "up-to-date" and nodes["make[i=1]"] == "stale"


def test_dag_text_formats_carry_the_status(project):
    project.pipefile(PIPE)
    assert project.run("-j", "2")[0] == 0
    (project / "out" / "2.txt").unlink()
    rc, out, _ = project.run("--dag", "json")
    status = {n["id"]: n["status"] for n in json.loads(out)["nodes"]}
    assert status["make[i=0]"] == "up-to-date" and status["make[i=2]"] == "stale"
    rc, out, _ = project.run("--dag")
    assert re.search(r'"make\[i=2\]" \[class="stale"', out) and re.search(r'"make\[i=0\]" \[class="up-to-date"', out)
    rc, out, _ = project.run("--dag", "mermaid")
    assert "classDef stale" in out and re.search(r"class (j\d+,)*j2(,j\d+)* stale", out)


def test_dag_png_without_graphviz_is_a_clear_error(project, tmp_path: Path):
    project.pipefile(PIPE)
    empty = tmp_path / "no-dot-here"
    empty.mkdir()
    rc, out, err = project.run("--dag", "png", env={"PATH": str(empty)})
    assert rc == 2, err
    assert "Graphviz" in err and "not installed" in err and "--dag svg" in err
    assert "Traceback" not in err and out == ""


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_dag_png_with_graphviz(project):
    import subprocess
    import sys

    project.pipefile(PIPE)
    proc = subprocess.run([sys.executable, "-m", "pyrule", "--dag", "png"], cwd=project.root, capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"\x89PNG\r\n\x1a\n")
