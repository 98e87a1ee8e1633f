"""In-process unit tests of the planner (pyrule/plan.py): each pins one promise of planning, with the
exact message a user sees. A real Pipefile in the test's project directory, loaded by pyrule.load,
real files for the inputs that exist; no mocks. (In-process so that mutation testing reaches them:
docs/testing.md, "Mutation testing".)"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pyrule import plan as planmod
from pyrule.errors import Location, PipefileError, UsageError
from pyrule.graph import JobGraph
from pyrule.load import load
from pyrule.plan import Planner, default_targets, job_target, normpath, phony_hint, plan
from pyrule.stat_cache import StatCache


def planned(project, text: str, targets=(), until=()) -> JobGraph:
    project.pipefile(text)
    return plan(load("Pipefile"), list(targets), until=list(until))


def failed(project, text: str, targets=(), until=(), kind=PipefileError):
    with pytest.raises(kind) as info:
        planned(project, text, targets, until)
    assert type(info.value) is kind
    return info.value


def planner(project, text: str) -> Planner:
    project.pipefile(text)
    return Planner(load("Pipefile"), StatCache())


def names(jobs) -> list[str]:
    return [j.name for j in jobs]


def at(line: int, col: int) -> Location:
    return Location("Pipefile", line, col)


# --- default targets and plan() ---------------------------------------------------------------------


def test_no_rules_is_a_usage_error_at_the_first_line_with_a_hint(project):
    e = failed(project, "X = 1\n", kind=UsageError)
    assert e.message == "the Pipefile has no rules"
    assert e.loc == at(1, 1)
    assert e.hint == "add a rule, e.g. 'rule all:' with an input: section"


def test_default_targets_are_the_default_statement_else_the_first_rule(project):
    project.pipefile('rule b:\n    output: "b.txt"\n    shell: x\nrule a:\n    output: "a.txt"\n    shell: x\n')
    assert default_targets(load("Pipefile")) == ["b"]
    project.pipefile('default: a.txt\nrule b:\n    output: "b.txt"\n    shell: x\nrule a:\n    output: "a.txt"\n'
                     '    shell: x\n')
    assert default_targets(load("Pipefile")) == ["a.txt"]


def test_plan_uses_the_stat_cache_it_is_given(project):
    # A file the given cache already knows as absent stays absent for the planner, though it exists now.
    project.pipefile('rule all:\n    input: "src.txt"\n')
    stats = StatCache()
    assert not stats.exists("src.txt")
    project.touch("src.txt")
    with pytest.raises(PipefileError) as info:
        plan(load("Pipefile"), [], stats=stats)
    assert info.value.message == "no rule to make 'src.txt' (needed by all)"
    assert names(plan(load("Pipefile"), [], stats=StatCache()).jobs) == ["all"]


def test_plan_records_targets_roots_sources_and_producers(project):
    project.touch("in.txt")
    g = planned(project, """\
        rule all:
            input: "b.txt"
        rule b:
            output: "b.txt", "b2.txt"
            input: "in.txt"
            shell: x
    """, ["all", "in.txt"])
    assert names(g.jobs) == ["b", "all"]
    assert names(g.targets) == ["all"]  # the existing source named as a target makes no job
    assert g.requested == ["all", "in.txt"]
    assert g.producers == {"b.txt": g.jobs[0], "b2.txt": g.jobs[0]}
    assert g.sources == ["in.txt"]
    assert g.planner is not None


# --- normpath ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "expected"), [
    ("a/b.txt", "a/b.txt"),
    ("./a.txt", "a.txt"),
    ("a/./b.txt", "a/b.txt"),
    ("a//b.txt", "a/b.txt"),
    ("a/b/", "a/b"),
    ("a/../b.txt", "b.txt"),
    ("a.b/c..d", "a.b/c..d"),
])
def test_normpath(path, expected):
    assert normpath(path) == expected


def test_normpath_returns_a_clean_path_itself():
    path = "".join(["a/", "b.txt"])
    assert normpath(path) is path


# --- targets --------------------------------------------------------------------------------------


def test_a_phony_rule_as_target_is_its_job(project):
    g = planned(project, 'rule all:\n    input: "a.txt"\nrule a:\n    output: "a.txt"\n    shell: x\n', ["all"])
    assert names(g.jobs) == ["a", "all"] and names(g.targets) == ["all"]


def test_a_wildcard_rule_as_target_is_refused_with_an_example(project):
    e = failed(project, 'X = 1\nrule count:\n    output: "c/{s}.tsv", "d/{s}.txt"\n    shell: x\n', ["count"],
               kind=UsageError)
    assert e.message == "rule 'count' has wildcards: name a file it makes, like 'c/{s}.tsv'"
    assert e.loc == at(2, 1) and e.hint is None


def test_unknown_target_without_a_near_name_gets_the_general_hint(project):
    e = failed(project, 'rule a:\n    output: "a.txt"\n    shell: x\n', ["zzzzzz"], kind=UsageError)
    assert e.message == "unknown target 'zzzzzz': no rule is named so and no rule makes it"
    assert e.loc is None
    assert e.hint == "name a rule (pyrule --list) or a file a rule makes"


def test_unknown_target_suggests_a_literal_output_not_a_pattern(project):
    text = 'rule a:\n    output: "alpha.txt"\n    shell: x\nrule w:\n    output: "w/{x}.dat"\n    shell: x\n'
    assert failed(project, text, ["alpha.tx"], kind=UsageError).hint == "did you mean 'alpha.txt'?"
    assert failed(project, text, ["w/{x}.da"], kind=UsageError).hint == "name a rule (pyrule --list) or a file a rule makes"


def test_unknown_target_suggests_a_file_in_its_directory(project):
    project.touch("data/sample1.txt")
    e = failed(project, 'rule a:\n    output: "a.txt"\n    shell: x\n', ["data/sampel1.txt"], kind=UsageError)
    assert e.hint == "did you mean 'data/sample1.txt'?"


def test_a_target_both_produced_and_existing_is_planned(project):
    project.touch("a.txt")
    g = planned(project, 'rule a:\n    output: "a.txt"\n    shell: x\n', ["./a.txt"])
    assert names(g.jobs) == ["a"] and g.sources == []


def test_an_existing_file_no_rule_makes_is_a_source_target(project):
    project.touch("d/x.txt")
    g = planned(project, 'rule a:\n    output: "a.txt"\n    shell: x\n', ["d//x.txt"])
    assert g.jobs == [] and g.targets == [] and g.sources == ["d/x.txt"]


def test_a_target_named_twice_is_one_job(project):
    g = planned(project, 'rule a:\n    output: "a.txt"\n    shell: x\n', ["a.txt", "a", "./a.txt"])
    assert names(g.jobs) == ["a"] and names(g.targets) == ["a", "a", "a"]


# --- --until -------------------------------------------------------------------------------------

# a -> b -> c, and d; the chain is shared with ABCD below
CHAIN_ABC = """\
rule a:
    output: "a.txt"
    shell: x
rule b:
    output: "b.txt"
    input: "a.txt"
    shell: x
rule c:
    output: "c.txt"
    input: "b.txt"
    shell: x
"""
ALL_CD = 'rule all:\n    input: "c.txt", "d.txt"\n'
ABC = ALL_CD + CHAIN_ABC + 'rule d:\n    output: "d.txt"\n    input: "a.txt"\n    shell: x\n'


def test_until_keeps_what_the_named_targets_need_in_order(project):
    g = planned(project, ABC, ["all"], until=["c", "d.txt"])
    assert names(g.jobs) == ["a", "b", "c", "d"]
    assert names(g.targets) == ["c", "d"]
    assert sorted(g.producers) == ["a.txt", "b.txt", "c.txt", "d.txt"]


def test_until_the_same_job_twice_is_one_target(project):
    g = planned(project, ABC, ["all"], until=["b", "b.txt"])
    assert names(g.jobs) == ["a", "b"] and names(g.targets) == ["b"]
    assert sorted(g.producers) == ["a.txt", "b.txt"]


def test_until_an_unknown_name_suggests_a_rule_or_file(project):
    e = failed(project, ABC, ["all"], until=["bb"], kind=UsageError)
    assert e.message == "--until bb: no job of the requested targets' graph makes it or is so named"
    assert e.hint == "did you mean 'b'?" and e.loc is None
    assert failed(project, ABC, ["all"], until=["c.tx"], kind=UsageError).hint == "did you mean 'c.txt'?"
    e = failed(project, ABC, ["all"], until=["zzzzz"], kind=UsageError)
    assert e.hint == "name a file, job, rule or rule glob of the graph (pyrule --dag shows it)"


def test_until_a_job_outside_the_requested_graph(project):
    e = failed(project, ABC, ["c"], until=["d"], kind=UsageError)
    assert e.message == "--until d: no job of the requested targets' graph makes it or is so named"
    assert e.hint == "name a file, job, rule or rule glob of the graph (pyrule --dag shows it)"


# --- choosing between rules --------------------------------------------------------------------------


def test_a_single_candidate_is_taken_even_when_its_input_is_missing(project):
    e = failed(project, 'rule r:\n    output: "{x}.out"\n    input: "{x}.in"\n    shell: x\n', ["q.out"])
    assert e.message == "no rule to make 'q.in' (needed by r[x=q] for 'q.out')"
    assert e.loc == at(3, 5) and e.hint == "create the file, or add a rule whose output matches it"


def test_higher_priority_wins_over_a_more_specific_pattern_and_order(project):
    g = planned(project, """\
        rule special:
            output: "a_{x}.txt"
            shell: x
        rule generic:
            output: "{x}.txt"
            priority: 2
            shell: x
        rule mid:
            output: "a{x}.txt"
            priority: 1
            shell: x
    """, ["a_b.txt"])
    assert names(g.jobs) == ["generic[x=a_b]"]


def test_the_more_specific_pattern_wins_whatever_the_rule_order(project):
    text = 'rule {0}:\n    output: "{1}"\n    shell: x\nrule {2}:\n    output: "{3}"\n    shell: x\n'
    g = planned(project, text.format("g", "{x}.txt", "s", "a{x}.txt"), ["ab.txt"])
    assert names(g.jobs) == ["s[x=b]"]
    g = planned(project, text.format("s", "a{x}.txt", "g", "{x}.txt"), ["ab.txt"])
    assert names(g.jobs) == ["s[x=b]"]


def test_a_viable_rule_beats_a_better_ranked_one_that_cannot_make_its_input(project):
    project.touch("q.e")
    g = planned(project, """\
        rule best:
            output: "{x}.txt"
            input: "{x}.c"
            priority: 3
            shell: x
        rule ok:
            output: "{x}.txt"
            input: "{x}.e"
            shell: x
    """, ["q.txt"])
    assert names(g.jobs) == ["ok[x=q]"] and g.sources == ["q.e"]


def test_a_rule_whose_input_function_fails_is_not_viable(project):
    project.touch("q.e")
    g = planned(project, """\
        rule bad:
            output: "{x}.txt"
            input: lambda w: 1 / 0
            priority: 3
            shell: x
        rule ok:
            output: "{x}.txt"
            input: "{x}.e"
            shell: x
    """, ["q.txt"])
    assert names(g.jobs) == ["ok[x=q]"]


SHALLOW_DEEP = """\
rule shallow:
    output: "{x}.txt"
    input: "{x}.z"
    shell: x
