"""The real `pyrule` command on real files: options, output formats, exit codes, and every kind of
user error (exit 2, file:line:col, the source line with a caret, never a traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyrule import __version__

PIPELINE = '''\
SAMPLES ?= ["a", "b"]
MIN_LEN ?= 30
TAG ?= "x"

default: summary.txt

rule count:
    """Count reads longer than MIN_LEN."""
    output: "counts/{sample}.tsv"
    input: "reads/{sample}.fq"
    shell: echo {MIN_LEN} > {output}

rule summarize:
    output: "summary.txt"
    input: expand("counts/{sample}.tsv", sample=SAMPLES)
    shell: cat {input} > {output}

plots/{sample}.png: counts/{sample}.tsv
    cp {input} {output}

all: summary.txt plots/a.png

rule clean:
    """Remove the results."""
    shell: rm -rf counts plots summary.txt
'''


@pytest.fixture
def pipeline(project):
    project.pipefile(PIPELINE)
    project.touch("reads/a.fq", "reads/b.fq")
    return project


# --- dry run, listing, graph -----------------------------------------------------------------------


def test_dry_run_prints_one_line_per_job_in_dependency_order(pipeline):
    rc, out, err = pipeline.run("-n")
    assert rc == 0 and "Traceback" not in err
    assert out.splitlines() == [
        "count[sample=a]: output counts/a.tsv missing",
        "count[sample=b]: output counts/b.tsv missing",
        "summarize: output summary.txt missing",
        "3 job(s) would run, 0 up to date",
    ]
    assert not (pipeline / "counts").exists()


def test_quiet_dry_run_has_only_the_job_lines(pipeline):
    assert pipeline.dry("all") == [
        "count[sample=a]: output counts/a.tsv missing",
        "count[sample=b]: output counts/b.tsv missing",
        "summarize: output summary.txt missing",
        "plots/{sample}.png[sample=a]: output plots/a.png missing",
    ]


def test_targets_files_and_rules(pipeline):
    assert pipeline.dry("counts/b.tsv", "clean") == [
        "count[sample=b]: output counts/b.tsv missing",
        "clean: phony rule: runs whenever requested",
    ]


def test_until(pipeline):
    assert pipeline.dry("all", "--until", "count") == [
        "count[sample=a]: output counts/a.tsv missing",
        "count[sample=b]: output counts/b.tsv missing",
    ]
    assert pipeline.dry("--until", "counts/b.tsv") == ["count[sample=b]: output counts/b.tsv missing"]


def test_overrides_on_the_command_line(pipeline):
    rc, out, _ = pipeline.run("--dag", "json", "MIN_LEN=50", "--set", "TAG=y")
    assert rc == 0
    rc, out, err = pipeline.run("--list", "SAMPLES=['q']")
    assert rc == 0, err
    assert "input:  ['counts/q.tsv']" in out
    rc, out, err = pipeline.run("--list", "--set", "SAMPLES=p r")  # not a literal: a string
    assert rc == 0 and "input:  ['counts/p r.tsv']" in out


def test_default_assignment_set_from_the_command_line(project):
    project.pipefile('N ?= 1\nrule a:\n    output: f"out{N!r}.txt"\n    shell: touch {output}\n')
    assert project.dry() == ["a: output out1.txt missing"]
    assert project.dry("N=5") == ["a: output out5.txt missing"]
    assert project.dry("--set", "N=abc") == ["a: output out'abc'.txt missing"]
    assert project.dry("--set", "N='7'") == ["a: output out'7'.txt missing"]
    assert project.dry("N=[1,2]") == ["a: output out[1, 2].txt missing"]


def test_list_shows_rules_with_docstrings(pipeline):
    rc, out, err = pipeline.run("--list")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[:4] == [
        "count  (rule, Pipefile:7:1)",
        "    Count reads longer than MIN_LEN.",
        "    output: counts/{sample}.tsv",
        "    input:  reads/{sample}.fq",
    ]
    assert "clean  (phony, Pipefile:23:1)" in lines and "    Remove the results." in lines
    assert "plots/{sample}.png  (rule, Pipefile:18:1)" in lines


def test_dag_json(pipeline):
    rc, out, err = pipeline.run("--dag", "json")
    assert rc == 0, err
    dag = json.loads(out)
    assert [n["id"] for n in dag["nodes"]] == ["count[sample=a]", "count[sample=b]", "summarize"]
    expected = {"id": "count[sample=a]", "rule": "count", "wildcards": {"sample": "a"},
                "outputs": ["counts/a.tsv"], "inputs": ["reads/a.fq"]}
    assert {k: v for k, v in dag["nodes"][0].items() if k in expected} == expected
    assert {(e["from"], e["to"]) for e in dag["edges"]} == {("count[sample=a]", "summarize"),
                                                            ("count[sample=b]", "summarize")}


def test_dag_dot_has_the_edges(pipeline):
    rc, out, _ = pipeline.run("--dag")  # dot is the default
    assert rc == 0
    assert out.startswith("digraph pyrule {") and out.rstrip().endswith("}")
    assert '"count[sample=a]" -> "summarize";' in out and '"count[sample=b]" -> "summarize";' in out
    rc, out2, _ = pipeline.run("--dag", "dot")
    assert out2 == out


def test_dag_mermaid(pipeline):
    rc, out, _ = pipeline.run("--dag", "mermaid")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    j2["summarize"]' in lines and "    j0 --> j2" in lines and "    j1 --> j2" in lines


def test_version(project):
    rc, out, _ = project.run("--version")
    assert rc == 0 and out.strip() == f"pyrule {__version__}"


# --- finding the Pipefile --------------------------------------------------------------------------


def test_file_option(project):
    project.write("flows/My.pipe", 'rule a:\n    output: "a.txt"\n    shell: touch a.txt\n')
    assert project.dry("-f", "flows/My.pipe") == ["a: output a.txt missing"]


def test_messages_name_the_file_option_without_dots_and_doubled_slashes(project):
    project.write("flows/Bad.pipe", "X = 1 / 0\n")
    assert project.error("-f", "./flows//Bad.pipe").startswith("flows/Bad.pipe:1:5: error: ZeroDivisionError")


def test_directory_option(project, tmp_path):
    project.write("sub/Pipefile", 'rule a:\n    output: "a.txt"\n    shell: touch a.txt\n')
    rc, out, err = project.run("-C", str(project / "sub"), "-n", "-q", cwd=tmp_path)
    assert rc == 0 and out.splitlines() == ["a: output a.txt missing"], err


def test_nearest_pipefile_in_a_parent_directory(project):
    project.pipefile('rule a:\n    output: "a.txt"\n    input: "src/x.txt"\n    shell: touch a.txt\n')
    project.touch("src/x.txt")
    (project / "deep" / "er").mkdir(parents=True)
    rc, out, err = project.run("-n", "-q", cwd=project / "deep" / "er")
    assert rc == 0 and out.splitlines() == ["a: output a.txt missing"], err


def test_no_pipefile_anywhere(project, tmp_path):
    if any((d / "Pipefile").exists() for d in tmp_path.parents):
        pytest.skip("a parent of the temporary directory holds a Pipefile")
    rc, out, err = project.run("-n", cwd=tmp_path)
    assert rc == 2 and "Traceback" not in err
    assert err.startswith("error: no Pipefile here or in any parent directory")
    assert "hint: create a Pipefile, or name one with -f FILE" in err


def test_missing_file_option(project):
    err = project.error("-f", "nope.pipe")
    assert err.splitlines() == ["error: -f nope.pipe: no such file", "  hint: name an existing Pipefile"]


def test_missing_directory_option(project):
    err = project.error("-C", "nope")
    assert err.startswith("error: -C nope: No such file or directory")


def test_bad_jobs_option(pipeline):
    err = pipeline.error("-j", "0")
    assert "argument -j/--jobs: must be at least 1, not 0" in err
    err = pipeline.error("-j", "many")
    assert "argument -j/--jobs: 'many' is not a whole number" in err


def test_bad_option_values_are_one_line_and_a_hint_not_a_usage_dump(pipeline):
    assert pipeline.error("-j", "0").splitlines() == [
        "error: argument -j/--jobs: must be at least 1, not 0", "  hint: pyrule --help lists the options"]


def test_option_names_for_suggestions_and_abbreviations_are_the_parsers():
    import re

    from pyrule.cli import _SHORT, build_parser, long_options

    heads = [ln.strip().split("  ")[0] for ln in build_parser().format_help().splitlines() if ln.startswith("  -")]
    names = {n for head in heads for n in re.findall(r"(?<![\w-])--?[a-zA-Z][a-z-]*", head)}
    assert {n for n in names if n.startswith("--")} | {"--run-job"} == set(long_options())
    assert {n for n in names if not n.startswith("--")} == set(_SHORT)


@pytest.mark.parametrize("args, hint", [
    (["--nope"], "pyrule --help lists the options"),
    (["--keepgoing"], "did you mean --keep-going?"),
    (["--cores", "4"], "the cores budget is -j N (--jobs N)"),
    (["--dryrun"], "a dry run is -n (--dry-run)"),
    (["--forceall"], "rerunning every job is -B (--force-all)"),
    (["--printshellcmds"], "printing the commands is -p (--print-commands)"),
    (["--configfiles", "config.yaml"], "write --configfile FILE once per file"),
])
def test_unknown_option_names_pyrules_spelling(pipeline, args, hint):
    assert pipeline.error(*args).splitlines() == [f"error: unknown option {args[0]}", f"  hint: {hint}"]


# --- the command line as make reads it (issue 17) ------------------------------------------------------


def test_targets_overrides_and_options_mix_in_any_order(pipeline):
    assert pipeline.dry("summary.txt", "-k", "SAMPLES=['b']", "-B") == [
        "count[sample=b]: forced", "summarize: forced"]
    assert pipeline.dry("-k", "--", "clean") == ["clean: phony rule: runs whenever requested"]
    assert "error: unknown target '-k'" in pipeline.error("clean", "--", "-k")  # after --: targets only
    rc, out, err = pipeline.run("counts/a.tsv", "-n", "-q", "-p", "MIN_LEN=7")
    assert rc == 0 and out.splitlines() == ["count[sample=a]: output counts/a.tsv missing",
                                            "    echo 7 > counts/a.tsv"], err


def test_resources_take_budgets_not_the_targets_after_them(pipeline):
    assert pipeline.dry("--resources", "gpus=1", "clean") == ["clean: phony rule: runs whenever requested"]
    assert pipeline.dry("--resources", "gpus=1", "disk_io=2.5", "clean", "MIN_LEN=5") == [
        "clean: phony rule: runs whenever requested"]
    # NAME=NUMBER after --resources is a budget: one for a Pipefile variable no rule asks for was an override.
    assert pipeline.error("--resources", "gpus=1", "MIN_LEN=5", "-n").splitlines() == [
        "error: --resources MIN_LEN=5: no rule asks for MIN_LEN, a variable of the Pipefile",
        "  hint: to override it, write MIN_LEN=5 before --resources, or --set MIN_LEN=5"]


@pytest.mark.parametrize("option, message", [
    (["--resources", "gpus=x"], "error: --resources gpus=x: write NAME=N, e.g. gpus=2 or disk_io=4"),
    (["--resources", "gpus"], "error: --resources gpus: write NAME=N, e.g. gpus=2 or disk_io=4"),
    (["--mem", "1Q"], "error: --mem 1Q: not a size: '1Q' (write e.g. 500M, 2G, 1.5T)"),
])
def test_options_are_checked_before_anything_dry_run_and_no_op_included(pipeline, option, message):
    rc, _, err = pipeline.run("-q")
    assert rc == 0, err
    for mode in ([], ["-n"], ["--status"]):  # a no-op run (the memo answers it), a dry run, a query
        assert pipeline.error(*mode, *option).splitlines() == [message], mode


def test_run_without_report_is_an_error(pipeline):
    assert pipeline.error("--run", "20260101").splitlines() == [
        "error: --run 20260101: only with --report", "  hint: write pyrule --report --run 20260101"]


def test_slurm_options_without_the_slurm_executor_are_an_error(pipeline):
    assert pipeline.error("--slurm-partition", "gpu").splitlines() == [
        "error: --slurm-partition gpu: only with --executor slurm",
        "  hint: write pyrule --executor slurm --slurm-partition gpu"]
    assert pipeline.error("-n", "--slurm-account", "lab").splitlines()[0] == (
        "error: --slurm-account lab: only with --executor slurm")


def test_dag_takes_a_format_word_or_dag_equals_never_a_target(pipeline):
    rc, out, err = pipeline.run("--dag", "counts/a.tsv")
    assert rc == 0 and out.startswith("digraph pyrule {"), err
    assert '"count[sample=a]"' in out and "summarize" not in out
    rc, out, err = pipeline.run("--dag", "json", "counts/b.tsv")
    assert rc == 0 and [n["id"] for n in json.loads(out)["nodes"]] == ["count[sample=b]"], err
    rc, out2, _ = pipeline.run("--dag=json", "counts/b.tsv")
    assert out2 == out
    assert pipeline.error("--dag=counts/a.tsv").splitlines() == [
        "error: argument --dag: invalid choice: 'counts/a.tsv' (choose from 'dot', 'mermaid', 'json', 'svg', 'png')",
        "  hint: write --dag=FORMAT, FORMAT one of dot, mermaid, json, svg, png; other words are targets"]


def test_why_explains_any_file_job_or_rule_of_the_pipefile(pipeline):
    def why(name):
        rc, out, err = pipeline.run("--why", name)
        assert rc == 0, err
        return out.splitlines()

    # The default target is summary.txt: none of these is among its jobs.
    assert why("plots/a.png") == ["plots/{sample}.png[sample=a] will run: output plots/a.png missing",
                                  "  count[sample=a] will run: output counts/a.tsv missing"]
    assert why("count[sample=b]") == ["count[sample=b] will run: output counts/b.tsv missing"]
    assert why("plots/{sample}.png[sample=b]") == [
        "plots/{sample}.png[sample=b] will run: output plots/b.png missing",
        "  count[sample=b] will run: output counts/b.tsv missing"]
    assert why("clean") == ["clean will run: phony rule: runs whenever requested"]
    assert why("coun*") == ["count[sample=a] will run: output counts/a.tsv missing",
                            "count[sample=b] will run: output counts/b.tsv missing"]
    assert "--why count[x]: no rule" in pipeline.error("--why", "count[x]")
    assert pipeline.error("--why", "clen").splitlines() == [
        "error: --why clen: no rule of the Pipefile makes it or is so named", "  hint: did you mean 'clean'?"]


def test_until_and_force_take_job_names_and_rule_globs(pipeline):
    assert pipeline.dry("--until", "count[sample=b]") == ["count[sample=b]: output counts/b.tsv missing"]
    assert pipeline.dry("all", "--until", "plot*") == ["count[sample=a]: output counts/a.tsv missing",
                                                       "plots/{sample}.png[sample=a]: output plots/a.png missing"]
    rc, _, err = pipeline.run("-q")
    assert rc == 0, err
    assert pipeline.dry("--force", "count[sample=a]") == ["count[sample=a]: forced", "summarize: forced"]
    assert pipeline.dry("--force", "sum*") == ["summarize: forced"]
    assert "--force nope*: no job" in pipeline.error("--force", "nope*")


def test_print_commands_as_jobs_start_and_in_the_run_log(project):
    project.pipefile("""\
        rule a:
            output: "a.txt"
            shell: echo one > {output}
        rule b:
            output: "b.txt"
            input: "a.txt"
            shell:
                cat {input} > {output}
                echo two >> {output}
    """)
    rc, out, err = project.run("-n", "-p", "b.txt")
    assert rc == 0 and out.splitlines() == [
        "a: output a.txt missing", "    echo one > a.txt",
        "b: output b.txt missing", "    cat a.txt > b.txt", "    echo two >> b.txt",
        "2 job(s) would run, 0 up to date"], err
    rc, out, err = project.run("-p", "-q", "b.txt")
    assert rc == 0 and out.splitlines() == [
        "a: echo one > a.txt", "b:", "    cat a.txt > b.txt", "    echo two >> b.txt"], err
    (log,) = (project / ".pyrule" / "runs").glob("*/run.log")
    commands = [line.split(" ", 1)[1] for line in log.read_text().splitlines() if " command " in line]
    assert commands == ["command a: echo one > a.txt", "command b: cat a.txt > b.txt"]
    assert "\n    echo two >> b.txt\n" in log.read_text()
    rc, out, err = project.run("-q", "-B", "b.txt")  # without -p: no commands
    assert rc == 0 and out == "", err


# --- running: exit codes 0 and 1 ---------------------------------------------------------------------


def test_exit_codes_of_a_run(project):
    project.pipefile("""\
        rule ok:
            output: "ok.txt"
            shell: echo hi > {output}
        rule bad:
            output: "bad.txt"
            shell: exit 3
    """)
    rc, out, err = project.run("ok")
    assert rc == 0 and (project / "ok.txt").read_text() == "hi\n", err
    rc, out, err = project.run("-q", "ok")
    assert rc == 0 and out == ""
    assert project.dry("ok") == []
    rc, out, err = project.run("bad")
    assert rc == 1 and "FAILED bad" in err and "Traceback" not in err


# --- user errors: exit 2, location, source line and caret, no traceback -------------------------

OUT = 'rule a:\n    output: "x"\n    shell: touch x\n'

ERRORS = [
    # (name, Pipefile, args, first line of stderr, hint or None)
    ("syntax", 'rule a:\n    output: "x"\n    shell: x\nfoo bar\n', [],
     "Pipefile:4:8: error: unexpected end of line; expected ':' or a name or a path or a string", None),
    ("indentation", 'rule a:\n    output: "x"\n  shell: touch x\n', [],
     "Pipefile:3:3: error: inconsistent indentation: this line's indentation matches no enclosing block",
     "indent it exactly like the other lines of the block it belongs to"),
    ("no block", "rule a:\nX = 1\n", [], "Pipefile:2:1: error: expected an indented block after 'rule a:' (line 1)",
     "indent the lines that belong to it more than the line that opens it"),
    ("unknown section", 'rule a:\n    output: "x"\n    shel: touch x\n', [],
     "Pipefile:3:5: error: unknown section 'shel'", "did you mean 'shell'?"),
    ("duplicate section", 'rule a:\n    output: "x"\n    output: "y"\n', [],
     "Pipefile:3:5: error: section 'output:' appears twice in rule 'a'", "it was first given at line 2; merge the two"),
    ("duplicate rule", OUT + "\n" + OUT, [], "Pipefile:5:1: error: rule 'a' is defined twice",
     "the first is at Pipefile:1:1; rename one of them"),
    ("python syntax", "X = 1\nY = (2 +\n     )\n" + OUT, [], "Pipefile:3:6: error: invalid Python: invalid syntax", None),
    ("name error", "SAMPLES = [1]\nN = len(SAMPLE)\n" + OUT, [],
     "Pipefile:2:5: error: NameError: name 'SAMPLE' is not defined", "did you mean 'SAMPLES'?"),
    ("wildcard in input", 'rule a:\n    output: "o/{s}.txt"\n    input: "i/{t}.txt"\n    shell: x\n', ["o/a.txt"],
     "Pipefile:3:5: error: rule 'a': wildcard '{t}' in input 'i/{t}.txt' is not in the outputs", None),
    ("wildcard in log", 'rule a:\n    output: "o/{s}.txt"\n    log: "l/{x}.log"\n    shell: x\n', ["o/a.txt"],
     "Pipefile:3:5: error: rule 'a': wildcard '{x}' in log 'l/{x}.log' is not in the outputs", None),
    ("missing input", 'rule c:\n    output: "c/{s}.tsv"\n    input: "r/{s}.fq"\n    shell: x\n', ["c/a.tsv"],
     "Pipefile:3:5: error: no rule to make 'r/a.fq' (needed by c[s=a] for 'c/a.tsv')",
     "create the file, or add a rule whose output matches it"),
    ("ambiguous", 'rule a:\n    output: "{n}.txt"\n    shell: x\nrule b:\n    output: "{m}.txt"\n    shell: y\n',
     ["x.txt"], "Pipefile:1:1: error: ambiguous: rules 'a' (Pipefile:1:1) and 'b' (Pipefile:4:1) can both make 'x.txt'",
     "give one of them a higher 'priority:', or make one output pattern more specific"),
    ("cycle", 'rule a:\n    output: "a"\n    input: "b"\n    shell: x\nrule b:\n    output: "b"\n    input: "a"\n'
     '    shell: x\n', [], "Pipefile:3:5: error: dependency cycle: a -> b -> a", None),
    ("unknown target", OUT, ["b"], "error: unknown target 'b': no rule is named so and no rule makes it",
     "name a rule (pyrule --list) or a file a rule makes"),
    ("misspelt rule", OUT + 'rule count:\n    output: "y"\n    shell: x\n', ["cuont"],
     "error: unknown target 'cuont': no rule is named so and no rule makes it", "did you mean 'count'?"),
    ("wildcard rule as target", 'rule count:\n    output: "c/{s}.tsv"\n    shell: x\n', ["count"],
     "Pipefile:1:1: error: rule 'count' has wildcards: name a file it makes, like 'c/{s}.tsv'", None),
    ("unknown until", OUT, ["--until", "zzz"],
     "error: --until zzz: no job of the requested targets' graph makes it or is so named", None),
    ("misspelt --force", OUT + 'rule count:\n    output: "y"\n    shell: x\n', ["x", "y", "--force", "cuont"],
     "error: --force cuont: no job of the requested targets' graph makes it or is so named", "did you mean 'count'?"),
    ("override of =", "X = 1\n" + OUT, ["X=2"], "error: X cannot be set from the command line: Pipefile:1:1 sets it with '='",
     "write 'X ?= ...' in the Pipefile to let the command line override it"),
    ("override unknown", "MIN_LEN ?= 1\n" + OUT, ["MIN_LNE=2"], "error: MIN_LNE=2: the Pipefile has no 'MIN_LNE ?= ...'",
     "did you mean 'MIN_LEN'?"),
    ("override unknown --set", "MIN_LEN ?= 1\n" + OUT, ["--set", "MIN_LNE=2"],
     "error: MIN_LNE=2: the Pipefile has no 'MIN_LNE ?= ...'", "did you mean 'MIN_LEN'?"),
    ("override malformed", "X ?= 1\n" + OUT, ["--set", "X"], "error: bad override 'X'",
     "write NAME=VALUE, e.g. MIN_LEN=40 or SAMPLES=\"['a','b']\""),
    ("include missing", 'X = 1\ninclude "inc/nope.pipe"\n', [], "Pipefile:2:1: error: include: no file 'inc/nope.pipe'",
     "the path is relative to the including file"),
    ("bad mem", 'rule a:\n    output: "x"\n    resources: mem = "lots"\n    shell: x\n', [],
     "Pipefile:3:5: error: rule 'a': not a size: 'lots' (write e.g. 500M, 2G, 1.5T)", None),
    ("runtime error", 'python:\n    def f():\n        return {}["k"]\nX = f()\n', [],
     "Pipefile:3:9: error: KeyError: 'k'", None),
    ("repeated keyword", 'rule a:\n    output: "x"\n    params: p = 1, p = 2\n    shell: x\n', [],
     "Pipefile:3:20: error: invalid Python: keyword argument repeated: p", None),
    ("unknown default", "default: sumary\n" + 'rule summary:\n    output: "s"\n    shell: x\n', [],
     "Pipefile:1:1: error: unknown default target 'sumary': no rule is named so and no rule makes it",
     "did you mean 'summary'?"),
]


@pytest.mark.parametrize(("text", "args", "first", "hint"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_user_errors(project, text, args, first, hint):
    project.pipefile(text, dedent=False)
    err = project.error("-n", *args)
    lines = err.splitlines()
    assert lines[0] == first
    if first.startswith("Pipefile:"):
        # the source line and a caret under the column
        line, col = (int(x) for x in first.split(":")[1:3])
        source = text.split("\n")[line - 1]
        assert lines[1] == f"{line:>5} | {source}"
        assert lines[2] == "      | " + " " * (col - 1) + "^"
    if hint is not None:
        assert lines[-1] == f"  hint: {hint}"


def test_include_cycle_error(project):
    project.write("sub/a.pipe", 'X = 1\ninclude "../Pipefile"\n')
    project.pipefile('include "sub/a.pipe"\n')
    err = project.error("-n")
    assert err.splitlines()[0] == "sub/a.pipe:2:1: error: include cycle: Pipefile -> sub/a.pipe -> Pipefile"
    assert '    2 | include "../Pipefile"' in err


def test_error_in_an_included_file_shows_its_line(project):
    project.write("inc/rules.pipe", 'rule a:\n    output: "x"\n    input: 1 +\n')
    project.pipefile('include "inc/rules.pipe"\n')
    err = project.error("-n")
    assert err.splitlines()[:3] == [
        "inc/rules.pipe:3:12: error: invalid Python: invalid syntax",
        "    3 |     input: 1 +",
        "      |            ^",
    ]


def test_errors_are_relative_to_the_project_when_run_from_a_subdirectory(project):
    project.pipefile('rule a:\n    output: "x"\n    ouptut: "y"\n')
    (project / "sub").mkdir()
    rc, _, err = project.run("-n", cwd=project / "sub")
    assert rc == 2 and err.startswith("Pipefile:3:5: error: unknown section 'ouptut'")


def test_crlf_pipefile_error_shows_a_clean_line(project):
    (project / "Pipefile").write_bytes(b'rule a:\r\n    output: "x"\r\n    shel: x\r\n')
    err = project.error("-n")
    assert "\r" not in err
    assert err.splitlines()[:3] == [
        "Pipefile:3:5: error: unknown section 'shel'", "    3 |     shel: x", "      |     ^"]


def test_no_traceback_for_an_unreadable_pipefile(project):
    (project / "Pipefile").write_bytes(b"X = '\xff\xfe'\n")
    err = project.error("-n")
    assert "not UTF-8" in err


def test_no_traceback_for_a_pipefile_without_permission(project):
    p: Path = project.pipefile(OUT)
    p.chmod(0)
    try:
        if os.geteuid() == 0:
            # Root reads any file: run pyrule as root without the capabilities that let it (CI runs as root).
            drop = "-dac_override,-dac_read_search"
            proc = subprocess.run(["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", sys.executable, "-m",
                                   "pyrule", "-n"], cwd=project.root, capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})
            rc, err = proc.returncode, proc.stderr
            assert rc == 2 and "Traceback" not in err, err
        else:
            err = project.error("-n")
        assert "cannot read Pipefile: Permission denied" in err
    finally:
        p.chmod(0o644)
