"""The decider (pyrule/decide.py), in process: real Pipefiles loaded and planned in a temporary
directory, a real state store, real files, and (but in the last section) no `pyrule` subprocess, so
that mutation testing (docs/testing.md) sees every call. A "build" here writes the outputs and
records the signatures as a successful run would. Each test pins one reason of docs/how-it-
decides.md (the exact text users see) and that it applies exactly when it should: the rules before
it in the table win, the rules after it do not. Then what the runner tells the decider; last,
reasons after builds that are real `pyrule` runs."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import xxhash
from harness import CHAIN_PIPEFILE, ok, pipefile, wait_for, write

from pyrule.decide import (
    Decider,
    Decision,
    Fingerprints,
    InputError,
    hash_file,
    racily_clean,
    signature,
    unsettled_ns,
)
from pyrule.graph import Job
from pyrule.load import load
from pyrule.plan import plan
from pyrule.run import dead_jobs
from pyrule.stat_cache import StatCache
from pyrule.state import State

UP_TO_DATE = "signature unchanged since its last success"
T1, T2, T3 = 1_000_000_000_000, 2_000_000_000_000, 3_000_000_000_000  # fixed mtimes (ns)

# a.txt -> b (sort) -> b.txt -> c (with the top-level N) -> c.txt; `all` gathers c.txt
CHAIN = CHAIN_PIPEFILE


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, CHAIN)
    write(tmp_path / "a.txt", "y\nx\n")
    return tmp_path


@contextmanager
def store():
    state = State(".pyrule")
    try:
        yield state
    finally:
        state.close()


def graph_jobs(targets=(), overrides: dict | None = None) -> dict[str, Job]:
    return {j.name: j for j in plan(load("Pipefile", overrides), list(targets)).jobs}


def decide(targets=(), overrides: dict | None = None, adopt: bool = True, forced=(), **kw) -> dict[str, Decision]:
    """Every job's decision, as a run in the current directory would make it (`forced`: job names)."""
    graph = graph_jobs(targets, overrides)
    with store() as state:
        decider = Decider(state, StatCache(), forced={graph[n] for n in forced}, **kw)
        if not adopt:
            decider.adopt = False
        return {d.job.name: d for d in decider.decide_all(list(graph.values()))}


def reasons(decisions: dict[str, Decision]) -> dict[str, str | None]:
    return {name: d.reason for name, d in decisions.items()}


def build(targets=(), overrides: dict | None = None, skip=()) -> None:
    """What a successful run of every job leaves (`skip`: jobs left alone): each output written
    (its job's name as content), then the job's signature recorded."""
    with store() as state:
        for job in graph_jobs(targets, overrides).values():
            if job.phony or job.name in skip:
                continue
            for p in job.outputs:
                write(Path(p), f"{job.name}\n")
            state.succeeded(job.name, job.rule.name, *signature(job, Fingerprints(state, StatCache())))


def edit(path: str, old: str, new: str) -> None:
    text = Path(path).read_text()
    assert old in text
    Path(path).write_text(text.replace(old, new))


def utime(path: str, ns: int) -> None:
    os.utime(path, ns=(ns, ns))


# --- the order of the rules ----------------------------------------------------------------


def test_nothing_built(proj: Path):
    ds = decide()
    assert reasons(ds) == {"b": "output b.txt missing", "c": "output c.txt missing", "all": "upstream c will run"}
    assert ds["all"].upstream and ds["all"].pending
    assert not ds["b"].upstream and not ds["c"].upstream and not ds["b"].pending


def test_built_is_up_to_date(proj: Path):
    build()
    ds = decide()
    assert reasons(ds) == {"b": None, "c": None, "all": None}
    assert ds["b"].why == ds["c"].why == UP_TO_DATE
    assert ds["all"].why == "gathers its inputs"
    assert not ds["all"].pending and not ds["all"].upstream
    assert not any(d.adopt or d.temp_gone or d.sig for d in ds.values())


def test_will_run_holds_exactly_the_stale_jobs(proj: Path):
    build()
    os.unlink("c.txt")
    jobs = graph_jobs()
    with store() as state:
        decider = Decider(state, StatCache())
        decider.decide_all(list(jobs.values()))
        assert decider.will_run == {jobs["c"], jobs["all"]}
        write(Path("c.txt"), "c\n")
        decider.stats.forget("c.txt")
        assert decider.decide(jobs["c"], fresh=True).reason is None  # made meanwhile, as recorded
        assert decider.will_run == {jobs["all"]}


CHECKPOINT = """
    checkpoint split:
        output: "n.txt"
        shell: echo 2 > {output}

    python:
        def parts(w):
            n = int(open(checkpoints.split.get().output[0]).read())
            return [f"p{i}.txt" for i in range(n)]

    rule merge:
        output: "m.txt"
        input: parts
        shell: cat {input} > {output}
"""


def test_waits_for_a_checkpoint_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, CHECKPOINT)
    ds = decide(["m.txt"], forced={"merge"}, incomplete={"merge"})
    assert ds["merge"].reason == "waits for checkpoint split"
    assert ds["merge"].upstream and not ds["merge"].pending
    assert ds["split"].reason == "output n.txt missing"


def test_forced(proj: Path):
    build()
    ds = decide(forced={"b"}, incomplete={"b"}, busy={"b": 7})
    assert reasons(ds) == {"b": "forced", "c": "upstream b will run", "all": "upstream c will run"}
    assert not ds["b"].upstream
    assert reasons(decide(forced={"c"})) == {"b": None, "c": "forced", "all": "upstream c will run"}


PHONY = """
    rule hello:
        input: "a.txt"
        shell: echo hello

    rule gather:
        input: "a.txt"
"""


def test_a_rule_without_outputs_runs_whenever_requested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, PHONY)
    write(tmp_path / "a.txt", "a\n")
    ds = decide(["hello", "gather"], incomplete={"hello", "gather"}, busy={"hello": 1})
    assert reasons(ds) == {"hello": "phony rule: runs whenever requested", "gather": None}
    assert not ds["hello"].upstream and not ds["hello"].pending
    assert ds["gather"].why == "gathers its inputs"
    assert decide(["hello"], forced={"hello"})["hello"].reason == "forced"


def test_a_gather_waits_for_the_first_input_that_will_be_built(proj: Path):
    edit("Pipefile", 'input: "c.txt"', 'input: "a.txt", "b.txt", "c.txt"')
    build()
    assert reasons(decide()) == {"b": None, "c": None, "all": None}
    os.unlink("c.txt")
    ds = decide()
    assert ds["all"].reason == "upstream c will run" and ds["all"].upstream and ds["all"].pending
    os.unlink("b.txt")
    assert decide()["all"].reason == "upstream b will run"


