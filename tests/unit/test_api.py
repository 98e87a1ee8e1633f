"""The Python API: Workflow().rule(...) in call and decorator form builds the same rules, and
plans the same jobs, as the equivalent Pipefile."""

from __future__ import annotations

import pytest

from pyrule import Workflow, directory, expand, temp
from pyrule.errors import PipefileError, UsageError
from pyrule.load import load
from pyrule.plan import plan

PIPEFILE = '''\
rule count:
    output: "counts/{s}.tsv"
    input: "reads/{s}.fq"
    params: n = 3
    resources: cores = 2, mem = "1G"
    shell: wc -l {input} > {output}

rule summarize:
    """Sum it up."""
    output: "summary.txt"
    input: expand("counts/{s}.tsv", s=["a", "b"])
    python:
        open(output[0], "w").write("x")

rule clean:
    shell: rm -rf counts summary.txt
'''


def api_workflow(directory: str = ".") -> Workflow:
    wf = Workflow(directory)
    wf.rule("count", output="counts/{s}.tsv", input="reads/{s}.fq", params={"n": 3},
            resources={"cores": 2, "mem": "1G"}, shell="wc -l {input} > {output}\n")

    @wf.rule(output="summary.txt", input=expand("counts/{s}.tsv", s=["a", "b"]))
    def summarize(input, output):
        """Sum it up."""
        open(output[0], "w").write("x")

    wf.rule("clean", shell="rm -rf counts summary.txt\n")
    return wf


def jobs(graph) -> list[tuple]:
    return [(j.name, list(j.outputs), list(j.inputs), dict(j.params), dict(j.resources), [d.name for d in j.deps])
            for j in graph.jobs]


def test_call_and_decorator_forms_build_rules(project):
    wf = api_workflow()
    rules = wf.rules.rules
    assert list(rules) == ["count", "summarize", "clean"]
    count, summarize, clean = rules.values()
    assert count.outputs == [(None, "counts/{s}.tsv")] and count.shell.startswith("wc -l")
    assert count.resources == {"cores": 2, "mem": 2**30}
    assert summarize.func is not None and summarize.func.__name__ == "summarize" and summarize.doc == "Sum it up."
    assert [v for _, v in summarize.inputs] == ["counts/a.tsv", "counts/b.tsv"]
    assert clean.phony and clean.has_body


def test_bare_decorator_makes_a_phony_rule(project):
    wf = Workflow()

    @wf.rule
    def hello():
        print("hi")

    assert wf.rules.rules["hello"].phony and wf.rules.rules["hello"].func is hello
    assert [j.name for j in wf.plan(["hello"]).jobs] == ["hello"]


def test_plan_gives_the_same_jobs_as_the_pipefile(project):
    project.touch("reads/a.fq", "reads/b.fq")
    project.pipefile(PIPEFILE)
    from_file = plan(load("Pipefile"), ["summary.txt", "clean"])
    from_api = api_workflow().plan(["summary.txt", "clean"])
    assert jobs(from_api) == jobs(from_file)
    assert [j.name for j in from_api.jobs] == ["count[s=a]", "count[s=b]", "summarize", "clean"]
    # default targets: the first rule in both (it has wildcards: the same error)
    with pytest.raises(UsageError, match="rule 'count' has wildcards"):
        api_workflow().plan()


def test_plan_runs_in_the_workflows_directory(project, tmp_path, monkeypatch):
    project.touch("reads/a.fq", "reads/b.fq")
    monkeypatch.chdir(tmp_path)
    g = api_workflow(str(project)).plan(["summary.txt"])
    assert sorted(g.sources) == ["reads/a.fq", "reads/b.fq"]


def test_defaults_and_until(project):
    project.touch("reads/a.fq", "reads/b.fq")
    wf = api_workflow()
    wf.default("summary.txt")
    assert [j.name for j in wf.plan().jobs] == ["count[s=a]", "count[s=b]", "summarize"]
    assert [j.name for j in wf.plan(until=["counts/b.tsv"]).jobs] == ["count[s=b]"]
    with pytest.raises(PipefileError, match="default targets are given twice"):
        wf.default("x")


def test_named_items_input_functions_and_flags(project):
    wf = Workflow()
    wf.rule("make", output={"main": temp("m/{s}.txt"), "dir": directory("m/{s}.d/")}, shell="x")
    wf.rule("use", output="u/{s}.txt", input={"m": lambda w: f"m/{w.s}.txt"}, shell="x")
    g = wf.plan(["u/a.txt"])
    make, use = g.jobs
    assert make.outputs.main == "m/a.txt" and make.outputs.main.flags == {"temp"}
    assert list(make.outputs) == ["m/a.txt", "m/a.d"] and make.outputs[1].flags == {"directory"}
    assert use.inputs.m == "m/a.txt" and use.deps == [make]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"output": 3}, "rule 'bad': output must be paths, not int 3"),
    ({"output": ["a", None]}, "rule 'bad': output must be paths, not NoneType None"),
    ({"output": lambda w: "x"}, "rule 'bad': output must be paths, not function"),
    ({"output": "a", "input": [1]}, "rule 'bad': input must be paths, not int 1"),
    ({"output": "o/{a}", "input": "{b}"}, "rule 'bad': wildcard '{b}' in input '{b}' is not in the outputs"),
    ({"output": "a", "params": 3}, "rule 'bad': params must be a dict of name = value, not int"),
    ({"output": "a", "log": 3}, "rule 'bad': log must be a path, not int"),
    ({"output": "a", "resources": {"mem": "lots"}}, "rule 'bad': not a size: 'lots'"),
    ({"output": "a", "check": "md5"}, "rule 'bad': check must be checksum or mtime, not 'md5'"),
    ({"output": "a", "retries": -1}, "rule 'bad': retries must be a non-negative integer, not -1"),
    ({"output": "{a,[}"}, "rule 'bad': bad regex for wildcard 'a'"),
])
def test_api_errors(project, kwargs, message):
    with pytest.raises(PipefileError) as info:
        Workflow().rule("bad", shell="x", **kwargs)
    assert info.value.message.startswith(message)


def test_duplicate_rule(project):
    wf = Workflow()
    wf.rule("a", output="x", shell="x")
    with pytest.raises(PipefileError, match="rule 'a' is defined twice"):
        wf.rule("a", output="y", shell="y")
