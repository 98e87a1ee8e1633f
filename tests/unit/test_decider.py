"""Unit tests of the decider (pyrule/decide.py): real Pipefiles loaded and planned in a
temporary directory, a real state store, real files; builds are real `pyrule` runs. Each test
pins one row of the reasons table in docs/how-it-decides.md, and that the row applies exactly
when it should (the neighbouring jobs keep their own reason, or stay up to date)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from harness import CHAIN_PIPEFILE, ok, pipefile, write

from pyrule.decide import Decider, Decision, Fingerprints, signature
from pyrule.load import load
from pyrule.plan import plan
from pyrule.run import dead_jobs
from pyrule.stat_cache import StatCache
from pyrule.state import State

PIPEFILE = CHAIN_PIPEFILE

UP_TO_DATE = "signature unchanged since its last success"


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, PIPEFILE)
    write(tmp_path / "a.txt", "y\nx\n")
    return tmp_path


def built(d: Path) -> Path:
    r = ok(d)
    assert r.ran == {"b", "c"}, r
    return d


def decide(overrides: dict | None = None, **kw) -> dict[str, Decision]:
    """Every job's decision, as a run in the current directory would make it."""
    graph = plan(load("Pipefile", overrides), [])
    state = State(".pyrule")
    try:
        return {d.job.name: d for d in Decider(state, StatCache(), **kw).decide_all(graph.jobs)}
    finally:
        state.close()


def reasons(decisions: dict[str, Decision]) -> dict[str, str | None]:
    return {name: d.reason for name, d in decisions.items()}


def edit(path: str, old: str, new: str) -> None:
    text = Path(path).read_text()
    assert old in text
    Path(path).write_text(text.replace(old, new))


def test_nothing_recorded_every_output_missing(proj: Path):
    ds = decide()
    assert reasons(ds) == {"b": "output b.txt missing", "c": "output c.txt missing", "all": "upstream c will run"}
    assert ds["all"].upstream and ds["all"].pending
    assert not ds["b"].upstream and not ds["c"].upstream


def test_after_a_build_everything_is_up_to_date(proj: Path):
    built(proj)
    ds = decide()
    assert reasons(ds) == {"b": None, "c": None, "all": None}
    assert ds["b"].why == ds["c"].why == UP_TO_DATE
    assert ds["all"].why == "gathers its inputs"


def test_output_missing_only_for_its_job(proj: Path):
    built(proj)
    os.unlink("c.txt")
    assert reasons(decide()) == {"b": None, "c": "output c.txt missing", "all": "upstream c will run"}


def test_upstream_will_run(proj: Path):
    built(proj)
    os.unlink("b.txt")
    ds = decide()
    assert reasons(ds) == {"b": "output b.txt missing", "c": "upstream b will run", "all": "upstream c will run"}
    assert ds["c"].upstream


def test_forced_comes_first(proj: Path):
    built(proj)
    os.unlink("b.txt")
    graph = plan(load("Pipefile"), [])
    c = next(j for j in graph.jobs if j.name == "c")
    b = next(j for j in graph.jobs if j.name == "b")
    state = State(".pyrule")
    ds = {d.job.name: d.reason for d in Decider(state, StatCache(), forced={b, c}).decide_all(graph.jobs)}
    state.close()
    assert ds == {"b": "forced", "c": "forced", "all": "upstream c will run"}


def test_never_built_and_an_input_newer_than_the_outputs(proj: Path):
    write(proj / "b.txt", "x\ny\n")
    write(proj / "c.txt", "x\ny\n1\n")
    os.utime("b.txt", ns=(1_000_000_000_000, 1_000_000_000_000))
    os.utime("c.txt", ns=(3_000_000_000_000, 3_000_000_000_000))
    os.utime("a.txt", ns=(2_000_000_000_000, 2_000_000_000_000))
    ds = decide()
    assert ds["b"].reason == "never built by pyrule, and input a.txt is newer than its outputs"
    assert ds["c"].reason == "upstream b will run"


