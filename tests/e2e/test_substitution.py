"""`{...}` substitution in shell bodies: a reference into pyrule's names that does not resolve is a
located error before any job runs; braces that are no such reference stay as written; a path is
quoted for the shell quoting context its field sits in. (Hostile file names in every context:
tests/reliability/test_hostile.py.)"""

from __future__ import annotations

import os

import pytest

from pyrule.substitute import template

# The body of the rule `bad` is on line 14 of the Pipefile below: `echo TYPO > {output}`, with
# TYPO (at column 17) replaced.
TYPO_PIPEFILE = """\
CFG = [1, 2]
default: all
rule all:
    input: "first.txt", expand("o/{s}.txt", s=["a", "b"])
rule first:
    output: "first.txt"
    shell: touch {output}
rule bad:
    output: "o/{sample}.txt"
    input: src = "in.txt"
    log: "logs/{sample}.log"
    params: min_len = 3
    resources: mem = "1G"
    shell: echo TYPO > {output}
"""
LINE, COL = 14, 17


@pytest.mark.parametrize(("typo", "hint"), [
    ("{params.minlen}", "did you mean '{params.min_len}'?"),
    ("{input.scr}", "did you mean '{input.src}'?"),
    ("{wildcards.smaple}", "did you mean '{wildcards.sample}'?"),
    ("{output[3]}", "output has 1 item"),
    ("{resources.memm}", "did you mean '{resources.mem}'?"),
    ("{log.x}", "log has no named items"),
    ("{CFG[5]}", "CFG has 2 items"),
    ("{sample.uper}", "did you mean '{sample.upper}'?"),
])
def test_a_reference_that_does_not_resolve_is_a_located_error_before_any_job(project, typo, hint):
    project.pipefile(TYPO_PIPEFILE.replace("TYPO", typo))
    project.touch("in.txt")
    for args in (["-n"], []):
        err = project.error(*args)
        assert f"Pipefile:{LINE}:{COL}: error: rule 'bad': {typo} " in err, err
        assert f"    shell: echo {typo} > {{output}}\n" in err and "\n      |" in err, err
        assert err.splitlines()[2].endswith(" " * (COL - 1) + "^"), err
        assert hint in err, err
    # None of the jobs ran, not even one that needs no bad reference.
    assert not (project / "first.txt").exists() and not (project / "o").exists()


def test_a_reference_typo_on_a_later_body_line_and_in_the_short_form(project):
    project.pipefile("""\
        all: out.txt
        out.txt: in.txt
            cat {input} > {output}
            echo {input.x} >> {output}
    """)
    project.touch("in.txt")
    err = project.error()
    assert "Pipefile:4:10: error: rule 'out.txt': {input.x} does not resolve: input has no named items" in err, err
    project.pipefile("""\
        rule r:
            output: "r.txt"
            params: n = 1
            shell:
                echo start > {output}
                echo {params.m} >> {output}
    """)
    err = project.error("-n")
    assert "Pipefile:6:14: error: rule 'r': {params.m} does not resolve: params has no 'm'" in err, err
    assert not (project / "out.txt").exists() and not (project / "r.txt").exists()


def test_an_input_function_reference_is_checked_per_job(project):
    project.pipefile("""\
        python:
            def pick(w):
                return {"main": "in.txt"}
        rule r:
            output: "out.txt"
            input: pick
            shell: cat {input.mian} > {output}
    """)
    project.touch("in.txt")
    err = project.error("-n")
    assert "Pipefile:7:16: error: rule 'r': {input.mian} " in err and "did you mean '{input.main}'?" in err, err


def test_braces_that_are_no_reference_stay_as_written(project):
    project.pipefile("""\
        X = "top"
        rule r:
            output: "out.txt"
            params: p = "P"
            shell:
                X=shell; echo "${HOME}" ${X} > {output}
                echo a b | awk '{print $1}' >> {output}
                { echo grouped; echo twice; } >> {output}
                echo x{a,b} {unknown} {name.attr} {{input}} {X} {params.p} >> {output}
    """)
    rc, out, err = project.run()
    assert rc == 0, err
    want = f"{os.environ['HOME']} shell\na\ngrouped\ntwice\nxa xb {{unknown}} {{name.attr}} {{input}} top P\n"
    assert (project / "out.txt").read_text() == want


