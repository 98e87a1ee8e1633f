"""`pyrule --stats [RULE]`: the last run's per-job table, or one rule summarised across the
recorded runs (.pyrule/runs/*/stats.json). Plain aligned text when stdout is not a terminal;
a rich table on a terminal."""

from __future__ import annotations

import os
import sys
import time

from .errors import PyruleError, suggest
from .stats import load_stats, run_dirs
from .units import format_size

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

_RAN = ("ran", "failed", "interrupted")


def show_stats(console, rule: str | None) -> int:
    runs = []
    for d in run_dirs():
        try:
            runs.append(load_stats(d))
        except (OSError, ValueError):
            continue  # a run still being written, or a damaged file: not worth failing for
    if not runs:
        raise PyruleError("no recorded runs: .pyrule/runs holds no stats yet",
                          hint="run pyrule first; every run writes its stats there")
    if rule is None:
        _last_run(console, runs[-1])
    else:
        _rule_summary(console, rule, runs)
    return 0


def _last_run(console, doc: dict[str, Any]) -> None:
    totals = doc.get("totals", {})
    counts = ", ".join(f"{n} {s}" for s, n in totals.items() if n)
    console.out(f"run {doc['run_id']}: {doc['status']}, {counts or 'no jobs'}, wall {_secs(doc.get('wall_s'))}"
                + (f", started {_when(doc['start'])}" if doc.get("start") else ""))
    header = ["job", "status", "wall", "cpu", "peak mem", "exit", "attempts", "reported"]
    rows = []
    top_wall = max((j["wall_s"] or 0 for j in doc["jobs"] if j["status"] in _RAN), default=0)
    top_peak = max((j["peak_rss_bytes"] or 0 for j in doc["jobs"] if j["status"] in _RAN), default=0)
    for j in doc["jobs"]:
        ran = j["status"] in _RAN
        rows.append([
            j["job"], j["status"],
            f"{_secs(j['wall_s'])} {_spark(j['wall_s'], top_wall)}" if ran else "",
            _secs(j["cpu_s"]) if ran else "",
            (f"{format_size(j['peak_rss_bytes'])} {_spark(j['peak_rss_bytes'], top_peak)}" if j["peak_rss_bytes"]
             else "—") if ran else "",
            "" if j["exit_code"] is None else str(j["exit_code"]),
            str(j["attempts"]) if j["attempts"] else "",
            " ".join(f"{k}={v}" for k, v in sorted(j.get("reported", {}).items())),
        ])
    _table(console, header, rows, right={2, 3, 4, 5, 6})


def _rule_summary(console, rule: str, runs: list[dict[str, Any]]) -> None:
    per_run = []
    known: set[str] = set()
    for doc in runs:
        jobs = [j for j in doc["jobs"] if j["rule"] == rule and j["status"] in ("ran", "failed")]
        known.update(j["rule"] for j in doc["jobs"])
        if jobs:
            per_run.append((doc, jobs))
    if not per_run:
        hint = suggest(rule, known) or (f"rules in the recorded runs: {', '.join(sorted(known))}" if known else None)
        raise PyruleError(f"--stats {rule}: no recorded run ran a job of rule '{rule}'", hint=hint)
    every = [j for _, jobs in per_run for j in jobs]
    ok = [j for j in every if j["status"] == "ran"]
    failed = len(every) - len(ok)
    walls = [j["wall_s"] for j in ok] or [0.0]
    # 0 means "not measured" (a job shorter than one memory sample): left out of the figures.
    peaks = [j["peak_rss_bytes"] for j in ok if j["peak_rss_bytes"]]
    console.out(f"rule {rule}: {len(every)} job run(s) in {len(per_run)} of {len(runs)} recorded run(s)"
                + (f", {failed} failed" if failed else ""))
    console.out(f"  wall:        mean {_secs(sum(walls) / len(walls))}, max {_secs(max(walls))}")
    console.out(f"  peak memory: mean {_mean_size(peaks)}, max {_max_size(peaks)}" if peaks else "  peak memory: —")
    header = ["run", "jobs", "failed", "mean wall", "max wall", "mean peak mem", "max peak mem"]
    rows = []
    for doc, jobs in per_run:
        good = [j for j in jobs if j["status"] == "ran"]
        w = [j["wall_s"] for j in good] or [0.0]
        p = [j["peak_rss_bytes"] for j in good if j["peak_rss_bytes"]]
        rows.append([doc["run_id"], str(len(jobs)), str(len(jobs) - len(good)), _secs(sum(w) / len(w)),
                     _secs(max(w)), _mean_size(p), _max_size(p)])
    _table(console, header, rows, right={1, 2, 3, 4, 5, 6})


def _table(console, header: list[str], rows: list[list[str]], right: set[int]) -> None:
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb":
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        from .ui import shown

        table = Table(box=None, header_style="bold", pad_edge=False)
        for i, h in enumerate(header):
            table.add_column(h, justify="right" if i in right else "left")
        for r in rows:  # as Text, not markup: a job named `w[i=0]` keeps its `[i=0]`
            table.add_row(*(Text(shown(c)) for c in r), style="red" if "failed" in r else None)
        Console().print(table)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    console.out("\n".join([line(header), *(line(r) for r in rows)]))


def _mean_size(peaks: list[int]) -> str:
    """The mean of the measured peaks; "—" when none was measured (as for one job)."""
    return format_size(sum(peaks) / len(peaks)) if peaks else "—"


def _max_size(peaks: list[int]) -> str:
    return format_size(max(peaks)) if peaks else "—"


def _spark(value: float | None, top: float, width: int = 8) -> str:
    """A bar of `width` characters (in eighths of a block) for value against the run's largest."""
    eighths = round(width * 8 * (value or 0) / top) if top > 0 else 0
    bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
    return bar.ljust(width)


def _secs(s: float | None) -> str:
    if s is None:
        return ""
    return f"{s:.2f}s" if s < 60 else f"{int(s // 60)}m{s % 60:04.1f}s"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
