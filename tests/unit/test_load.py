"""Stage 2: AST -> Rules. Evaluation in file order, overrides, includes, every section, and the
errors a Pipefile can cause at load time (each with its file:line:col)."""

from __future__ import annotations

import pytest

from pyrule.errors import Location, PipefileError, PyruleError, UsageError
from pyrule.load import load, parse_override
from pyrule.rules import Rules


def load_text(project, text: str, overrides: dict | None = None) -> Rules:
    project.pipefile(text)
    return load("Pipefile", overrides)


def load_error(project, text: str, overrides: dict | None = None, kind=PipefileError) -> PyruleError:
    with pytest.raises(kind) as info:
        load_text(project, text, overrides)
    return info.value


def at(line: int, col: int, file: str = "Pipefile") -> Location:
    return Location(file, line, col)


# --- assignments and overrides -------------------------------------------------------------------


def test_assignments_are_evaluated_in_file_order(project):
    rules = load_text(project, """\
        import json
        A = [1, 2]
        B = A + [3]
        A = "changed"
        C = json.dumps(B)
    """)
    ns = rules.namespace
    assert ns["A"] == "changed" and ns["B"] == [1, 2, 3] and ns["C"] == "[1, 2, 3]"


def test_default_assignment_without_override(project):
    rules = load_text(project, "MIN_LEN ?= 30\nX = MIN_LEN + 1\n")
    assert rules.namespace["MIN_LEN"] == 30 and rules.namespace["X"] == 31


@pytest.mark.parametrize(("raw", "value"), [
    ("50", 50), ("1.5", 1.5), ("abc", "abc"), ("'quoted'", "quoted"), ("[1, 'a']", [1, "a"]),
    ("True", True), ("", ""), ("a b", "a b"), ("x=y", "x=y"), ("{'k': 1}", {"k": 1}),
])
def test_override_value_is_a_literal_when_it_parses_as_one_else_a_string(project, raw, value):
    name, parsed = parse_override(f"MIN_LEN={raw}")
    assert name == "MIN_LEN" and parsed == value
    rules = load_text(project, "MIN_LEN ?= 30\nSEEN = MIN_LEN\n", {name: parsed})
    assert rules.namespace["SEEN"] == value


@pytest.mark.parametrize("bad", ["=2", "X", "1X=2", "a-b=1", ""])
def test_malformed_override(bad):
    with pytest.raises(UsageError) as info:
        parse_override(bad)
    assert info.value.message == f"bad override '{bad}'" and "NAME=VALUE" in info.value.hint


def test_override_of_a_plain_assignment_is_refused(project):
    e = load_error(project, "X = 1\nY ?= 2\n", {"X": 5}, UsageError)
    assert e.message == "X cannot be set from the command line: Pipefile:1:1 sets it with '='"
    assert "X ?= ..." in e.hint


def test_override_of_an_unknown_name_suggests_the_nearest(project):
    e = load_error(project, "MIN_LEN ?= 1\n", {"MIN_LNE": 2}, UsageError)
    assert e.message == "MIN_LNE=2: the Pipefile has no 'MIN_LEN ?= ...'".replace("MIN_LEN ?=", "MIN_LNE ?=")
    assert e.hint == "did you mean 'MIN_LEN'?"
    e = load_error(project, "A ?= 1\n", {"ZZZ": 2}, UsageError)
    assert e.hint == "only names set with '?=' can be overridden"


# --- imports, python blocks, includes ---------------------------------------------------------------


def test_imports_and_python_blocks_share_the_namespace(project):
    rules = load_text(project, """\
        from os.path import (join,
            basename)
        python:
            def stem(p):
                # a helper
                return basename(p).split(".")[0]
        # a comment between
            # an indented comment
        X = stem(join("a", "b.txt"))
    """)
    assert rules.namespace["X"] == "b"


def test_include_is_relative_to_the_including_file_and_shares_the_namespace(project):
    project.write("sub/a.pipe", """\
        Y = X + 1
        include "deeper/b.pipe"
        rule a:
            output: "a.txt"
            shell: echo {Y} > a.txt
    """)
    project.write("sub/deeper/b.pipe", """\
        Z = Y * 10
        rule b:
            output: f"b{Z}.txt"
            shell: touch {output}
    """)
    rules = load_text(project, """\
        X = 1
        include "sub/a.pipe"
        W = Z + 1
        rule all:
            input: rules.a.output, rules.b.output
    """)
    assert rules.namespace["W"] == 21
    assert list(rules.rules) == ["b", "a", "all"]
    assert rules.rules["b"].loc == at(2, 1, "sub/deeper/b.pipe")
    assert rules.rules["b"].outputs == [(None, "b20.txt")]
    assert [(n, list(v)) for n, v in rules.rules["all"].inputs] == [(None, ["a.txt"]), (None, ["b20.txt"])]
    assert rules.files == ["Pipefile", "sub/a.pipe", "sub/deeper/b.pipe"]


