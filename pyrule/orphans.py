"""Orphans: outputs of jobs that a checkpoint's new result no longer asks for.

When a checkpoint's outputs change (one chunk fewer), the jobs of the vanished part leave their
outputs behind. They are found among the recorded jobs of the rules that checkpoint-dependent
jobs use, reported, and removed with --delete-orphans.
"""

from __future__ import annotations

import os

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


def delete_orphans(orphans: list[tuple[str, list[str]]], state: State) -> int:
    n = 0
    for name, outputs in orphans:
        for p in outputs:
            remove(p)
            n += 1
        state.forget_job(name)
    return n
