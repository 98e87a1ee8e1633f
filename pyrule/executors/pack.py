"""Packing short Slurm jobs: many jobs in one allocation (one `sbatch`), run in parallel there
within its cores and memory by `pack_runner.py`, each job measured on its own.

Which jobs: a rule's `group: NAME` packs its jobs (with those of other rules of that group);
`group: False` never; without `group:`, a job is packed (in a pack named after its rule) when
`[tool.pyrule.slurm] pack_below = SECONDS` is set and its declared `runtime`, else its runtime
recorded by the last runs (stats.json), is below that. Only jobs started together are packed
(jobs ready at the same time: a pack holds no job that waits for another of the pack).

This module is a leaf that the Slurm executor (slurm.py) calls: what to pack, the allocation a
pack asks for, its script and its list of jobs; the node side is pack_runner.py.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Callable, Sequence
from typing import Any

PREFIX = "pack-"  # a pack's Slurm job name: PREFIX + its group (rule names have no "-")
RUNNER = "pyrule_pack.py"
DEFAULT_SIZE = 50  # jobs per pack at most ([tool.pyrule.slurm] pack_size)
DEFAULT_CORES = 8  # cores a pack asks for at most ([tool.pyrule.slurm] pack_cores), and no more than a node has
_OWN = ("--cpus-per-task=", "--mem=", "--time=")  # what a pack computes for itself


def runner_source() -> str:
    """What `.pyrule/slurm/pyrule_pack.py` holds: pack_runner.py's text."""
    from . import pack_runner

    with open(pack_runner.__file__, encoding="utf-8") as f:
        return f.read()


def group_of(group: str | bool | None, rule: str, runtime_s: float, recorded_s: float | None,
             below_s: float) -> str | None:
    """The pack a job goes in (None: on its own). `group`: the rule's `group:`; `runtime_s`: its
    declared runtime (0: none); `recorded_s`: its wall time in the last runs that ran it;
    `below_s`: `pack_below` (0: no automatic packing)."""
    if group is False:
        return None
    if isinstance(group, str):
        return group
    if group is True:
        return rule
    if below_s <= 0:
        return None
    known = runtime_s if runtime_s else recorded_s
    return rule if known is not None and known < below_s else None


def recorded_runtimes(project_dir: str, runs: int = 5) -> dict[str, float]:
    """{job name: wall time} of the jobs that ran in the last `runs` runs (the newest wins)."""
    from ..stats import run_dirs

    out: dict[str, float] = {}
    for run_dir in run_dirs(os.path.join(project_dir, ".pyrule"))[-runs:]:
        try:
            with open(os.path.join(run_dir, "stats.json"), encoding="utf-8") as f:
                jobs = json.load(f).get("jobs", [])
        except (OSError, ValueError):
            continue
        for j in jobs:
            if isinstance(j, dict) and j.get("status") == "ran" and isinstance(j.get("wall_s"), (int, float)):
                out[str(j.get("job"))] = float(j["wall_s"])
    return out


def common(args: Sequence[str]) -> tuple[str, ...]:
    """A job's sbatch options that a pack shares with it: all but its name, log, cores, memory
    and time (the pack asks for its own)."""
    own = ("--job-name=", "--output=", "--error=", "--open-mode=", *_OWN)
    return tuple(a for a in args if not a.startswith(own))


def packs(items: Sequence[Any], group: Callable[[Any], str | None], args: Callable[[Any], Sequence[str]],
          size: int) -> tuple[list[tuple[str, list[Any]]], list[Any]]:
    """Split queued jobs into packs ((group, jobs), at most `size` jobs each, of one group and
    the same other sbatch options) and the rest. A group with one job started is no pack: the
    job goes on its own."""
    by: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
    rest: list[Any] = []
    for item in items:
        name = group(item)
        if name is None:
            rest.append(item)
        else:
            by.setdefault((name, common(args(item))), []).append(item)
    out: list[tuple[str, list[Any]]] = []
    for (name, _), jobs in by.items():
        if len(jobs) == 1:
            rest.extend(jobs)
            continue
        n = math.ceil(len(jobs) / size)  # as few packs as the size allows, of even sizes
        out += [(name, jobs[k * len(jobs) // n:(k + 1) * len(jobs) // n]) for k in range(n)]
    return out, rest


def allocation(needs: Sequence[tuple[int, int | None, int | None]], max_cores: int) -> tuple[int, int | None, int | None]:
    """(cores, memory MB or None, time limit min or None) for a pack of jobs that each need
    (cores, mem MB or None, time limit min or None): as many cores as run at once (at most
    max_cores, at least the largest job's), memory for the largest jobs that can run at once,
    and a time limit only if every job has one (their sum spread over the cores, plus the longest)."""
    cores = max(max(c for c, _, _ in needs), min(max_cores, sum(c for c, _, _ in needs)))
    at_once = max(1, min(len(needs), cores // max(1, min(c for c, _, _ in needs))))
    mems = sorted((m or 0 for _, m, _ in needs), reverse=True)
    mem = sum(mems[:at_once]) if any(mems) else None
    times = [t for _, _, t in needs]
    limit = None
    if all(times):
        limit = math.ceil(sum(t * c for (c, _, t) in needs if t) / cores) + max(t for t in times if t)
    return cores, mem, limit


def manifest(cores: int, mem: int | None, shell: str, jobs: Sequence[dict[str, Any]]) -> str:
    """PACK.json, what the node's runner reads."""
    head = json.dumps({"cores": cores, "mem_mb": mem, "shell": shell})[:-1]
    return head + ', "jobs": [\n' + ",\n".join(json.dumps(j) for j in jobs) + "\n]}\n"  # a job a line


def index_in(script_path: str, name: str) -> int | None:
    """The index of job `name` in the pack whose script is script_path (its `#  I) … # NAME` lines)."""
    import re

    try:
        with open(script_path, encoding="utf-8", errors="replace") as f:
            found = re.findall(r"^#  (\d+)\) .* # (.*)$", f.read(), re.M)
    except OSError:
        return None
    return next((int(i) for i, job in found if job == name), None)


def header(what: str, command: Sequence[str]) -> list[str]:
    """The first lines of an array's or a pack's script: what it is and how it was submitted."""
    return ["#!/bin/bash", f"# pyrule {what}, written by pyrule's Slurm executor.", "# submitted with:",
            "#   " + " ".join(shlex.quote(a) for a in command)]


def script(group: str, args: Sequence[str], path: str, workdir: str, python: str, runner: str, listing: str,
           jobs: Sequence[dict[str, Any]]) -> str:
    """A pack's batch script: cd to the project, then the runner on its list of jobs. Its
    `#  I) … # JOB` lines say which job is which (for people and for a pyrule that died)."""
    q = shlex.quote
    lines = [
        *header(f"pack: {len(jobs)} jobs of group {group}", ["sbatch", *args, path]),
        *(f"#  {i}) {q(j['script'])} >>{q(j['log'])}  # {j['name']}" for i, j in enumerate(jobs)),
        f"PYRULE_DIR={q(workdir)}",
        f"PYRULE_PYTHON={q(python)}",
        'cd "$PYRULE_DIR" || { echo "pyrule: cannot cd to $PYRULE_DIR on $(hostname): the project directory must'
        ' be shared with the nodes" >&2; exit 1; }',
        f'exec "$PYRULE_PYTHON" -S {q(runner)} {q(listing)}',  # stdlib-only: no site hooks
    ]
    return "\n".join(lines) + "\n"
