"""`pyrule --report`: one self-contained HTML file for a recorded run.

Everything is inline (CSS, a little JS, SVG drawn here): the file opens from disk, offline,
and makes no network request. Parts:

- header: command line, Pipefile hash, pyrule version, start/end, totals;
- the job graph laid out by pyrule (report/layout.py), or the rule graph above 300 jobs;
- the timeline of the jobs on lanes, with the critical path;
- peak memory and CPU time per rule and per job next to the declared resources;
- failures with the tail of their logs (read when the report is made);
- the sortable table of every job with every reported key/value.
"""

from __future__ import annotations

import os
import shlex
import time

from ..stats import load_stats
from . import graph as graph_mod
from . import resources, table, timeline
from .assets import CSS, JS
from .html import esc, fmt_s

__all__ = ["write_report", "render_report", "COLLAPSE_ABOVE"]

COLLAPSE_ABOVE = graph_mod.COLLAPSE_ABOVE


def write_report(run_dir: str, out_path: str) -> None:
    """Write the HTML report of the run recorded in `run_dir` (.pyrule/runs/RUN-ID) to `out_path`."""
    doc = load_stats(run_dir)
    text = render_report(doc, _project_root(run_dir))
    parent = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(parent, exist_ok=True)
    tmp = f"{out_path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, out_path)


def _project_root(run_dir: str) -> str:
    """The directory the run ran in (job logs are relative to it): the parent of .pyrule/."""
    runs = os.path.dirname(os.path.abspath(run_dir))
    state = os.path.dirname(runs)
    if os.path.basename(runs) == "runs" and os.path.basename(state) == ".pyrule":
        return os.path.dirname(state)
    return os.getcwd()


def _when(t: float | None) -> str:
    if not t:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int((t % 1) * 1000):03d}"


