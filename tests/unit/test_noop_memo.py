"""noop_memo.leave, in process: when a run leaves a no-op memo at its end, and what it writes in the
run log when it does not. Real Pipefiles, a real state store and real files in a temporary
directory; the memo is then read back with noop_memo.unchanged, as the next run would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import write

from pyrule.decide import Decider
from pyrule.noop_memo import leave, unchanged
from pyrule.stat_cache import StatCache
from pyrule.state import State

from .test_decide import build, graph_jobs, proj, store  # noqa: F401 (proj: a fixture, used by `built`)

KEY = "memo-key"


@pytest.fixture
def built(proj: Path) -> Path:  # noqa: F811 (the fixture imported above)
    """test_decide's chain a.txt -> b.txt -> c.txt, built."""
    build()
    return proj


def _run_end(state: State, noop: bool, decider: Decider | None = None, stats: StatCache | None = None,
             generation: int | None = -1) -> list[str]:
    """What leave() logs at the end of a run that decided the graph with `decider` (a no-op:
    passing its decisions; else a build: leave() decides again); generation -1: the store's now."""
    jobs = list(graph_jobs().values())
    stats = StatCache() if stats is None else stats
    decider = decider or Decider(state, stats)
    decisions = decider.decide_all(jobs)
    logged: list[str] = []
    leave(state, KEY, state.generation() if generation == -1 else generation, stats, jobs, decider,
          decisions if noop else None, logged.append)
    return logged


@pytest.mark.parametrize("noop", [True, False])
def test_a_run_that_would_find_nothing_to_do_leaves_a_memo(built: Path, noop: bool):
    with store() as state:
        assert _run_end(state, noop) == ["no-op memo left"]
        found = unchanged(state, KEY)
    assert found is not None
    assert found[0] == 2, "b and c count as up to date; `all` (no body) does not"


@pytest.mark.parametrize("noop", [True, False])
def test_no_memo_while_a_job_is_marked_running(built: Path, noop: bool):
    with store() as state:
        state.mark_running([("x", 0, ["x.txt"])], "other-run", 0.0)
        assert _run_end(state, noop) == ["no-op memo not left: jobs are marked running"]
        assert unchanged(state, KEY) is None


def test_no_memo_after_a_no_op_that_began_with_jobs_marked_running(built: Path):
    with store() as state:  # generation None: the run's decisions read marks since removed
        assert _run_end(state, True, generation=None) == ["no-op memo not left: jobs are marked running"]
        assert unchanged(state, KEY) is None


def test_after_a_build_a_job_that_would_run_again_leaves_no_memo(built: Path):
    with store() as state:
        jobs = list(graph_jobs().values())
        decider = Decider(state, StatCache())
        decider.decide_all(jobs)
        os.unlink("c.txt")  # removed once the build was over
        logged: list[str] = []
        leave(state, KEY, state.generation(), StatCache(), jobs, decider, None, logged.append)
        assert logged == ["no-op memo not left: c would run again (output c.txt missing)"]
        assert unchanged(state, KEY) is None


def test_a_directory_among_the_paths_leaves_no_memo(built: Path):
    os.mkdir("sub")
    stats = StatCache()
    stats.stat("sub")
    with store() as state:
        assert _run_end(state, True, stats=stats) == [
            "no-op memo not left: a directory among the paths, or the store changed meanwhile"]
        assert unchanged(state, KEY) is None


@pytest.mark.parametrize("noop", [True, False])
def test_a_file_changed_within_its_tick_leaves_no_memo(built: Path, noop: bool):
    with store() as state:
        # The run's decider hashed x.txt (read by no job: a build's second decider does not
        # look at it again, only through the first) within its timestamp tick; it changed since.
        write(built / "x.txt", "one\n")
        decider = Decider(state, StatCache())
        decider.fps.of("x.txt", "content")
        decider.fps.racy.add("x.txt")
        write(built / "x.txt", "changed\n")
        assert _run_end(state, noop, decider=decider)[-1] == (
            "no-op memo not left: a file changed within its timestamp tick, or its tick is not over")
        assert unchanged(state, KEY) is None