def test_never_built_outputs_newer_than_inputs_are_adopted(proj: Path):
    write(proj / "b.txt", "x\ny\n")
    write(proj / "c.txt", "x\ny\n1\n")
    for i, p in enumerate(("a.txt", "b.txt", "c.txt")):
        os.utime(p, ns=((i + 1) * 10**12, (i + 1) * 10**12))
    ds = decide()
    assert reasons(ds) == {"b": None, "c": None, "all": None}
    assert ds["b"].adopt and ds["c"].adopt
    assert ds["b"].why == "outputs exist and are newer than every input (adopted)"
    assert ds["b"].sig is not None  # recorded as if the job had run


def test_rule_body_changed(proj: Path):
    built(proj)
    edit("Pipefile", "cat {input} > {output}", "cat {input} {input} > {output}")
    assert reasons(decide()) == {"b": None, "c": "rule body changed", "all": "upstream c will run"}


def test_a_comment_in_the_pipefile_changes_no_signature(proj: Path):
    built(proj)
    edit("Pipefile", "rule c:", "# the copy\nrule c:")
    assert reasons(decide()) == {"b": None, "c": None, "all": None}


def test_params_changed(proj: Path):
    built(proj)
    edit("Pipefile", "k = 1", "k = 2")
    assert reasons(decide()) == {"b": "params.k: 1 → 2", "c": "upstream b will run", "all": "upstream c will run"}


def test_body_change_is_said_before_params_change(proj: Path):
    built(proj)
    edit("Pipefile", "k = 1", "k = 2")
    edit("Pipefile", "sort {input}", "sort -r {input}")
    assert decide()["b"].reason == "rule body changed"


def test_top_level_name_changed(proj: Path):
    built(proj)
    ds = decide({"N": 2})
    assert reasons(ds) == {"b": None, "c": "top-level {N} in the shell body: 1 → 2", "all": "upstream c will run"}
    assert reasons(decide({"N": 1})) == {"b": None, "c": None, "all": None}  # the default, given


def test_input_set_changed(proj: Path):
    built(proj)
    edit("Pipefile", 'input: "b.txt"', 'input: "b.txt", "a.txt"')
    assert decide()["c"].reason == "input set changed (+a.txt)"
    edit("Pipefile", 'input: "b.txt", "a.txt"', 'input: "a.txt", "b.txt"')
    assert decide()["c"].reason == "input set changed (+a.txt)"
    assert decide()["b"].reason is None


def test_input_order_changed(proj: Path):
    write(proj / "d.txt", "d\n")
    edit("Pipefile", 'input: "b.txt"', 'input: "b.txt", "d.txt"')
    built(proj)
    edit("Pipefile", 'input: "b.txt", "d.txt"', 'input: "d.txt", "b.txt"')
    assert decide()["c"].reason == "input set changed (order)"


def test_input_content_changed(proj: Path):
    built(proj)
    write(proj / "a.txt", "z\nx\n")
    assert reasons(decide()) == {"b": "input a.txt changed (content)", "c": "upstream b will run",
                                 "all": "upstream c will run"}


