"""noop_memo's partial path, in process: the graph a memo keeps, what a failed check names
(noop_memo.check -> Partial), when it sends the run the long way, and when the memo it leaves
again is refused (State.raised: another process's writes). Real Pipefiles, a real store and
real files in a temporary directory (test_decide's chain: a.txt -> b.txt -> c.txt, `all`)."""

from __future__ import annotations

import os
from array import array
from pathlib import Path

import pytest
from harness import write

from pyrule import noop_memo
from pyrule.decide import Decider
from pyrule.noop_memo import Graph, Partial, check, leave, unchanged
from pyrule.stat_cache import StatCache
from pyrule.state import State

from .test_decide import build, graph_jobs, proj, store  # noqa: F401 (proj: a fixture, used by `built`)

KEY = "memo-key"


@pytest.fixture
def built(proj: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811 (the fixture imported above)
    monkeypatch.setattr(noop_memo, "PARTIAL_MIN_JOBS", 0)  # (a graph of two jobs: the long way, else)
    build()
    with store() as state:
        stats = StatCache()
        jobs = list(graph_jobs().values())
        decider = Decider(state, stats)
        logged: list[str] = []
        leave(state, KEY, state.generation(), stats, jobs, decider, decider.decide_all(jobs), logged.append)
        assert logged == ["no-op memo left"]
    return proj


def _partial() -> Partial:
    with store() as state:
        found = check(state, KEY, partial=True)
    assert isinstance(found, Partial), found
    return found


def test_the_memo_keeps_the_jobs_of_every_path(built: Path):
    jobs = graph_jobs()
    stats = StatCache()
    for j in jobs.values():
        for p in (*j.outputs, *j.inputs):
            stats.stat(p)
    paths = list(stats)
    made = Graph.of(paths, array("Q", [1] * 5 * len(paths)), list(jobs.values()))
    assert made is not None
    g = Graph.decode(made.encode())
    assert g is not None
    b, c = (g.producer[paths.index(p)] for p in ("b.txt", "c.txt"))
    assert (b, c) == (0, 1)  # `all` (a gather) is not among them
    assert g.jobs_of(paths.index("a.txt")) == [b]
    assert g.jobs_of(paths.index("b.txt")) == [b, c]
    assert g.reach([b]) == {b, c} and g.reach([c]) == {c}
    assert [paths[i] for i in g.inputs(c)] == ["b.txt"] and [paths[i] for i in g.outputs(c)] == ["c.txt"]


def test_unchanged_paths_answer_at_once(built: Path):
    with store() as state:
        assert check(state, KEY, partial=True) == (2, 3)


def test_a_small_graph_decides_the_long_way(built: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(noop_memo, "PARTIAL_MIN_JOBS", 3)
    write("a.txt", "changed\n")
    with store() as state:
        assert check(state, KEY, partial=True) is None


def test_a_changed_input_names_the_jobs_it_reaches(built: Path):
    write("a.txt", "changed\n")
    with store() as state:
        assert unchanged(state, KEY) is None  # the whole no-op: no
    p = _partial()
    assert p.why is None
    assert p.targets == ["b.txt", "c.txt"]  # b reads a.txt; c reads b.txt, downstream


def test_a_deleted_output_is_decided_not_a_reason_for_the_long_way(built: Path):
    os.remove("c.txt")
    p = _partial()
    assert p.why is None and "c.txt" in p.targets


def test_a_vanished_source_decides_the_long_way(built: Path):
    # planning reads whether a path that no job makes exists: the graph itself may differ
    os.remove("a.txt")
    assert _partial().why == "a.txt vanished"


def test_a_directory_decides_the_long_way(built: Path):
    os.remove("c.txt")
    os.mkdir("c.txt")
    assert _partial().why == "c.txt is a directory now"


def test_the_planned_graph_must_be_the_memos(built: Path):
    write("a.txt", "changed\n")
    p = _partial()
    jobs = graph_jobs(["c.txt"])
    assert p.matches(list(jobs.values()))
    assert p.mine == set(p.reached) == {0, 1}
    assert not p.matches([jobs["c"]])  # b, which the changed path reaches, is not in it
    assert not p.matches(list(graph_jobs().values()))  # `all` is no job of the memo's


def _save(p: Partial, stats: StatCache) -> str | None:
    with store() as state:
        start = state.generation()
        return p.save(state, start, stats)


def test_the_memo_is_left_again_with_what_the_run_saw(built: Path):
    write("a.txt", "changed\n")
    p = _partial()
    assert p.matches(list(graph_jobs(["c.txt"]).values()))
    stats = StatCache()
    for path in ("a.txt", "b.txt", "c.txt"):
        stats.stat(path)
    assert _save(p, stats) is None
    with store() as state:
        assert unchanged(state, KEY) == (2, 3)


def test_a_path_a_trusted_job_reads_that_changed_after_the_check_leaves_no_memo(built: Path):
    write("a.txt", "changed\n")
    p = _partial()
    # As if only b were decided (a run would not: c, downstream, is missing): c is trusted.
    assert not p.matches(list(graph_jobs(["b.txt"]).values()))
    assert p.mine == {0}
    write("b.txt", "changed again, after the check\n")  # c (trusted here) reads it
    stats = StatCache()
    for path in ("a.txt", "b.txt"):
        stats.stat(path)
    assert _save(p, stats) == "b.txt changed during the run"


def test_a_path_the_memo_does_not_know_leaves_no_memo(built: Path):
    write("a.txt", "changed\n")
    p = _partial()
    assert p.matches(list(graph_jobs(["c.txt"]).values()))
    stats = StatCache()
    stats.stat("elsewhere.txt")
    assert _save(p, stats) == "the run looked at paths the memo does not know"


def test_another_process_writing_to_the_store_meanwhile_leaves_no_memo(built: Path):
    write("a.txt", "changed\n")
    p = _partial()
    assert p.matches(list(graph_jobs(["c.txt"]).values()))
    with store() as state:
        start = state.generation()
        state.succeeded("b", "b", "d1", {})
        state.flush()  # this process's own write: counted in state.raised
        assert state.raised == 1 and state.generation() == start + 1
        with store() as other:
            other.succeeded("c", "c", "d2", {})
            other.flush()
        assert p.save(state, start, StatCache()) == "another process wrote to the store meanwhile"
        assert p.save(state, start - 1, StatCache()) == "the store changed after the memo was checked"


def test_the_store_counts_its_own_raises(proj: Path):  # noqa: F811 (the fixture imported above)
    with store() as state:
        g = state.generation()
        state.mark_running([("x", 0, ["x.txt"])], "run", 0.0)
        state.succeeded("x", "x", "d", {})
        state.flush()
        state.forget_job("x")
        assert state.generation() - g == state.raised == 3


def test_a_store_reading_few_jobs_reads_them_one_by_one(built: Path):
    with store() as full:
        records, files = dict(full.records()), dict(full.file_cache())
    state = State(".pyrule")
    state.few = True
    try:
        assert state.record("c") == records["c"]
        assert state.record("nothing") is None
        assert state.file_cache().get("a.txt") == files["a.txt"]
        assert state.file_cache().get("nothing.txt") is None
        assert set(state.records()) == {"c", "nothing"}  # only what was asked was read
    finally:
        state.close()