rule deep:
    output: "{x}.txt"
    input: "{x}.c"
    shell: x
rule c:
    output: "{x}.c"
    input: "{x}.d"
    shell: x
rule nothing:
    output: "{x}.z"
    input: "{x}.y"
    shell: x
rule y:
    output: "{x}.y"
    input: "{x}.none"
    shell: x
"""


def test_viability_looks_ahead_through_rules(project):
    # 'deep' needs q.c, made from q.d, which exists: viable two steps ahead; 'shallow' needs q.z: not.
    project.touch("q.d")
    g = planned(project, SHALLOW_DEEP, ["q.txt"])
    assert names(g.jobs) == ["c[x=q]", "deep[x=q]"]


def test_a_planned_output_counts_as_makeable(project):
    # b.txt is already planned (by 'all' first) when choosing for c.txt: 'fromb' is viable.
    g = planned(project, """\
        rule all:
            input: "b.txt", "c.txt"
        rule b:
            output: "b.txt"
            shell: x
        rule fromz:
            output: "{x}.txt"
            input: "zzz"
            shell: x
        rule fromb:
            output: "{x,c}.txt"
            input: "b.txt"
            shell: x
    """)
    assert names(g.jobs) == ["b", "fromb[x=c]", "all"]


def test_when_no_candidate_is_viable_the_best_ranked_reports_its_missing_input(project):
    e = failed(project, """\
        rule low:
            output: "{x}.txt"
            input: "{x}.low"
            shell: x
        rule high:
            output: "{x}.txt"
            input: "{x}.high"
            priority: 1
            shell: x
    """, ["q.txt"])
    assert e.message == "no rule to make 'q.high' (needed by high[x=q] for 'q.txt')" and e.loc == at(7, 5)


AMBIGUOUS = """\
rule all:
    input: "x.txt"
rule a:
    output: "{n}.txt"
    shell: x
rule b:
    output: "{m}.txt"
    shell: y
