"""Stage 3: Rules + targets -> job graph. Resolution, specificity, priority, dropping rules that
cannot make their inputs, sources, naming, --until, default targets, and the planning errors."""

from __future__ import annotations

import pytest

from pyrule.errors import Location, PipefileError, PyruleError, UsageError
from pyrule.graph import JobGraph
from pyrule.load import load
from pyrule.plan import plan


def plan_text(project, text: str, targets=(), until=()) -> JobGraph:
    project.pipefile(text)
    return plan(load("Pipefile"), list(targets), until=list(until))


def plan_error(project, text: str, targets=(), until=(), kind=PipefileError) -> PyruleError:
    with pytest.raises(kind) as info:
        plan_text(project, text, targets, until)
    return info.value


def names(graph: JobGraph) -> list[str]:
    return [j.name for j in graph.jobs]


def at(line: int, col: int) -> Location:
    return Location("Pipefile", line, col)


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
    g = plan_text(project, COUNT)
    assert names(g) == ["count[sample=a]", "count[sample=b]", "summarize"]
    assert_dependency_order(g)
    a = g.jobs[0]
    assert a.wildcards == {"sample": "a"} and list(a.outputs) == ["counts/a.tsv"]
    assert list(a.inputs) == ["reads/a.fq"] and a.log == "logs/a.log"
    assert a.params == {"tag": "a!", "n": 1} and a.params.tag == "a!"
    assert g.jobs[2].deps == g.jobs[:2]
    assert g.targets == [g.jobs[2]] and g.producers["counts/b.tsv"] is g.jobs[1]
    assert sorted(g.sources) == ["reads/a.fq", "reads/b.fq"]


def test_job_names_list_wildcards_in_pattern_order(project):
    g = plan_text(project, 'rule m:\n    output: "out/{b}/{a}.txt"\n    shell: x\n', ["out/x/y.txt"])
    assert names(g) == ["m[b=x,a=y]"]


def test_wildcard_regex_constraints_choose_the_rule(project):
    text = """\
        rule num:
            output: "f/{n,[0-9]+}.txt"
            shell: x
        rule word:
            output: "f/{w,[a-z]+}.txt"
            shell: x
    """
    g = plan_text(project, text, ["f/12.txt", "f/ab.txt"])
    assert names(g) == ["num[n=12]", "word[w=ab]"]
    e = plan_error(project, text, ["f/A1.txt"], kind=UsageError)
    assert e.message == "unknown target 'f/A1.txt': no rule is named so and no rule makes it"


def test_regex_constraint_with_braces_and_slashes(project):
    g = plan_text(project, 'rule r:\n    output: "d/{y,[0-9]{4}}/{rest,.*}.txt"\n    shell: x\n', ["d/2024/a/b.txt"])
    assert g.jobs[0].wildcards == {"y": "2024", "rest": "a/b"}


def test_repeated_wildcard_must_take_the_same_value(project):
    text = 'rule r:\n    output: "{a}/{a}.txt"\n    shell: x\n'
    assert names(plan_text(project, text, ["x/x.txt"])) == ["r[a=x]"]
    plan_error(project, text, ["x/y.txt"], kind=UsageError)


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
    g = plan_text(project, text, ["a_b.txt", "a_c.txt", "b.txt", "a_bc.txt"])
    assert names(g) == ["special[x=b]", "special[x=c]", "generic[x=b]", "very[x=c]"]


def test_exact_output_beats_a_pattern(project):
    g = plan_text(project, 'rule any:\n    output: "{x}.txt"\n    shell: x\nrule one:\n    output: "a.txt"\n    shell: x\n',
                  ["a.txt"])
    assert names(g) == ["one"]


def test_priority_beats_specificity(project):
    g = plan_text(project, """\
        rule generic:
            output: "{x}.txt"
            priority: 5
            shell: x
        rule special:
            output: "a_{x}.txt"
            shell: x
    """, ["a_b.txt"])
    assert names(g) == ["generic[x=a_b]"]


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
    g = plan_text(project, text, ["a.txt"])
    assert names(g) == ["e[x=a]", "frome[x=a]"]
    # and when no rule can: the best-ranked one names its missing input
    e = plan_error(project, text, ["b.txt"])
    assert e.message == "no rule to make 'b.c' (needed by fromc[x=b] for 'b.txt')" and e.loc == at(3, 5)


