#!/usr/bin/env python3
"""Per-job overhead of the local executor: N trivial `true` jobs, P at a time.

Usage:  python benchmarks/bench_spawn.py [--jobs 500] [--parallel 2] [--python] [--cmd true] [--one-log] [--ballast-mb 0]

PYRULE_SPAWNER=0 in the environment: the runner spawns the jobs itself (the code before the spawner).

--python runs an empty Python body instead of the shell job; --one-log appends every job to
one log instead of creating a log file per job (as the runner does; on a slow disk, creating
the file can cost as much as the spawn); --ballast-mb grows the runner's RSS first (fork
copies page tables, so spawn cost grows with the runner's size).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyrule.executors import JobSpec, LocalExecutor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--python", action="store_true", help="empty Python bodies instead of `true`")
    ap.add_argument("--cmd", default="true", help="the shell body (default `true`, run by bash; `/bin/true` is execed directly)")
    ap.add_argument("--one-log", action="store_true", help="one shared log instead of one per job")
    ap.add_argument("--ballast-mb", type=int, default=0, help="grow the runner's RSS by this much first")
    args = ap.parse_args()
    ballast = b"x" * (args.ballast_mb * 2**20)

    def cpu() -> float:
        return sum(r.ru_utime + r.ru_stime for r in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))

    here = os.getcwd()
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)  # the jobs run where the runner runs, as in a project (no chdir per job)
        with LocalExecutor() as ex:
            c0 = cpu()
            dt, failed = run(ex, work, args)
        c1 = cpu()  # the spawner reaped at close: its own and its jobs' time are counted now
        os.chdir(here)
    kind = "python" if args.python else "shell"
    logs = "one log" if args.one_log else "a log each"
    print(
        f"{args.jobs} {kind} jobs ({logs}), {args.parallel} at a time, runner +{args.ballast_mb} MB: "
        f"{args.jobs / dt:.0f} jobs/s, {dt / args.jobs * 1e3:.2f} ms/job, CPU {(c1 - c0) / args.jobs * 1e3:.2f} ms/job"
        f" (runner, spawner and jobs)" + (f", {failed} FAILED" if failed else "")
    )
    del ballast


def run(ex: LocalExecutor, work: str, args: argparse.Namespace) -> tuple[float, int]:
    """Wall time of the jobs, and how many failed."""
    started = done = failed = 0
    t0 = time.perf_counter()
    while done < args.jobs:
        while started < args.jobs and len(ex.running()) < args.parallel:
            name = f"j{started}"
            log = "logs/all.log" if args.one_log else f"logs/{name}.log"
            if args.python:
                spec = JobSpec(name, work, log, {}, python=lambda: None)
            else:
                spec = JobSpec(name, work, log, {}, shell=args.cmd)
            ex.start(spec)
            started += 1
        for r in ex.wait(None):
            done += 1
            failed += r.exit_code != 0
    return time.perf_counter() - t0, failed


if __name__ == "__main__":
    main()
