"""What a run records (.pyrule/runs/RUN-ID/: stats.tsv, stats.json, run.log) and `--stats`."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from harness import ok, pipefile, pyrule

MB = 2**20


def test_peak_rss_of_a_python_job_allocating_300_mb(tmp_path: Path):
    pipefile(tmp_path, """
        rule big:
            output: "big.txt"
            python:
                import time
                block = bytearray(300 * 1024 * 1024)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(0.6)
                open(output[0], "w").write(str(len(block)))
    """)
    r = ok(tmp_path)
    job = r.jobs()["big"]
    assert job["peak_rss_bytes"] >= 300 * MB, job
    assert job["peak_rss_bytes"] < 2000 * MB, job
    assert job["cpu_s"] > 0


def test_peak_rss_of_a_shell_job_tree(tmp_path: Path):
    """The memory of a process the shell starts counts (the whole tree is measured)."""
    pipefile(tmp_path, """
        rule big:
            output: "big.txt"
            shell:
                python3 -c "import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.6)"
                touch {output}
    """)
    job = ok(tmp_path).jobs()["big"]
    assert job["peak_rss_bytes"] >= 200 * MB, job


def test_stats_tsv_and_json_columns(tmp_path: Path):
    pipefile(tmp_path, """
        default: all

        rule all:
            input: "a.txt", "b.txt"

        rule a:
            output: "a.txt"
            shell: echo a > {output}

        rule b:
            output: "b.txt"
            shell: exit 4
    """)
    r = pyrule(tmp_path, "-k")
    assert r.rc == 1
    with open(Path(r.run_dir) / "stats.tsv", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader)
        rows = {row[1]: dict(zip(header, row)) for row in reader}
    assert header[:10] == ["rule", "job", "status", "start", "end", "wall_s", "cpu_s", "peak_rss_bytes", "exit_code",
                           "attempts"]
    assert rows["a"]["status"] == "ran" and rows["a"]["exit_code"] == "0" and rows["a"]["attempts"] == "1"
    assert float(rows["a"]["end"]) >= float(rows["a"]["start"]) > 0
    assert float(rows["a"]["wall_s"]) >= 0
    assert rows["b"]["status"] == "failed" and rows["b"]["exit_code"] == "4"
    assert rows["all"]["status"] == "skipped"  # its input b.txt failed: not "up to date"

    doc = json.loads((Path(r.run_dir) / "stats.json").read_text())
    assert doc["status"] == "failed"
    assert doc["run_id"] == Path(r.run_dir).name
    assert doc["totals"] == {"ran": 1, "up-to-date": 0, "failed": 1, "interrupted": 0, "skipped": 1}
    b = next(j for j in doc["jobs"] if j["job"] == "b")
    assert b["reason"] == "exit code 4" and b["log"] == ".pyrule/logs/b/b.log"


def test_run_log_has_timestamped_decisions(tmp_path: Path):
    pipefile(tmp_path, """
        default: b.txt

        rule a:
            output: "a.txt"
            shell: echo a > {output}

        rule b:
            output: "b.txt"
            input: "a.txt"
            shell: cp {input} {output}
    """)
    r = ok(tmp_path)
    lines = (Path(r.run_dir) / "run.log").read_text().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} "
    assert all(re.match(stamp, ln) for ln in lines), lines
    text = "\n".join(ln.split(" ", 1)[1] for ln in lines)
    assert "decide a: stale: output a.txt missing" in text
    assert "start a (attempt 1): output a.txt missing" in text
    assert re.search(r"end a: ok in [\d.]+s", text)
    assert text.endswith("run ok")
    (Path(tmp_path) / "a.txt").write_text("changed\n")
    r = ok(tmp_path)
    text = (Path(r.run_dir) / "run.log").read_text()
    assert "decide a: stale" not in text
    assert "decide b: stale: input a.txt changed (content)" in text
    assert "decide a: up to date: signature unchanged since its last success" in text


STATS_PIPEFILE = """
    N ?= 1
    default: all

    rule all:
        input: "one.txt", "two.txt"

    rule work:
        output: "{name}.txt"
        params: n = N
        shell: sleep 0.05; echo {params.n} > {output}
