"""Memory per job of a build (issue 23, W7b: a million-job build in at most 1 GB).

A fan-out of `cat` jobs (W7's shape, harness.fanout) built in-process at two sizes; tracemalloc
counts the bytes Python allocates (the same under any load, for one Python version: no timed
test). Measured: what the run holds when its last job has ended (after a garbage collection),
the graph and the decisions' leftovers included, and the bound is on its growth per job between
the two sizes, so that what a run costs once (imports, the executor) does not count. (The peak
moves with the load: its slope measured 1,650-2,140 bytes a job for the same code.) What it
guards: what a build keeps per finished job: its outcome (no `reported` dict or log path of its own), the scheduler's
maps (no consumer list once it finished), the attempts (running jobs only), the fingerprints
recorded. The code before issue 23's build-memory work (a5fcc58) kept ~2,150 bytes a job
here, the code after it ~1,890 (of which the graph and its decisions' leftovers: ~1,100)."""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import pytest
from harness import fanout

from pyrule.load import load
from pyrule.plan import plan
from pyrule.run import Options, Runner
from pyrule.ui import Console

SIZES = (500, 2000)
# Bytes a job held when the last job ended, the slope. Measured 2026-12-03: 1,879-1,895 after the
# build-memory work, 2,153 before it (a5fcc58); with a 600-byte string kept per job, 2,483.
BOUND = 2_050


class _Measured(Runner):
    """The run, measured where its last job has ended (the schedule's loop is done)."""

    held = 0

    def _schedule(self, stale):
        super()._schedule(stale)
        gc.collect()
        _Measured.held = tracemalloc.get_traced_memory()[0]


def _build(root, n: int) -> int:
    """The traced bytes held (above the start) when the last of `n` jobs in root/n has ended."""
    d = fanout(root / str(n), n)
    old = time.time() - 3600  # not "racily clean" (hashed in the tick of their mtime): a set of
    for i in range(n):  # those would grow with how many jobs start within that tick, i.e. the load
        os.utime(d / "in" / f"{i}.txt", (old, old))
    cwd = os.getcwd()
    os.chdir(d)
    try:
        rules = load("Pipefile")
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        graph = plan(rules, [])
        result = _Measured(graph, rules, Options(jobs=2), Console(quiet=2)).run()
    finally:
        os.chdir(cwd)
    assert result.ok and result.count("ran") == n
    return _Measured.held - base


@pytest.mark.slow
def test_a_build_s_memory_per_finished_job(tmp_path):
    tracemalloc.start()
    try:
        # What the first build in a process costs once (its imports, caches: ~0.7 MB that came
        # with the first measured build when the warm-up was smaller than it).
        _build(tmp_path / "warm", SIZES[0])
        small, large = (_build(tmp_path, n) for n in SIZES)
    finally:
        tracemalloc.stop()
    per_job = (large - small) / (SIZES[1] - SIZES[0])
    assert per_job < BOUND, f"a build held {per_job:.0f} bytes a job when its last job ended (bound {BOUND})"
