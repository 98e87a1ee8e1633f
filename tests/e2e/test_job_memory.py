"""Every local shell job's peak memory is its own and measured, however short (issue 23).

A process forked from the runner starts with the runner's memory high-water mark, and Linux
keeps it across exec into wait4's ru_maxrss: a 5 ms `cat` of a 300 MB runner reported 300 MB,
so such peaks were dropped, and every job shorter than one 0.2 s sample showed "not measured".
The jobs are now forked by a small spawner process (pyrule/executors/spawner.py)."""

from __future__ import annotations

import csv
from pathlib import Path

from harness import ok, pipefile

MB = 2**20

# The runner itself holds ~150 MB: a job that inherited its high-water mark would show it.
BALLAST = """
        BALLAST = b"x" * (150 * 2**20)
"""


def _peaks(run_dir: str, rule: str) -> list[int]:
    with open(Path(run_dir) / "stats.tsv", encoding="utf-8") as f:
        return [int(row["peak_rss_bytes"] or 0) for row in csv.DictReader(f, delimiter="\t") if row["rule"] == rule]


def test_a_5_ms_job_has_its_own_measured_peak_far_below_the_runner_s(tmp_path: Path):
    pipefile(tmp_path, BALLAST + """
        rule all:
            input: expand("out/{i}.txt", i=range(20))

        rule quick:
            input: "Pipefile"
            output: "out/{i}.txt"
            shell: cat {input} > {output}
    """)
    r = ok(tmp_path, "-j", "2")
    peaks = _peaks(r.run_dir, "quick")
    assert len(peaks) == 20
    walls = [j["wall_s"] for j in r.jobs().values() if j["job"].startswith("quick")]
    assert min(walls) < 0.2, walls  # shorter than one memory sample
    assert all(0 < p < 30 * MB for p in peaks), peaks  # measured, and not the runner's 150+ MB


def test_a_short_job_allocating_200_mb_reports_at_least_200_mb(tmp_path: Path):
    pipefile(tmp_path, BALLAST + """
        rule big:
            output: "big.txt"
            shell: python3 -c "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); open('{output}', 'w')"
    """)
    r = ok(tmp_path)
    [peak] = _peaks(r.run_dir, "big")
    assert 200 * MB <= peak < 400 * MB, peak


def test_a_job_run_by_bash_is_measured_too(tmp_path: Path):
    """A pipeline is not one simple command: bash runs it, and the peak is still the job's own."""
    pipefile(tmp_path, BALLAST + """
        rule piped:
            output: "p.txt"
            shell: cat Pipefile | wc -l > {output}
    """)
    r = ok(tmp_path)
    [peak] = _peaks(r.run_dir, "piped")
    assert 0 < peak < 30 * MB, peak
