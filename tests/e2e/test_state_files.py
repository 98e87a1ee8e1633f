"""What a build leaves under .pyrule/ does not grow with its number of jobs (issue 23, W7b: at
most 70 files after a build of a million jobs): the store, the lock files (a fixed number), the
run's log and stats; no file per job. A quiet job that ran one sampling interval (0.2 s) or more,
which a loaded machine can make a `cat` take, has a log while it runs, removed when it succeeds
(tests/e2e/test_quiet_logs.py)."""

from __future__ import annotations

import os
import re

from harness import fanout, ok

LOCKS = os.path.join(".pyrule", "locks", "")


def _build(d, n: int) -> tuple[list[str], list[str]]:
    """Build the fan-out of `n` quiet jobs in `d`: (the files under .pyrule/ but its logs, the logs: none)."""
    fanout(d, n)
    r = ok(d, "-q", "-j", "2")
    assert len(r.ran) == n
    files, logs = [], []
    for top, _dirs, names in os.walk(d / ".pyrule"):
        for name in names:
            path = os.path.relpath(os.path.join(top, name), d)
            (logs if path.startswith(os.path.join(".pyrule", "logs", "")) else files).append(path)
    assert not logs, f"quiet jobs that succeeded left logs: {logs[:5]}"
    return files, logs


def test_a_build_leaves_the_same_files_under_pyrule_at_any_size(tmp_path):
    small, _ = _build(tmp_path / "small", 20)
    large, _ = _build(tmp_path / "large", 200)

    def shape(files: list[str]) -> list[str]:
        """The files but the lock files, the run directory's name replaced."""
        run_dir = next(os.path.dirname(p) for p in files if p.endswith("stats.json"))
        return sorted(p.replace(run_dir, "RUN") for p in files if not p.startswith(LOCKS))

    def locks(files: list[str]) -> set[str]:
        return {p for p in files if p.startswith(LOCKS)}

    assert shape(small) == shape(large) and len(shape(large)) <= 4  # the store, run.log, stats.json/tsv
    # Job locks: one file for all the jobs whose names hash to one of 64 (locks.py), made when first used.
    assert locks(small) <= locks(large) and len(locks(large)) <= 64
    assert all(re.fullmatch(r"jobs-[0-9a-f]{2}\.lock", os.path.basename(p)) for p in locks(large))
    assert len(large) <= 70, large