"""


def test_ambiguous_rules_message_location_and_hint(project):
    e = failed(project, AMBIGUOUS)
    assert e.message == ("ambiguous: rules 'a' (Pipefile:3:1) and 'b' (Pipefile:6:1) can both make 'x.txt' "
                         "(needed by all)")
    assert e.loc == at(3, 1)
    assert e.hint == "give one of them a higher 'priority:', or make one output pattern more specific"


def test_ambiguous_target_names_no_job_that_needs_it(project):
    e = failed(project, AMBIGUOUS, ["x.txt"])
    assert e.message == "ambiguous: rules 'a' (Pipefile:3:1) and 'b' (Pipefile:6:1) can both make 'x.txt'"


def test_no_ambiguity_when_priority_or_specificity_differ(project):
    text = AMBIGUOUS.replace('"{m}.txt"', '"{m}.txt"\n    priority: 1')
    assert names(planned(project, text).jobs) == ["b[m=x]", "all"]
    text = AMBIGUOUS.replace('"{m}.txt"', '"x{m}.txt"').replace('"x.txt"', '"xy.txt"')
    assert names(planned(project, text).jobs) == ["b[m=y]", "all"]


def test_a_rule_with_two_matching_outputs_is_no_rival_of_itself(project):
    g = planned(project, 'rule r:\n    output: "{a}.txt", "{a}.txt.bak"\n    shell: x\n', ["v.txt"])
    assert names(g.jobs) == ["r[a=v]"]


def test_ambiguous_python_api_rules_without_a_location(tmp_path, monkeypatch):
    from pyrule import Workflow

    monkeypatch.chdir(tmp_path)
    wf = Workflow(tmp_path)
    wf.rule("a", output="{n}.txt", shell="x")
    wf.rule("b", output="{m}.txt", shell="y")
    with pytest.raises(PipefileError) as info:
        wf.plan(["x.txt"])
    assert info.value.message == "ambiguous: rules 'a' and 'b' can both make 'x.txt'"
    assert info.value.loc is None


# --- missing inputs ------------------------------------------------------------------------------


def test_missing_target_file_found_by_no_rule(project):
    # The index offers a candidate ('r' by pattern) whose constraint then fails at planning time? no:
    # a target no index entry matches and that does not exist is an unknown target; a planned path is not.
    p = planner(project, 'rule r:\n    output: "{x,[0-9]+}.n"\n    shell: x\n')
    with pytest.raises(UsageError) as info:
        p.producer_of("a.n", None)
    assert info.value.message == "no rule to make 'a.n'"
    assert info.value.hint == "name a rule (pyrule --list) or a file a rule makes" and info.value.loc is None


def test_missing_input_of_a_job_without_outputs(project):
    e = failed(project, 'X = 1\nrule all:\n    input: "nope.txt"\n')
    assert e.message == "no rule to make 'nope.txt' (needed by all)" and e.loc == at(3, 5)
    assert e.hint == "create the file, or add a rule whose output matches it"


def test_missing_input_hint_names_a_near_file_in_its_directory(project):
    project.touch("data/sample1.txt", "data/other.csv")
    e = failed(project, 'rule all:\n    input: "data/sampel1.txt"\n')
    assert e.hint == "did you mean 'sample1.txt'? create the file, or add a rule whose output matches it"


def test_a_phony_rule_named_as_an_input(project):
    e = failed(project, """\
        rule all:
            input: "out.txt"
        rule out:
            output: "out.txt"
            input: "prep"
            shell: x
        rule prep:
            shell: y
    """)
    assert e.message == ("'prep' is a rule that makes no file, and an input must be a file "
                         "(needed by out for 'out.txt')")
    assert e.loc == at(5, 5)
    assert e.hint == "remove 'prep' from the inputs; to need the files rule 'prep' gathers, name them"


def test_a_phony_rule_named_as_its_own_dependency_is_a_cycle(project):
    e = failed(project, """\
        rule all:
            input: "out.txt"
        rule out:
            output: "out.txt"
            input: "all"
            shell: x
    """)
    assert e.message == ("dependency cycle: all -> out -> all: 'all' is a rule that makes no file, and an input "
                         "must be a file (needed by out for 'out.txt')")
    assert e.loc == at(5, 5)


def test_chain_follows_dependencies_found_so_far(project):
    p = planner(project, ABC)
    g = p.plan(["all"], [])
    jobs = {j.name: j for j in g.jobs}
    assert Planner._chain(jobs["all"], jobs["a"]) in (["all", "c", "b", "a"], ["all", "d", "a"])
    assert Planner._chain(jobs["c"], jobs["a"]) == ["c", "b", "a"]
    assert Planner._chain(jobs["a"], jobs["c"]) == []
    assert Planner._chain(None, jobs["a"]) == []
    assert Planner._chain(jobs["b"], jobs["b"]) == ["b"]


# --- jobs: names, outputs, refusals ----------------------------------------------------------------


def test_job_name_log_params_resources_and_env(project):
    g = planned(project, """\
        rule r:
            output: "o/{a}/{b}.txt"
            log: "logs/{a}-{b}.log"
            params: p = "{a}+{b}", n = 3, f = lambda w: w.a * 2
            resources: mem_mb = lambda w: len(w.b) * 100
            env: FIXED = 7, DYN = lambda w: w.b
            shell: x
    """, ["o/x/yy.txt"])
    (job,) = g.jobs
    assert job.name == "r[a=x,b=yy]" and job.wildcards == {"a": "x", "b": "yy"}
    assert list(job.outputs) == ["o/x/yy.txt"] and job.log == "logs/x-yy.log"
    assert dict(job.params) == {"p": "x+yy", "n": 3, "f": "xx"}
    assert dict(job.resources) == {"cores": 1, "mem_mb": 200}
    assert job.env == {"FIXED": "7", "DYN": "yy"}


def test_a_rule_without_wildcards_keeps_its_values_as_written(project):
    g = planned(project, 'rule r:\n    output: "r.txt"\n    params: p = "a.{{b}}"\n    env: E = 1\n    shell: x\n')
    (job,) = g.jobs
    # (the doubled braces stay doubled here, unlike in a rule with wildcards: noted in notes/planmut.md)
    assert job.name == "r" and job.log is None and dict(job.params) == {"p": "a.{{b}}"} and job.env == {"E": "1"}


def test_jobs_of_a_rule_without_env_functions_share_one_env(project):
    g = planned(project, 'rule all:\n    input: "a.t", "b.t"\nrule r:\n    output: "{x}.t"\n    env: E = 1\n'
                '    shell: x\n')
    a, b, _ = g.jobs
    assert a.env == {"E": "1"} and a.env is b.env


def test_jobs_of_a_rule_with_env_functions_each_get_their_own(project):
    g = planned(project, 'rule all:\n    input: "a.t", "b.t"\nrule r:\n    output: "{x}.t"\n'
                '    env: E = 1, W = lambda w: w.x\n    shell: x\n')
    a, b, _ = g.jobs
    assert a.env == {"E": "1", "W": "a"} and b.env == {"E": "1", "W": "b"}


@pytest.mark.parametrize(("target", "value"), [
    ("/abs/x.txt", "/abs/x"),
    ("../x.txt", "../x"),
    ("sub/../../x.txt", "../x"),  # (inputs are normalised first)
    ("x/...txt", "x/.."),
])
def test_wildcard_values_reaching_outside(project, target, value):
    text = 'rule r:\n    output: "{a,.*}.txt"\n    shell: x\nrule all:\n    input: "' + target + '"\n'
    e = failed(project, text, ["all"])
    assert e.message == f"rule 'r': wildcard value '{value}' would reach outside the project"
    assert e.loc == at(2, 5) and e.hint == "such paths are refused; name files inside the project"


def test_a_wildcard_value_ending_in_dotdot_is_refused(project):
    e = failed(project, 'rule r:\n    output: "{a,.*}/f"\n    shell: x\nrule all:\n    input: "x/../f"\n', ["all"])
    # normalised to "f" before matching: nothing risky is left
    assert e.message == "no rule to make 'f' (needed by all)"
    p = planner(project, 'rule r:\n    output: "{a,.*}/f"\n    shell: x\n')
    with pytest.raises(PipefileError) as info:
        p._job(p.rules.rules["r"], {"a": "x/.."})
    assert info.value.message == "rule 'r': wildcard value 'x/..' would reach outside the project"


def test_harmless_values_that_combine_into_the_project_directory(project):
    p = planner(project, 'rule r:\n    output: "{n}."\n    shell: x\n')
    with pytest.raises(PipefileError) as info:
        p._job(p.rules.rules["r"], {"n": "."})
    assert info.value.message == "rule 'r': with n=. the output '..' would be outside the project"
    assert info.value.loc == at(2, 5) and info.value.hint == "such paths are refused; name files inside the project"
    p = planner(project, 'rule r:\n    output: "{d}/{n}"\n    shell: x\n')
    with pytest.raises(PipefileError) as info:
        p._job(p.rules.rules["r"], {"d": ".", "n": "."})
    assert info.value.message == "rule 'r': with d=.,n=. the output './.' would be the project directory itself"
    p = planner(project, 'rule r:\n    output: "{n}./f"\n    shell: x\n')
    with pytest.raises(PipefileError) as info:
        p._job(p.rules.rules["r"], {"n": "."})
    assert info.value.message == "rule 'r': with n=. the output '../f' would be outside the project"


def test_empty_and_dotted_values_that_stay_inside_are_planned(project):
    p = planner(project, 'rule r:\n    output: "o/{n}x", "{n}.txt"\n    shell: x\n')
    job = p._job(p.rules.rules["r"], {"n": ""})
    assert list(job.outputs) == ["o/x", ".txt"] and job.name == "r[n=]"
    job = p._job(p.rules.rules["r"], {"n": "a.b/c"})
    assert list(job.outputs) == ["o/a.b/cx", "a.b/c.txt"]


def test_an_output_inside_pyrule_state_is_refused(project):
    e = failed(project, 'rule db:\n    output: "{p,.+}.db"\n    shell: x\n', ["./.pyrule/state.db"])
    assert e.message == "rule 'db': the output '.pyrule/state.db' is inside .pyrule/, pyrule's own state"
    assert e.loc == at(2, 5) and e.hint == "no job may write there; name a file elsewhere in the project"


def test_a_literal_output_inside_pyrule_is_refused(project):
    e = failed(project, 'rule all:\n    input: "./.pyrule/x"\nrule m:\n    output: "./.pyrule/x"\n    shell: x\n')
    assert e.message == "rule 'm': the output '.pyrule/x' is inside .pyrule/, pyrule's own state"
    assert e.loc == at(4, 5)


def test_an_output_merely_named_like_pyrule_is_allowed(project):
    g = planned(project, 'rule m:\n    output: "a/.pyrule/x", ".pyrule2/x", "my.pyrule"\n    shell: x\n')
    assert list(g.jobs[0].outputs) == ["a/.pyrule/x", ".pyrule2/x", "my.pyrule"]


def test_output_name_length_limits(project):
    p = planner(project, 'rule m:\n    output: "out/{n}.t"\n    shell: x\n')
    rule = p.rules.rules["m"]
    ok = p._job(rule, {"n": "n" * 253})  # a 255-byte name
    assert list(ok.outputs) == ["out/" + "n" * 253 + ".t"]
    with pytest.raises(planmod.NameTooLong) as info:
        p._job(rule, {"n": "n" * 254})
    assert info.value.message == ("rule 'm': the output '" + ("out/" + "n" * 254)[:60] + "...' (260 bytes) "
                                  "is too long for a file name")
    assert info.value.loc == at(2, 5)
    assert info.value.hint == "a path may have at most 4095 bytes, each of its names 255"
    # non-ASCII: bytes count, not characters (each 'é' is 2)
    with pytest.raises(planmod.NameTooLong):
        p._job(rule, {"n": "é" * 127})
    assert list(p._job(rule, {"n": "é" * 126}).outputs) == ["out/" + "é" * 126 + ".t"]
    # the whole path: at most 4095 bytes
    deep = "/".join(["d" * 200] * 20)  # 4019 bytes + "out/" + ".t"
    assert p._job(rule, {"n": deep}).outputs[0] == "out/" + deep + ".t"
    assert len(p._job(rule, {"n": deep + "/" + "e" * 69}).outputs[0]) == 4095
    with pytest.raises(planmod.NameTooLong) as info:
        p._job(rule, {"n": deep + "/" + "e" * 70})
    assert "(4096 bytes)" in info.value.message
    # a failed job is forgotten: asking again raises again
    with pytest.raises(planmod.NameTooLong):
        p._job(rule, {"n": "n" * 254})


def test_a_long_name_as_target_is_an_error_not_a_chain(project):
    e = failed(project, 'rule m:\n    output: "out/{n}.t"\n    shell: x\n', ["out/" + "n" * 300 + ".t"],
               kind=planmod.NameTooLong)
    assert e.message.startswith("rule 'm': the output 'out/nnn") and "(306 bytes)" in e.message


def test_a_nul_in_an_output_is_refused(project):
    p = planner(project, 'rule m:\n    output: "out/{n}.t"\n    shell: x\n')
    with pytest.raises(PipefileError) as info:
        p._job(p.rules.rules["m"], {"n": "a\0b"})
    assert info.value.message == "rule 'm': the output 'out/a\\x00b.t' contains a NUL character"
    assert info.value.loc == at(2, 5) and info.value.hint == "a path cannot hold '\\0'"


def test_an_input_file_name_that_is_not_utf8_is_refused(project):
    bad = os.fsdecode(b"in-\xff.txt")
    project.pipefile('rule m:\n    output: "o.txt"\n    input: lambda w: IN\n    shell: x\n')
    rules = load("Pipefile")
    rules.namespace["IN"] = bad
    with pytest.raises(PipefileError) as info:
        plan(rules, ["o.txt"])
    assert info.value.message == "rule 'm': the input 'in-\\xff.txt' is not a UTF-8 file name"
    assert info.value.loc == at(3, 5)
    assert info.value.hint == "pyrule needs file names that are valid UTF-8; rename the file"


def test_non_ascii_utf8_names_are_fine(project):
    project.touch("données/é.txt")
    g = planned(project, 'rule m:\n    output: "sortie/é.txt"\n    input: "données/é.txt"\n    shell: x\n')
    assert list(g.jobs[0].inputs) == ["données/é.txt"] and list(g.jobs[0].outputs) == ["sortie/é.txt"]


def test_a_shell_reference_typo_is_an_error_before_running(project):
    e = failed(project, 'rule m:\n    output: "{x}.t"\n    shell: echo {wildcards.y}\n', ["a.t"])
    assert e.loc is not None and e.loc.line == 3
    assert "wildcards.y" in e.message or "'y'" in e.message


# --- inputs ---------------------------------------------------------------------------------------


def test_input_functions_lists_dicts_and_normalisation(project):
    g = planned(project, """\
        rule m:
            output: "o/{s}.t"
            input: "./a//{s}.x", lambda w: (f"b/{w.s}", f"c/./{w.s}"), named = lambda w: {"k": "k/" + w.s}
            shell: x
        rule src:
            output: r"{d,[abck]}/{s,[a-z]+}{ext,(\\.x)?}"
            shell: x
    """, ["o/q.t"])
    job = g.jobs[-1]
    assert list(job.inputs) == ["a/q.x", "b/q", "c/q", "k/q"] and job.inputs.k == "k/q"
    assert names(job.deps) == ["src[d=a,s=q,ext=.x]", "src[d=b,s=q,ext=]", "src[d=c,s=q,ext=]",
                               "src[d=k,s=q,ext=]"]


def test_an_input_function_returning_no_path(project):
    e = failed(project, 'rule a:\n    output: "o/{x}.txt"\n    input: lambda w: None\n    shell: x\n', ["o/z.txt"])
    assert e.message == "rule 'a': input function returned NoneType"
    assert e.loc == at(3, 5) and e.hint == "return a path or a list of paths"


def test_a_failing_function_points_at_the_line_that_raised(project):
    project.pipefile("""\
        python:
            def pick(w):
                x = 1
                return w.nothere

        rule a:
            output: "o/{x}.txt"
            input: pick
            shell: x
    """)
    with pytest.raises(PipefileError) as info:
        plan(load("Pipefile"), ["o/z.txt"])
    e = info.value
    assert e.message.startswith("rule 'a': the input function failed for a[x=z]: AttributeError: ")
    assert e.loc.file.endswith("Pipefile") and e.loc.line == 4
    assert e.hint.startswith("the function was called by the input: section at ") and e.hint.endswith("Pipefile:8:5")


def test_a_failing_params_function(project):
    e = failed(project, 'rule a:\n    output: "o/{x}.txt"\n    params: p = lambda w: int(w.x)\n    shell: x\n',
               ["o/z.txt"])
    assert e.message == ("rule 'a': the params function failed for a[x=z]: ValueError: invalid literal for int() "
                         "with base 10: 'z'")
    assert e.loc == at(3, 5) and e.hint is None


def test_a_failing_resources_function_names_the_section(project):
    e = failed(project, 'rule a:\n    output: "o/{x}.txt"\n    resources: n = lambda w: {}[w.x]\n    shell: x\n',
               ["o/z.txt"])
    assert e.message == "rule 'a': the resources function failed for a[x=z]: KeyError: 'z'"


def test_a_failing_function_of_a_phony_rule_names_the_rule(project):
    e = failed(project, 'rule all:\n    input: lambda w: 1 / 0\n')
    assert e.message == "rule 'all': the input function failed for all: ZeroDivisionError: division by zero"


# --- cycles, depth, chains without end ---------------------------------------------------------------


def test_a_cycle_of_three_names_each_step(project):
    e = failed(project, """\
        rule all:
            input: "a.txt"
        rule a:
            output: "a.txt"
            input: "b.txt"
            shell: x
        rule b:
            output: "b.txt"
            input: "c.txt"
            shell: x
        rule c:
            output: "c.txt"
            input: "a.txt"
            shell: x
    """)
    assert e.message == "dependency cycle: a -> b -> c -> a"
    assert e.loc == at(5, 5)
    assert e.hint == "a job cannot need its own output; break the cycle by renaming an output"


def test_a_diamond_is_no_cycle(project):
    g = planned(project, ABC, ["all"])
    assert names(g.jobs) == ["a", "b", "c", "d", "all"]
    jobs = {j.name: j for j in g.jobs}
    assert jobs["all"].deps == [jobs["c"], jobs["d"]] and jobs["d"].deps == [jobs["a"]]


def test_an_input_named_twice_is_one_dependency(project):
    g = planned(project, 'rule all:\n    input: "a.txt", "./a.txt", "a.txt"\nrule a:\n    output: "a.txt"\n'
                '    shell: x\n')
    assert names(g.jobs[1].deps) == ["a"] and list(g.jobs[1].inputs) == ["a.txt", "a.txt", "a.txt"]


def test_roots_are_walked_once(project):
    g = planned(project, ABC, ["c", "b", "c.txt"])
    assert names(g.jobs) == ["a", "b", "c"]
    g = planned(project, ABC, ["c", "b", "d"])  # a root already walked does not end the walk
    assert names(g.jobs) == ["a", "b", "c", "d"]


CHAIN = """\
rule step:
    output: "s/{n,[0-9]+}.txt"
    input: lambda w: [f"s/{int(w.n) - 1}.txt"] if int(w.n) > 0 else []
    shell: x
