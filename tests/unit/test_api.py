"""The Python API (pyrule/api.py), in process: Workflow().rule(...) in call and decorator form builds
the same rules, and plans the same jobs, as the equivalent Pipefile; Workflow.run runs them (the
runner in this process, the jobs as real processes) and returns each job's outcome."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import write

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


# --- Workflow.run: the runner in this process ------------------------------------------------


def _api_workflow(d: Path) -> Workflow:
    wf = Workflow(d)
    wf.rule("a", output="a/{s}.txt", input="src/{s}.txt", shell="tr a-z A-Z < {input} > {output}")
    wf.rule("bad", output="bad.txt", shell="echo nope >&2; exit 2")
    wf.rule("after_bad", output="after.txt", input="bad.txt", shell="cp {input} {output}")

    @wf.rule(output="joined.txt", input=["a/x.txt", "a/y.txt"])
    def join(input, output):
        with open(output[0], "w") as f:
            for p in input:
                f.write(open(p).read())

    return wf


def test_python_api_run_returns_per_job_status(tmp_path: Path):
    write(tmp_path / "src" / "x.txt", "x\n")
    write(tmp_path / "src" / "y.txt", "y\n")
    wf = _api_workflow(tmp_path)
    cwd = os.getcwd()
    result = wf.run(["joined.txt"], jobs=2)
    assert os.getcwd() == cwd
    assert result.ok and result.status == "ok"
    assert {n: o.status for n, o in result.outcomes.items()} == {"a[s=x]": "ran", "a[s=y]": "ran", "join": "ran"}
    assert result.count("ran") == 3
    assert (tmp_path / "joined.txt").read_text() == "X\nY\n"
    assert os.path.exists(os.path.join(tmp_path, result.run_dir, "stats.json"))

    again = wf.run(["joined.txt"], jobs=2)
    assert again.ok
    assert {o.status for o in again.outcomes.values()} == {"up-to-date"}
    assert again.run_id != result.run_id


def test_python_api_keep_going_and_failures(tmp_path: Path):
    write(tmp_path / "src" / "x.txt", "x\n")
    write(tmp_path / "src" / "y.txt", "y\n")
    wf = _api_workflow(tmp_path)
    result = wf.run(["after.txt", "joined.txt"], jobs=1, keep_going=True)
    assert not result.ok and result.status == "failed"
    status = {n: o.status for n, o in result.outcomes.items()}
    assert status == {"bad": "failed", "after_bad": "skipped", "a[s=x]": "ran", "a[s=y]": "ran", "join": "ran"}
    bad = result.outcomes["bad"]
    assert bad.exit_code == 2 and bad.reason == "exit code 2"
    assert "nope" in (tmp_path / bad.log).read_text()


def test_python_api_dry_run(tmp_path: Path):
    write(tmp_path / "src" / "x.txt", "x\n")
    write(tmp_path / "src" / "y.txt", "y\n")
    wf = _api_workflow(tmp_path)
    decisions = wf.run(["joined.txt"], dry_run=True)
    assert [(d.job.name, d.reason) for d in decisions][-1] == ("join", "output joined.txt missing")
    assert not (tmp_path / "joined.txt").exists()
