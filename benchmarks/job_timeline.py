#!/usr/bin/env python3
"""Where a run's time goes between one job's end and the next one's start: runs `pyrule ARGS`
in this process with a clock around each step of the runner's per-job path, and prints the
mean time of each step and of each gap between two consecutive steps, over the middle half of
the run (a chain, W2, makes every gap count: nothing overlaps).

Usage:  python benchmarks/job_timeline.py [--top 30] -- [pyrule arguments]
        (in a workload's directory, e.g. one from `python benchmarks/generate.py W2 DIR`)

The clocks cost ~1 µs a step; the steps are functions named in STEPS (module, qualified name).
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import os
import runpy
import sys
import time

STEPS = [
    ("pyrule.jobs", "JobLife.prepare"), ("pyrule.jobs", "JobLife.start"), ("pyrule.jobs", "JobLife.ended"),
    ("pyrule.locks", "JobLock.try_acquire"), ("pyrule.locks", "JobLock.release"),
    ("pyrule.state", "State.mark_running"), ("pyrule.state", "State.flush"), ("pyrule.state", "State.succeeded"),
    ("pyrule.journal", "Journal.started"), ("pyrule.journal", "Journal.ended"),
    ("pyrule.decide", "Decider.decide"), ("pyrule.decide", "Decider.signature"), ("pyrule.jobspec", "job_spec"),
    ("pyrule.events", "Events.started"), ("pyrule.events", "Events.finished"),
    ("pyrule.executors.local", "LocalExecutor.start"), ("pyrule.executors.local", "LocalExecutor.wait"),
    ("pyrule.executors.local", "LocalExecutor._reap"), ("pyrule.executors.local", "LocalExecutor._stop_leftovers"),
    ("pyrule.executors.spawner", "Spawner.spawn"), ("pyrule.executors.spawner", "Spawner.poll"),
    ("pyrule.executors.joblog", "LogFiles.open"), ("pyrule.executors.joblog", "LogFiles.finish"),
]

events: list[tuple[str, float]] = []


def _clock(module: str, qualname: str) -> None:
    owner = importlib.import_module(module)
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    f = getattr(owner, name, None)
    if f is None:  # not in this version of pyrule
        return
    key = qualname

    @functools.wraps(f)
    def timed(*args, **kwargs):
        events.append((key + ">", time.perf_counter()))
        try:
            return f(*args, **kwargs)
        finally:
            events.append((key + "<", time.perf_counter()))

    setattr(owner, name, timed)


def report(top: int) -> None:
    middle = events[len(events) // 4: 3 * len(events) // 4]
    gaps: dict[str, list[float]] = collections.defaultdict(list)
    for (a, ta), (b, tb) in zip(middle, middle[1:]):
        gaps[f"{a} -> {b}"].append(tb - ta)
    total = sum(sum(v) for v in gaps.values()) or 1.0
    print(f"middle half of the run: {total * 1e3:.1f} ms; each step's entry (>) and exit (<)", file=sys.stderr)
    for name, spans in sorted(gaps.items(), key=lambda kv: -sum(kv[1]))[:top]:
        mean = sum(spans) / len(spans)
        print(f"  {name:78s} {len(spans):6d} x {mean * 1e6:8.0f} us  {sum(spans) / total:6.1%}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--top", type=int, default=30, help="how many gaps to print (default 30)")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="pyrule's arguments (after --)")
    opts = ap.parse_args()
    for module, qualname in STEPS:
        _clock(module, qualname)
    exit_now = os._exit

    def leave(code: int) -> None:  # pyrule leaves with os._exit: report first
        report(opts.top)
        exit_now(code)

    os._exit = leave
    sys.argv = ["pyrule", *[a for a in opts.args if a != "--"]]
    try:
        runpy.run_module("pyrule", run_name="__main__")
    finally:
        report(opts.top)


if __name__ == "__main__":
    main()