"""


def test_the_depth_limit(project, monkeypatch):
    monkeypatch.setattr(planmod, "MAX_DEPTH", 5)
    assert len(planned(project, CHAIN, ["s/4.txt"]).jobs) == 5
    e = failed(project, CHAIN, ["s/5.txt"])
    assert e.message == ("a chain of inputs without end (over 5 jobs deep): rule 'step' keeps matching its own "
                         "inputs:\n    s/5.txt (step[n=5])\n    needs s/4.txt (step[n=4])\n    needs s/3.txt (step[n=3])"
                         "\n    needs s/2.txt (step[n=2])\n    needs ...")
    assert e.loc == at(3, 5)
    assert e.hint == ("make the input pattern unable to match the output again, e.g. constrain the wildcard "
                      "('{x,[^.]+}'); a chain may be at most 5 jobs deep")


def test_the_depth_limit_is_ten_thousand_with_thousands_separators(project):
    assert planmod.MAX_DEPTH == 10_000
    e = failed(project, 'rule s:\n    output: "s/{n,[0-9]+}"\n    input: lambda w: f"s/{int(w.n) + 1}"\n    shell: x\n',
               ["s/0"])
    assert e.message.startswith("a chain of inputs without end (over 10,000 jobs deep): rule 's' keeps matching its"
                                " own inputs:\n    s/0 (s[n=0])\n    needs s/1 (s[n=1])\n")
    assert e.hint.endswith("a chain may be at most 10,000 jobs deep")


def test_a_chain_without_end_after_a_phony_start_names_two_rules(project):
    e = failed(project, """\
        rule all:
            input: "a.txt"
        rule grow:
            output: "{x}.txt"
            input: "{x}.y"
            shell: x
        rule grow2:
            output: "{x}.y"
            input: "{x}.x.txt"
            shell: x
    """)
    assert e.message.startswith("a chain of inputs without end (until the name is too long for a file): "
                                "rules 'grow', 'grow2' keep matching their own inputs:\n    a.txt (grow[x=a])\n"
                                "    needs a.y (grow2[x=a])\n    needs a.x.txt (grow[x=a.x])\n"
                                "    needs a.x.y (grow2[x=a.x])\n    needs ...")
    assert e.loc == at(9, 5)  # the input: of the last job's rule (grow2: its input a...x.txt is too long)


def test_a_chain_without_end_of_three_rules_shows_the_first_three(project):
    e = failed(project, """\
        rule p:
            output: "{x}.a"
            input: "{x}.b"
            shell: x
        rule q:
            output: "{x}.b"
            input: "{x}.c"
            shell: x
        rule r:
            output: "{x}.c"
            input: "{x}.x.a"
            shell: x
        rule s:
            output: "{x}.zz"
            shell: x
    """, ["k.a"])
    # the rules in the order they come in the last 50 jobs of the chain; its first 4 steps
    assert e.message == ("a chain of inputs without end (until the name is too long for a file): rules 'q', 'r', 'p' "
                         "keep matching their own inputs:\n    k.a (p[x=k])\n    needs k.b (q[x=k])\n"
                         "    needs k.c (r[x=k])\n    needs k.x.a (p[x=k.x])\n    needs ...")


def test_a_job_without_outputs_in_a_chain_is_shown_by_name(project, monkeypatch):
    monkeypatch.setattr(planmod, "MAX_DEPTH", 3)
    e = failed(project, """\
        rule all:
            input: "s/0"
        rule s:
            output: "s/{n,[0-9]+}"
            input: lambda w: f"s/{int(w.n) + 1}"
            shell: x
    """)
    assert e.message == ("a chain of inputs without end (over 3 jobs deep): rules 'all', 's' keep matching their own "
                         "inputs:\n    all (all)\n    needs s/0 (s[n=0])\n    needs s/1 (s[n=1])\n    needs ...")


def test_a_chain_without_end_is_shown_from_its_repeating_rules(project, monkeypatch):
    # 'all' is no longer among the last 50 jobs: the steps shown start at the first job of a repeating rule
    monkeypatch.setattr(planmod, "MAX_DEPTH", 60)
    e = failed(project, """\
        rule all:
            input: "s/0"
        rule s:
            output: "s/{n,[0-9]+}"
            input: lambda w: f"s/{int(w.n) + 1}"
            shell: x
    """)
    assert e.message == ("a chain of inputs without end (over 60 jobs deep): rule 's' keeps matching its own "
                         "inputs:\n    s/0 (s[n=0])\n    needs s/1 (s[n=1])\n    needs s/2 (s[n=2])\n"
                         "    needs s/3 (s[n=3])\n    needs ...")


# --- directories ----------------------------------------------------------------------------------


def test_a_file_inside_a_directory_output_is_made_by_its_job(project):
    g = planned(project, """\
        rule all:
            input: "d", "d/sub/x.txt", "d/y"
        rule d:
            output: directory("d")
            shell: x
    """)
    assert names(g.jobs) == ["d", "all"] and g.jobs[1].deps == [g.jobs[0]]


def test_a_file_beside_a_directory_output_is_not(project):
    e = failed(project, 'rule all:\n    input: "dd/x", "d/x"\nrule d:\n    output: directory("d")\n    shell: x\n')
    assert e.message == "no rule to make 'dd/x' (needed by all)"


# --- job_target, phony_hint ------------------------------------------------------------------------


def test_job_target_maps_a_job_name_to_its_first_output(project):
    project.pipefile("""\
        rule square:
            output: "sq/{i}.txt", "other/{i}"
            shell: x
        rule pair:
            output: "p/{a}-{b}.txt"
            shell: x
        rule all:
            input: "sq/1.txt"
        rule lit:
            output: "./lit.txt"
            shell: x
    """)
    rules = load("Pipefile")
    assert job_target(rules, "square[i=7]") == "sq/7.txt"
    assert job_target(rules, "pair[b=2,a=1]") == "p/1-2.txt"
    assert job_target(rules, "pair[a=1,b=x,y]") == "p/1-x,y.txt"
    assert job_target(rules, "pair[a=1]") is None
    assert job_target(rules, "square[j=7]") is None
    assert job_target(rules, "square[i=7") is None
    assert job_target(rules, "all[i=7]") is None
    assert job_target(rules, "square") is None
    assert job_target(rules, "squares[i=7]") is None
    assert job_target(rules, "lit[]") == "lit.txt"
    assert job_target(rules, "square[i=a=b]") == "sq/a=b.txt"


def test_phony_hint(project):
    g = planned(project, 'rule clean:\n    output: "clean"\n    shell: x\nrule two:\n    output: "two", "b"\n'
                '    shell: x\n', ["clean", "two"])
    clean, two = g.jobs
    assert phony_hint(clean, ["clean"]) == ("; 'clean' looks like a phony target (a name to run, not a file it "
                                            "makes): write it as 'rule clean:' with a 'shell:' section and no "
                                            "'output:'")
    assert phony_hint(clean, ["other"]) == ""
    assert phony_hint(two, ["two"]) == ""
    project.touch("clean")
    assert phony_hint(clean, ["clean"]) == ""


def test_a_failing_function_in_the_users_module_points_at_its_line(project, monkeypatch):
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.delitem(sys.modules, "plan_unit_helpers", raising=False)  # (imported here, removed after)
    project.write("plan_unit_helpers.py", "def pick(w):\n    if True:\n        return 1 / 0\n")
    e = failed(project, """\
        python:
            from plan_unit_helpers import pick
        rule a:
            output: "o/{x}.txt"
            input: pick
            shell: x
    """, ["o/z.txt"])
    assert e.message == "rule 'a': the input function failed for a[x=z]: ZeroDivisionError: division by zero"
    assert e.loc == Location(str(project / "plan_unit_helpers.py"), 3, 9)
    assert e.hint == "the function was called by the input: section at Pipefile:5:5"


# --- checkpoints ----------------------------------------------------------------------------------

CHECKPOINT = """\
checkpoint list:
    output: "list.txt"
    shell: x
