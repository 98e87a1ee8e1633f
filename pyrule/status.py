"""--status: each target of the graph (an output path, with the job that makes it; a job without
outputs by its name) is up to date, stale (why), running elsewhere, failed last time, or
submitted by a detached run (`pyrule --detach`: pending, running, done or failed in Slurm)."""

from __future__ import annotations

import time

from .graph import JobGraph
from .rules import Rules


def job_status(graph: JobGraph, rules: Rules, options) -> list[tuple[str, str]]:
    """(`PATH (JOB)` or `JOB`, its state), in dependency order."""
    rows = []
    for d, text in job_states(graph, rules, options):
        if not d.job.outputs:
            rows.append((d.job.name, text))
        for p in d.job.outputs:
            # "missing" is said of the path that is missing; its job's other outputs are stale.
            here = f"stale: {d.reason}" if text.startswith("missing (") and d.reason != f"output {p} missing" else text
            rows.append((f"{p} ({d.job.name})", here))
    words = [text.split(" ", 2)[1] for _, text in rows if text.startswith("detached, ")]
    if words:  # (a job's outputs count once each: as its rows say)
        counts = ", ".join(f"{words.count(w)} {w}" for w in ("pending", "running", "done", "failed", "unknown")
                           if w in words)
        rows.append(("detached", f"{len(words)} target(s) in its executor's hands: {counts}"))
    return rows


def job_states(graph: JobGraph, rules: Rules, options) -> list:
    from .executors import owner
    from .procinfo import alive_since
    from .run import dry_run, open_state
    from .stats import load_stats, run_dirs

    decisions = dry_run(graph, rules, options)
    state = open_state(readonly=True)
    marks = state.running() if state else []
    running = {r.name: r for r in marks if alive_since(r.owner_pid, r.owner_start)}
    detached = _detached(state, [r for r in marks if r.name not in running])
    failed: dict[str, str] = {}
    skipped: dict[str, str] = {}
    runs = run_dirs()
    if runs:
        last = load_stats(runs[-1])
        failed = {j["job"]: j.get("reason") or "failed" for j in last["jobs"] if j["status"] == "failed"}
        skipped = {j["job"]: j.get("reason") or "skipped" for j in last["jobs"] if j["status"] == "skipped"}
    by_name = {d.job.name: d for d in decisions}
    out = []
    for d in decisions:
        name = d.job.name
        if name in detached:  # submitted by `pyrule --detach`: its Slurm state, one poll for all
            out.append((d, detached[name]))
            continue
        if d.pending and name not in running:
            out.append((d, _gather(d, by_name, failed, skipped)))
            continue
        if name in running:
            r = running[name]
            since = time.strftime("%H:%M:%S", time.localtime(r.started))
            job = owner(r.pgid).describe(r)
            out.append((d, f"running (pyrule pid {r.owner_pid}, {job}, since {since})"))
        elif d.reason is None:
            out.append((d, "up to date"))
        elif name in failed:
            out.append((d, f"failed in the last run ({failed[name]}); stale: {d.reason}"))
        elif d.reason.startswith("output") and d.reason.endswith("missing"):
            out.append((d, f"missing ({d.reason})"))
        else:
            out.append((d, f"stale: {d.reason}"))
    return out


def _detached(state, marks: list) -> dict[str, str]:
    """The jobs of detached runs (detach.py) still marked running: name -> their state, from one
    squeue (and sacct) call for all."""
    from .detached import detached_runs, detached_states, status_text

    runs = detached_runs(state) if marks else set()
    rows = [r for r in marks if r.run_id in runs]
    if not rows:
        return {}
    by_name = {r.name: r for r in rows}
    return {name: status_text(by_name[name], word, said) for name, (word, said) in detached_states(rows).items()}


def _gather(d, by_name: dict, failed: dict[str, str], skipped: dict[str, str]) -> str:
    """A gather rule's state is its inputs': the first input that is not up to date, and why."""
    for dep in d.job.deps:
        dd = by_name.get(dep.name)
        if dd is None or dd.reason is None:
            continue
        what = next((p for p in dep.outputs if p in d.job.inputs), dep.name)
        if dep.name in failed:
            return f"not built: input {what} failed in the last run ({dep.name}: {failed[dep.name]})"
        if dep.name in skipped:
            return f"not built: input {what} was skipped in the last run ({skipped[dep.name]})"
        if dd.reason == f"output {what} missing":
            return f"not built: input {what} missing"
        return f"not built: input {what} is stale ({dep.name}: {dd.reason})"
    return f"stale: {d.reason}"
