"""Per-run statistics: .pyrule/runs/RUN-ID/stats.tsv and stats.json, and reading them back."""

from __future__ import annotations

import csv
import glob
import json
import os

import xxhash

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

    from .graph import Job

_to_json = json.JSONEncoder(separators=(",", ":")).encode  # one encoder: json.dumps(separators=) makes one per call
COLUMNS = ["rule", "job", "status", "start", "end", "wall_s", "cpu_s", "peak_rss_bytes", "exit_code", "attempts"]


def write_stats(result, jobs: list[Job], argv: list[str], pipefiles: list[str]) -> None:
    """Write both files of a run (`result`: its run.RunResult) in one pass, a job at a time:
    building every job's record first (and one JSON string of them all) cost 200 MB at 100,000
    jobs. `jobs`: the graph's, in its order; `argv`: the command line; `pipefiles`: the files the
    rules were loaded from (their digest is recorded)."""
    from .version import __version__

    outcomes = result.outcomes
    done = [job for job in jobs if job.name in outcomes]  # (the jobs, not pairs: 8 bytes a job)
    keys = sorted({k for job in done for k in outcomes[job.name].reported})
    head: dict[str, Any] = {
        "run_id": result.run_id, "pyrule_version": __version__, "argv": argv,
        "pipefile_hash": _hash_files(pipefiles), "status": result.status,
        "wall_s": round(result.wall_s, 4),
        "totals": {s: result.count(s) for s in ("ran", "up-to-date", "failed", "interrupted", "skipped")},
        "start": min((o.start for job in done if (o := outcomes[job.name]).start), default=None),
        "end": max((o.end for job in done if (o := outcomes[job.name]).end), default=None),
    }
    with open(os.path.join(result.run_dir, "stats.json"), "w", encoding="utf-8") as fj, \
            open(os.path.join(result.run_dir, "stats.tsv"), "w", encoding="utf-8", newline="") as ft:
        fj.write(_to_json(head)[:-1] + ',"jobs":[')
        w = csv.writer(ft, delimiter="\t", lineterminator="\n")
        w.writerow(COLUMNS + keys)
        for i, job in enumerate(done):
            o = outcomes[job.name]
            j = {
                "rule": job.rule.name, "job": job.name, "status": o.status, "reason": o.reason,
                "start": o.start or None, "end": o.end or None, "wall_s": round(o.wall_s, 4),
                "cpu_s": round(o.cpu_s, 4), "peak_rss_bytes": o.peak_rss_bytes, "exit_code": o.exit_code,
                "attempts": o.attempts, "reported": o.reported, "log": o.log, "inputs": list(job.inputs),
                "outputs": list(job.outputs), "deps": [d.name for d in job.deps],
                "resources": {k: v for k, v in job.resources.items() if isinstance(v, (int, float, str))},
            }
            if i:
                fj.write(",")
            _write_json(fj, j)
            w.writerow([j[c] if j[c] is not None else "" for c in COLUMNS] + [o.reported.get(k, "") for k in keys])
        fj.write("]}")


_PIECE = 4096  # items of a long list encoded at a time


def _write_json(f, j: dict[str, Any]) -> None:
    """`_to_json(j)` written to `f`; a long list (the inputs and deps of a job that gathers
    100,000 others) a piece at a time: its text in one string, and the encoder's list of pieces
    of it, cost ~1 KB an item at once."""
    if all(len(v) <= _PIECE for k in ("inputs", "outputs", "deps") if isinstance(v := j[k], list)):
        f.write(_to_json(j))
        return
    for n, (k, v) in enumerate(j.items()):
        f.write(("{" if n == 0 else ",") + _to_json(k) + ":")
        if isinstance(v, list) and len(v) > _PIECE:
            f.write("[")
            for i in range(0, len(v), _PIECE):
                f.write(("," if i else "") + _to_json(v[i:i + _PIECE])[1:-1])
            f.write("]")
        else:
            f.write(_to_json(v))
    f.write("}")


def _hash_files(files: list[str]) -> str:
    h = xxhash.xxh3_64()  # xxhash: already loaded; hashlib's import alone costs 2.5 ms
    for p in files:
        try:
            with open(p, "rb") as f:
                h.update(f.read())
        except OSError:
            pass
    return h.hexdigest()[:16]


def run_dirs(root: str = ".pyrule") -> list[str]:
    """Recorded runs with stats, oldest first."""
    return sorted(os.path.dirname(p) for p in glob.glob(os.path.join(root, "runs", "*", "stats.json")))


def load_stats(run_dir: str) -> dict[str, Any]:
    with open(os.path.join(run_dir, "stats.json"), encoding="utf-8") as f:
        return json.load(f)
