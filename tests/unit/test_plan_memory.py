"""Memory per planned job (issue 23: a million-job dry run in at most 1 GB).

Planned and decided in-process, the dry run's two stages, for a fan-out of 100,000 jobs (W7a's
shape: `out/{i}.txt` from `in/{i}.txt`, every input present, no output yet). tracemalloc counts
the bytes Python allocates: the same under any load (for one Python version), so this is no
timed test. What it guards: the per-job objects (the job, its wildcards, paths, stat results, the
planner's maps, the decision); the bound has a margin over today's figure and sits well below
the ~2,000 bytes a job of the code before issue 23's memory work (with the jobs' own
params/resources dicts back, it failed at ~1,455; with a dict as a job's wildcards, at ~1,129;
with a whole stat result kept for every source, at ~993)."""

from __future__ import annotations

import tracemalloc

import pytest
from harness import fanout

from pyrule.load import load
from pyrule.plan import plan
from pyrule.run import Options, dry_run
from pyrule.stat_cache import StatCache

N = 100_000
# Bytes a job at the peak of planning then deciding (measured 2026-12-03: ~2,000 before the
# memory work, 1,161 after its first part, 993 with compact wildcards, no job-key tuples and
# the graph's output map freed, 815 with the sources as exists-only stat entries).
BOUND = 880


@pytest.mark.slow
def test_peak_memory_per_planned_job_at_100k(project):
    fanout(project, N)
    rules = load("Pipefile")
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        graph = plan(rules, [], stats=StatCache(exists_only=True))  # as `pyrule -n` plans
        assert graph.planner is not None
        graph.planner.release()  # as `pyrule -n` does before deciding (without --force): this
        # also drops the exists-only entries
        graph.producers = {}
        decisions = dry_run(graph, rules, Options())
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(graph.jobs) == N + 1
    assert sum(d.reason is not None for d in decisions) == N + 1  # every output missing: all would run
    per_job = peak / len(graph.jobs)
    assert per_job < BOUND, f"planning and deciding took {per_job:.0f} bytes a job at the peak (bound {BOUND})"