def test_incomplete_after_an_interrupted_run(proj: Path):
    build()
    ds = decide(incomplete={"c"}, busy={"c": 9})
    assert reasons(ds) == {"b": None, "c": "incomplete after an interrupted run", "all": "upstream c will run"}
    assert not ds["c"].upstream
    os.unlink("b.txt")  # a missing output of its own job comes after: b is not incomplete
    assert reasons(decide(incomplete={"c"})) == {"b": "output b.txt missing", "c": "incomplete after an interrupted run",
                                                 "all": "upstream c will run"}


def test_being_built_by_another_process(proj: Path):
    build()
    os.unlink("c.txt")
    ds = decide(busy={"c": 4242, "b": 0})
    assert reasons(ds) == {"b": "being built by another pyrule process",
                           "c": "being built by another pyrule process (pid 4242)", "all": "upstream c will run"}
    assert not ds["c"].upstream and not ds["c"].adopt


def test_a_fresh_decision_ignores_the_other_process(proj: Path):
    build()
    jobs = graph_jobs()
    with store() as state:
        decider = Decider(state, StatCache(), busy={"b": 5, "c": 5})
        assert decider.decide(jobs["b"]).reason == "being built by another pyrule process (pid 5)"
        assert jobs["b"] in decider.will_run
        d = decider.decide(jobs["b"], fresh=True)  # once its lock is ours: decided on what it left
        assert d.reason is None and d.why == UP_TO_DATE
        assert jobs["b"] not in decider.will_run


def test_output_missing_names_the_first_missing_output(proj: Path):
    edit("Pipefile", 'output: "b.txt"', 'output: "b.txt", "b2.txt", "b3.txt"')
    build()
    assert decide()["b"].reason is None
    os.unlink("b3.txt")
    assert decide()["b"].reason == "output b3.txt missing"
    os.unlink("b2.txt")
    assert decide()["b"].reason == "output b2.txt missing"


def test_output_missing_comes_before_upstream(proj: Path):
    build()
    os.unlink("b.txt")
    os.unlink("c.txt")
    ds = decide()
    assert reasons(ds) == {"b": "output b.txt missing", "c": "output c.txt missing", "all": "upstream c will run"}
    assert not ds["c"].upstream


def test_upstream_will_run(proj: Path):
    build()
    os.unlink("b.txt")
    ds = decide()
    assert reasons(ds) == {"b": "output b.txt missing", "c": "upstream b will run", "all": "upstream c will run"}
    assert ds["c"].upstream and not ds["c"].pending


def test_upstream_names_the_first_dependency_that_will_run(proj: Path):
    edit("Pipefile", 'input: "b.txt"\n', 'input: "a2.txt", "b.txt"\n')
    edit("Pipefile", "rule c:", 'rule a2:\n    output: "a2.txt"\n    shell: echo > {output}\n\nrule c:')
    build()
    os.unlink("b.txt")
    assert decide()["c"].reason == "upstream b will run"
    os.unlink("a2.txt")
    assert decide()["c"].reason == "upstream a2 will run"


# --- adoption: outputs without a record ----------------------------------------------------


def test_outputs_newer_than_every_input_are_adopted(proj: Path):
    write(proj / "b.txt", "x\ny\n")
    write(proj / "c.txt", "x\ny\n1\n")
    utime("a.txt", T1)
    utime("b.txt", T2)
    utime("c.txt", T2)  # as new as its input: adopted too
    ds = decide()
    assert reasons(ds) == {"b": None, "c": None, "all": None}
    assert ds["b"].adopt and ds["c"].adopt
    assert ds["b"].why == "outputs exist and are newer than every input (adopted)"
    with store() as state:  # recorded as if it had run: the signature a run would record
        assert ds["b"].sig == signature(graph_jobs()["b"], Fingerprints(state, StatCache()))


def test_never_built_and_an_input_newer_than_the_outputs(proj: Path):
    edit("Pipefile", 'input: "a.txt"', 'input: "a.txt", "d.txt", "e.txt"')
    edit("Pipefile", 'output: "b.txt"', 'output: "b.txt", "b2.txt"')
    for p, t in (("a.txt", T1), ("d.txt", T3), ("e.txt", T2), ("b.txt", T2 + 1), ("b2.txt", T2 + 2)):
        write(proj / p, p)
        utime(p, t)
    ds = decide(["b.txt"])
    assert ds["b"].reason == "never built by pyrule, and input d.txt is newer than its outputs"
    assert not ds["b"].adopt and ds["b"].sig is None
    utime("d.txt", T2 + 1)  # as new as the oldest output: adopted
    assert decide(["b.txt"])["b"].adopt
    utime("d.txt", T2 + 2)  # newer than one output only
    assert decide(["b.txt"])["b"].reason == "never built by pyrule, and input d.txt is newer than its outputs"


def test_outputs_without_inputs_are_adopted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, 'rule z:\n    output: "z.txt"\n    shell: echo z > {output}\n')
    write(tmp_path / "z.txt", "z\n")
    assert decide(["z.txt"])["z"].adopt


def test_no_adoption_after_the_store_was_deleted_during_a_run(proj: Path):
    write(proj / "b.txt", "x\ny\n")
    utime("a.txt", T1)
    utime("b.txt", T2)
    ds = decide(["b.txt"], adopt=False)
    assert ds["b"].reason == ("no record of its outputs, which another pyrule may have left half-written "
                              "(the state store was deleted during its run)")
    assert not ds["b"].adopt
    build(["b.txt"])
    assert decide(["b.txt"], adopt=False)["b"].reason is None  # recorded: adoption is not asked


# --- temp() outputs ------------------------------------------------------------------------

