"""Unit tests of what the runner tells the decider (pyrule/decide.py, Decider): force,
mark_incomplete, ran, signature, settled and the `adopt` argument. In-process: a real Pipefile
loaded and planned in a temporary directory, a real state store, real files; the one build is
done by the decider's own signatures recorded in the store, as Runner._start/_ended do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import pipefile, write

from pyrule.decide import Decider, InputError, signature
from pyrule.graph import Job
from pyrule.load import load
from pyrule.plan import plan
from pyrule.stat_cache import StatCache
from pyrule.state import State

# a.txt -> b (sort) -> b.txt -> c (copy) -> c.txt
PIPEFILE = """
    rule c:
        output: "c.txt"
        input: "b.txt"
        shell: cat {input} > {output}

    rule b:
        output: "b.txt"
        input: "a.txt"
        shell: sort {input} > {output}
"""
UP_TO_DATE = "signature unchanged since its last success"


def jobs() -> dict[str, Job]:
    return {j.name: j for j in plan(load("Pipefile"), []).jobs}


def build(state: State, job: Job, content: str) -> None:
    """What the runner does for a job that runs: its signature when it starts, then its output
    written, then the record."""
    sig = signature(job, Decider(state, StatCache()).fps)
    write(Path(job.outputs[0]), content)
    state.succeeded(job.name, job.rule.name, sig[0], sig[1])
    state.flush()


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """b and c built and recorded: every job up to date. Yields the open store."""
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, PIPEFILE)
    write(tmp_path / "a.txt", "y\nx\n")
    state = State(".pyrule")
    js = jobs()
    build(state, js["b"], "x\ny\n")
    build(state, js["c"], "x\ny\n")
    yield state
    state.close()


def test_built_jobs_are_up_to_date(built: State):
    decider = Decider(built, StatCache())
    assert {d.job.name: d.why for d in decider.decide_all(list(jobs().values()))} == {"b": UP_TO_DATE,
                                                                                    "c": UP_TO_DATE}


def test_force_makes_an_up_to_date_job_run_and_only_it(built: State):
    js = jobs()
    decider = Decider(built, StatCache())
    assert decider.decide(js["c"]).reason is None
    decider.force(js["c"])
    assert decider.decide(js["c"]).reason == "forced"
    assert js["c"] in decider.will_run
    assert decider.decide(js["b"]).reason is None


def test_mark_incomplete_makes_the_named_jobs_run(built: State):
    js = jobs()
    decider = Decider(built, StatCache())
    decider.mark_incomplete({"b"})
    decider.mark_incomplete(set())  # adds, never replaces
    d = decider.decide(js["b"], fresh=True)
    assert d.reason == "incomplete after an interrupted run" and not d.adopt
    assert decider.decide(js["c"]).reason == "upstream b will run"


def test_ran_lets_consumers_be_decided_on_their_own_signatures(built: State):
    """Early cutoff: b reruns (its input changed) and writes the same bytes; once the runner says
    it ran, c is up to date again; until then, c waits as "upstream b will run"."""
    js = jobs()
    write(Path("a.txt"), "x\ny\n")  # other bytes, the same sorted output
    stats = StatCache()
    decider = Decider(built, stats)
    assert [d.reason for d in decider.decide_all([js["b"], js["c"]])] == ["input a.txt changed (content)",
                                                                          "upstream b will run"]
    sig = decider.signature(js["b"])
    write(Path("b.txt"), "x\ny\n")
    stats.forget("b.txt")
    built.succeeded("b", "b", sig[0], sig[1])
    assert decider.decide(js["c"], fresh=True).reason == "upstream b will run"
    decider.ran(js["b"])
    assert js["b"] not in decider.will_run
    assert decider.decide(js["c"], fresh=True).why == UP_TO_DATE


def test_signature_is_the_jobs_signature_on_its_inputs_now(built: State):
    js = jobs()
    decider = Decider(built, StatCache())
    before = decider.signature(js["b"])
    assert before == signature(js["b"], Decider(built, StatCache()).fps)
    write(Path("a.txt"), "z\n")
    after = Decider(built, StatCache()).signature(js["b"])
    assert after[0] != before[0] and after[1]["inputs"] == ["a.txt"]


def test_signature_raises_input_error_for_an_unreadable_input(built: State):
    os.unlink("a.txt")
    os.mkfifo("a.txt")  # reading it would wait for a writer forever
    with pytest.raises(InputError, match="cannot read input a.txt: not a regular file"):
        Decider(built, StatCache()).signature(jobs()["b"])


def test_adopt_false_refuses_outputs_without_a_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, PIPEFILE)
    write(tmp_path / "a.txt", "y\n")
    os.utime("a.txt", ns=(0, 0))
    write(tmp_path / "b.txt", "y\n")  # newer than a.txt, and no record
    state = State(".pyrule")
    try:
        b = jobs()["b"]
        assert Decider(state, StatCache()).decide(b).adopt
        d = Decider(state, StatCache(), adopt=False).decide(b)
        assert not d.adopt and d.reason is not None and d.reason.startswith("no record of its outputs")
    finally:
        state.close()


def _hashed(path: str) -> Decider:
    """A decider (no store) that has fingerprinted `path`, with nothing racily clean."""
    decider = Decider(None, StatCache())
    decider.fps.of(path, "content")
    decider.fps.racy.clear()
    return decider


def test_settled_with_nothing_racily_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x.txt", "one\n")
    assert _hashed("x.txt").settled()


def test_settled_verifies_a_racy_file_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A file hashed within its timestamp tick: settled once its content is the one decided on;
    not if it changed meanwhile."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x.txt", "one\n")
    same = _hashed("x.txt")
    same.fps.racy.add("x.txt")
    changed = _hashed("x.txt")
    changed.fps.racy.add("x.txt")
    assert same.settled() and same.fps.racy == set()  # trusted from now on
    write(tmp_path / "x.txt", "two\n")
    assert not changed.settled()


def test_settled_takes_the_earlier_deciders_racy_files_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """After a build the runner decides again (noop_memo.leave): a file the build's decider
    hashed while racily clean must be verified by the new one too."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x.txt", "one\n")
    later, alone = _hashed("x.txt"), _hashed("x.txt")
    earlier = Decider(None, StatCache())
    earlier.fps.racy.add("x.txt")
    write(tmp_path / "x.txt", "two\n")
    assert alone.settled()  # nothing racy of its own
    assert not later.settled(earlier=earlier)
    assert later.fps.racy == {"x.txt"}