def test_include_of_a_missing_file(project):
    e = load_error(project, 'X = 1\ninclude "sub/nope.pipe"\n')
    assert e.message == "include: no file 'sub/nope.pipe'" and e.loc == at(2, 1)
    assert "relative to the including file" in e.hint


def test_include_cycle(project):
    project.write("sub/a.pipe", 'include "../Pipefile"\n')
    e = load_error(project, 'include "sub/a.pipe"\n')
    assert e.message.startswith("include cycle: ") and e.loc == at(1, 1, "sub/a.pipe")
    assert "Pipefile -> sub/a.pipe -> " in e.message
    project.write("self.pipe", 'include "self.pipe"\n')
    e = load_error(project, 'include "self.pipe"\n')
    assert e.message == "include cycle: self.pipe -> self.pipe"


def test_include_needs_a_path(project):
    e = load_error(project, "include 42\n")
    assert e.message == "include needs a path, not int" and e.loc == at(1, 9)


def test_errors_in_included_files_name_that_file(project):
    project.write("inc/x.pipe", "A = 1\nB = undefined_name\n")
    e = load_error(project, 'include "inc/x.pipe"\n')
    assert e.loc == at(2, 5, "inc/x.pipe") and "NameError" in e.message


def test_rule_name_stays_unique_across_includes(project):
    project.write("x.pipe", 'rule a:\n    output: "y"\n    shell: touch y\n')
    e = load_error(project, 'rule a:\n    output: "x"\n    shell: touch x\ninclude "x.pipe"\n')
    assert e.message == "rule 'a' is defined twice" and e.loc == at(1, 1, "x.pipe")
    assert e.hint == "the first is at Pipefile:1:1; rename one of them"


# --- default ---------------------------------------------------------------------------------------


def test_default_targets(project):
    rules = load_text(project, 'default: b.txt a\nrule a:\n    output: "a.txt"\n    shell: x\n')
    assert rules.defaults == ["b.txt", "a"] and rules.default_loc == at(1, 1)


def test_default_given_twice(project):
    e = load_error(project, "default: a\ndefault: b\n")
    assert e.message == "default targets are given twice" and e.loc == at(2, 1) and "Pipefile:1:1" in e.hint


# --- rules ---------------------------------------------------------------------------------------


def test_every_section_becomes_a_rule_field(project):
    rules = load_text(project, '''\
        MIN = 30
        rule count:
            """Count reads."""
            output: "counts/{s}.tsv", table = "t/{s}.tsv"
            input:
                "reads/{s}.fq",
                ref = "ref.fa"
            params: min_len = MIN, tag = "{s}"
            resources: cores = 2, mem = "500M", runtime = "2h", gpus = 1, disk = 3
            slurm: partition = "short", account = "lab"
            log: "logs/{s}.log"
            check: mtime
            retries: 2
            priority: 5
            env: LANG = "C"
            shell: wc -l {input} > {output}
    ''')
    r = rules.rules["count"]
    assert r.doc == "Count reads." and r.loc == at(2, 1) and not r.checkpoint and not r.phony
    assert list(r.outputs) == [(None, "counts/{s}.tsv"), ("table", "t/{s}.tsv")]
    assert list(r.inputs) == [(None, "reads/{s}.fq"), ("ref", "ref.fa")]
    assert r.params == {"min_len": 30, "tag": "{s}"}
    assert r.resources == {"cores": 2, "mem": 500 * 2**20, "runtime": 7200, "gpus": 1, "disk": 3,
                           "slurm": {"partition": "short", "account": "lab"}}
    assert r.log == "logs/{s}.log" and r.check == "mtime" and r.retries == 2 and r.priority == 5
    assert r.env == {"LANG": "C"}
    assert r.shell == "wc -l {input} > {output}\n" and r.python is None
    assert r.section_locs["output"] == at(4, 5) and r.section_locs["shell"] == at(16, 12)
    assert r.where("log") == at(11, 5)


def test_python_body_and_defaults(project):
    rules = load_text(project, """\
        rule p:
            output: "x"
            python:
                with open(output[0], "w") as f:
                    f.write("hi")
    """)
    r = rules.rules["p"]
    assert r.python == 'with open(output[0], "w") as f:\n    f.write("hi")\n' and r.shell is None
    assert r.resources == {"cores": 1} and r.check == "checksum" and r.retries == 0 and r.priority == 0
    assert r.section_locs["python"] == at(4, 9)