TEMP = """
    rule tmp:
        output: "keep{n}.txt", temp("t{n}.txt")
        shell:
            echo t > {output}

    rule use:
        output: "u{n}.txt"
        input: "t{n}.txt", "s.txt"
        shell:
            cat {input} > {output}

    rule other:
        output: "o.txt"
        input: "s.txt"
        shell:
            cat {input} > {output}
"""
TARGETS = ["u1.txt", "u2.txt", "o.txt"]


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp[n=N] made keepN.txt and tN.txt, use[n=N] read tN.txt, and then tN.txt was removed."""
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, TEMP)
    write(tmp_path / "s.txt", "s\n")
    build(TARGETS)
    os.unlink("t1.txt")
    os.unlink("t2.txt")
    return tmp_path


def test_a_removed_temp_output_is_up_to_date(temp: Path):
    ds = decide(TARGETS)
    assert set(reasons(ds).values()) == {None}
    assert ds["tmp[n=1]"].why == "signature unchanged; its temp() outputs were removed after use"
    assert ds["tmp[n=1]"].temp_gone == ["t1.txt"]
    assert ds["use[n=1]"].why == UP_TO_DATE and not ds["use[n=1]"].temp_gone


def test_a_removed_temp_output_comes_back_when_a_consumer_runs(temp: Path):
    os.unlink("u1.txt")
    jobs = graph_jobs(TARGETS)
    with store() as state:
        decider = Decider(state, StatCache())
        ds = {d.job.name: d for d in decider.decide_all(list(jobs.values()))}
        assert reasons(ds) == {"tmp[n=1]": "temp output t1.txt was removed; use[n=1] needs it",
                               "use[n=1]": "output u1.txt missing", "tmp[n=2]": None, "use[n=2]": None, "other": None}
        assert decider.will_run == {jobs["tmp[n=1]"], jobs["use[n=1]"]}
        # decided again (fresh, as the runner does once it may start it): still needed
        d = decider.decide(jobs["tmp[n=1]"], fresh=True)
        assert d.reason == "temp output t1.txt was removed; use[n=1] needs it" and d.job is jobs["tmp[n=1]"]


@pytest.mark.parametrize("targets", [TARGETS, TARGETS[::-1]])
def test_a_temp_output_is_revived_whatever_the_order_of_the_jobs(temp: Path, targets: list[str]):
    os.unlink("u1.txt")
    assert decide(targets)["tmp[n=1]"].reason == "temp output t1.txt was removed; use[n=1] needs it"


def test_a_stale_producer_keeps_its_own_reason(temp: Path):
    os.unlink("keep1.txt")
    os.unlink("o.txt")
    assert reasons(decide(TARGETS)) == {"tmp[n=1]": "output keep1.txt missing", "use[n=1]": "upstream tmp[n=1] will run",
                                        "tmp[n=2]": None, "use[n=2]": None, "other": "output o.txt missing"}


def test_a_consumer_of_a_removed_temp_output_is_judged_on_its_recorded_fingerprint(temp: Path):
    write(temp / "s.txt", "changed\n")
    ds = decide(["u1.txt"])
    assert ds["use[n=1]"].reason == "input s.txt changed (content)"  # not t1.txt, which is gone on purpose
    assert ds["tmp[n=1]"].reason == "temp output t1.txt was removed; use[n=1] needs it"


def test_a_removed_temp_output_without_wildcards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, """
        rule mk:
            output: k = ["k.txt", temp("t.txt")], b = temp("b{{r}}.txt")
            shell: touch {output}

        rule use:
            output: "u.txt"
            input: "t.txt", "b{{r}}.txt"
            shell: cat {input} > {output}
    """)
    build(["u.txt"])
    temps = list(graph_jobs(["u.txt"])["mk"].outputs)[1:]  # the paths as the planner spells them
    for p in temps:
        os.unlink(p)
    ds = decide(["u.txt"])
    assert reasons(ds) == {"mk": None, "use": None}
    assert ds["mk"].temp_gone == temps


def test_a_revived_temp_output_names_one_consumer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, """
        rule mk:
            output: "k.txt", temp("t.txt")
            shell: touch {output}

        rule use:
            output: "u{i}.txt"
            input: "t.txt"
            shell: cat {input} > {output}
    """)
    build(["u1.txt", "u2.txt"])
    for p in ("t.txt", "u1.txt", "u2.txt"):
        os.unlink(p)
    ds = decide(["u1.txt", "u2.txt"])  # consumers are looked at last first: said once, for u2
    assert reasons(ds) == {"mk": "temp output t.txt was removed; use[i=2] needs it",
                           "use[i=1]": "output u1.txt missing", "use[i=2]": "output u2.txt missing"}


def test_a_missing_temp_output_without_a_record_is_missing(temp: Path):
    shutil.rmtree(".pyrule")
    assert reasons(decide(["u1.txt"])) == {"tmp[n=1]": "output t1.txt missing", "use[n=1]": "upstream tmp[n=1] will run"}


def test_a_missing_temp_output_decided_fresh_is_missing(temp: Path):
    jobs = graph_jobs(["u1.txt"])
    with store() as state:
        d = Decider(state, StatCache()).decide(jobs["tmp[n=1]"], fresh=True)
    assert d.reason == "output t1.txt missing"  # stale when the run began: consumers may need it


def test_a_missing_temp_output_of_a_changed_rule(temp: Path):
    edit("Pipefile", "echo t > {output}", "echo T > {output}")
    ds = decide(["u1.txt"])
    assert ds["tmp[n=1]"].reason == "rule body changed"
    assert ds["use[n=1]"].reason == "upstream tmp[n=1] will run"


# --- what changed since the last success -----------------------------------------------------


def test_rule_body_changed(proj: Path):
    build()
    edit("Pipefile", "cat {input} > {output}", "cat {input} {input} > {output}")
    assert reasons(decide()) == {"b": None, "c": "rule body changed", "all": "upstream c will run"}


def test_a_comment_changes_no_signature(proj: Path):
    build()
    edit("Pipefile", "rule c:", "# the copy\nrule c:")
    assert reasons(decide()) == {"b": None, "c": None, "all": None}


def test_body_change_is_said_before_any_other(proj: Path):
    build()
    edit("Pipefile", "k = 1", "k = 2")
    edit("Pipefile", 'input: "a.txt"', 'input: "a.txt", "c0.txt"')
    write(proj / "c0.txt", "0")
    edit("Pipefile", "sort {input}", "sort -r {input}")
    assert decide()["b"].reason == "rule body changed"


def test_params_changed(proj: Path):
    build()
    edit("Pipefile", "k = 1", "k = 2")
    assert reasons(decide()) == {"b": "params.k: 1 → 2", "c": "upstream b will run", "all": "upstream c will run"}


def test_params_added_and_removed_said_in_name_order(proj: Path):
    build()
    edit("Pipefile", "k = 1", "k = 1, j = 'x'")
    assert decide()["b"].reason == "params.j: (unset) → 'x'"
    edit("Pipefile", "k = 1, j = 'x'", "z = 1")
    assert decide()["b"].reason == "params.k: 1 → (unset)"
    edit("Pipefile", "params: z = 1", "")
    assert decide()["b"].reason == "params.k: 1 → (unset)"


def test_params_change_is_said_before_an_input_change(proj: Path):
    build()
    edit("Pipefile", "k = 1", "k = 2")
    write(proj / "a.txt", "other\n")
    assert decide()["b"].reason == "params.k: 1 → 2"


ENV = """
    LEVEL ?= 1
    TAG ?= "v1"

    rule e:
        output: "e.txt"
        env: LEVEL = LEVEL, A = "a"
        shell:
            echo $LEVEL > {output}

    rule z:
        output: "z{s}.txt"
        env: UPPER = lambda w: w.s.upper() + TAG
        shell: echo "$UPPER" > {output}
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, ENV)
    build(["e.txt", "za.txt", "zb.txt"])
    return tmp_path


def test_env_changed(env: Path):
    assert reasons(decide(["e.txt"])) == {"e": None}
    assert reasons(decide(["e.txt"], {"LEVEL": 2})) == {"e": "env.LEVEL: 1 → 2"}
    edit("Pipefile", 'A = "a"', 'A = "b"')
    assert reasons(decide(["e.txt"], {"LEVEL": 2})) == {"e": "env.A: a → b"}  # in name order