rule item:
    output: "items/{i}.txt"
    shell: x
python:
    def listed(wildcards):
        names = open(checkpoints.list.get().output[0]).read().split()
        checkpoints.list.get()  # asked twice: still one asker
        return expand("items/{i}.txt", i=names)
rule all:
    output: "all.txt"
    input: listed, "base.txt"
    shell: x
rule base:
    output: "base.txt"
    shell: x
"""


def test_a_job_asking_a_pending_checkpoint_waits_for_it(project):
    p = planner(project, CHECKPOINT)
    g = p.plan(["all.txt"], [])
    assert names(g.jobs) == ["base", "list", "all"]
    ck, job = g.jobs[1], g.jobs[2]
    assert job.waits_for is ck and job.after == [ck] and job.deps == [g.jobs[0], ck]
    assert list(job.inputs) == ["base.txt"]
    assert p.asked == {ck: [job]}
    # the checkpoint ran: re-planning resolves the function's inputs
    project.write("list.txt", "a b\n")
    p.completed.add(ck)
    new = p.replan(job)
    assert names(new) == ["item[i=a]", "item[i=b]", "base", "list", "all"]  # (the runner skips those done)
    assert job.waits_for is None and list(job.inputs) == ["items/a.txt", "items/b.txt", "base.txt"]
    assert names(job.deps) == ["item[i=a]", "item[i=b]", "base", "list"] and job.after == [ck]
    assert p.asked == {ck: [job]}


def test_a_checkpoint_whose_outputs_exist_answers_at_once(project):
    project.write("list.txt", "z\n")
    g = planned(project, CHECKPOINT, ["all.txt"])
    assert names(g.jobs) == ["item[i=z]", "base", "list", "all"]
    job = g.jobs[-1]
    assert job.waits_for is None and list(job.inputs) == ["items/z.txt", "base.txt"]
    assert job.after == [g.jobs[2]] and g.planner.asked == {g.jobs[2]: [job]}


def test_a_completed_checkpoint_answers_even_before_its_outputs_exist(project):
    p = planner(project, CHECKPOINT)
    g = p.plan(["all.txt"], [])
    ck = g.jobs[1]
    p.completed.add(ck)
    with pytest.raises(PipefileError) as info:  # completed, so asked: its output is read, and is missing
        p.replan(g.jobs[2])
    assert "FileNotFoundError" in info.value.message


def test_two_jobs_asking_one_checkpoint(project):
    g = planned(project, CHECKPOINT + 'rule two:\n    input: listed\n', ["all.txt", "two"])
    ck = g.jobs[1]
    assert names(g.jobs) == ["base", "list", "all", "two"]
    assert g.planner.asked == {ck: [g.jobs[2], g.jobs[3]]}


def test_a_checkpoint_asked_without_its_wildcards(project):
    e = failed(project, """\
        rule all:
            input: lambda w: checkpoints.split.get().output
        checkpoint split:
            output: "{s}/list.txt"
            shell: x
    """)
    assert e.message == "checkpoints.split.get(): no value for wildcard 's'"
    assert e.loc == at(4, 5)
    assert e.hint == "pass every wildcard of the checkpoint's outputs, e.g. get(**wildcards)"


def test_a_checkpoint_asked_with_its_wildcards(project):
    project.write("g/list.txt", "")
    g = planned(project, """\
        checkpoint split:
            output: "{s}/list.txt"
            shell: x
        rule out:
            output: "out/{s}.txt"
            input: lambda w: checkpoints.split.get(s=w.s).output
            shell: x
    """, ["out/g.txt"])
    assert names(g.jobs) == ["split[s=g]", "out[s=g]"] and g.jobs[1].waits_for is None


def test_params_asking_a_pending_checkpoint_wait_and_get_their_values_when_replanned(project):
    p = planner(project, """\
        checkpoint n:
            output: "n.txt"
            shell: x
        rule m:
            output: "m.txt"
            params: n = lambda w: open(checkpoints.n.get().output[0]).read().strip()
            resources: mem_mb = lambda w: 5
            shell: echo {params.n}
    """)
    g = p.plan(["m.txt"], [])
    ck, job = g.jobs
    assert names(g.jobs) == ["n", "m"] and job.waits_for is ck and job.after == [ck]
    assert dict(job.params) == {} and p.asked == {ck: [job]}
    project.write("n.txt", "3\n")
    p.completed.add(ck)  # (the runner does so once the checkpoint ran: the stat cache still says absent)
    assert p.replan(job) == [ck, job]
    assert job.waits_for is None and dict(job.params) == {"n": "3"} and job.resources.mem_mb == 5


# --- boundaries and the less travelled paths ----------------------------------------------------------


def test_until_with_the_default_target(project):
    g = planned(project, ABC, until=["b"])
    assert names(g.jobs) == ["a", "b"] and names(g.targets) == ["b"]


def test_a_workflow_without_rules_has_no_location_to_show(tmp_path, monkeypatch):
    from pyrule import Workflow

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as info:
        Workflow(tmp_path).plan()
    assert info.value.message == "the Pipefile has no rules" and info.value.loc is None


def test_a_failing_function_of_a_python_api_rule_points_into_the_callers_code(tmp_path, monkeypatch):
    from pyrule import Workflow

    def broken(w):
        return {}[w.x]

    monkeypatch.chdir(tmp_path)
    wf = Workflow(tmp_path)
    wf.rule("r", output="o/{x}.txt", input=broken, shell="x")
    with pytest.raises(PipefileError) as info:
        wf.plan(["o/q.txt"])
    e = info.value
    assert e.message == "rule 'r': the input function failed for r[x=q]: KeyError: 'q'"
    assert e.loc == Location(__file__, broken.__code__.co_firstlineno + 1, 9) and e.hint is None


def test_the_lookahead_is_bounded(project, monkeypatch):
    # Beyond _LOOKAHEAD steps a candidate counts as makeable: with 1 or 2 steps, 'shallow' (whose
    # inputs' inputs are missing three steps ahead) looks as good as 'deep', and the two are ambiguous.
    text = SHALLOW_DEEP
    project.touch(*[f"q{i}.d" for i in range(120)])
    targets = [f"q{i}.txt" for i in range(120)]  # more choices than _LOOKAHEAD: the count is given back each time
    assert len(planned(project, text, targets).jobs) == 240
    for steps in (1, 2):
        monkeypatch.setattr(planmod, "_LOOKAHEAD", steps)
        e = failed(project, text, ["q0.txt"])
        assert e.message == ("ambiguous: rules 'shallow' (Pipefile:1:1) and 'deep' (Pipefile:5:1) can both make "
                             "'q0.txt'")
    monkeypatch.setattr(planmod, "_LOOKAHEAD", 3)
    assert names(planned(project, text, ["q0.txt"]).jobs) == ["c[x=q0]", "deep[x=q0]"]


def test_two_outputs_of_one_rule_matching_one_path_are_no_rivals(project):
    g = planned(project, 'rule r:\n    output: "{a}.txt", "{a,[a-z]+}.txt"\n    shell: x\n', ["v.txt"])
    assert names(g.jobs) == ["r[a=v]"]


def test_a_job_whose_planning_failed_is_forgotten(project):
    p = planner(project, 'rule r:\n    output: "o/{x}"\n    input: lambda w: 1 / 0\n    shell: x\n')
    for _ in range(2):
        with pytest.raises(PipefileError) as info:
            p._job(p.rules.rules["r"], {"x": "a"})
        assert info.value.message == "rule 'r': the input function failed for r[x=a]: ZeroDivisionError: division by zero"
    assert p.jobs == {}


def test_empty_and_parent_reaching_values_given_directly(project):
    p = planner(project, 'rule r:\n    output: "{n}"\n    shell: x\n')
    rule = p.rules.rules["r"]
    with pytest.raises(PipefileError) as info:
        p._job(rule, {"n": ""})
    assert info.value.message == "rule 'r': with n= the output '' would be the project directory itself"
    for value in ("a/../../y", "/y", "../y", "..", "a/.."):
        with pytest.raises(PipefileError) as info:
            p._job(rule, {"n": value})
        assert info.value.message == f"rule 'r': wildcard value '{value}' would reach outside the project"
    assert list(p._job(rule, {"n": "a..b/c.."}).outputs) == ["a..b/c.."]


def test_an_output_pattern_that_itself_leaves_the_project_is_the_authors_choice(project):
    g = planned(project, 'rule r:\n    output: "../out/{n}.txt"\n    shell: x\n', ["../out/a.b.txt"])
    assert names(g.jobs) == ["r[n=a.b]"] and list(g.jobs[0].outputs) == ["../out/a.b.txt"]


def test_every_input_is_checked_for_utf8(project):
    bad = os.fsdecode(b"in-\xff.txt")
    project.pipefile('rule m:\n    output: "o.txt"\n    input: lambda w: ["ok.txt", "é.txt", IN]\n    shell: x\n')
    rules = load("Pipefile")
    rules.namespace["IN"] = bad
    with pytest.raises(PipefileError) as info:
        plan(rules, ["o.txt"])
    assert info.value.message == "rule 'm': the input 'in-\\xff.txt' is not a UTF-8 file name"


@pytest.mark.parametrize(("length", "error"), [(236, PipefileError), (238, planmod.NameTooLong)])
def test_a_name_growing_too_long_is_a_chain_from_eight_jobs_deep(project, length, error):
    # "{x}.txt" from "{x}.x.txt": each step adds 2 characters. Starting from 236, the 8th job's input
    # is the first name over 255 bytes: a chain without end; from 238, the 7th's: the name itself.
    e = failed(project, 'rule g:\n    output: "{x}.txt"\n    input: "{x}.x.txt"\n    shell: x\n',
               ["n" * length + ".txt"], kind=error)
    if error is planmod.NameTooLong:
        assert e.message.endswith("...' (256 bytes) is too long for a file name")
    else:
        assert e.message.startswith("a chain of inputs without end (until the name is too long for a file): "
                                    "rule 'g' keeps matching its own inputs:\n    " + "n" * length + ".txt (g[x=")


def test_a_chain_of_four_rules_names_the_first_three(project):
    e = failed(project, """\
        rule p:
            output: "{x}.a"
            input: "{x}.b"
            shell: x
        rule q:
            output: "{x}.b"
            input: "{x}.c"
            shell: x
        rule r:
            output: "{x}.c"
            input: "{x}.d"
            shell: x
        rule s:
            output: "{x}.d"
            input: "{x}.x.a"
            shell: x
    """, ["k.a"])
    # four repeating rules (in their order among the last 50 jobs): three are named
    assert e.message == ("a chain of inputs without end (until the name is too long for a file): rules 'r', 's', 'p' "
                         "keep matching their own inputs:\n    k.a (p[x=k])\n    needs k.b (q[x=k])\n"
                         "    needs k.c (r[x=k])\n    needs k.d (s[x=k])\n    needs ...")


def test_unknown_targets_get_hints_from_their_directory(project):
    project.touch("src.txt")
    text = 'rule a:\n    output: "a.txt"\n    shell: x\n'
    assert failed(project, text, ["src.tx"], kind=UsageError).hint == "did you mean 'src.txt'?"
    e = failed(project, text, ["nodir/src.txt"], kind=UsageError)
    assert e.hint == "name a rule (pyrule --list) or a file a rule makes"


def test_job_target_skips_junk_before_the_first_wildcard(project):
    project.pipefile('rule square:\n    output: "sq/{i}.txt"\n    shell: x\n')
    assert job_target(load("Pipefile"), "square[junk,i=7]") == "sq/7.txt"


def test_a_waiting_job_has_its_shell_checked_when_replanned(project):
    p = planner(project, """\
        checkpoint n:
            output: "n.txt"
            shell: x
        rule m:
            output: "m.txt"
            input: lambda w: {"listing": checkpoints.n.get().output[0]}
            shell: cat {input.listing} {input.nothere}
    """)
    g = p.plan(["m.txt"], [])  # waiting: its inputs are not known yet, nor checked
    ck, job = g.jobs
    assert job.waits_for is ck
    project.write("n.txt", "")
    p.completed.add(ck)
    with pytest.raises(PipefileError) as info:
        p.replan(job)
    assert info.value.message == "rule 'm': {input.nothere} does not resolve: input has no 'nothere'"
    assert info.value.loc == at(7, 32)


def test_an_input_only_a_cycle_could_make_is_not_makeable(project):
    # 'viacycle' needs q.b, made from q.c, made from q.b: looking ahead, q.b cannot be made, so
    # 'direct' is chosen (no ambiguity, no endless look-ahead).
    project.touch("q.e")
    g = planned(project, """\
        rule viacycle:
            output: "{x}.a"
            input: "{x}.b"
            shell: x
        rule direct:
            output: "{x}.a"
            input: "{x}.e"
            shell: x
        rule b:
            output: "{x}.b"
            input: "{x}.c"
            shell: x
        rule c:
            output: "{x}.c"
            input: "{x}.b"
            shell: x
    """, ["q.a"])
    assert names(g.jobs) == ["direct[x=q]"]


def test_a_candidate_asking_a_pending_checkpoint_is_viable(project):
    # While choosing, no job asks yet: the checkpoint's job is planned, and the asking candidate
    # (which waits for it) is preferred to one whose input cannot be made.
    g = planned(project, """\
        rule missing:
            output: "{x}.out"
            input: "{x}.nowhere"
            priority: 1
            shell: x
        rule asks:
            output: "{x}.out"
            input: lambda w: checkpoints.ck.get().output
            shell: x
        checkpoint ck:
            output: "ck.txt"
            shell: x
    """, ["q.out"])
    assert names(g.jobs) == ["ck", "asks[x=q]"]
    ck, job = g.jobs
    assert job.waits_for is ck and g.planner.asked == {ck: [job]}


def test_a_checkpoint_result_carries_the_wildcards_it_was_asked_with(project):
    project.write("g/list.txt", "")
    g = planned(project, """\
        rule out:
            output: "out/{s}.txt"
            input: lambda w: "in/" + checkpoints.split.get(s=w.s, n=2).wildcards["n"] + ".txt"
            shell: x
        checkpoint split:
            output: "{s}/list.txt"
            shell: x
        rule src:
            output: "in/{n}.txt"
            shell: x
    """, ["out/g.txt"])
    assert list(g.jobs[-1].inputs) == ["in/2.txt"]


def test_a_failing_function_made_by_eval_is_located_at_its_section(project):
    # Code without a file ('<string>') has no line to show: the section that named the function is.
    e = failed(project, 'rule a:\n    output: "o/{x}.txt"\n    input: eval("lambda w: 1 / 0")\n    shell: x\n',
               ["o/z.txt"])
    assert e.message == "rule 'a': the input function failed for a[x=z]: ZeroDivisionError: division by zero"
    assert e.loc == at(3, 5) and e.hint is None


def test_a_failing_function_whose_file_is_gone_is_located_at_column_one(project, monkeypatch):
    import linecache

    monkeypatch.syspath_prepend(str(project))
    monkeypatch.delitem(sys.modules, "plan_unit_gone", raising=False)
    project.write("plan_unit_gone.py", "def pick(w):\n    return 1 / 0\n")
    project.pipefile("""\
        python:
            from plan_unit_gone import pick
        rule a:
            output: "o/{x}.txt"
            input: pick
            shell: x
    """)
    rules = load("Pipefile")
    (project / "plan_unit_gone.py").unlink()
    linecache.checkcache()
    with pytest.raises(PipefileError) as info:
        plan(rules, ["o/z.txt"])
    assert info.value.loc == Location(str(project / "plan_unit_gone.py"), 2, 1)


def test_the_look_ahead_count_is_given_back_after_each_choice(project, monkeypatch):
    # r.txt: only 'shallow' can make it (r.none exists, r.d does not), found looking 2 steps ahead.
    # The count must be back at 0 for q0.txt: at 2 steps 'shallow' and 'deep' are ambiguous, at 3 not.
    project.touch("r.none", "q0.d")
    monkeypatch.setattr(planmod, "_LOOKAHEAD", 2)
    e = failed(project, SHALLOW_DEEP, ["r.txt", "q0.txt"])
    assert e.message == "ambiguous: rules 'shallow' (Pipefile:1:1) and 'deep' (Pipefile:5:1) can both make 'q0.txt'"
    monkeypatch.setattr(planmod, "_LOOKAHEAD", 3)
    g = planned(project, SHALLOW_DEEP, ["r.txt", "q0.txt"])
    assert names(g.jobs) == ["y[x=r]", "nothing[x=r]", "shallow[x=r]", "c[x=q0]", "deep[x=q0]"]


def test_inputs_after_a_function_returning_a_dict_are_kept(project):
    project.touch("k/q", "z/q")
    g = planned(project, 'rule m:\n    output: "o/{s}.t"\n    input: lambda w: {"k": "k/" + w.s}, "z/{s}"\n'
                '    shell: x\n', ["o/q.t"])
    assert list(g.jobs[0].inputs) == ["k/q", "z/q"] and g.jobs[0].inputs.k == "k/q"


# === Stage 3 as a whole: Rules + targets -> job graph. Resolution, specificity, priority, dropping
# rules that cannot make their inputs, sources, naming, --until, default targets, and the planning
# errors, on small workflows. ====================================================================

def graph_names(graph: JobGraph) -> list[str]:
    return names(graph.jobs)


def assert_dependency_order(graph: JobGraph) -> None:
    seen = set()
    for j in graph.jobs:
        assert all(d in seen for d in j.deps), f"{j.name} comes before one of its deps"
        seen.add(j)


COUNT = """\
SAMPLES = ["a", "b"]
rule summarize:
    output: "summary.txt"
    input: expand("counts/{sample}.tsv", sample=SAMPLES)
    shell: cat {input} > {output}
