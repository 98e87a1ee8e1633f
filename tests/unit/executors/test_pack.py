"""pyrule.executors.pack (what to pack, a pack's allocation) and pack_runner.py, the node side,
run for real as a subprocess on real job scripts (no Slurm needed: the runner is a plain process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pyrule.executors import pack
from pyrule.executors.pack_runner import __file__ as RUNNER


def test_which_jobs_go_in_a_pack():
    assert pack.group_of("short", "one", 0, None, 0) == "short"  # group: NAME
    assert pack.group_of(True, "one", 0, None, 0) == "one"
    assert pack.group_of(False, "one", 5, 1.0, 60) is None  # opted out, however short
    assert pack.group_of(None, "one", 5, None, 0) is None  # no pack_below: only group: packs
    assert pack.group_of(None, "one", 30, None, 60) == "one"  # declared runtime below pack_below
    assert pack.group_of(None, "one", 120, 1.0, 60) is None  # the declared runtime wins over the record
    assert pack.group_of(None, "one", 0, 2.5, 60) == "one"  # recorded runtime
    assert pack.group_of(None, "one", 0, None, 60) is None  # nothing known: not packed


def test_packs_split_by_group_and_options_at_most_size_each():
    items = [("g", ["--partition=a"], i) for i in range(7)] + [("g", ["--partition=b"], 7), (None, [], 8)]
    packs, rest = pack.packs(items, lambda it: it[0], lambda it: [*it[1], f"--job-name=x{it[2]}", "--mem=5M"], 3)
    assert [[it[2] for it in chunk] for _, chunk in packs] == [[0, 1], [2, 3], [4, 5, 6]]  # even sizes
    assert sorted(it[2] for it in rest) == [7, 8]  # a group of one is no pack


def test_allocation():
    # ten 1-core jobs of 100 MB and 2 min, at most 4 cores: 4 at a time
    assert pack.allocation([(1, 100, 2)] * 10, 4) == (4, 400, 5 + 2)
    # no memory, one job without a time limit: neither asked for
    assert pack.allocation([(1, None, 2), (1, None, None)], 8) == (2, None, None)
    # a job larger than the cap gets its cores
    assert pack.allocation([(6, None, None), (1, None, None)], 4) == (6, None, None)


def test_the_runner_runs_jobs_in_parallel_each_measured_on_its_own(tmp_path: Path):
    measure = tmp_path / "pyrule_measure.py"
    from pyrule.executors.slurm import MEASURE_SOURCE

    measure.write_text(MEASURE_SOURCE)
    jobs = []
    bodies = {
        "sleep0": "sleep 1; echo zero",
        "sleep1": "sleep 1; echo one",
        "fails": "echo failing >&2; exit 3",
        "big": f'{sys.executable} -c "b = bytearray(100 << 20); import time; time.sleep(0.5)"',
        "nocd": None,  # its script fails before the measuring wrapper: the runner writes its usage
    }
    for name, body in bodies.items():
        script = tmp_path / f"{name}.sh"
        usage = tmp_path / f"{name}.usage.json"
        if body is None:
            script.write_text("cd /no/such/dir || exit 1\n")
        else:
            script.write_text(f"exec {sys.executable} {measure} {usage} -- /bin/bash -c '{body}'\n")
        jobs.append({"name": name, "script": str(script), "log": str(tmp_path / f"{name}.log"), "usage": str(usage),
                     "cores": 1, "mem_mb": None})
    listing = tmp_path / "pack.json"
    listing.write_text(pack.manifest(2, None, "/bin/bash", jobs))
    p = subprocess.run([sys.executable, RUNNER, str(listing)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    usage = {n: json.loads((tmp_path / f"{n}.usage.json").read_text()) for n in bodies}
    assert {n: u["exit_code"] for n, u in usage.items()} == {"sleep0": 0, "sleep1": 0, "fails": 3, "big": 0, "nocd": 1}
    # two cores: the two sleeps ran at the same time
    assert usage["sleep0"]["start"] < usage["sleep1"]["end"] and usage["sleep1"]["start"] < usage["sleep0"]["end"]
    assert usage["big"]["peak_rss_bytes"] > 80 << 20 > usage["sleep0"]["peak_rss_bytes"]
    assert (tmp_path / "fails.log").read_text() == "failing\n"
    assert (tmp_path / "sleep1.log").read_text() == "one\n"


def test_the_runner_keeps_to_its_cores(tmp_path: Path):
    """One core: the jobs run one after the other."""
    jobs = []
    for i in range(3):
        script = tmp_path / f"{i}.sh"
        script.write_text(f"date +%s.%N > {tmp_path}/{i}.start; sleep 0.3; date +%s.%N > {tmp_path}/{i}.end\n")
        jobs.append({"name": str(i), "script": str(script), "log": str(tmp_path / f"{i}.log"),
                     "usage": str(tmp_path / f"{i}.usage.json"), "cores": 1, "mem_mb": None})
    listing = tmp_path / "pack.json"
    listing.write_text(pack.manifest(1, None, "/bin/bash", jobs))
    subprocess.run([sys.executable, RUNNER, str(listing)], check=True, timeout=60)
    times = [(float((tmp_path / f"{i}.start").read_text()), float((tmp_path / f"{i}.end").read_text())) for i in range(3)]
    assert all(times[i][1] <= times[i + 1][0] for i in range(2)), times