def test_an_env_function_counts_for_each_job(env: Path):
    targets = ["za.txt", "zb.txt"]
    assert reasons(decide(targets)) == {"z[s=a]": None, "z[s=b]": None}
    edit("Pipefile", "w.s.upper() + TAG", "(w.s.upper() if w.s == 'a' else 'B2') + TAG")
    assert reasons(decide(targets)) == {"z[s=a]": None, "z[s=b]": "env.UPPER: Bv1 → B2v1"}
    assert reasons(decide(targets[::-1])) == {"z[s=a]": None, "z[s=b]": "env.UPPER: Bv1 → B2v1"}


def test_top_level_name_in_a_shell_body(proj: Path):
    build()
    assert reasons(decide(overrides={"N": 2})) == {"b": None, "c": "top-level {N} in the shell body: 1 → 2",
                                                   "all": "upstream c will run"}
    assert reasons(decide(overrides={"N": 1})) == {"b": None, "c": None, "all": None}  # the default, given


def test_a_record_from_before_top_level_names_runs_once_more(proj: Path):
    build()
    jobs = graph_jobs()
    with store() as state:
        digest, parts = signature(jobs["c"], Fingerprints(state, StatCache()))
        assert parts["names"] == {"{N}": "1"}
        del parts["names"]
        state.succeeded("c", "c", "older", parts)
    assert decide()["c"].reason == "top-level {N} in the shell body: (unset) → 1"


PYTHON = """
    FACTOR ?= 2

    rule py:
        output: "p.txt"
        python:
            open(output[0], "w").write(str(3 * FACTOR))

    rule plain:
        output: "q.txt"
        python:
            open(output[0], "w").write("q")
"""


def test_python_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, PYTHON)
    build(["p.txt", "q.txt"])
    assert reasons(decide(["p.txt", "q.txt"])) == {"py": None, "plain": None}
    assert reasons(decide(["p.txt", "q.txt"], {"FACTOR": 3})) == {"py": "top-level FACTOR in the Python body: 2 → 3",
                                                                   "plain": None}
    edit("Pipefile", "str(3 * FACTOR)", "str(4 * FACTOR)")
    edit("Pipefile", 'write("q")', 'write("r")')
    assert reasons(decide(["p.txt", "q.txt"])) == {"py": "rule body changed", "plain": "rule body changed"}


SHADOW = """
    n ?= 5

    rule sh:
        output: "s{n}.txt"
        shell: echo {n} > {output}

    rule py:
        output: "p{n}.txt"
        python:
            shell("echo {n} > {output}")

    rule bare:
        output: "bare.txt"
"""


def test_a_wildcard_named_like_a_top_level_name_is_no_top_level_name(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, SHADOW)
    targets = ["s1.txt", "p1.txt", "bare.txt"]
    build(targets)
    assert reasons(decide(targets, {"n": 6})) == {"sh[n=1]": None, "py[n=1]": None, "bare": None}  # {n} is 1 there


@pytest.mark.parametrize("key, reason", [
    ("params", "params.k: (unset) → 1"),
    ("env", "signature changed"),
    ("inputs", "input set changed (+b.txt)"),
    ("outputs", "output set changed (+c.txt)"),
    ("fps", "signature changed"),
])
def test_a_record_without_a_part(proj: Path, key: str, reason: str):
    # as left by an older pyrule, or damaged: said as a change, never an error
    build()
    jobs = graph_jobs()
    with store() as state:
        for job in ("b", "c"):
            digest, parts = signature(jobs[job], Fingerprints(state, StatCache()))
            del parts[key]
            state.succeeded(job, job, "older", parts)
    ds = decide()
    assert ds["b"].reason == reason.replace("b.txt", "a.txt").replace("c.txt", "b.txt")
    if key in ("inputs", "outputs"):
        assert ds["c"].reason == "upstream b will run"


def test_input_set_changed(proj: Path):
    write(proj / "d.txt", "d\n")
    build()
    edit("Pipefile", 'input: "b.txt"', 'input: "b.txt", "a.txt", "d.txt"')
    assert decide()["c"].reason == "input set changed (+a.txt, +d.txt)"
    edit("Pipefile", 'input: "b.txt", "a.txt", "d.txt"', 'input: "d.txt"')
    assert decide()["c"].reason == "input set changed (+d.txt, -b.txt)"


def test_input_order_changed(proj: Path):
    write(proj / "d.txt", "d\n")
    edit("Pipefile", 'input: "b.txt"', 'input: "b.txt", "d.txt"')
    build()
    edit("Pipefile", 'input: "b.txt", "d.txt"', 'input: "d.txt", "b.txt"')
    assert decide()["c"].reason == "input set changed (order)"


def test_output_set_changed(proj: Path):
    build()
    edit("Pipefile", 'output: "c.txt"', 'output: "c.txt", "c2.txt"')
    write(proj / "c2.txt", "c2\n")
    assert decide()["c"].reason == "output set changed (+c2.txt)"
    edit("Pipefile", 'output: "c.txt", "c2.txt"', 'output: "c2.txt", "c.txt"')
    build()
    edit("Pipefile", 'output: "c2.txt", "c.txt"', 'output: "c.txt", "c2.txt"')
    assert decide()["c"].reason == "output set changed (order)"


def test_input_set_change_is_said_before_a_content_change(proj: Path):
    write(proj / "d.txt", "d\n")
    build()
    write(proj / "a.txt", "changed\n")
    edit("Pipefile", 'input: "a.txt"', 'input: "a.txt", "d.txt"')
    assert decide()["b"].reason == "input set changed (+d.txt)"


def test_input_content_changed_names_the_first_changed_input(proj: Path):
    write(proj / "d.txt", "d\n")
    edit("Pipefile", 'input: "a.txt"', 'input: "a.txt", "d.txt"')
    build()
    write(proj / "d.txt", "D\n")
    assert reasons(decide()) == {"b": "input d.txt changed (content)", "c": "upstream b will run",
                                 "all": "upstream c will run"}
    write(proj / "a.txt", "z\n")
    assert decide()["b"].reason == "input a.txt changed (content)"


def test_deciding_trusts_the_recorded_hash_of_an_unchanged_file(proj: Path):
    # a no-op run reads no file contents: while stat says the same, the store's hash is the content's
    build()
    settled("a.txt")
    st = os.stat("a.txt")
    with store() as state:
        state.remember_file("a.txt", st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, "recorded")
    assert decide()["b"].reason == "input a.txt changed (content)"


def test_touch_without_change_is_up_to_date(proj: Path):
    build()
    st = os.stat("a.txt")
    utime("a.txt", st.st_mtime_ns + 5 * 10**9)
    assert reasons(decide()) == {"b": None, "c": None, "all": None}


def test_check_mtime(proj: Path):
    edit("Pipefile", "params: k = 1", "params: k = 1\n    check: mtime")
    build()
    assert decide()["b"].reason is None
    st = os.stat("a.txt")
    utime("a.txt", st.st_mtime_ns + 5 * 10**9)
    assert reasons(decide()) == {"b": "input a.txt changed (mtime)", "c": "upstream b will run",
                                 "all": "upstream c will run"}