def test_ambiguous_rules_are_an_error_naming_both(project):
    e = plan_error(project, """\
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
    e = plan_error(project, COUNT)
    assert e.message == "no rule to make 'reads/a.fq' (needed by count[sample=a] for 'counts/a.tsv')"
    assert e.loc == at(8, 5) and e.hint == "create the file, or add a rule whose output matches it"
    project.touch("reads/a.fq", "reads/b.fastq")
    e = plan_error(project, COUNT)
    assert e.message == "no rule to make 'reads/b.fq' (needed by count[sample=b] for 'counts/b.tsv')"


def test_missing_input_of_a_phony_rule(project):
    e = plan_error(project, 'X = 1\nrule all:\n    input: "nope.txt"\n')
    assert e.message == "no rule to make 'nope.txt' (needed by all)" and e.loc == at(3, 5)


def test_missing_input_suggests_a_near_file(project):
    project.touch("data/sample1.txt")
    e = plan_error(project, 'rule all:\n    input: "data/sampel1.txt"\n')
    assert e.hint.startswith("did you mean 'sample1.txt'?")


def test_dependency_cycle_prints_the_path(project):
    e = plan_error(project, """\
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
    e = plan_error(project, 'rule s:\n    output: "{x}.txt"\n    input: "{x}.txt"\n    shell: x\n', ["q.txt"])
    assert e.message == "dependency cycle: s[x=q] -> s[x=q]"


def test_paths_are_normalised(project):
    g = plan_text(project, """\
        rule all:
            input: "out/a.txt", "./b.txt", "out//c.txt"
        rule a:
            output: "./out/{s}.txt"
            shell: x
        rule b:
            output: "b.txt"
            shell: x
    """)
    assert names(g) == ["a[s=a]", "b", "a[s=c]", "all"]
    assert list(g.jobs[0].outputs) == ["out/a.txt"] and "out/a.txt" in g.producers
    assert names(plan(load("Pipefile"), ["./out/x.txt"])) == ["a[s=x]"]


# --- wildcard values that leave the project -----------------------------------------------------


@pytest.mark.parametrize(("target", "value"), [
    ("all", "../x"),
    ("/etc/passwd.txt", "/etc/passwd"),
])
def test_wildcard_values_outside_the_project_are_refused(project, target, value):
    e = plan_error(project, """\
        rule r:
            output: "{a,.*}.txt"
            shell: x
        rule all:
            input: "sub/../../x.txt"
    """, [target])
    assert e.message == f"rule 'r': wildcard value '{value}' would reach outside the project"
    assert e.loc == at(2, 5)


def test_dotdot_wildcard_value_is_refused(project):
    e = plan_error(project, 'rule r:\n    output: "{a}/x.txt"\n    shell: x\nrule all:\n    input: "../x.txt"\n', ["all"])
    assert e.message == "rule 'r': wildcard value '..' would reach outside the project"


# --- targets --------------------------------------------------------------------------------------

ABC = """\
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
rule d:
    output: "d.txt"
    input: "b.txt"
    shell: x
rule all:
    input: "c.txt", "d.txt"
"""


def test_default_target_is_the_first_rule(project):
    assert names(plan_text(project, ABC)) == ["a"]


def test_default_statement(project):
    g = plan_text(project, "default: c.txt b\n" + ABC)
    assert names(g) == ["a", "b", "c"] and [j.name for j in g.targets] == ["c", "b"]


def test_unknown_default_target_points_at_the_default_line(project):
    e = plan_error(project, "X = 1\ndefault: cc\n" + ABC, kind=UsageError)
    assert e.message == "unknown default target 'cc': no rule is named so and no rule makes it"
    assert e.loc == at(2, 1) and e.hint == "did you mean 'c'?"


def test_no_rules(project):
    e = plan_error(project, "X = 1\n", kind=UsageError)
    assert e.message == "the Pipefile has no rules"


def test_explicit_targets_files_and_rule_names(project):
    g = plan_text(project, ABC, ["d.txt", "c"])
    assert names(g) == ["a", "b", "d", "c"]
    assert_dependency_order(g)
    assert names(plan_text(project, ABC, ["all"])) == ["a", "b", "c", "d", "all"]


def test_unknown_target_suggests_a_rule(project):
    e = plan_error(project, ABC, ["alll"], kind=UsageError)
    assert e.message == "unknown target 'alll': no rule is named so and no rule makes it"
    assert e.hint == "did you mean 'all'?"


def test_unknown_target_suggests_a_file_a_rule_makes(project):
    e = plan_error(project, ABC, ["cc.txt"], kind=UsageError)
    assert e.hint == "did you mean 'c.txt'?"


def test_existing_source_file_as_target(project):
    project.touch("src.txt")
    assert plan_text(project, ABC, ["src.txt"]).jobs == []


def test_rule_with_wildcards_named_as_target(project):
    e = plan_error(project, 'rule count:\n    output: "counts/{s}.tsv"\n    shell: x\n', ["count"], kind=UsageError)
    assert e.message == "rule 'count' has wildcards: name a file it makes, like 'counts/{s}.tsv'"
    assert e.loc == at(1, 1)


def test_until_a_rule(project):
    g = plan_text(project, ABC, ["all"], until=["b"])
    assert names(g) == ["a", "b"] and [j.name for j in g.targets] == ["b"]
    assert set(g.producers) == {"a.txt", "b.txt"}


def test_until_a_file(project):
    assert names(plan_text(project, ABC, ["all"], until=["a.txt"])) == ["a"]
    assert names(plan_text(project, ABC, ["all"], until=["./c.txt"])) == ["a", "b", "c"]


def test_until_something_outside_the_graph(project):
    e = plan_error(project, ABC, ["c"], until=["d"], kind=UsageError)
    assert e.message == "--until d: no job of the requested targets' graph makes it or is so named"


# --- input functions, rules.NAME, expand, glob_wildcards, flags ------------------------------------


def test_input_functions_of_wildcards(project):
    g = plan_text(project, """\
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
    e = plan_error(project, 'rule a:\n    output: "o/{x}.txt"\n    input: lambda w: 1 / 0\n    shell: x\n', ["o/z.txt"])
    assert e.message == "rule 'a': the input function failed for a[x=z]: ZeroDivisionError: division by zero"
    assert e.loc == at(3, 5)
    e = plan_error(project, 'rule a:\n    output: "o/{x}.txt"\n    input: lambda w: 5\n    shell: x\n', ["o/z.txt"])
    assert e.message == "rule 'a': input function returned int" and e.loc == at(3, 5)
    e = plan_error(project, 'rule a:\n    output: "o/{x}.txt"\n    input: lambda w: w.y\n    shell: x\n', ["o/z.txt"])
    assert e.message.startswith("rule 'a': the input function failed for a[x=z]: AttributeError: no 'y'")


def test_rules_name_output_makes_an_edge(project):
    g = plan_text(project, """\
        rule a:
            output: "a.txt", named = "b.txt"
            shell: x
        rule c:
            output: "c.txt"
            input: rules.a.output.named
            shell: x
    """, ["c"])
    assert names(g) == ["a", "c"] and g.jobs[1].deps == [g.jobs[0]]


def test_expand_product_and_zip(project):
    g = plan_text(project, """\
        rule all:
            input: expand("p/{a}_{b}.txt", a=[1, 2], b="xy"), expand("z/{a}_{b}.txt", zip, a=[1, 2], b=["x", "y"])
        rule m:
            output: "{d}/{a}_{b}.txt"
            shell: x
    """)
    assert names(g) == ["m[d=p,a=1,b=xy]", "m[d=p,a=2,b=xy]", "m[d=z,a=1,b=x]", "m[d=z,a=2,b=y]", "all"]


def test_glob_wildcards(project):
    project.touch("reads/a.fq", "reads/b.fq", "reads/sub/c.fq", "reads/d.txt")
    g = plan_text(project, """\
        S = glob_wildcards("reads/{s}.fq").s
        rule all:
            input: expand("counts/{s}.tsv", s=S)
        rule count:
            output: "counts/{s}.tsv"
            input: "reads/{s}.fq"
            shell: x
    """)
    assert names(g) == ["count[s=a]", "count[s=b]", "all"]


def test_temp_protected_directory_flags_are_carried(project):
    g = plan_text(project, """\
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
    g = plan_text(project, """\
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
