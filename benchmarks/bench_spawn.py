#!/usr/bin/env python3
"""Per-job overhead of the local executor: N trivial `true` jobs, P at a time.

Usage:  python benchmarks/bench_spawn.py [--jobs 500] [--parallel 2] [--python] [--one-log] [--ballast-mb 0]

--python runs an empty Python body instead of the shell job; --one-log appends every job to
one log instead of creating a log file per job (as the runner does; on a slow disk, creating
the file can cost as much as the spawn); --ballast-mb grows the runner's RSS first (fork
copies page tables, so spawn cost grows with the runner's size).
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--one-log", action="store_true", help="one shared log instead of one per job")
    ap.add_argument("--ballast-mb", type=int, default=0, help="grow the runner's RSS by this much first")
    args = ap.parse_args()
    ballast = b"x" * (args.ballast_mb * 2**20)

    with tempfile.TemporaryDirectory() as work, LocalExecutor() as ex:
        started = done = failed = 0
        t0 = time.perf_counter()
        while done < args.jobs:
            while started < args.jobs and len(ex.running()) < args.parallel:
                name = f"j{started}"
                log = "logs/all.log" if args.one_log else f"logs/{name}.log"
                if args.python:
                    spec = JobSpec(name, work, log, {}, python=lambda: None)
                else:
                    spec = JobSpec(name, work, log, {}, shell="true")
                ex.start(spec)
                started += 1
            for r in ex.wait(None):
                done += 1
                failed += r.exit_code != 0
        dt = time.perf_counter() - t0
    kind = "python" if args.python else "shell"
    logs = "one log" if args.one_log else "a log each"
    print(
        f"{args.jobs} {kind} jobs ({logs}), {args.parallel} at a time, runner +{args.ballast_mb} MB: "
        f"{args.jobs / dt:.0f} jobs/s, {dt / args.jobs * 1e3:.2f} ms/job" + (f", {failed} FAILED" if failed else "")
    )
    del ballast


if __name__ == "__main__":
    main()