def test_signature_changed_when_no_part_tells_why(proj: Path):
    build()
    jobs = graph_jobs()
    with store() as state:  # e.g. a record whose digest another version of pyrule computed
        digest, parts = signature(jobs["b"], Fingerprints(state, StatCache()))
        state.succeeded("b", "b", "other", parts)
    assert reasons(decide()) == {"b": "signature changed", "c": "upstream b will run", "all": "upstream c will run"}


def test_an_input_that_is_not_a_file_fails_its_job_only(proj: Path):
    build()
    os.unlink("a.txt")
    os.mkfifo("a.txt")
    jobs = graph_jobs()
    with store() as state:
        decider = Decider(state, StatCache())
        ds = {d.job.name: d for d in decider.decide_all(list(jobs.values()))}
        assert reasons(ds) == {"b": "cannot read input a.txt: not a regular file or directory",
                               "c": "upstream b will run", "all": "upstream c will run"}
        assert jobs["b"] in decider.will_run


# --- early cutoff --------------------------------------------------------------------------


def _rerun(decider: Decider, state: State, job: Job, content: str) -> None:
    """What the runner does for a job that runs: its signature, its new outputs, its record."""
    sig = signature(job, decider.fps)
    for p in job.outputs:
        os.unlink(p)
        write(Path(p), content)
        decider.stats.forget(p)
    state.succeeded(job.name, job.rule.name, *sig)
    decider.will_run.discard(job)  # done


@pytest.mark.parametrize("output, reason", [("b\n", None), ("other\n", "input b.txt changed (content)")])
def test_early_cutoff(proj: Path, output: str, reason: str | None):
    build()
    write(proj / "a.txt", "x\ny\n")
    jobs = graph_jobs()
    with store() as state:
        decider = Decider(state, StatCache())
        ds = {d.job.name: d for d in decider.decide_all(list(jobs.values()))}
        assert ds["b"].reason == "input a.txt changed (content)"
        assert ds["c"].reason == "upstream b will run"
        _rerun(decider, state, jobs["b"], output)  # "b\n": the bytes it had
        assert decider.decide(jobs["c"], fresh=True).reason == reason


# --- signatures and fingerprints -----------------------------------------------------------


def test_signature_parts(proj: Path):
    jobs = graph_jobs()
    fps = Fingerprints(None, StatCache())
    digest, parts = signature(jobs["b"], fps)
    assert parts == {"body": xxhash.xxh3_64_hexdigest(b"shell:sort {input} > {output}\n"), "params": {"k": "1"},
                     "env": {}, "inputs": ["a.txt"], "outputs": ["b.txt"],
                     "fps": [xxhash.xxh3_128_hexdigest(b"y\nx\n")]}
    assert "names" not in parts
    assert signature(jobs["b"], Fingerprints(None, StatCache()))[0] == digest  # deterministic
    assert signature(jobs["c"], fps)[1]["names"] == {"{N}": "1"}


def test_signature_digests_are_stable(proj: Path):
    # Records of earlier versions must stay valid: a change here reruns every job after upgrading.
    write(proj / "b.txt", "b\n")
    utime("a.txt", T1)
    utime("b.txt", T1)
    jobs = graph_jobs()
    assert signature(jobs["b"], Fingerprints(None, StatCache()))[0] == "995dfaba576e23d5"
    assert signature(jobs["c"], Fingerprints(None, StatCache()))[0] == "a24c246803ed5c76"
    edit("Pipefile", "params: k = 1", "check: mtime\n    env: E = 'e'")
    assert signature(graph_jobs()["b"], Fingerprints(None, StatCache()))[0] == "164bc87a3479060c"
    edit("Pipefile", 'output: "b.txt"\n    input: "a.txt"', 'output: "b.txt", "b2.txt"\n    input: "a.txt", "d.txt"')
    write(proj / "d.txt", "d\n")
    utime("d.txt", T2)  # check: mtime
    assert signature(graph_jobs(["b.txt"])["b"], Fingerprints(None, StatCache()))[0] == "2d6bcca6e1e90d39"
    pipefile(proj, 'rule bare:\n    output: "b.txt"\n')  # no body
    assert signature(graph_jobs(["b.txt"])["bare"], Fingerprints(None, StatCache()))[0] == "f5fd9d558f6e2b02"


def test_a_fingerprint_is_the_content_hash(tmp_path: Path):
    for size in (0, 5, (1 << 16) - 1, 1 << 16, (1 << 16) + 5, (1 << 22) + (1 << 16) + 7, 2 * (1 << 22)):
        data = os.urandom(size)
        p = write(tmp_path / f"f{size}", "")
        p.write_bytes(data)
        assert hash_file(str(p)) == xxhash.xxh3_128_hexdigest(data), size
        assert Fingerprints(None, StatCache()).of(str(p), "checksum") == xxhash.xxh3_128_hexdigest(data)


def test_fingerprint_of_a_missing_file_and_with_check_mtime(tmp_path: Path):
    p = write(tmp_path / "f", "abc")
    utime(str(p), T1 + 5)
    fps = Fingerprints(None, StatCache())
    assert fps.of(str(p), "mtime") == f"m:3:{T1 + 5}"
    assert fps.of(str(tmp_path / "nope"), "checksum") == "missing"
    assert fps.of(str(tmp_path / "nope"), "mtime") == "missing"
    assert fps.cache == {}  # mtime fingerprints hash nothing


def test_a_directory_is_fingerprinted_by_its_listing(tmp_path: Path):
    d = tmp_path / "d"
    write(d / "b.txt", "bb")
    write(d / "sub" / "c.txt", "c")
    os.symlink("nowhere", d / "a-dangling")  # listed, cannot be stat'ed: left out
    utime(str(d / "b.txt"), T1)
    utime(str(d / "sub" / "c.txt"), T2)

    def fp() -> str:
        return Fingerprints(None, StatCache()).of(str(d), "checksum")

    listing = f"b.txt\0{2}\0{T1}\nsub/c.txt\0{1}\0{T2}\n"
    assert fp() == "dir:" + xxhash.xxh3_64_hexdigest(listing.encode())
    assert Fingerprints(None, StatCache()).of(str(d), "mtime") == fp()
    write(d / "b.txt", "bbb")  # every field of every file counts, after the dangling link too
    utime(str(d / "b.txt"), T1)
    assert fp() == "dir:" + xxhash.xxh3_64_hexdigest(listing.replace("\x002\x00", "\x003\x00").encode())


def test_a_recorded_hash_is_used_while_size_mtime_inode_and_ctime_are_the_same(tmp_path: Path):
    p = str(write(tmp_path / "f", "abc"))
    real = xxhash.xxh3_128_hexdigest(b"abc")
    st = os.stat(p)
    fields = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)

    def fp(*entry) -> str:
        fps = Fingerprints(None, StatCache())
        fps.cache[p] = entry
        return fps.of(p, "checksum")

    assert fp(*fields, "recorded") == "recorded"
    for i in range(4):  # any one field differing: hashed again
        other = list(fields)
        other[i] += 1
        assert fp(*other, "recorded") == real, i