"""


def test_stats_command_shows_the_last_runs_table(tmp_path: Path):
    pipefile(tmp_path, STATS_PIPEFILE)
    bad = pyrule(tmp_path, "--stats")
    assert bad.rc == 2 and "no recorded runs" in bad.err
    ok(tmp_path)
    r = ok(tmp_path, "N=2")
    out = ok(tmp_path, "--stats").out
    lines = out.splitlines()
    assert lines[0].startswith(f"run {Path(r.run_dir).name}: ok, 2 ran, 1 up-to-date")
    assert lines[1].split() == ["job", "status", "wall", "cpu", "peak", "mem", "exit", "attempts", "reported"]
    work = {ln.split()[0]: ln.split() for ln in lines[2:]}
    assert set(work) == {"work[name=one]", "work[name=two]", "all"}
    assert work["work[name=one]"][1] == "ran"
    assert work["all"][1] == "up-to-date"
    assert "\x1b[" not in out


def test_stats_command_summarises_a_rule_across_runs(tmp_path: Path):
    pipefile(tmp_path, STATS_PIPEFILE)
    runs = [ok(tmp_path, f"N={n}").stats() for n in (1, 2, 3)]
    ok(tmp_path, "N=3")  # nothing ran: not counted
    out = ok(tmp_path, "--stats", "work").out
    lines = out.splitlines()
    assert lines[0] == "rule work: 6 job run(s) in 3 of 3 recorded run(s)"  # the no-op run leaves no record
    walls = [j["wall_s"] for doc in runs for j in doc["jobs"] if j["rule"] == "work"]
    mean = sum(walls) / len(walls)
    words = lines[1].split()
    assert words[:2] == ["wall:", "mean"] and words[3] == "max", lines[1]
    assert abs(float(words[2].rstrip("s,")) - mean) < 0.006 and abs(float(words[4].rstrip("s")) - max(walls)) < 0.006
    # (sleep 0.05 is shorter than one memory sample: usually not measured)
    assert lines[2] == "  peak memory: —" or lines[2].startswith("  peak memory: mean ") and ", max " in lines[2]
    assert lines[3].split()[:3] == ["run", "jobs", "failed"]
    assert [ln.split()[0] for ln in lines[4:]] == [doc["run_id"] for doc in runs]
    assert all(ln.split()[1:3] == ["2", "0"] for ln in lines[4:])
    bad = pyrule(tmp_path, "--stats", "wrok")
    assert bad.rc == 2 and "did you mean 'work'?" in bad.err


def test_short_jobs_never_report_the_runner_s_own_memory(tmp_path: Path):
    """A spawned child's ru_maxrss starts from the runner's peak RSS; the runner grows while it
    runs, so comparing with its RSS at spawn let ~20 MB "peaks" through for `cat` jobs."""
    pipefile(tmp_path, """
        rule all:
            input: expand("out/{i}.txt", i=range(300))
        rule copy:
            output: "out/{i}.txt"
            shell: cat Pipefile > {output}
    """)
    r = ok(tmp_path, "-j", "2")
    rows = list(csv.DictReader(open(Path(r.run_dir) / "stats.tsv"), delimiter="\t"))
    peaks = [int(row["peak_rss_bytes"] or 0) for row in rows if row["rule"] == "copy"]
    assert len(peaks) == 300
    assert max(peaks) < 10 * 2**20, sorted(peaks)[-5:]  # cat's own tree is ~1-2 MB; the runner 20+


def test_stats_rule_shows_unmeasured_memory_as_a_dash(tmp_path: Path):
    """Jobs shorter than one memory sample have no measured peak: "—", as --stats shows it per job, not 0B.
    (A shell job's peak is always measured now, through the spawner: a short Python body's is not.)"""
    pipefile(tmp_path, """
        rule quick:
            output: "q.txt"
            python:
                open(output[0], "w").close()
    """)
    r = ok(tmp_path)
    assert r.jobs()["quick"]["peak_rss_bytes"] == 0  # (the precondition: not measured)
    lines = ok(tmp_path, "--stats", "quick").out.splitlines()
    assert lines[2] == "  peak memory: —"
    assert lines[4].split()[-2:] == ["—", "—"]
    assert "0B" not in "\n".join(lines)
