"""What a Python body job costs on a Slurm node before its body runs: the old `--run-job` (load the
Pipefile again, plan, find the job) against the shipped spec (pyjob.py: `python run.py SPEC`),
for a Pipefile whose top level reads a sample sheet of ROWS lines. Both run here, as the node
would run them; the ratio is what counts (docs/slurm.md#python-bodies-on-a-node).

    python benchmarks/bench_pybody_node.py [ROWS] [REPEATS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time

PIPEFILE = """\
python:
    SHEET = {}
    with open("sheet.tsv") as f:  # a sample sheet read at the top level
        for line in f:
            name, value, group = line.rstrip("\\n").split("\\t")
            SHEET[name] = (float(value), group)
    SAMPLES = sorted(SHEET)[:200]

rule all:
    input: expand("out/{s}.txt", s=SAMPLES)

rule make:
    output: "out/{s}.txt"
    python:
        with open(output[0], "w") as f:
            f.write(wildcards.s + "\\n")
"""


def measure(argv: list[str], repeats: int) -> tuple[float, int]:
    """Median wall seconds, and the largest peak RSS (KB) of its runs (wait4's own of each)."""
    walls, peak = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        walls.append(time.perf_counter() - start)
        assert status == 0, argv
        peak = max(peak, usage.ru_maxrss)
    walls.sort()
    return walls[len(walls) // 2], peak


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        with open("sheet.tsv", "w") as f:
            f.writelines(f"s{i}\t{i / rows}\tgroup{i % 50}\n" for i in range(rows))
        with open("Pipefile", "w") as f:
            f.write(textwrap.dedent(PIPEFILE))
        os.mkdir("out")  # (made by the executor before the job starts)
        # the spec, written by a child: this process stays small (a child starts with its parent's
        # peak RSS as its own, across exec)
        subprocess.run([sys.executable, __file__, "--prepare"], check=True)
        shipped, rss_shipped = measure([sys.executable, ".pyrule/pyjob/run.py", ".pyrule/pyjobs/make.json"], repeats)
        reparse, rss_reparse = measure([sys.executable, "-m", "pyrule", "--run-job", "make[s=s7]", "-f", "Pipefile",
                                        "-q", "--", "out/s7.txt"], repeats)
        bare, _ = measure([sys.executable, "-c", "pass"], repeats)
    print(f"sheet of {rows} rows, medians of {repeats}: --run-job {reparse * 1000:.0f} ms, "
          f"shipped {shipped * 1000:.0f} ms, bare python {bare * 1000:.0f} ms; "
          f"ratio {reparse / shipped:.1f}x; peak RSS {rss_reparse // 1024} MB (--run-job), "
          f"{rss_shipped // 1024} MB (shipped)")


def prepare() -> None:
    """Write the job's shipped spec (and the runner) as the Slurm executor would."""
    from pyrule.executors.base import write_files
    from pyrule.jobspec import job_spec
    from pyrule.load import load
    from pyrule.plan import plan

    rules = load("Pipefile")
    job = next(j for j in plan(rules, ["out/s7.txt"]).jobs if j.name == "make[s=s7]")
    ship = job_spec(job, rules.namespace, ".pyrule/runs/X", 1).ship
    assert ship is not None
    write_files(os.getcwd(), ship(".pyrule/pyjobs/make.json"))


if __name__ == "__main__":
    prepare() if sys.argv[1:] == ["--prepare"] else main()
