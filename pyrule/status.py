"""--status: each job of the graph is up to date, stale (why), running elsewhere, or failed last time."""

from __future__ import annotations

import time

from .graph import JobGraph
from .rules import Rules


def job_status(graph: JobGraph, rules: Rules, options) -> list[tuple[str, str]]:
    from .procinfo import alive_since
    from .run import dry_run, open_state
    from .stats import load_stats, run_dirs

    decisions = dry_run(graph, rules, options)
    state = open_state(readonly=True)
    running = {r.name: r for r in (state.running() if state else []) if alive_since(r.owner_pid, r.owner_start)}
    failed: dict[str, str] = {}
    runs = run_dirs()
    if runs:
        last = load_stats(runs[-1])
        failed = {j["job"]: j.get("reason") or "failed" for j in last["jobs"] if j["status"] == "failed"}
    out = []
    for d in decisions:
        name = d.job.name
        if name in running:
            r = running[name]
            since = time.strftime("%H:%M:%S", time.localtime(r.started))
            slurm = r.slurm_job
            job = f"job pid {r.pgid}" if slurm is None else f"Slurm job {slurm}" if slurm else "Slurm job not submitted yet"
            out.append((name, f"running (pyrule pid {r.owner_pid}, {job}, since {since})"))
        elif d.reason is None:
            out.append((name, "up to date"))
        elif name in failed:
            out.append((name, f"failed in the last run ({failed[name]}); stale: {d.reason}"))
        elif d.reason.startswith("output") and d.reason.endswith("missing"):
            out.append((name, f"missing ({d.reason})"))
        else:
            out.append((name, f"stale: {d.reason}"))
    return out
