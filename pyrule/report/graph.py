"""The job graph (or, for big runs, the rule graph) as an SVG drawing, coloured by status."""

from __future__ import annotations

from ..record import field, record
from .html import esc
from .layout import NODE_H, layout

# status -> (fill, text colour, label)
STATUS_STYLE = {
    "ran": ("#2f9e44", "#ffffff", "ran"),
    "up-to-date": ("#ced4da", "#212529", "up to date"),
    "failed": ("#e03131", "#ffffff", "failed"),
    "interrupted": ("#e8590c", "#ffffff", "interrupted"),
    "skipped": ("#f59f00", "#212529", "skipped"),
    "stale": ("#1c7ed6", "#ffffff", "stale (would run)"),
    "unknown": ("#f8f9fa", "#212529", "status not computed"),
}
OTHER_STYLE = ("#845ef7", "#ffffff", "other")
CHAR_W = 6.7  # 11px monospace
MAX_LABEL = 30
COLLAPSE_ABOVE = 300  # jobs; above this the drawing shows rules with job counts


def style(status: str) -> tuple[str, str, str]:
    return STATUS_STYLE.get(status, (OTHER_STYLE[0], OTHER_STYLE[1], status))


@record
class GNode:
    id: str
    label: str
    status: str  # the colour; for a rule node, its worst job status
    title: str = ""  # tooltip
    href: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # rule nodes: jobs per status


def short(label: str, limit: int = MAX_LABEL) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


_WORST = ["failed", "interrupted", "skipped", "stale", "ran", "up-to-date", "unknown"]


def worst(statuses) -> str:
    statuses = set(statuses)
    for s in _WORST:
        if s in statuses:
            return s
    return next(iter(statuses), "up-to-date")


def job_nodes(jobs: list[dict], hrefs: dict[str, str] | None = None) -> tuple[list[GNode], list[tuple[str, str]]]:
    """Nodes and edges of the job graph from stats-like job records (job, rule, status, deps)."""
    hrefs = hrefs or {}
    nodes = []
    for j in jobs:
        title = f"{j['job']}\nrule {j['rule']}\n{style(j['status'])[2]}"
        if j.get("reason"):
            title += f": {j['reason']}"
        nodes.append(GNode(j["job"], short(j["job"]), j["status"], title, hrefs.get(j["job"])))
    names = {j["job"] for j in jobs}
    edges = [(d, j["job"]) for j in jobs for d in j.get("deps", []) if d in names]
    return nodes, edges


def rule_nodes(jobs: list[dict], hrefs: dict[str, str] | None = None) -> tuple[list[GNode], list[tuple[str, str]]]:
    """The rule graph: one node per rule (with its job count per status), an edge where jobs depend."""
    hrefs = hrefs or {}
    rule_of = {j["job"]: j["rule"] for j in jobs}
    counts: dict[str, dict[str, int]] = {}
    for j in jobs:
        c = counts.setdefault(j["rule"], {})
        c[j["status"]] = c.get(j["status"], 0) + 1
    nodes = []
    for rule, c in counts.items():
        n = sum(c.values())
        detail = ", ".join(f"{v} {style(s)[2]}" for s, v in c.items())
        nodes.append(GNode(rule, short(f"{rule} ×{n}"), worst(c), f"rule {rule}: {n} job(s)\n{detail}",
                           hrefs.get(rule), c))
    edges = list(dict.fromkeys((rule_of[d], j["rule"]) for j in jobs for d in j.get("deps", [])
                               if d in rule_of and rule_of[d] != j["rule"]))
    return nodes, edges


