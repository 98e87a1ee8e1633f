"""Orphans: outputs of jobs that a checkpoint's new result no longer asks for.

When a checkpoint's outputs change (one chunk fewer), the jobs of the vanished part leave their
outputs behind. They are found among the recorded jobs of the rules that checkpoint-dependent
jobs use, reported, and removed with --delete-orphans (protected ones only with
--overwrite-protected).
"""

from __future__ import annotations

import os
import stat

from .graph import Job, JobGraph
from .outputs import remove
from .state import State


def find_orphans(graph: JobGraph, state: State | None) -> list[tuple[str, list[str]]]:
    """(job name, existing outputs) of recorded jobs no longer in the graph, below a checkpoint."""
    planner = graph.planner
    if state is None or planner is None or not planner.asked:
        return []
    checkpoints = set(planner.asked)
    askers = {a for jobs in planner.asked.values() for a in jobs}
    rules: set[str] = set()
    seen: set[Job] = set()
    stack = [d for a in askers for d in a.deps]
    while stack:
        job = stack.pop()
        if job in seen or job in checkpoints:
            continue
        seen.add(job)
        rules.add(job.rule.name)
        stack.extend(job.deps)
    current = {j.name for j in graph.jobs}
    found = []
    for name, outputs in state.recorded_outputs(sorted(rules)):
        if name not in current:
            existing = [p for p in outputs if os.path.lexists(p)]
            if existing:
                found.append((name, existing))
    return found


def delete_orphans(orphans: list[tuple[str, list[str]]], state: State,
                   overwrite_protected: bool = False) -> tuple[int, list[tuple[str, str]]]:
    """Remove the orphans' outputs and forget their jobs: (how many removed, (job, path) of each
    protected one kept). Protected: read-only, as protected() outputs are made (outputs.protect);
    kept unless overwrite_protected, and its job stays recorded (so still reported)."""
    n, kept = 0, []
    for name, outputs in orphans:
        mine = [p for p in outputs if not overwrite_protected and _read_only(p)]
        for p in outputs:
            if p not in mine:
                remove(p)
                n += 1
        kept += [(name, p) for p in mine]
        if not mine:
            state.forget_job(name)
    return n, kept


def _read_only(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return not stat.S_ISLNK(st.st_mode) and not st.st_mode & stat.S_IWUSR
