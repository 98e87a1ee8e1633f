#!/usr/bin/env python3
"""N one-second jobs of one rule on a Slurm cluster, three ways: packed (`group:`), as job arrays,
one by one (`array_size = 1`): wall time of the run and sbatch calls (counted with a PATH
wrapper). Needs the Slurm client commands (and SLURM_CONF if the cluster needs it), e.g. the test
cluster of tests/slurm/cluster.sh: SLURM_CONF=/tmp/pyrule-slurm/slurm.conf.

Usage:  python benchmarks/bench_slurm_pack.py [--jobs 500] [--only pack,array,single]

The figures in docs/slurm.md ("Packing short jobs") come from this script.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WAYS = {
    # name: (rule section, pyproject [tool.pyrule.slurm] lines)
    "pack": ('group: "short"', ""),
    "array": ("priority: 0", ""),
    "single": ("priority: 0", "array_size = 1\n"),
}


def run(way: str, n: int) -> tuple[float, int, str]:
    section, profile = WAYS[way]
    with tempfile.TemporaryDirectory(prefix=f"pyrule-bench-{way}-", dir=os.environ.get("BENCH_DIR")) as tmp:
        d = Path(tmp)
        (d / "Pipefile").write_text(
            f'rule all:\n    input: [f"out/{{i}}.txt" for i in range({n})]\n\n'
            f'rule one:\n    output: "out/{{i}}.txt"\n    {section}\n    shell: sleep 1; echo "job {{i}}" > {{output}}\n')
        if profile:
            (d / "pyproject.toml").write_text("[tool.pyrule.slurm]\n" + profile)
        real = shutil.which("sbatch")
        assert real, "no sbatch on PATH"
        (d / "bin").mkdir()
        calls = d / "calls.log"
        (d / "bin" / "sbatch").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n')
        (d / "bin" / "sbatch").chmod(0o755)
        env = {**os.environ, "PATH": f"{d / 'bin'}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "pyrule", "--executor", "slurm", "-j", str(n), "-q"], cwd=d,
                           env=env, capture_output=True, text=True, timeout=3600)
        wall = time.monotonic() - t0
        if p.returncode != 0:
            raise SystemExit(f"{way}: pyrule exited {p.returncode}:\n{p.stderr}")
        bad = [i for i in range(n) if (d / "out" / f"{i}.txt").read_text() != f"job {i}\n"]
        assert not bad, f"{way}: wrong outputs {bad[:5]}"
        made = calls.read_text().splitlines()
        return wall, len(made), made[0][:60] if made else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--only", default="pack,array,single")
    args = ap.parse_args()
    print(f"| submission | sbatch calls | wall time of the run ({args.jobs} one-second jobs, -j {args.jobs}) |")
    print("|---|---|---|")
    for way in args.only.split(","):
        wall, calls, _ = run(way, args.jobs)
        print(f"| {way} | {calls} | {wall:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