def svg(nodes: list[GNode], edges: list[tuple[str, str]], standalone: bool = False, legend: bool = True) -> str:
    """The drawing; `standalone` adds the XML namespace and prolog for a .svg file."""
    widths = {n.id: max(56.0, len(n.label) * CHAR_W + 18) for n in nodes}
    lay = layout([n.id for n in nodes], edges, widths)
    legend_h = 26.0 if legend else 0.0
    used = sorted({n.status for n in nodes} | {s for n in nodes for s in n.counts}, key=_rank)
    legend_w = sum(len(style(s)[2]) * 6.3 + 34 for s in used) + 12
    width = max(lay.width, legend_w, 120.0)
    height = lay.height + legend_h
    out = []
    if standalone:
        out.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.append(f'<svg xmlns="http://www.w3.org/2000/svg" class="pr-graph" width="{width:.0f}" height="{height:.0f}" '
               f'viewBox="0 0 {width:.0f} {height:.0f}" data-nodes="{len(nodes)}" data-layers="{lay.layers}" '
               f'data-crossings="{lay.crossings}" role="img" aria-label="job graph">')
    out.append("<style>"
               ".pr-graph text{font:11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;dominant-baseline:central}"
               ".pr-graph .edge{fill:none;stroke:#868e96;stroke-width:1.1;opacity:.75}"
               ".pr-graph .node rect.box{stroke:#343a40;stroke-width:.8}"
               ".pr-graph a:hover rect.box,.pr-graph a:focus rect.box{stroke-width:2.2}"
               ".pr-graph .legend text{font:11px system-ui,sans-serif}"
               "</style>")
    out.append('<defs><marker id="pr-arrow" viewBox="0 0 8 8" refX="7.5" refY="4" markerWidth="7" markerHeight="7" '
               'orient="auto-start-reverse"><path d="M0,0L8,4L0,8z" fill="#868e96"/></marker></defs>')
    if standalone:  # readable in viewers with a dark background too
        out.append(f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>')
    out.append(f'<g transform="translate(0,{legend_h:.0f})">')
    out.append('<g class="edges">')
    for a, b, pts in lay.edges:
        out.append(f'<path class="edge" data-from="{esc(a)}" data-to="{esc(b)}" d="{_path(pts)}" '
                   'marker-end="url(#pr-arrow)"/>')
    out.append("</g><g class=\"nodes\">")
    by_id = {n.id: n for n in nodes}
    for nid, p in lay.nodes.items():
        n = by_id[nid]
        fill, ink, _ = style(n.status)
        x0, y0 = p.x - p.width / 2, p.y - NODE_H / 2
        body = [f"<title>{esc(n.title or n.id)}</title>",
                f'<rect class="box" x="{x0:.1f}" y="{y0:.1f}" width="{p.width:.1f}" height="{NODE_H:.0f}" rx="5" '
                f'fill="{fill}"/>']
        if n.counts and len(n.counts) > 1:  # a strip with the share of each status
            total = sum(n.counts.values())
            sx = x0 + 3
            for s in sorted(n.counts, key=_rank):
                w = (p.width - 6) * n.counts[s] / total
                body.append(f'<rect x="{sx:.1f}" y="{y0 + NODE_H - 6:.1f}" width="{w:.1f}" height="3" '
                            f'fill="{style(s)[0]}" stroke="#fff" stroke-width=".4"/>')
                sx += w
        body.append(f'<text x="{p.x:.1f}" y="{p.y - (2 if len(n.counts) > 1 else 0):.1f}" text-anchor="middle" '
                    f'fill="{ink}">{esc(n.label)}</text>')
        inner = "".join(body)
        if n.href:
            inner = f'<a href="{esc(n.href)}">{inner}</a>'
        out.append(f'<g class="node" data-id="{esc(nid)}" data-status="{esc(n.status)}">{inner}</g>')
    out.append("</g></g>")
    if legend:
        out.append('<g class="legend">')
        x = 8.0
        for s in used:
            fill, _, label = style(s)
            out.append(f'<rect x="{x:.0f}" y="6" width="14" height="14" rx="3" fill="{fill}" stroke="#343a40" '
                       f'stroke-width=".6"/><text x="{x + 19:.0f}" y="13.5">{esc(label)}</text>')
            x += len(label) * 6.3 + 34
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _rank(s: str) -> int:
    order = ["ran", "up-to-date", "stale", "skipped", "failed", "unknown"]
    return order.index(s) if s in order else len(order)


def _path(pts: list[tuple[float, float]]) -> str:
    """Through the points with vertical tangents (smooth S-bends between layers)."""
    (x0, y0), rest = pts[0], pts[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        if abs(x1 - x0) < 0.5:
            d.append(f"L{x1:.1f},{y1:.1f}")
        else:
            my = (y0 + y1) / 2
            d.append(f"C{x0:.1f},{my:.1f} {x1:.1f},{my:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return "".join(d)
