#!/usr/bin/env python3
"""N jobs of one rule on a Slurm cluster, several ways: packed (`group:`), as job arrays, one by
one (`array_size = 1`), and, for comparison, with the local executor: wall time of the run, CPU
time of pyrule itself, and the Slurm client calls it made (sbatch, squeue, sacct: counted with
PATH wrappers). Needs the Slurm client commands (and SLURM_CONF if the cluster needs it), e.g. the
test cluster of tests/slurm/cluster.sh: SLURM_CONF=/tmp/pyrule-slurm/slurm.conf.

Usage:  python benchmarks/bench_slurm_pack.py [--jobs 500] [--only pack,array,single]
        python benchmarks/bench_slurm_pack.py --w8 [--jobs 1000]   # issue 23's W8 (below)
        [--body 'sleep 1'] [-j N] [--profile DIR]

The figures in docs/slurm.md ("Packing short jobs") come from the first form: one-second jobs
(`sleep 1`), `-j N`. W8 (`--w8`) is the same with ~2 ms jobs (`--body :`, the job is bash
starting and writing its output) and the ways `local` (`-j 2`, the local executor), `array`
(`--executor slurm` as it comes: default `-j 100`, arrays), `array-jN` (`-j N`: one array per
MaxArraySize tasks) and `pack` (`group:`, `-j N`). `--profile DIR` runs pyrule under cProfile
and keeps `DIR/WAY.prof`. `--cpuacct NAME=CGROUP,...` adds a column per cgroup-v1 cpuacct
directory: the CPU its processes used during the run (put slurmctld in one and slurmd, whose
slurmstepds and jobs inherit it, in another: `echo PID > /sys/fs/cgroup/cpuacct/NAME/cgroup.procs`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WAYS = {
    # name: (rule section, pyproject [tool.pyrule.slurm] lines, executor, -j (None: N))
    "pack": ('group: "short"', "", "slurm", None),
    "array": ("priority: 0", "", "slurm", None),
    "single": ("priority: 0", "array_size = 1\n", "slurm", None),
    "local": ("priority: 0", "", "local", 2),
}
W8_WAYS = {  # W8: the Slurm executor as it comes (default -j), arrays at -j N, packs, local -j2
    "local": WAYS["local"],
    "array": ("priority: 0", "", "slurm", 0),
    "array-jN": WAYS["array"],
    "pack": WAYS["pack"],
}
COUNTED = ("sbatch", "squeue", "sacct")


def run(way: str, n: int, body: str = "sleep 1", ways: dict | None = None, jobs: int | None = None,
        profile: Path | None = None, cgroups: dict[str, Path] | None = None) -> dict:
    """One run: {"wall", "cpu" (pyrule's and its children's user+sys), "sbatch", "squeue", "sacct"
    (calls), and each cgroup's CPU seconds}."""
    section, toml, executor, j = (ways or WAYS)[way]
    j = jobs or (n if j is None else j)
    with tempfile.TemporaryDirectory(prefix=f"pyrule-bench-{way}-", dir=os.environ.get("BENCH_DIR")) as tmp:
        d = Path(tmp)
        (d / "Pipefile").write_text(
            f'rule all:\n    input: [f"out/{{i}}.txt" for i in range({n})]\n\n'
            f'rule one:\n    output: "out/{{i}}.txt"\n    {section}\n    shell: {body}; echo "job {{i}}" > {{output}}\n')
        if toml:
            (d / "pyproject.toml").write_text("[tool.pyrule.slurm]\n" + toml)
        (d / "bin").mkdir()
        for tool in COUNTED if executor == "slurm" else ():
            real = shutil.which(tool)
            assert real, f"no {tool} on PATH"
            (d / "bin" / tool).write_text(f'#!/bin/sh\necho "$*" >> {d / tool}.log\nexec {real} "$@"\n')
            (d / "bin" / tool).chmod(0o755)
        env = {**os.environ, "PATH": f"{d / 'bin'}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        prof = ["-m", "cProfile", "-o", str(profile / f"{way}.prof")] if profile else []
        argv = [sys.executable, *prof, "-m", "pyrule", "--executor", executor, *(["-j", str(j)] if j else []), "-q"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = {name: int((g / "cpuacct.usage").read_text()) for name, g in (cgroups or {}).items()}
        t0 = time.monotonic()
        p = subprocess.run(argv, cwd=d, env=env, capture_output=True, text=True, timeout=7200)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = {name: (int((g / "cpuacct.usage").read_text()) - used[name]) / 1e9 for name, g in (cgroups or {}).items()}
        if p.returncode != 0:
            raise SystemExit(f"{way}: pyrule exited {p.returncode}:\n{p.stderr}")
        bad = [i for i in range(n) if (d / "out" / f"{i}.txt").read_text() != f"job {i}\n"]
        assert not bad, f"{way}: wrong outputs {bad[:5]}"
        calls = {t: len((d / f"{t}.log").read_text().splitlines()) if (d / f"{t}.log").exists() else 0
                 for t in COUNTED}
        # (children's CPU: pyrule and, locally, its jobs; the Slurm tools' own is in it too)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        return {"wall": wall, "cpu": cpu, **calls, **used}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--only", default=None, help="ways, comma-separated")
    ap.add_argument("--w8", action="store_true", help="issue 23's W8: ~2 ms jobs, local/array/array-jN/pack")
    ap.add_argument("--body", default=None, help="each job's shell body before it writes its output")
    ap.add_argument("-j", type=int, default=None, help="-j for every way (default: N, local 2, W8's array 100)")
    ap.add_argument("--profile", type=Path, default=None, help="run pyrule under cProfile, DIR/WAY.prof")
    ap.add_argument("--cpuacct", default="", help="NAME=DIR,...: CPU of these cgroup-v1 cpuacct directories")
    args = ap.parse_args()
    cgroups = {k: Path(v) for k, v in (item.split("=", 1) for item in args.cpuacct.split(",") if item)}
    ways = W8_WAYS if args.w8 else WAYS
    body = args.body or (":" if args.w8 else "sleep 1")
    only = (args.only or ",".join(W8_WAYS if args.w8 else ("pack", "array", "single"))).split(",")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(f"| way | sbatch | squeue | sacct | wall ({args.jobs} jobs: `{body}`) | per job | CPU (pyrule + children) |"
          + "".join(f" CPU {name} |" for name in cgroups))
    print("|---|---|---|---|---|---|---|" + "---|" * len(cgroups))
    for way in only:
        r = run(way, args.jobs, body, ways, args.j, args.profile, cgroups)
        print(f"| {way} | {r['sbatch']} | {r['squeue']} | {r['sacct']} | {r['wall']:.1f} s "
              f"| {1000 * r['wall'] / args.jobs:.1f} ms | {r['cpu']:.1f} s |"
              + "".join(f" {r[name]:.1f} s |" for name in cgroups), flush=True)


if __name__ == "__main__":
    main()