def test_a_recorded_hash_without_ctime_is_trusted_once_and_gets_its_ctime(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = "f"
    write(tmp_path / p, "abc")
    utime(p, T1)
    settled(p)  # not racily clean: the entry is stored as it is
    st = os.stat(p)
    with store() as state:
        state.file_cache()[p] = (st.st_size, st.st_mtime_ns, st.st_ino, None, "recorded")
        assert Fingerprints(state, StatCache()).of(p, "checksum") == "recorded"
        assert state.file_cache()[p] == (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, "recorded")
    with store() as state:
        assert state.file_cache()[p] == (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, "recorded")


def test_an_unreadable_input(tmp_path: Path):
    p = str(write(tmp_path / "f", "abc"))
    fps = Fingerprints(None, StatCache())
    fps.stats.stat(p)
    os.unlink(p)  # gone between its stat and its read
    with pytest.raises(InputError) as e:
        fps.of(p, "checksum")
    assert str(e.value) == f"cannot read input {p}: No such file or directory"
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    with pytest.raises(InputError) as e:
        fps.of(fifo, "checksum")
    assert str(e.value) == f"cannot read input {fifo}: not a regular file or directory"


# --- racily clean files --------------------------------------------------------------------


class FakeStat:
    """A stat result with chosen time stamps (ctime cannot be set on a real file)."""

    def __init__(self, mtime_ns: int, ctime_ns: int):
        self.st_mtime_ns, self.st_ctime_ns = mtime_ns, ctime_ns


def tick_of(mtime_ns: int, ctime_ns: int) -> int:
    """The granularity unsettled_ns reads off these stamps (the later is in the future)."""
    while True:
        before = time.clock_gettime_ns(5)
        left = unsettled_ns(FakeStat(mtime_ns, ctime_ns))
        if time.clock_gettime_ns(5) == before:
            return left - max(mtime_ns, ctime_ns) + before


@pytest.mark.parametrize("mtime_off, ctime_off, tick", [
    (0, 0, 2_000_000_000),  # whole seconds: FAT-like, 2 s
    (0, 100_000_000, 100_000_000),
    (100_000_000, 0, 100_000_000),
    (10_000_000, 20_000_000, 10_000_000),
    (1_000, 0, 1_000),
    (0, 1, 1),
    (3, 7, 1),
])
def test_the_timestamp_tick_is_read_off_the_stamps(mtime_off: int, ctime_off: int, tick: int):
    base = (time.time_ns() // 1_000_000_000 + 100) * 1_000_000_000  # in the future: racily clean
    assert tick_of(base + mtime_off, base + ctime_off) == tick


def test_racily_clean_until_the_tick_is_over():
    now = time.clock_gettime_ns(5)
    assert racily_clean(FakeStat(now + 10**9, now - 10**9))
    assert racily_clean(FakeStat(now - 10**9, now + 10**9))
    assert not racily_clean(FakeStat(now - 10**9 - 1, now - 10**9 - 3))
    second = now // 10**9 * 10**9  # whole seconds: 2 s from the later stamp
    assert racily_clean(FakeStat(second, second))
    assert not racily_clean(FakeStat(second - 2 * 10**9, second - 2 * 10**9))


def settled(path: str) -> None:
    """Wait until the file's stamps are out of their tick (its ctime is now after a write or utime)."""
    wait_for(lambda: not racily_clean(os.stat(path)), what=f"{path} no longer racily clean")


def test_racily_clean_ends_with_the_tick():
    while True:  # a stamp whose tick (1 ns) ends exactly now: no longer racily clean
        now = time.clock_gettime_ns(5)
        clean = not racily_clean(FakeStat(now - 1, now - 3))
        if time.clock_gettime_ns(5) == now:
            break
    assert clean


def test_a_racily_clean_hash_is_used_now_and_verified_next_time(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f", "abc")
    write(tmp_path / "g", "def")
    utime("f", time.time_ns() + 3600 * 10**9)  # dated in the future: racily clean until then
    utime("g", T1)
    settled("g")
    real = xxhash.xxh3_128_hexdigest(b"abc")
    with store() as state:
        fps = Fingerprints(state, StatCache())
        assert fps.of("f", "checksum") == real and fps.of("g", "checksum") == xxhash.xxh3_128_hexdigest(b"def")
        assert fps.racy == {"f"}
        assert fps.verify_racy() is False  # its tick is not over
    with store() as state:
        assert state.file_cache()["f"][0] == -1  # stored so that no stat matches it
        assert state.file_cache()["g"][0] == 3
        fps = Fingerprints(state, StatCache())
        utime("f", T2)
        settled("f")
        assert fps.of("f", "checksum") == real and fps.racy == set()  # hashed again, no longer racy
    with store() as state:
        assert state.file_cache()["f"][0] == 3


def test_without_a_store_fingerprints_are_kept_in_memory(tmp_path: Path):
    p = str(write(tmp_path / "f", "abc"))
    utime(p, T1)
    fps = Fingerprints(None, StatCache())
    fps.of(p, "checksum")
    st = os.stat(p)
    assert fps.cache == {p: (3, T1, st.st_ino, st.st_ctime_ns, xxhash.xxh3_128_hexdigest(b"abc"))}


def racy_now(fps: Fingerprints, p: str, ahead_ns: int) -> None:
    """Fingerprint p dated `ahead_ns` into the future (ns-precise): racily clean that long. Tried
    again if this process was descheduled for longer than that between the date and the hash."""
    for _ in range(100):
        utime(p, time.clock_gettime_ns(5) // 1000 * 1000 + 1 + ahead_ns)
        fps.stats.forget(p)
        fps.of(p, "checksum")
        if p in fps.racy:
            return
    raise AssertionError(f"{p} was never racily clean when hashed")


def test_verify_racy_waits_out_a_short_tick(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f", "abc")
    fps = Fingerprints(None, StatCache())
    racy_now(fps, "f", 5_000_000)
    assert fps.verify_racy() is True  # waited the few ms, then hashed again: the same
    assert fps.racy == set()
    st = os.stat("f")
    assert fps.cache["f"] == (3, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, xxhash.xxh3_128_hexdigest(b"abc"))
    assert time.clock_gettime_ns(5) > os.stat("f").st_mtime_ns


def test_verify_racy_does_not_wait_out_a_long_tick(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f", "abc")
    fps = Fingerprints(None, StatCache())
    racy_now(fps, "f", 2 * 10**9)
    start = time.monotonic()
    assert fps.verify_racy() is False
    assert time.monotonic() - start < 1.0  # far below the 2 s it would take to wait it out
    assert fps.racy == {"f"}


def test_verify_racy_fails_on_a_change(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f", "abc")
    fps = Fingerprints(None, StatCache())
    racy_now(fps, "f", 1_000_000)
    fps.cache["f"] = (*fps.cache["f"][:4], "other")  # the content this run used was another
    assert fps.verify_racy() is False
    racy_now(fps, "f", 1_000_000)
    write(tmp_path / "f", "abcd")  # written again since: other stat fields
    assert fps.verify_racy() is False


def test_verify_racy_on_files_that_went_away(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "gone", "abc")
    write(tmp_path / "d" / "f", "abc")
    fps = Fingerprints(None, StatCache())
    write(tmp_path / "later", "abc")
    racy_now(fps, "gone", 1_000_000)
    os.unlink("gone")  # a removed temp() output: decided by its absence
    assert fps.verify_racy() is True and fps.racy == set()
    write(tmp_path / "gone", "abc")
    racy_now(fps, "gone", 1_000_000)
    racy_now(fps, "later", 1_000_000)
    os.unlink("gone")
    write(tmp_path / "later", "abcd")  # the next one (in path order) changed: still seen
    assert fps.verify_racy() is False
    racy_now(fps, "d/f", 1_000_000)
    os.unlink("d/f")
    os.rmdir("d")
    write(tmp_path / "d", "now a file")  # d/f cannot even be looked for: nothing concluded
    assert fps.verify_racy() is False


def test_a_racy_fingerprint_is_stored_for_verification_and_a_settled_one_is_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """On any file system: a fingerprint taken in the same clock tick as the file's last change
    is stored so that it does not match (verified next time); one taken later is trusted."""
    f = tmp_path / "f.txt"
    monkeypatch.chdir(tmp_path)
    f.write_text("x\n")
    st = os.stat(f)
    # A timestamp in the future of the clock is racy whatever the granularity (as a file just
    # written within the current clock tick is).
    future = time.time_ns() + 10_000_000_000
    os.utime(f, ns=(future, future))
    state = State(str(tmp_path / ".pyrule"))
    fps = Fingerprints(state, StatCache())
    digest = fps.of(str(f), "content")
    state.flush()
    assert fps.of(str(f), "content") == digest  # in this run, the result it hashed
    fresh = State(str(tmp_path / ".pyrule")).file_cache()[str(f)]
    assert fresh[-1] == digest and fresh[0] != os.stat(f).st_size, "stored as trusted"

    os.utime(f, ns=(st.st_mtime_ns - 10_000_000_000,) * 2)  # settled long ago (its ctime is now, though)
    time.sleep(0.02)  # past the current clock tick
    fps = Fingerprints(state, StatCache())
    fps.of(str(f), "content")
    state.flush()
    fresh = State(str(tmp_path / ".pyrule")).file_cache()[str(f)]
    assert fresh[0] == os.stat(f).st_size, "a settled file's fingerprint is not trusted"



# === What the runner tells the decider: force, mark_incomplete, ran, signature, settled and the
# `adopt` argument. The one build is done by the decider's own signatures recorded in the store,
# as the runner does when a job starts and ends. ====================================================

# a.txt -> b (sort) -> b.txt -> c (copy) -> c.txt
CB_PIPEFILE = """
    rule c:
        output: "c.txt"
        input: "b.txt"
        shell: cat {input} > {output}

    rule b:
        output: "b.txt"
        input: "a.txt"
        shell: sort {input} > {output}
"""


def jobs() -> dict[str, Job]:
    return {j.name: j for j in plan(load("Pipefile"), []).jobs}


def run_job(state: State, job: Job, content: str) -> None:
    """What the runner does for a job that runs: its signature when it starts, then its output
    written, then the record."""
    sig = signature(job, Decider(state, StatCache()).fps)
    write(Path(job.outputs[0]), content)
    state.succeeded(job.name, job.rule.name, sig[0], sig[1])
    state.flush()


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """b and c run and recorded as the runner does: every job up to date. Yields the open store."""
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, CB_PIPEFILE)
    write(tmp_path / "a.txt", "y\nx\n")
    state = State(".pyrule")
    js = jobs()
    run_job(state, js["b"], "x\ny\n")
    run_job(state, js["c"], "x\ny\n")
    yield state
    state.close()


def test_built_jobs_are_up_to_date(recorded: State):
    decider = Decider(recorded, StatCache())
    assert {d.job.name: d.why for d in decider.decide_all(list(jobs().values()))} == {"b": UP_TO_DATE,
                                                                                    "c": UP_TO_DATE}


def test_force_makes_an_up_to_date_job_run_and_only_it(recorded: State):
    js = jobs()
    decider = Decider(recorded, StatCache())
    assert decider.decide(js["c"]).reason is None
    decider.force(js["c"])
    assert decider.decide(js["c"]).reason == "forced"
    assert js["c"] in decider.will_run
    assert decider.decide(js["b"]).reason is None


def test_mark_incomplete_makes_the_named_jobs_run(recorded: State):
    js = jobs()
    decider = Decider(recorded, StatCache())
    decider.mark_incomplete({"b"})
    decider.mark_incomplete(set())  # adds, never replaces
    d = decider.decide(js["b"], fresh=True)
    assert d.reason == "incomplete after an interrupted run" and not d.adopt
    assert decider.decide(js["c"]).reason == "upstream b will run"


def test_ran_lets_consumers_be_decided_on_their_own_signatures(recorded: State):
    """Early cutoff: b reruns (its input changed) and writes the same bytes; once the runner says
    it ran, c is up to date again; until then, c waits as "upstream b will run"."""
    js = jobs()
    write(Path("a.txt"), "x\ny\n")  # other bytes, the same sorted output
    stats = StatCache()
    decider = Decider(recorded, stats)
    assert [d.reason for d in decider.decide_all([js["b"], js["c"]])] == ["input a.txt changed (content)",
                                                                          "upstream b will run"]
    sig = decider.signature(js["b"])
    write(Path("b.txt"), "x\ny\n")
    stats.forget("b.txt")
    recorded.succeeded("b", "b", sig[0], sig[1])
    assert decider.decide(js["c"], fresh=True).reason == "upstream b will run"
    decider.ran(js["b"])
    assert js["b"] not in decider.will_run
    assert decider.decide(js["c"], fresh=True).why == UP_TO_DATE


def test_signature_is_the_jobs_signature_on_its_inputs_now(recorded: State):
    js = jobs()
    decider = Decider(recorded, StatCache())
    before = decider.signature(js["b"])
    assert before == signature(js["b"], Decider(recorded, StatCache()).fps)
    write(Path("a.txt"), "z\n")
    after = Decider(recorded, StatCache()).signature(js["b"])
    assert after[0] != before[0] and after[1]["inputs"] == ["a.txt"]


def test_signature_raises_input_error_for_an_unreadable_input(recorded: State):
    os.unlink("a.txt")
    os.mkfifo("a.txt")  # reading it would wait for a writer forever
    with pytest.raises(InputError, match="cannot read input a.txt: not a regular file"):
        Decider(recorded, StatCache()).signature(jobs()["b"])


def test_adopt_false_refuses_outputs_without_a_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    pipefile(tmp_path, CB_PIPEFILE)
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


# === The reasons again where the build before them is a real `pyrule` run (so mutation testing
# sees only the decisions made here, not the build): each pins one row of the reasons table in
# docs/how-it-decides.md, and that the row applies exactly when it should. =========================

def built_by_pyrule(d: Path) -> Path:
    r = ok(d)
    assert r.ran == {"b", "c"}, r
    return d


def test_nothing_recorded_every_output_missing(proj: Path):
    ds = decide()
    assert reasons(ds) == {"b": "output b.txt missing", "c": "output c.txt missing", "all": "upstream c will run"}
    assert ds["all"].upstream and ds["all"].pending
    assert not ds["b"].upstream and not ds["c"].upstream


def test_after_a_build_everything_is_up_to_date(proj: Path):
    built_by_pyrule(proj)
    ds = decide()
    assert reasons(ds) == {"b": None, "c": None, "all": None}
    assert ds["b"].why == ds["c"].why == UP_TO_DATE
    assert ds["all"].why == "gathers its inputs"


def test_output_missing_only_for_its_job(proj: Path):
    built_by_pyrule(proj)
    os.unlink("c.txt")
    assert reasons(decide()) == {"b": None, "c": "output c.txt missing", "all": "upstream c will run"}


def test_upstream_will_run_after_a_pyrule_run(proj: Path):
    built_by_pyrule(proj)
    os.unlink("b.txt")
    ds = decide()
    assert reasons(ds) == {"b": "output b.txt missing", "c": "upstream b will run", "all": "upstream c will run"}
    assert ds["c"].upstream


def test_forced_comes_first(proj: Path):
    built_by_pyrule(proj)
    os.unlink("b.txt")
    graph = plan(load("Pipefile"), [])
    c = next(j for j in graph.jobs if j.name == "c")
    b = next(j for j in graph.jobs if j.name == "b")
    state = State(".pyrule")
    ds = {d.job.name: d.reason for d in Decider(state, StatCache(), forced={b, c}).decide_all(graph.jobs)}
    state.close()
    assert ds == {"b": "forced", "c": "forced", "all": "upstream c will run"}


def test_never_built_and_an_input_newer_than_the_outputs_on_the_chain(proj: Path):
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


def test_rule_body_changed_after_a_pyrule_run(proj: Path):
    built_by_pyrule(proj)
    edit("Pipefile", "cat {input} > {output}", "cat {input} {input} > {output}")
    assert reasons(decide()) == {"b": None, "c": "rule body changed", "all": "upstream c will run"}


def test_a_comment_in_the_pipefile_changes_no_signature(proj: Path):
    built_by_pyrule(proj)
    edit("Pipefile", "rule c:", "# the copy\nrule c:")
    assert reasons(decide()) == {"b": None, "c": None, "all": None}


def test_params_changed_after_a_pyrule_run(proj: Path):
    built_by_pyrule(proj)
    edit("Pipefile", "k = 1", "k = 2")
    assert reasons(decide()) == {"b": "params.k: 1 → 2", "c": "upstream b will run", "all": "upstream c will run"}


def test_body_change_is_said_before_params_change(proj: Path):
    built_by_pyrule(proj)
    edit("Pipefile", "k = 1", "k = 2")
    edit("Pipefile", "sort {input}", "sort -r {input}")
    assert decide()["b"].reason == "rule body changed"


def test_top_level_name_changed(proj: Path):
    built_by_pyrule(proj)
    ds = decide(overrides={"N": 2})
    assert reasons(ds) == {"b": None, "c": "top-level {N} in the shell body: 1 → 2", "all": "upstream c will run"}
    assert reasons(decide(overrides={"N": 1})) == {"b": None, "c": None, "all": None}  # the default, given


def test_input_set_changed_after_a_pyrule_run(proj: Path):
    built_by_pyrule(proj)
    edit("Pipefile", 'input: "b.txt"', 'input: "b.txt", "a.txt"')
    assert decide()["c"].reason == "input set changed (+a.txt)"
    edit("Pipefile", 'input: "b.txt", "a.txt"', 'input: "a.txt", "b.txt"')
    assert decide()["c"].reason == "input set changed (+a.txt)"
    assert decide()["b"].reason is None


def test_input_order_changed_after_a_pyrule_run(proj: Path):
    write(proj / "d.txt", "d\n")
    edit("Pipefile", 'input: "b.txt"', 'input: "b.txt", "d.txt"')
    built_by_pyrule(proj)
    edit("Pipefile", 'input: "b.txt", "d.txt"', 'input: "d.txt", "b.txt"')
    assert decide()["c"].reason == "input set changed (order)"


def test_input_content_changed(proj: Path):
    built_by_pyrule(proj)
    write(proj / "a.txt", "z\nx\n")
    assert reasons(decide()) == {"b": "input a.txt changed (content)", "c": "upstream b will run",
                                 "all": "upstream c will run"}


def test_touch_without_change_is_up_to_date_after_a_pyrule_run(proj: Path):
    built_by_pyrule(proj)
    st = os.stat("a.txt")
    os.utime("a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))
    assert reasons(decide()) == {"b": None, "c": None, "all": None}


def test_same_size_content_under_the_old_mtime_is_seen(proj: Path):
    # cp -p / rsync -t: new bytes, same size, mtime set back; only ctime tells
    built_by_pyrule(proj)
    st = os.stat("a.txt")
    with open("a.txt", "r+") as f:
        f.write("z")
    os.utime("a.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert decide()["b"].reason == "input a.txt changed (content)"


def test_check_mtime_after_a_pyrule_run(proj: Path):
    edit("Pipefile", "params: k = 1", "params: k = 1\n    check: mtime")
    built_by_pyrule(proj)
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
    built_by_pyrule(proj)
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
    built_by_pyrule(proj)
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
    built_by_pyrule(proj)
    write(proj / "a.txt", "x\ny\n")
    r = ok(proj)
    assert r.ran == {"b"} and r.jobs()["c"]["status"] == "up-to-date", r


def test_incomplete_after_an_interrupted_run_after_a_pyrule_run(proj: Path):
    built_by_pyrule(proj)
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
    built_by_pyrule(proj)
    state = State(".pyrule")
    state.mark_running([("c", 0, ["c.txt"])], "dead-run", 0.0)
    state.close()
    assert "c: incomplete after an interrupted run" in ok(proj, "-n").out
    r = ok(proj)
    assert r.ran == {"c"}, r


def test_fingerprints_reuse_a_recorded_hash_and_rehash_on_change(proj: Path):
    built_by_pyrule(proj)
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


def test_env_changed_after_a_pyrule_run(more: Path):
    assert decide(overrides={"LEVEL": 2})["env"].reason == "env.LEVEL: 1 → 2"
    assert decide()["env"].reason is None


def test_python_body_top_level_name_and_code(more: Path):
    assert reasons(decide(overrides={"FACTOR": 3}))["py"] == "top-level FACTOR in the Python body: 2 → 3"
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


def test_a_rule_without_outputs_runs_whenever_requested_after_a_pyrule_run(more: Path):
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