def test_phony_rule_and_checkpoint(project):
    rules = load_text(project, """\
        rule clean:
            shell: rm -rf out
        checkpoint split:
            output: directory("parts")
            shell: mkdir parts
    """)
    assert rules.rules["clean"].phony and rules.rules["clean"].has_body
    cp = rules.rules["split"]
    assert cp.checkpoint and cp.outputs == [(None, "parts")] and cp.outputs[0][1].flags == {"directory"}


def test_short_rules(project):
    rules = load_text(project, """\
        all: plots/a.png "b c.txt"
        plots/{sample}.png: counts/{sample}.tsv tools/plot.py
            python tools/plot.py {input[0]} {output}
    """)
    gather = rules.rules["all"]
    assert gather.phony and not gather.has_body
    assert gather.inputs == [(None, "plots/a.png"), (None, "b c.txt")]
    r = rules.rules["plots/{sample}.png"]
    assert r.outputs == [(None, "plots/{sample}.png")]
    assert r.inputs == [(None, "counts/{sample}.tsv"), (None, "tools/plot.py")]
    assert r.shell == "python tools/plot.py {input[0]} {output}\n" and r.loc == at(2, 1)


def test_short_rule_without_body_must_be_one_plain_name(project):
    e = load_error(project, "out/{s}.txt: in/{s}.txt\n")
    assert "gathers its inputs under one plain name" in e.message and e.loc == at(1, 1)
    e = load_error(project, "a b: c\n")
    assert "gathers its inputs under one plain name" in e.message


def test_rules_name_output_and_expand(project):
    rules = load_text(project, """\
        S = ["a", "b"]
        rule a:
            output: "a.txt", named = "n.txt"
            shell: x
        rule all:
            input: rules.a.output.named, expand("c/{s}.txt", s=S), expand("{x}_{y}", zip, x=[1, 2], y="pq")
    """)
    inputs = rules.rules["all"].inputs
    assert inputs[0] == (None, "n.txt") and list(inputs[1][1]) == ["c/a.txt", "c/b.txt"]
    assert inputs[2][1] == ["1_pq"]  # a single string is one value, so zip pairs it once


def test_rules_name_of_a_rule_defined_later(project):
    e = load_error(project, 'rule c:\n    output: "c"\n    input: rules.a.output\n    shell: x\n')
    assert e.message == "AttributeError: no rule 'a' is defined above this line" and e.loc == at(3, 12)


def test_input_function_is_kept(project):
    rules = load_text(project, """\
        python:
            def pick(w):
                return f"in/{w.s}.dat"
        rule a:
            output: "o/{s}.txt"
            input: pick, extra = lambda w: ["x/" + w.s]
            shell: x
    """)
    (n1, f1), (n2, f2) = rules.rules["a"].inputs
    assert n1 is None and callable(f1) and n2 == "extra" and callable(f2)


# --- load-time errors ------------------------------------------------------------------------------


def test_duplicate_rule_names_both_lines(project):
    e = load_error(project, 'rule a:\n    output: "x"\n    shell: x\n\nrule a:\n    output: "y"\n    shell: y\n')
    assert e.message == "rule 'a' is defined twice" and e.loc == at(5, 1)
    assert e.hint == "the first is at Pipefile:1:1; rename one of them"


def test_name_error_with_suggestion(project):
    e = load_error(project, "SAMPLES = [1]\nY = len(SAMPLE)\n")
    assert e.message == "NameError: name 'SAMPLE' is not defined" and e.loc == at(2, 5)
    assert e.hint == "did you mean 'SAMPLES'?"


def test_name_error_in_a_section(project):
    e = load_error(project, 'SAMPLES = [1]\nrule a:\n    output: "x"\n    input: expand("{s}", s=SAMPLE)\n    shell: x\n')
    assert e.message == "NameError: name 'SAMPLE' is not defined" and e.loc == at(4, 12)
    assert e.hint == "did you mean 'SAMPLES'?"


def test_name_error_without_close_match(project):
    e = load_error(project, "Y = qqqqqq\n")
    assert e.hint == ('define it above this line; or, to mean the text, quote it: Y = "qqqqqq" '
                      "(values are Python expressions)")


def test_runtime_error_inside_a_helper_points_at_the_line_that_failed(project):
    e = load_error(project, "python:\n    def f():\n        return 1 / 0\nY = f()\n")
    assert e.message == "ZeroDivisionError: division by zero" and e.loc == at(3, 9)


def test_runtime_error_on_a_later_line_of_a_python_block(project):
    e = load_error(project, "python:\n    x = 1\n    y = x[0]\n")
    assert e.message.startswith("TypeError:") and e.loc == at(3, 5)