HOSTILE = "in/$(touch PWNED).txt"


@pytest.mark.parametrize(("body", "want"), [
    ('cat "{input}" > "{output}"', "data"),
    ("cat '{input}' > '{output}'", "data"),
    ("cat {input} > {output}", "data"),
    ('cat "./"{input}"" > "$(echo "{output}")"', "data"),
    ('cat "`echo {input}`" > {output}', "data"),
    ('cat "`echo "{input}"`" > {output}', "data"),
    ("cat $'{input}' > {output} # {input}", "data"),
    ('cat <<EOF > {output}\n$(cat "{input}")\nEOF', "data"),
    ("cat <<EOF > {output}\n{input}\nEOF", HOSTILE),
    ("cat <<-'EOF' > {output}\n{input}\nEOF", HOSTILE),
])
def test_a_path_is_quoted_for_its_context(project, body, want):
    """Snakemake users write "{input}": the name must not run as code inside the author's quotes."""
    project.pipefile("rule r:\n"
                     '    output: "out $1.txt"\n'
                     f'    input: "{HOSTILE}"\n'
                     "    shell:\n" + "".join(f"        {line}\n" for line in body.split("\n")))
    project.write(HOSTILE, "data\n")
    rc, out, err = project.run()
    assert not (project / "PWNED").exists() and not (project / "in" / "PWNED").exists()
    assert rc == 0, err
    assert (project / "out $1.txt").read_text() == want + "\n"


def test_a_path_that_cannot_be_written_in_single_quotes_is_an_error_naming_it(project):
    project.pipefile("""\
        all: o/a.txt "o/it's.txt"
        o/{n}.txt: in/{n}.txt
            cat '{input}' > {output}
    """)
    project.write("in/a.txt", "a\n")
    project.write("in/it's.txt", "b\n")
    for args in (["-n"], []):
        err = project.error(*args)
        assert "Pipefile:3:10: error: rule 'o/{n}.txt': the input 'in/it'\"'\"'s.txt' cannot be written " in err \
            or "in/it's.txt" in err, err
        assert "single quotes" in err, err
    assert not (project / "o").exists()


def test_a_reference_typo_in_a_rule_no_target_needs_is_an_error_too(project):
    """What does not depend on a job is checked once per rule, when the Pipefile is planned."""
    project.pipefile("""\
        rule a:
            output: "a.txt"
            shell: touch {output}
        rule b:
            output: "b/{x}.txt"
            input: reads = ["r1", "r2"]
            shell: cat {input.reads[2]} > {output}
    """)
    err = project.error("a.txt")
    assert "Pipefile:7:16: error: rule 'b': {input.reads[2]} does not resolve: input.reads has 2 items" in err, err
    assert not (project / "a.txt").exists()


@pytest.mark.parametrize("body", ["let x=1<<2\necho {input} > {output}", 'echo "{input} > {output}'])
def test_a_body_whose_quotes_do_not_balance_takes_only_plain_names(project, body):
    """Where the quoting cannot be told for sure, a name that would mean something else in
    another context is an error, never run."""
    project.pipefile("rule r:\n    output: \"out.txt\"\n    input: \"in/$(touch PWNED).txt\"\n    shell:\n"
                     + "".join(f"        {line}\n" for line in body.split("\n")))
    project.write("in/$(touch PWNED).txt", "data\n")
    err = project.error()
    assert "cannot be quoted safely" in err and "'in/$(touch PWNED).txt'" in err, err
    assert not (project / "PWNED").exists()
    assert [f.quoting for f in template(body).fields] == ["quotes that do not balance"] * 2
    # plain names go in as they are
    assert template(body).render({"input": ["in/a.txt"], "output": ["out.txt"]}, {}, {}).endswith("in/a.txt > out.txt")
