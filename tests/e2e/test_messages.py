"""Mistakes a Make or Snakemake user makes in a Pipefile: each names the right line, says what is
wrong in the user's terms and how to write it (issue 17). Every test runs the real command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from harness import REPO


def error_of(project, text: str, *args: str, dedent: bool = True) -> str:
    project.pipefile(text, dedent=dedent)
    return project.error(*args)


# --- values are Python -----------------------------------------------------------------------


def test_unquoted_word_as_a_value_suggests_quoting(project):
    err = error_of(project, "CC ?= cc\n")
    assert err.startswith("Pipefile:1:7: error: NameError: name 'cc' is not defined\n")
    assert 'hint: define it above this line; or, to mean the text, quote it: CC ?= "cc" (values are Python expressions)' in err


def test_make_style_list_says_values_are_python(project):
    err = error_of(project, "OBJS = a.o b.o\n")
    assert err.startswith("Pipefile:1:12: error: invalid Python: invalid syntax\n")
    assert ("""hint: the value after '=' is a Python expression: to mean the text, quote it: OBJS = "a.o b.o", """
            """or write a list: OBJS = ["a.o", "b.o"]""") in err


def test_keyword_as_a_variable_name(project):
    err = error_of(project, "X = 1\nrule = 4\n")
    assert err.startswith("Pipefile:2:1: error: 'rule' is a Pipefile keyword: it cannot be a variable's name\n")
    assert "hint: choose another name, e.g. 'RULE'" in err


@pytest.mark.parametrize("text, where", [
    ('X = "abc\nrule a:\n    output: "a"\n    shell: touch a\n', "1:5"),
    ('rule a:\n    output: "a\n    shell: touch a\n', "2:13"),
])
def test_unterminated_string(project, text, where):
    err = error_of(project, text, dedent=False)
    assert err.startswith(f"Pipefile:{where}: error: unterminated string: it has no closing quote on this line\n")
    assert "triple quotes" in err


def test_unclosed_bracket_is_reported_where_it_opens(project):
    err = error_of(project, 'X = [1, 2,\n     3\n\nrule a:\n    output: "a"\n    shell: touch a\n', dedent=False)
    assert err.startswith("Pipefile:1:5: error: '[' is never closed\n    1 | X = [1, 2,\n      |     ^\n")
    assert "hint: close it with ']'" in err


def test_tab_after_spaces_is_named(project):
    err = error_of(project, 'rule a:\n    output: "a"\n\tshell: touch a\n', dedent=False)
    assert err.startswith("Pipefile:3:2: error: unexpected indentation: "
                          "this line is indented with a tab, the line above with spaces\n")
    assert "hint: a tab counts as 8 columns; indent with spaces only (or tabs only)" in err


def test_spaces_after_a_tab_are_named(project):
    err = error_of(project, 'rule a:\n\toutput: "a"\n    shell: touch a\n', dedent=False)
    assert err.startswith("Pipefile:3:5: error: inconsistent indentation: this line's indentation matches no "
                          "enclosing block (this line is indented with spaces, the line above with a tab)\n")
    assert "hint: a tab counts as 8 columns" in err


# --- Snakemake habits ------------------------------------------------------------------------


@pytest.mark.parametrize("section, hint", [
    ("threads: 4", "pyrule writes a job's cores as 'resources: cores = N'"),
    ("run:\n        open('a', 'w')", "pyrule runs Python code in a 'python:' section"),
])
def test_snakemake_sections(project, section, hint):
    err = error_of(project, f'rule a:\n    output: "a"\n    {section}\n', dedent=False)
    assert err.startswith(f"Pipefile:3:5: error: unknown section '{section.split(':')[0]}'\n")
    assert f"hint: {hint}" in err


def test_glob_wildcards_lists_its_fields(project):
    err = error_of(project, 'W = glob_wildcards("data/{sample}.txt")\nX = W.sampel\n')
    assert err.startswith("Pipefile:2:5: error: AttributeError: glob_wildcards('data/{sample}.txt') has no "
                          "wildcard 'sampel'; its fields are: .sample\n")


def test_failing_input_function_names_the_line_that_raised(project):
    err = error_of(project, """\
        python:
            def inputs(wildcards):
                x = {"a": "a.in"}
                return x[wildcards.s]

        rule a:
            output: "{s}.out"
            input: inputs
            shell: touch {output}
    """, "b.out")
    assert err.startswith("Pipefile:4:9: error: rule 'a': the input function failed for a[s=b]: KeyError: 'b'\n"
                          "    4 |         return x[wildcards.s]\n")
    assert "hint: the function was called by the input: section at Pipefile:8:5" in err


# --- Make habits in the short form -----------------------------------------------------------


def test_short_form_given_a_python_call(project):
    err = error_of(project, 'out.txt: expand("x{a}", a=[1])\n\ttouch out.txt\n', dedent=False)
    assert err.startswith("Pipefile:1:10: error: a Make-style rule 'OUTPUTS: INPUTS' takes only paths and "
                          "names, not Python expressions\n")
    assert "hint: for computed inputs write a rule: 'rule NAME:'" in err


def test_short_form_given_a_variable_in_braces(project):
    err = error_of(project, 'VAR = "in.txt"\nout.txt: {VAR}\n\ttouch out.txt\n', dedent=False)
    assert err.startswith("Pipefile:2:10: error: '{VAR}' in a Make-style rule is a wildcard, not the Pipefile's "
                          "variable 'VAR': the short form 'OUTPUTS: INPUTS' takes only plain paths and {name} wildcards\n")
    assert "hint: to use VAR write a rule: 'rule NAME:'" in err


def test_short_form_wildcard_named_like_a_variable(project):
    project.pipefile("n = 5\nall: out/1.txt\nout/{n}.txt: in/{n}.txt\n\tcp {input} {output}\n", dedent=False)
    project.touch("in/1.txt")
    rc, out, err = project.run()
    assert rc == 0, err
    err = error_of(project, 'VAR = "x"\n{VAR}: in.txt\n\ttouch x\n', dedent=False)
    assert err.startswith("Pipefile:2:1: error: '{VAR}' in a Make-style rule is a wildcard, not the Pipefile's "
                          "variable 'VAR'")


def test_make_percent_pattern(project):
    err = error_of(project, "%.o: %.c\n\tcc -c {input} -o {output}\n", dedent=False)
    assert err.startswith("Pipefile:1:1: error: '%.o': pyrule patterns are written with {name} wildcards, "
                          "not Make's '%'\n")
    assert "hint: write e.g. '{name}.o: {name}.c'" in err


@pytest.mark.parametrize("var, spelling", [("$<", "{input[0]}"), ("$@", "{output}"), ("$^", "{input}")])
def test_make_automatic_variables(project, var, spelling):
    err = error_of(project, f"out.o: in.c\n\techo start\n\tcc -c {var} -o x\n", dedent=False)
    assert err.startswith(f"Pipefile:3:8: error: '{var}' is Make's automatic variable; a shell body names files "
                          "with {output} and {input}\n")
    assert f"hint: write {spelling} for {var}" in err


def test_quoted_shell_arguments_are_not_make_variables(project):
    project.pipefile('rule a:\n    output: "a"\n    shell:\n        f() { touch "$@"; }; f a\n'
                     "        true 'perl: eval { 1 }; print $@, $^O'\n", dedent=False)
    rc, out, err = project.run()
    assert rc == 0, err


def test_dollar_at_in_a_shell_function_is_the_shells_own(project):
    project.pipefile('rule a:\n    output: "a"\n    shell:\n        f() { echo $@ "x $@" > a; }; f one\n', dedent=False)
    rc, out, err = project.run()
    assert rc == 0, err
    assert (project / "a").read_text() == "one x one\n"


def test_short_form_phony_target_says_how_to_write_one(project):
    project.pipefile("clean:\n\trm -rf build\n", dedent=False)
    rc, out, err = project.run("clean")
    assert rc == 1
    assert ("FAILED clean: exited 0 but did not create clean; 'clean' looks like a phony target (a name to run, "
            "not a file it makes): write it as 'rule clean:' with a 'shell:' section and no 'output:'") in err


def test_input_naming_a_phony_rule_in_a_cycle(project):
    err = error_of(project, "all: a.out\n{s}.out: all\n\ttouch {output}\n", dedent=False)
    assert err.startswith("Pipefile:2:10: error: dependency cycle: all -> {s}.out[s=a] -> all: 'all' is a rule "
                          "that makes no file, and an input must be a file (needed by {s}.out[s=a] for 'a.out')\n")
    assert "did you mean" not in err


# --- the Pipefile itself ---------------------------------------------------------------------


def test_lowercase_pipefile_is_mentioned(project):
    project.write("pipefile", "all:\n")
    err = project.error()
    assert "hint: there is 'pipefile': names are case-sensitive; rename it to 'Pipefile', or name it with -f pipefile" in err


def test_sys_exit_in_a_python_block_is_an_error(project):
    err = error_of(project, """\
        import sys
        python:
            sys.exit(0)
        rule a:
            output: "a"
            shell: touch a
    """)
    assert err.startswith("Pipefile:3:5: error: the Pipefile called sys.exit(0) while pyrule was reading it\n")
    assert not (project / "a").exists()


def test_ambiguous_rules_without_a_location(project):
    project.write("flow.py", """\
        from pyrule import Workflow
        wf = Workflow()
        wf.rule("a", output="{s}.txt", shell="touch {output}")
        wf.rule("b", output="{s}.txt", shell="touch {output}")
        try:
            wf.plan(["x.txt"])
        except Exception as e:
            print(e)
    """)
    out = subprocess.run([sys.executable, "flow.py"], cwd=project.root, capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("error: ambiguous: rules 'a' and 'b' can both make 'x.txt'\n")


# --- the README ------------------------------------------------------------------------------


def test_quick_start_commands_run_in_sequence():
    text = (REPO / "README.md").read_text()
    assert "(cd examples/read-counts && pyrule -j 2)" in text
    assert "several minutes" in text


@pytest.mark.slow
def test_running_the_example_leaves_only_ignored_files(project):
    """What the quick start's example makes is in .gitignore (no untracked files in a checkout)."""
    import shutil

    example = project / "read-counts"
    shutil.copytree(REPO / "examples" / "read-counts", example)
    before = set(example.rglob("*"))
    rc, out, err = project.run("-j", "2", cwd=example)
    assert rc == 0, err
    made = sorted(str(p.relative_to(project.root)) for p in set(example.rglob("*")) - before if p.is_file())
    assert made
    paths = [f"examples/{m}" for m in made]
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", *paths],
                             capture_output=True, text=True, timeout=60).stdout.split()
    assert sorted(ignored) == sorted(paths)
