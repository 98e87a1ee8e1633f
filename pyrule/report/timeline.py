"""The timeline: each job that ran as a bar on a lane, with the critical path marked."""

from __future__ import annotations

import math

from .graph import style
from .html import esc, fmt_s

WIDTH = 1100.0
GUTTER = 58.0
AXIS_H = 26.0
LANE_H = 16.0
LANE_GAP = 4.0
CHAR_W = 6.2  # 10.5px sans-serif, roughly


def timed(jobs: list[dict]) -> list[dict]:
    """Jobs that ran (successfully or not): those with a start time."""
    return [j for j in jobs if j.get("start") is not None]


def lanes(jobs: list[dict], run_end: float | None = None) -> dict[str, int]:
    """Greedy lanes by start time: each job takes the lowest lane free when it starts."""
    ends: list[float] = []
    lane_of: dict[str, int] = {}
    for j in sorted(timed(jobs), key=lambda j: (j["start"], j.get("end") or 0)):
        end = _end(j, run_end)
        for k, e in enumerate(ends):
            if e <= j["start"] + 1e-6:
                ends[k] = end
                lane_of[j["job"]] = k
                break
        else:
            lane_of[j["job"]] = len(ends)
            ends.append(end)
    return lane_of


def critical_path(jobs: list[dict], run_end: float | None = None) -> list[str]:
    """The chain that ended last: from the job that ended last, back through the dependency
    that ended last, and so on (through jobs that did not run, to the ones before them)."""
    by_name = {j["job"]: j for j in jobs}
    run = {j["job"]: j for j in timed(jobs)}
    if not run:
        return []
    memo: dict[str, list[str]] = {}

    def timed_preds(name: str) -> list[str]:
        if name in memo:
            return memo[name]
        memo[name] = []
        out: list[str] = []
        for d in by_name.get(name, {}).get("deps", []):
            if d in run:
                out.append(d)
            elif d in by_name:
                out.extend(timed_preds(d))
        memo[name] = out
        return out

    cur = max(run.values(), key=lambda j: _end(j, run_end))["job"]
    path = [cur]
    seen = {cur}
    while True:
        preds = [p for p in timed_preds(cur) if p not in seen]
        if not preds:
            break
        cur = max(preds, key=lambda p: _end(run[p], run_end))
        path.append(cur)
        seen.add(cur)
    return path[::-1]


def _end(j: dict, run_end: float | None) -> float:
    """When the job ended; one still running when the run stopped ends with the run."""
    if j.get("end") is not None:
        return j["end"]
    return max(run_end, j["start"]) if run_end is not None else j["start"]