def test_missing_module(project):
    e = load_error(project, "import no_such_module_xyz\n")
    assert e.message == "ModuleNotFoundError: No module named 'no_such_module_xyz'" and e.loc == at(1, 1)
    assert "pip install no_such_module_xyz" in e.hint


@pytest.mark.parametrize(("section", "text", "missing"), [
    ("input", 'input: "i/{t}.txt"', "t"),
    ("log", 'log: "logs/{sample}.log"', "sample"),
    ("params", 'params: p = "x{q}"', "q"),
])
def test_wildcard_the_outputs_lack(project, section, text, missing):
    e = load_error(project, f'X = 1\nrule a:\n    output: "o/{{s}}.txt"\n    {text}\n    shell: x\n')
    assert e.message.startswith(f"rule 'a': wildcard '{{{missing}}}' in {section} ")
    assert e.message.endswith("is not in the outputs") and e.loc == at(4, 5)
    assert e.hint.startswith("the outputs have {s}")


def test_wildcard_suggestion(project):
    e = load_error(project, 'rule a:\n    output: "o/{sample}.txt"\n    input: "i/{sampel}.txt"\n    shell: x\n')
    assert "did you mean 'sample'?" in e.hint


def test_outputs_must_share_wildcards(project):
    e = load_error(project, 'rule a:\n    output: "{a}.x", "{b}.y"\n    shell: x\n')
    assert "all outputs must use the same wildcards" in e.message and e.loc == at(2, 5)


def test_bad_wildcard_regex(project):
    e = load_error(project, 'rule a:\n    output: "{a,[}.x"\n    shell: x\n')
    assert e.message.startswith("rule 'a': bad regex for wildcard 'a'") and e.loc == at(2, 5)


@pytest.mark.parametrize(("section", "message"), [
    ('resources: mem = "lots"', "rule 'a': not a size: 'lots' (write e.g. 500M, 2G, 1.5T)"),
    ('resources: cores = 0', "rule 'a': cores must be a whole number of at least 1, not 0"),
    ('resources: gpus = 1.5', "rule 'a': gpus must be a whole number, not 1.5"),
    ('resources: disk = "big"', "rule 'a': disk must be a non-negative number, not 'big'"),
    ('resources: 4', "resources: takes name = value pairs"),
    ("check: md5", "rule 'a': check must be checksum or mtime, not 'md5'"),
    ("retries: -1", "rule 'a': retries must be a non-negative integer, not -1"),
    ('priority: "high"', "rule 'a': priority must be an integer, not 'high'"),
    ("priority: 1, 2", "priority: takes one value"),
    ("log: 3", "log: must be a path, not int"),
    ("output: 3", "rule 'a': output must be paths, not int 3"),
    ('output: ""', "rule 'a': output has an empty path"),
    ('slurm: partitoin = "x"', "rule 'a': unknown slurm option 'partitoin'"),
    ("params: x = 1, x = 2", "invalid Python: keyword argument repeated: x"),
])
def test_bad_section_values(project, section, message):
    body = "" if section.startswith("output") else '    output: "x"\n'
    e = load_error(project, f"Y = 1\nrule a:\n{body}    {section}\n    shell: x\n")
    assert e.message == message
    assert e.loc.file == "Pipefile" and e.loc.line == (3 if section.startswith("output") else 4)


def test_bad_section_hints(project):
    e = load_error(project, 'rule a:\n    output: "x"\n    check: mtiem\n    shell: x\n')
    assert e.hint == "did you mean 'mtime'?"
    e = load_error(project, 'rule a:\n    output: "x"\n    slurm: partitoin = "x"\n    shell: x\n')
    assert e.hint == "did you mean 'partition'?"


def test_no_pipefile(project):
    with pytest.raises(UsageError, match="no Pipefile at nope"):
        load("nope")


def test_repeated_keyword_is_located(project):
    e = load_error(project, 'rule a:\n    output: "x"\n    params: x = 1, x = 2\n    shell: x\n')
    assert e.message == "invalid Python: keyword argument repeated: x" and e.loc == at(3, 20)


def test_same_name_on_two_lines_of_a_section(project):
    e = load_error(project, 'rule a:\n    output: "x"\n    params:\n        x = 1\n        x = 2\n    shell: x\n')
    assert e.message == "'x' is given twice in params:" and e.loc == at(5, 9)


def test_included_paths_are_named_short(project):
    project.write("sub/deeper/b.pipe", 'include "../a.pipe"\n')
    project.write("sub/a.pipe", "A = 1\nB = nope\n")
    e = load_error(project, 'include "sub/deeper/b.pipe"\n')
    assert e.loc == at(2, 5, "sub/a.pipe")