def render_report(doc: dict, root: str = ".") -> str:
    jobs: list[dict] = doc.get("jobs") or []
    ids = {j["job"]: f"job-{i + 1}" for i, j in enumerate(jobs)}
    hrefs = {name: f"#{i}" for name, i in ids.items()}
    rule_href: dict[str, str] = {}
    for j in jobs:
        rule_href.setdefault(j["rule"], hrefs[j["job"]])
    fail_ids = {j["job"]: f"fail-{i + 1}" for i, j in enumerate(jobs) if j["status"] == "failed"}
    t0 = doc.get("start")
    if t0 is None:
        t0 = min((j["start"] for j in jobs if j.get("start") is not None), default=None)
    run_id = doc.get("run_id", "?")

    collapsed = len(jobs) > COLLAPSE_ABOVE
    if collapsed:
        gnodes, gedges = graph_mod.rule_nodes(jobs, rule_href)
        graph_note = (f"{len(jobs)} jobs are more than a drawing can show readably (over {COLLAPSE_ABOVE}): this is "
                      f"the rule graph, {len(gnodes)} rules, each with its number of jobs and a strip with the share "
                      "of each status. Every job is in the table below.")
    else:
        gnodes, gedges = graph_mod.job_nodes(jobs, hrefs)
        graph_note = (f"{len(jobs)} job(s); each depends on the ones above it that point to it. "
                      "Click a job to see its row in the table.")
    graph_svg = graph_mod.svg(gnodes, gedges) if gnodes else '<p class="empty">The run had no jobs.</p>'

    crit = timeline.critical_path(jobs, doc.get("end"))
    nran = len(timeline.timed(jobs))
    status = doc.get("status", "?")
    totals = doc.get("totals") or {}
    argv = doc.get("argv") or []
    cmd = "pyrule" + ((" " + shlex.join(argv)) if argv else "")

    badges = "".join(
        f'<span class="total" data-status="{esc(s)}" style="border-color:{graph_mod.style(s)[0]}">'
        f'<strong>{esc(totals.get(s, 0))}</strong> {esc(graph_mod.style(s)[2])}</span>'
        for s in ("ran", "up-to-date", "failed", *(("interrupted",) if totals.get("interrupted") else ()), "skipped"))
    crit_txt = ""
    if crit:
        crit_wall = sum(next(j for j in jobs if j["job"] == c).get("wall_s") or 0 for c in crit)
        crit_txt = (f'<p class="note">Critical path (outlined, dashed line): {len(crit)} job(s), '
                    f'{esc(fmt_s(crit_wall))} of job time: {" → ".join(esc(c) for c in crit[:12])}'
                    f'{" → …" if len(crit) > 12 else ""}. It is the chain that ended last: the job that finished last, '
                    "the dependency of it that finished last, and so on.</p>")
    fail_html = table.failures(jobs, ids, fail_ids, root)
    nav = [("summary", "Summary"), ("graph", "Graph"), ("timeline", "Timeline"), ("resources", "Memory & CPU")]
    if fail_html:
        nav.append(("failures", f"Failures ({len(fail_ids)})"))
    nav.append(("jobs-section", "Jobs"))

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>pyrule report {esc(run_id)} ({esc(status)})</title>",
        f"<style>{CSS}</style></head><body>",
        '<header><div class="brand">pyrule report</div><nav>'
        + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in nav) + "</nav></header><main>",
        f'<section id="summary"><h1>Run <code>{esc(run_id)}</code> '
        f'<span class="status status-{esc(status)}">{esc(status)}</span></h1>',
        f'<div class="totals">{badges}</div>',
        '<dl class="meta">',
        f"<dt>command</dt><dd><code class=\"cmd\">{esc(cmd)}</code></dd>",
        f"<dt>started</dt><dd>{esc(_when(doc.get('start')))}</dd>",
        f"<dt>ended</dt><dd>{esc(_when(doc.get('end')))}</dd>",
        f"<dt>wall time</dt><dd>{esc(fmt_s(doc.get('wall_s') or 0))}</dd>",
        f"<dt>Pipefile hash</dt><dd><code>{esc(doc.get('pipefile_hash', ''))}</code></dd>",
        f"<dt>pyrule</dt><dd>{esc(doc.get('pyrule_version', ''))}</dd>",
        f"<dt>jobs</dt><dd>{len(jobs)}</dd>",
        "</dl></section>",
        f'<section id="graph" data-collapsed="{"true" if collapsed else "false"}"><h2>'
        f'{"Rule graph" if collapsed else "Job graph"}</h2>'
        f'<p class="note">{esc(graph_note)}</p>'
        '<div class="tools"><button type="button" id="fit" aria-pressed="false">fit to width</button></div>'
        f'<div class="graphwrap">{graph_svg}</div></section>',
        f'<section id="timeline"><h2>Timeline</h2><p class="note">{nran} job(s) ran, each a bar on a lane '
        "(a job takes the first lane free when it starts; lanes show how many ran at once). "
        "Hover for times, click for the job's row.</p>",
        timeline.svg(jobs, hrefs, doc.get("end")),
        crit_txt + "</section>",
        '<section id="resources"><h2>Memory &amp; CPU</h2>',
        resources.section(jobs, hrefs, rule_href) + "</section>",
    ]
    if fail_html:
        parts.append(f'<section id="failures"><h2>Failures</h2>{fail_html}</section>')
    parts += [
        '<section id="jobs-section"><h2>Jobs</h2><p class="note">Click a column header to sort (again to reverse). '
        "Times are seconds from the start of the run; the columns after <em>attempts</em> are the values jobs "
        "reported.</p>",
        table.jobs_table(jobs, ids, fail_ids, t0) + "</section>",
        f'</main><footer>pyrule {esc(doc.get("pyrule_version", ""))} · run {esc(run_id)} · '
        f"report made {esc(time.strftime('%Y-%m-%d %H:%M:%S'))}</footer>",
        f"<script>{JS}</script></body></html>",
    ]
    return "\n".join(parts) + "\n"