rule count:
    output: "counts/{sample}.tsv"
    input: "reads/{sample}.fq"
    params: tag = "{sample}!", n = lambda w: len(w.sample)
    log: "logs/{sample}.log"
    shell: wc -l {input} > {output}
"""


# --- resolution ----------------------------------------------------------------------------------


def test_wildcards_are_resolved_and_jobs_come_in_dependency_order(project):
    project.touch("reads/a.fq", "reads/b.fq")
    g = planned(project, COUNT)
    assert graph_names(g) == ["count[sample=a]", "count[sample=b]", "summarize"]
    assert_dependency_order(g)
    a = g.jobs[0]
    assert a.wildcards == {"sample": "a"} and list(a.outputs) == ["counts/a.tsv"]
    assert list(a.inputs) == ["reads/a.fq"] and a.log == "logs/a.log"
    assert a.params == {"tag": "a!", "n": 1} and a.params.tag == "a!"
    assert g.jobs[2].deps == g.jobs[:2]
    assert g.targets == [g.jobs[2]] and g.producers["counts/b.tsv"] is g.jobs[1]
    assert sorted(g.sources) == ["reads/a.fq", "reads/b.fq"]


def test_job_names_list_wildcards_in_pattern_order(project):
    g = planned(project, 'rule m:\n    output: "out/{b}/{a}.txt"\n    shell: x\n', ["out/x/y.txt"])
    assert graph_names(g) == ["m[b=x,a=y]"]


def test_wildcard_regex_constraints_choose_the_rule(project):
    text = """\
        rule num:
            output: "f/{n,[0-9]+}.txt"
            shell: x
        rule word:
            output: "f/{w,[a-z]+}.txt"
            shell: x
    """
    g = planned(project, text, ["f/12.txt", "f/ab.txt"])
    assert graph_names(g) == ["num[n=12]", "word[w=ab]"]
    e = failed(project, text, ["f/A1.txt"], kind=UsageError)
    assert e.message == "unknown target 'f/A1.txt': no rule is named so and no rule makes it"


def test_regex_constraint_with_braces_and_slashes(project):
    g = planned(project, 'rule r:\n    output: "d/{y,[0-9]{4}}/{rest,.*}.txt"\n    shell: x\n', ["d/2024/a/b.txt"])
    assert g.jobs[0].wildcards == {"y": "2024", "rest": "a/b"}


def test_repeated_wildcard_must_take_the_same_value(project):
    text = 'rule r:\n    output: "{a}/{a}.txt"\n    shell: x\n'
    assert graph_names(planned(project, text, ["x/x.txt"])) == ["r[a=x]"]
    failed(project, text, ["x/y.txt"], kind=UsageError)


def test_more_specific_pattern_wins_like_makes_shortest_stem(project):
    text = """\
        rule generic:
            output: "{x}.txt"
            shell: x
        rule special:
            output: "a_{x}.txt"
            shell: x
        rule very:
            output: "a_b{x}.txt"
            shell: x
    """
    g = planned(project, text, ["a_b.txt", "a_c.txt", "b.txt", "a_bc.txt"])
    assert graph_names(g) == ["special[x=b]", "special[x=c]", "generic[x=b]", "very[x=c]"]


def test_exact_output_beats_a_pattern(project):
    g = planned(project, 'rule any:\n    output: "{x}.txt"\n    shell: x\nrule one:\n    output: "a.txt"\n    shell: x\n',
                  ["a.txt"])
    assert graph_names(g) == ["one"]


def test_priority_beats_specificity(project):
    g = planned(project, """\
        rule generic:
            output: "{x}.txt"
            priority: 5
            shell: x
        rule special:
            output: "a_{x}.txt"
            shell: x
    """, ["a_b.txt"])
    assert graph_names(g) == ["generic[x=a_b]"]


def test_rules_whose_inputs_cannot_be_made_are_dropped(project):
    project.touch("a.d")
    text = """\
        rule fromc:
            output: "{x}.txt"
            input: "{x}.c"
            shell: x
        rule frome:
            output: "{x}.txt"
            input: "{x}.e"
            shell: x
        rule e:
            output: "{x}.e"
            input: "{x}.d"
            shell: x
    """
    g = planned(project, text, ["a.txt"])
    assert graph_names(g) == ["e[x=a]", "frome[x=a]"]
    # and when no rule can: the best-ranked one names its missing input
    e = failed(project, text, ["b.txt"])
    assert e.message == "no rule to make 'b.c' (needed by fromc[x=b] for 'b.txt')" and e.loc == at(3, 5)


def test_ambiguous_rules_are_an_error_naming_both(project):
    e = failed(project, """\
        rule all:
            input: "x.txt"
        rule a:
            output: "{n}.txt"
            shell: x
        rule b:
            output: "{m}.txt"
            shell: y
    """)
    assert e.message == ("ambiguous: rules 'a' (Pipefile:3:1) and 'b' (Pipefile:6:1) can both make 'x.txt' "
                         "(needed by all)")
    assert e.loc == at(3, 1) and "priority" in e.hint


def test_sources_and_missing_files(project):
    e = failed(project, COUNT)
    assert e.message == "no rule to make 'reads/a.fq' (needed by count[sample=a] for 'counts/a.tsv')"
    assert e.loc == at(8, 5) and e.hint == "create the file, or add a rule whose output matches it"
    project.touch("reads/a.fq", "reads/b.fastq")
    e = failed(project, COUNT)
    assert e.message == "no rule to make 'reads/b.fq' (needed by count[sample=b] for 'counts/b.tsv')"


def test_missing_input_of_a_phony_rule(project):
    e = failed(project, 'X = 1\nrule all:\n    input: "nope.txt"\n')
    assert e.message == "no rule to make 'nope.txt' (needed by all)" and e.loc == at(3, 5)


def test_missing_input_suggests_a_near_file(project):
    project.touch("data/sample1.txt")
    e = failed(project, 'rule all:\n    input: "data/sampel1.txt"\n')
    assert e.hint.startswith("did you mean 'sample1.txt'?")


def test_dependency_cycle_prints_the_path(project):
    e = failed(project, """\
        rule a:
            output: "a.txt"
            input: "b.txt"
            shell: x
        rule b:
            output: "b.txt"
            input: "a.txt"
            shell: x
    """)
    assert e.message == "dependency cycle: a -> b -> a" and e.loc == at(3, 5)
    e = failed(project, 'rule s:\n    output: "{x}.txt"\n    input: "{x}.txt"\n    shell: x\n', ["q.txt"])
    assert e.message == "dependency cycle: s[x=q] -> s[x=q]"


def test_paths_are_normalised(project):
    g = planned(project, """\
        rule all:
            input: "out/a.txt", "./b.txt", "out//c.txt"
        rule a:
            output: "./out/{s}.txt"
            shell: x
        rule b:
            output: "b.txt"
            shell: x
    """)
    assert graph_names(g) == ["a[s=a]", "b", "a[s=c]", "all"]
    assert list(g.jobs[0].outputs) == ["out/a.txt"] and "out/a.txt" in g.producers
    assert graph_names(plan(load("Pipefile"), ["./out/x.txt"])) == ["a[s=x]"]


# --- wildcard values that leave the project -----------------------------------------------------


@pytest.mark.parametrize(("target", "value"), [
    ("all", "../x"),
    ("/etc/passwd.txt", "/etc/passwd"),
])
def test_wildcard_values_outside_the_project_are_refused(project, target, value):
    e = failed(project, """\
        rule r:
            output: "{a,.*}.txt"
            shell: x
        rule all:
            input: "sub/../../x.txt"
    """, [target])
    assert e.message == f"rule 'r': wildcard value '{value}' would reach outside the project"
    assert e.loc == at(2, 5)


def test_dotdot_wildcard_value_is_refused(project):
    e = failed(project, 'rule r:\n    output: "{a}/x.txt"\n    shell: x\nrule all:\n    input: "../x.txt"\n', ["all"])
    assert e.message == "rule 'r': wildcard value '..' would reach outside the project"


# --- targets --------------------------------------------------------------------------------------

ABCD = CHAIN_ABC + 'rule d:\n    output: "d.txt"\n    input: "b.txt"\n    shell: x\n' + ALL_CD


def test_default_target_is_the_first_rule(project):
    assert graph_names(planned(project, ABCD)) == ["a"]


def test_default_statement(project):
    g = planned(project, "default: c.txt b\n" + ABCD)
    assert graph_names(g) == ["a", "b", "c"] and [j.name for j in g.targets] == ["c", "b"]


def test_unknown_default_target_points_at_the_default_line(project):
    e = failed(project, "X = 1\ndefault: cc\n" + ABCD, kind=UsageError)
    assert e.message == "unknown default target 'cc': no rule is named so and no rule makes it"
    assert e.loc == at(2, 1) and e.hint == "did you mean 'c'?"


def test_no_rules(project):
    e = failed(project, "X = 1\n", kind=UsageError)
    assert e.message == "the Pipefile has no rules"


def test_explicit_targets_files_and_rule_names(project):
    g = planned(project, ABCD, ["d.txt", "c"])
    assert graph_names(g) == ["a", "b", "d", "c"]
    assert_dependency_order(g)
    assert graph_names(planned(project, ABCD, ["all"])) == ["a", "b", "c", "d", "all"]


def test_unknown_target_suggests_a_rule(project):
    e = failed(project, ABCD, ["alll"], kind=UsageError)
    assert e.message == "unknown target 'alll': no rule is named so and no rule makes it"
    assert e.hint == "did you mean 'all'?"


def test_unknown_target_suggests_a_file_a_rule_makes(project):
    e = failed(project, ABCD, ["cc.txt"], kind=UsageError)
    assert e.hint == "did you mean 'c.txt'?"


def test_existing_source_file_as_target(project):
    project.touch("src.txt")
    assert planned(project, ABCD, ["src.txt"]).jobs == []


def test_rule_with_wildcards_named_as_target(project):
    e = failed(project, 'rule count:\n    output: "counts/{s}.tsv"\n    shell: x\n', ["count"], kind=UsageError)
    assert e.message == "rule 'count' has wildcards: name a file it makes, like 'counts/{s}.tsv'"
    assert e.loc == at(1, 1)


def test_until_a_rule(project):
    g = planned(project, ABCD, ["all"], until=["b"])
    assert graph_names(g) == ["a", "b"] and [j.name for j in g.targets] == ["b"]
    assert set(g.producers) == {"a.txt", "b.txt"}


def test_until_a_file(project):
    assert graph_names(planned(project, ABCD, ["all"], until=["a.txt"])) == ["a"]
    assert graph_names(planned(project, ABCD, ["all"], until=["./c.txt"])) == ["a", "b", "c"]


def test_until_something_outside_the_graph(project):
    e = failed(project, ABCD, ["c"], until=["d"], kind=UsageError)
    assert e.message == "--until d: no job of the requested targets' graph makes it or is so named"


# --- input functions, rules.NAME, expand, glob_wildcards, flags ------------------------------------


def test_input_functions_of_wildcards(project):
    g = planned(project, """\
        python:
            def pick(w):
                return f"in/{w.s}.dat"
        rule a:
            output: "o/{s}.txt"
            input: pick, lambda w: ["x/" + w.s, "y/" + w.s], named = lambda w: {"k": "x/k" + w.s}
            shell: x
        rule make:
            output: r"{d,in|x|y}/{s}{ext,(\\.dat)?}"
            shell: x
    """, ["o/q.txt"])
    job = g.jobs[-1]
    assert job.name == "a[s=q]"
    assert list(job.inputs) == ["in/q.dat", "x/q", "y/q", "x/kq"]
    assert job.inputs.k == "x/kq"


def test_input_function_errors(project):
    e = failed(project, 'rule a:\n    output: "o/{x}.txt"\n    input: lambda w: 1 / 0\n    shell: x\n', ["o/z.txt"])
    assert e.message == "rule 'a': the input function failed for a[x=z]: ZeroDivisionError: division by zero"
    assert e.loc == at(3, 5)
    e = failed(project, 'rule a:\n    output: "o/{x}.txt"\n    input: lambda w: 5\n    shell: x\n', ["o/z.txt"])
    assert e.message == "rule 'a': input function returned int" and e.loc == at(3, 5)
    e = failed(project, 'rule a:\n    output: "o/{x}.txt"\n    input: lambda w: w.y\n    shell: x\n', ["o/z.txt"])
    assert e.message.startswith("rule 'a': the input function failed for a[x=z]: AttributeError: no 'y'")


def test_rules_name_output_makes_an_edge(project):
    g = planned(project, """\
        rule a:
            output: "a.txt", named = "b.txt"
            shell: x
        rule c:
            output: "c.txt"
            input: rules.a.output.named
            shell: x
    """, ["c"])
    assert graph_names(g) == ["a", "c"] and g.jobs[1].deps == [g.jobs[0]]


def test_expand_product_and_zip(project):
    g = planned(project, """\
        rule all:
            input: expand("p/{a}_{b}.txt", a=[1, 2], b="xy"), expand("z/{a}_{b}.txt", zip, a=[1, 2], b=["x", "y"])
        rule m:
            output: "{d}/{a}_{b}.txt"
            shell: x
    """)
    assert graph_names(g) == ["m[d=p,a=1,b=xy]", "m[d=p,a=2,b=xy]", "m[d=z,a=1,b=x]", "m[d=z,a=2,b=y]", "all"]


def test_glob_wildcards(project):
    project.touch("reads/a.fq", "reads/b.fq", "reads/sub/c.fq", "reads/d.txt")
    g = planned(project, """\
        S = glob_wildcards("reads/{s}.fq").s
        rule all:
            input: expand("counts/{s}.tsv", s=S)
        rule count:
            output: "counts/{s}.tsv"
            input: "reads/{s}.fq"
            shell: x
    """)
    assert graph_names(g) == ["count[s=a]", "count[s=b]", "all"]


def test_temp_protected_directory_flags_are_carried(project):
    g = planned(project, """\
        rule all:
            input: "t/a.txt", "p.txt", "d"
        rule t:
            output: temp("t/{s}.txt")
            shell: x
        rule p:
            output: protected("p.txt")
            shell: x
        rule d:
            output: directory("d/")
            shell: x
    """)
    outs = {j.name: j.outputs[0] for j in g.jobs if j.outputs}
    assert outs == {"t[s=a]": "t/a.txt", "p": "p.txt", "d": "d"}
    assert outs["t[s=a]"].flags == {"temp"} and outs["p"].flags == {"protected"} and outs["d"].flags == {"directory"}


# --- scale -----------------------------------------------------------------------------------------


def test_a_chain_of_3000_jobs_needs_no_recursion(project):
    g = planned(project, """\
        rule step:
            output: "s/{n,[0-9]+}.txt"
            input: lambda w: [f"s/{int(w.n) - 1}.txt"] if int(w.n) > 0 else []
            shell: touch {output}
    """, ["s/3000.txt"])
    assert len(g.jobs) == 3001 and g.jobs[0].name == "step[n=0]" and g.jobs[-1].name == "step[n=3000]"
    assert_dependency_order(g)
    lines = project.dry("s/3000.txt")  # and the command (planning and deciding) copes too
    assert len(lines) == 3001 and lines[-1] == "step[n=3000]: output s/3000.txt missing"


def test_a_large_expand_is_planned_by_the_command(project):
    project.pipefile("""\
        rule all:
            input: expand("out/{a}/{b}.txt", a=range(200), b=range(100))
        rule make:
            output: "out/{a}/{b}.txt"
            shell: touch {output}
    """)
    lines = project.dry()
    assert len(lines) == 20000
    assert lines[0] == "make[a=0,b=0]: output out/0/0.txt missing"
    assert lines[-1] == "make[a=199,b=99]: output out/199/99.txt missing"


# === What the stages after planning may ask of the planner (graph.Replanner, which plan.Planner
# is): the stat results, who asked which checkpoint, checkpoint_ran, replan. =======================

SPLIT_CHECKPOINT = """\
checkpoint split:
    output: "chunks/list.txt"
    input:  "input.txt"
    shell:  true

