"""Memory per job of a build (issue 23, W7b: a million-job build in at most 1 GB).

A fan-out of `cat` jobs (W7's shape, harness.fanout) built in-process at two sizes; tracemalloc
counts the bytes Python allocates (the same under any load, for one Python version: no timed
test). Measured: what the run holds when its last job has ended (after a garbage collection),
the graph and the decisions' leftovers included, and the bound is on its growth per job between
the two sizes, so that what a run costs once (imports, the executor) does not count. (The peak
while jobs run moves with the load: its slope measured 1,650-2,140 bytes a job for the same
code.) What it guards: what a build keeps per finished job: its outcome (no `reported` dict or
log path of its own), the scheduler's maps (no consumer list once it finished), the attempts
(running jobs only), the fingerprints recorded, no planner maps when nothing re-plans. The code
before issue 23's build-memory work (a5fcc58) kept ~2,150 bytes a job here, the code after it
~1,890 (of which the graph and its decisions' leftovers: ~1,100), c74fba2 ~1,680, now ~1,600.

Also measured: the peak from there to the run's end (no concurrency there, so no load in it):
the no-op memo's check that a build ends with (the CLI sets the memo's key, as here), which
decides every job again, and stats.json. Its slope was ~2,350 bytes a job at c74fba2 (every
job's decision and record kept, the schedule's maps held); now ~1,740 (one decision and one
record at a time, the schedule let go first)."""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import pytest
from harness import fanout

from pyrule.load import load
from pyrule.noop_memo import memo_key
from pyrule.plan import plan
from pyrule.run import Options, Runner
from pyrule.state import State
from pyrule.ui import Console

SIZES = (500, 2000)
# Bytes a job held when the last job ended, the slope. Measured 2026-12-03: 1,879-1,895 after the
# build-memory work, 2,153 before it (a5fcc58); with a 600-byte string kept per job, 2,483;
# 1,678-1,682 at c74fba2, 1,597-1,609 with the planner's maps let go when nothing re-plans (with
# them kept, 1,679: hence the small margin).
BOUND = 1_665
# The peak after that (the memo's check, stats.json), the slope: 2,350-2,354 at c74fba2,
# 1,738-1,741 now.
END_BOUND = 1_850


class _Measured(Runner):
    """The run, measured where its last job has ended (the schedule's loop is done); the peak
    from there to the run's end is measured from then on."""

    held = 0

    def _schedule(self, stale):
        super()._schedule(stale)
        gc.collect()
        _Measured.held = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()


def _build(root, n: int) -> tuple[int, int]:
    """The traced bytes held (above the start) when the last of `n` jobs in root/n has ended,
    and the peak after that (the no-op memo's check, stats.json) above the start."""
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
        options = Options(jobs=2)
        options.noop_key = memo_key(rules, [], None)  # as the command sets it: the memo is left
        result = _Measured(graph, rules, options, Console(quiet=2)).run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        os.chdir(cwd)
    assert result.ok and result.count("ran") == n
    store = State(str(d / ".pyrule"), readonly=True)
    assert store.noop_memo(options.noop_key) is not None  # (the check that left it is measured)
    store.close()
    return _Measured.held - base, peak - base


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
    per_job = (large[0] - small[0]) / (SIZES[1] - SIZES[0])
    at_end = (large[1] - small[1]) / (SIZES[1] - SIZES[0])
    assert per_job < BOUND, f"a build held {per_job:.0f} bytes a job when its last job ended (bound {BOUND})"
    assert at_end < END_BOUND, f"a build's end (the memo's check) peaked at {at_end:.0f} bytes a job (bound {END_BOUND})"