def test_touch_without_change_is_up_to_date(proj: Path):
    built(proj)
    st = os.stat("a.txt")
    os.utime("a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))
    assert reasons(decide()) == {"b": None, "c": None, "all": None}


def test_same_size_content_under_the_old_mtime_is_seen(proj: Path):
    # cp -p / rsync -t: new bytes, same size, mtime set back; only ctime tells
    built(proj)
    st = os.stat("a.txt")
    with open("a.txt", "r+") as f:
        f.write("z")
    os.utime("a.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert decide()["b"].reason == "input a.txt changed (content)"


def test_check_mtime(proj: Path):
    edit("Pipefile", "params: k = 1", "params: k = 1\n    check: mtime")
    built(proj)
    st = os.stat("a.txt")
    os.utime("a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))
    assert reasons(decide()) == {"b": "input a.txt changed (mtime)", "c": "upstream b will run",
                                 "all": "upstream c will run"}


def _rebuild(decider: Decider, state: State, stats: StatCache, job, content: str) -> None:
    """What the runner does for a job that runs: signature when it starts, new outputs, record."""
    sig = decider.signature(job)
    os.unlink("b.txt")
    write(Path("b.txt"), content)
    stats.forget("b.txt")
    state.succeeded(job.name, job.rule.name, sig[0], sig[1])
    decider.ran(job)


def test_early_cutoff_identical_output_leaves_the_consumer_up_to_date(proj: Path):
    built(proj)
    write(proj / "a.txt", "x\ny\n")  # other bytes, same sorted output
    graph = plan(load("Pipefile"), [])
    b, c = (next(j for j in graph.jobs if j.name == n) for n in "bc")
    state, stats = State(".pyrule"), StatCache()
    decider = Decider(state, stats)
    ds = {d.job.name: d for d in decider.decide_all(graph.jobs)}
    assert ds["b"].reason == "input a.txt changed (content)"
    assert ds["c"].reason == "upstream b will run" and ds["c"].upstream
    _rebuild(decider, state, stats, b, "x\ny\n")
    after = decider.decide(c, fresh=True)
    assert after.reason is None and after.why == UP_TO_DATE
    assert c not in decider.will_run
    state.close()


def test_no_early_cutoff_when_the_output_differs(proj: Path):
    built(proj)
    write(proj / "a.txt", "w\nx\ny\n")
    graph = plan(load("Pipefile"), [])
    b, c = (next(j for j in graph.jobs if j.name == n) for n in "bc")
    state, stats = State(".pyrule"), StatCache()
    decider = Decider(state, stats)
    decider.decide_all(graph.jobs)
    _rebuild(decider, state, stats, b, "w\nx\ny\n")
    assert decider.decide(c, fresh=True).reason == "input b.txt changed (content)"
    assert c in decider.will_run
    state.close()


def test_early_cutoff_end_to_end(proj: Path):
    built(proj)
    write(proj / "a.txt", "x\ny\n")
    r = ok(proj)
    assert r.ran == {"b"} and r.jobs()["c"]["status"] == "up-to-date", r


def test_incomplete_after_an_interrupted_run(proj: Path):
    built(proj)
    # c marked running by a process that is gone: the mark's pid is ours but its start time
    # (0.0) is no live process's, as when the pid of a pyrule that died has been reused
    state = State(".pyrule")
    assert state.running() == []
    state.mark_running([("c", 0, ["c.txt"])], "dead-run", 0.0)
    dead = dead_jobs(state)
    assert [r.name for r in dead] == ["c"]
    state.close()
    ds = decide(incomplete={r.name for r in dead})
    assert reasons(ds) == {"b": None, "c": "incomplete after an interrupted run", "all": "upstream c will run"}
    # outputs present and the signature unchanged: only the interruption makes it stale
    assert reasons(decide()) == {"b": None, "c": None, "all": None}


def test_incomplete_end_to_end_is_rerun(proj: Path):
    built(proj)
    state = State(".pyrule")
    state.mark_running([("c", 0, ["c.txt"])], "dead-run", 0.0)
    state.close()
    assert "c: incomplete after an interrupted run" in ok(proj, "-n").out
    r = ok(proj)
    assert r.ran == {"c"}, r


def test_fingerprints_reuse_a_recorded_hash_and_rehash_on_change(proj: Path):
    built(proj)
    state = State(".pyrule")
    fps = Fingerprints(state, StatCache())
    first = fps.of("a.txt", "checksum")
    assert len(first) == 32  # xxh3-128
    assert fps.of("a.txt", "mtime").startswith(f"m:{os.stat('a.txt').st_size}:")
    # a recorded hash is used while size, mtime, inode and ctime are the same: a bogus one shows it
    st = os.stat("a.txt")
    state.file_cache()["a.txt"] = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, "recorded")
    assert Fingerprints(state, StatCache()).of("a.txt", "checksum") == "recorded"
    write(proj / "a.txt", "q\n")
    assert Fingerprints(state, StatCache()).of("a.txt", "checksum") not in ("recorded", first)
    assert Fingerprints(state, StatCache()).of("nope.txt", "checksum") == "missing"
    state.close()


def test_signature_covers_every_part(proj: Path):
    graph = plan(load("Pipefile"), [])
    b = next(j for j in graph.jobs if j.name == "b")
    fps = Fingerprints(None, StatCache())
    digest, parts = signature(b, fps)
    assert parts["inputs"] == ["a.txt"] and parts["outputs"] == ["b.txt"]
    assert parts["params"] == {"k": "1"}
    assert parts["fps"] == [fps.of("a.txt", "checksum")]
    assert signature(b, Fingerprints(None, StatCache()))[0] == digest  # deterministic
    write(proj / "a.txt", "other\n")
    assert signature(b, Fingerprints(None, StatCache()))[0] != digest


MORE = """
    FACTOR ?= 2
    LEVEL ?= 1
    default: all

    rule all:
        input: "p.txt", "e.txt", "u.txt"

    rule py:
        output: "p.txt"
        python:
            open(output[0], "w").write(str(3 * FACTOR))

    rule env:
        output: "e.txt"
        env: LEVEL = LEVEL
        shell:
            echo $LEVEL > {output}

    rule tmp:
        output: temp("t.txt")
        shell:
            echo t > {output}

    rule use:
        output: "u.txt"
        input: "t.txt"
        shell:
            cat {input} > {output}

    rule hello:
        shell:
            echo hello
"""


@pytest.fixture
def more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, MORE)
    r = ok(tmp_path)
    assert r.ran == {"py", "env", "tmp", "use"}, r
    assert not (tmp_path / "t.txt").exists()  # temp(): removed once used
    return tmp_path


def test_env_changed(more: Path):
    assert decide({"LEVEL": 2})["env"].reason == "env.LEVEL: 1 → 2"
    assert decide()["env"].reason is None


def test_python_body_top_level_name_and_code(more: Path):
    assert reasons(decide({"FACTOR": 3}))["py"] == "top-level FACTOR in the Python body: 2 → 3"
    edit("Pipefile", "str(3 * FACTOR)", "str(4 * FACTOR)")
    assert decide()["py"].reason == "rule body changed"


def test_removed_temp_output_is_up_to_date_until_a_consumer_needs_it(more: Path):
    ds = decide()
    assert reasons(ds) == {"py": None, "env": None, "tmp": None, "use": None, "all": None}
    assert ds["tmp"].temp_gone == ["t.txt"]
    assert ds["tmp"].why == "signature unchanged; its temp() outputs were removed after use"
    os.unlink("u.txt")
    assert reasons(decide()) == {"py": None, "env": None, "tmp": "temp output t.txt was removed; use needs it",
                                 "use": "output u.txt missing", "all": "upstream use will run"}


def test_a_rule_without_outputs_runs_whenever_requested(more: Path):
    graph = plan(load("Pipefile"), ["hello"])
    state = State(".pyrule")
    [d] = Decider(state, StatCache()).decide_all(graph.jobs)
    state.close()
    assert d.reason == "phony rule: runs whenever requested"


def test_being_built_by_another_process_and_not_adopting(more: Path):
    ds = decide(busy={"env": 4242})
    assert ds["env"].reason == "being built by another pyrule process (pid 4242)"
    assert ds["py"].reason is None
    shutil.rmtree(".pyrule")
    graph = plan(load("Pipefile"), [])
    decider = Decider(State(".pyrule"), StatCache(), adopt=False)  # after waiting for a run whose .pyrule/ was deleted
    d = decider.decide(next(j for j in graph.jobs if j.name == "py"))
    assert d.reason == ("no record of its outputs, which another pyrule may have left half-written "
                        "(the state store was deleted during its run)")
    decider.state.close()