python:
    import os

    def chunks(wildcards):
        listed = checkpoints.split.get().output[0]
        names = open(listed).read().split() if os.path.exists(listed) else []
        return expand("processed/{part}.txt", part=names)

rule process:
    output: "processed/{part}.txt"
    input:  "input.txt"
    shell:  true

rule merge:
    output: "merged.txt"
    input:  chunks
    shell:  true
"""


@pytest.fixture
def split_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Pipefile").write_text(SPLIT_CHECKPOINT)
    (tmp_path / "input.txt").write_text("x\n")
    graph = plan(load("Pipefile"), ["merged.txt"])
    assert graph.planner is not None
    return graph


def test_the_graph_names_who_asked_which_checkpoint(split_graph):
    split, merge = split_graph.jobs
    assert (split.name, merge.name) == ("split", "merge")
    assert dict(split_graph.planner.asked) == {split: [merge]}
    assert merge.waits_for is split


def test_the_planners_stat_results_are_the_graphs(split_graph):
    """The runner goes on with them (one stat() per path per invocation)."""
    stats = split_graph.planner.stats
    assert "input.txt" in stats and stats.stat("input.txt") is not None


def test_replan_before_the_checkpoint_ran_still_waits(split_graph):
    split, merge = split_graph.jobs
    assert split_graph.planner.replan(merge) == [split, merge]
    assert merge.waits_for is split


def test_checkpoint_ran_answers_get_even_before_its_outputs_are_seen(split_graph):
    """Once the runner says the checkpoint ran, `checkpoints.split.get()` answers (here with an
    output not there: the input function then finds no names); before, the asker waits."""
    split, merge = split_graph.jobs
    split_graph.planner.checkpoint_ran(split)
    assert split_graph.planner.replan(merge) == [split, merge]  # it still runs after the checkpoint
    assert merge.waits_for is None and merge.inputs == []


def test_replan_after_the_checkpoint_wrote_its_list(split_graph):
    split, merge = split_graph.jobs
    os.makedirs("chunks")
    Path("chunks/list.txt").write_text("p1 p2\n")
    split_graph.planner.checkpoint_ran(split)
    order = split_graph.planner.replan(merge)
    assert [j.name for j in order] == ["process[part=p1]", "process[part=p2]", "split", "merge"]
    assert merge.inputs == ["processed/p1.txt", "processed/p2.txt"]