def _tick_step(span: float) -> float:
    raw = span / 8
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def svg(jobs: list[dict], hrefs: dict[str, str], run_end: float | None = None) -> str:
    run = timed(jobs)
    if not run:
        return '<p class="empty">No job ran in this run: nothing to draw.</p>'
    lane_of = lanes(jobs, run_end)
    crit = critical_path(jobs, run_end)
    crit_set = set(crit)
    t0 = min(j["start"] for j in run)
    t1 = max(_end(j, run_end) for j in run)
    span = max(t1 - t0, 1e-3)
    nlanes = max(lane_of.values()) + 1
    plot_w = WIDTH - GUTTER - 10
    height = AXIS_H + nlanes * (LANE_H + LANE_GAP) + 8

    def X(t: float) -> float:
        return GUTTER + (t - t0) / span * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="pr-timeline" viewBox="0 0 {WIDTH:.0f} {height:.0f}" '
           f'width="100%" data-lanes="{nlanes}" role="img" aria-label="timeline">']
    out.append("<style>.pr-timeline text{font:10.5px system-ui,sans-serif;fill:#343a40}"
               ".pr-timeline .tick{stroke:#e9ecef}.pr-timeline .lane-bg{fill:#f8f9fa}"
               ".pr-timeline .bar rect{stroke:#fff;stroke-width:.5}"
               ".pr-timeline .bar.crit rect{stroke:#111;stroke-width:2}"
               ".pr-timeline a:hover rect{opacity:.8}"
               ".pr-timeline .critline{fill:none;stroke:#111;stroke-width:1.3;stroke-dasharray:3 2}"
               ".pr-timeline text.in{fill:#fff;pointer-events:none}"
               ".pr-timeline text.in.dark{fill:#212529}</style>")
    step = _tick_step(span)
    k = 0
    while k * step <= span + 1e-9:
        x = X(t0 + k * step)
        out.append(f'<line class="tick" x1="{x:.1f}" y1="{AXIS_H - 6}" x2="{x:.1f}" y2="{height - 4:.0f}"/>'
                   f'<text x="{x:.1f}" y="{AXIS_H - 10}" text-anchor="middle">{esc(_tick_label(k * step, step))}</text>')
        k += 1
    for lane in range(nlanes):
        y = AXIS_H + lane * (LANE_H + LANE_GAP)
        out.append(f'<rect class="lane-bg" x="{GUTTER}" y="{y:.1f}" width="{plot_w:.0f}" height="{LANE_H}"/>'
                   f'<text x="{GUTTER - 6}" y="{y + LANE_H / 2 + 3.5:.1f}" text-anchor="end">lane {lane + 1}</text>')
    centres: dict[str, tuple[float, float, float]] = {}
    bars = []
    for j in sorted(run, key=lambda j: j["start"]):
        lane = lane_of[j["job"]]
        y = AXIS_H + lane * (LANE_H + LANE_GAP)
        x0, x1 = X(j["start"]), X(_end(j, run_end))
        w = max(x1 - x0, 2.0)
        centres[j["job"]] = (x0, x0 + w, y + LANE_H / 2)
        fill, ink, label = style(j["status"])
        cls = "bar crit" if j["job"] in crit_set else "bar"
        title = (f"{j['job']}\n{label}, {fmt_s(j.get('wall_s') or (_end(j, run_end) - j['start']))}"
                 f"\nstart +{fmt_s(j['start'] - t0)}, end +{fmt_s(_end(j, run_end) - t0)}")
        if j["job"] in crit_set:
            title += "\non the critical path"
        inner = (f"<title>{esc(title)}</title><rect x=\"{x0:.1f}\" y=\"{y:.1f}\" width=\"{w:.1f}\" height=\"{LANE_H}\" "
                 f"rx=\"2\" fill=\"{fill}\"/>")
        if w > 30:
            text = j["job"]
            room = int((w - 6) / CHAR_W)
            if len(text) > room:
                text = text[: max(room - 1, 1)] + "…"
            dark = " dark" if ink != "#ffffff" else ""
            inner += f'<text class="in{dark}" x="{x0 + 3:.1f}" y="{y + LANE_H / 2 + 3.5:.1f}">{esc(text)}</text>'
        href = hrefs.get(j["job"])
        if href:
            inner = f'<a href="{esc(href)}">{inner}</a>'
        bars.append(f'<g class="{cls}" data-job="{esc(j["job"])}" data-lane="{lane}">{inner}</g>')
    if len(crit) > 1:
        pts = []
        for name in crit:
            a, b, cy = centres[name]
            pts += [f"{a:.1f},{cy:.1f}", f"{b:.1f},{cy:.1f}"]
        out.append(f'<polyline class="critline" points="{" ".join(pts)}"/>')  # under the bars
    out.extend(bars)
    out.append("</svg>")
    return "".join(out)


def _tick_label(t: float, step: float) -> str:
    if step >= 60:
        return f"{int(t // 60)}m{int(t % 60):02d}s" if t % 60 else f"{int(t // 60)}m"
    digits = 0 if step >= 1 else min(3, -math.floor(math.log10(step)))
    return f"{t:.{digits}f}s"
