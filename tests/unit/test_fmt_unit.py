"""The formatter (pyrule/fmt.py) in this process, on real Pipefiles: the examples, the reliability
suite's generated and mutated Pipefiles, and files written to show each rule of the layout.

For every file that parses: fmt(fmt(x)) == fmt(x), and x and fmt(x) parse to the same statements
(Python compared by its syntax tree, shell bodies by their text) and load to the same rules.
A file that does not parse gets the parser's own error (file:line:col)."""

from __future__ import annotations

import ast
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

pytest.importorskip("black", reason="black is in the [fmt] and [test] extras")

from pyrule.errors import PipefileError  # noqa: E402
from pyrule.fmt import format_file, format_text, meaning  # noqa: E402
from pyrule.load import load  # noqa: E402
from pyrule.parse import parse_file, parse_text  # noqa: E402
from pyrule.rules import FlaggedPath  # noqa: E402

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLES = sorted(REPO.glob("examples/*/Pipefile"))

sys.path.insert(0, str(REPO / "tests" / "reliability"))
from test_fuzz import mutated, pipefiles  # noqa: E402  (the reliability suite's generators)


def fmt(text: str) -> str:
    return format_text(textwrap.dedent(text).lstrip("\n"))


def _check(text: str) -> str:
    """fmt(text), after checking that it is stable and means what text means."""
    out = format_text(text)
    assert format_text(out) == out, f"not stable:\n{text}\n--- formatted\n{out}\n--- again\n{format_text(out)}"
    assert meaning(parse_text(out)) == meaning(parse_text(text))
    return out


def _plain(value: object) -> object:
    """A loaded value to compare: functions by name, flagged paths with their flags."""
    if isinstance(value, FlaggedPath):
        return (str(value), sorted(value.flags))
    if callable(value):
        return ("function", getattr(value, "__qualname__", type(value).__name__))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _rules(path: Path) -> object:
    rules = load(path, directory=path.parent)
    out = {}
    for name, r in rules.rules.items():
        out[name] = _plain([r.outputs, r.inputs, r.params, r.resources, r.log, r.check, r.retries, r.priority,
                            r.env, r.shell, r.python and ast.dump(ast.parse(r.python)), r.doc, r.checkpoint])
    return out, rules.defaults


# --- real files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_are_stable_and_load_the_same_rules(example: Path, tmp_path: Path, monkeypatch):
    project = tmp_path / example.parent.name
    shutil.copytree(example.parent, project)
    out = _check(example.read_text())
    (project / "Formatted.pipe").write_text(out)
    monkeypatch.chdir(project)
    assert _rules(project / "Formatted.pipe") == _rules(project / "Pipefile")


def _written_pipefiles() -> Iterator[tuple[str, str]]:
    """Every Pipefile the tests and benchmarks write: their multi-line string constants that parse
    as a Pipefile with a statement (as runner_helpers.pipefile() dedents them)."""
    for path in sorted([*REPO.glob("tests/**/*.py"), *REPO.glob("benchmarks/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ":\n" in node.value:
                text = textwrap.dedent(node.value).lstrip("\n")
                try:
                    if parse_text(text).statements:
                        yield f"{path.relative_to(REPO)}:{node.lineno}", text
                except PipefileError:
                    pass


def test_every_pipefile_the_tests_write_is_stable():
    seen = 0
    for where, text in _written_pipefiles():
        try:
            _check(text)
        except AssertionError as e:
            raise AssertionError(f"{where}: {e}") from None
        seen += 1
    assert seen > 200  # the tests were read


_SETTINGS = settings(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))


@settings(_SETTINGS, max_examples=60)
@given(pipefiles())
def test_generated_pipefiles_are_stable_and_keep_their_comments(text: str):
    out = _check(text)
    for comment in ("# a note", "# x: y {z}", "# generated Pipefile"):
        assert out.count(comment) == text.count(comment), out
    assert "\r" not in out and "\ufeff" not in out


@settings(_SETTINGS, max_examples=150)
@given(mutated())
def test_mutated_pipefiles_are_formatted_or_get_the_parsers_error(tmp_path: Path, text: str):
    path = tmp_path / "Pipefile"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))  # as the fuzz tests write them
    try:
        parsed = parse_file(path)
    except PipefileError as e:
        with pytest.raises(PipefileError) as raised:
            format_file(str(path))
        assert str(raised.value) == str(e)
        return
    _check(parsed.text)


# --- the layout ------------------------------------------------------------------------------------


def test_sections_in_the_grammars_order_four_spaces_double_quotes():
    out = fmt("""
        rule b:
          '''The doc.'''
          shell: cat {input} > {output}
          input: 'in.txt', script='x.py'
          params: n=1, label = 'a'
          output: 'out.txt'
    """)
    assert out == textwrap.dedent('''\
        rule b:
            """The doc."""
            output: "out.txt"
            input: "in.txt", script = "x.py"
            params: n = 1, label = "a"
            shell: cat {input} > {output}
    ''')


def test_configfile_and_the_script_body_last():
    out = _check(textwrap.dedent("""\
        configfile:   'config.yaml'
        rule a:
          script: 'run.py'
          local: True
          resources: cores=upto(4)
          input: ancient('config.yaml')
          output: multiext('a', '.x', '.y')
    """))
    assert out == textwrap.dedent('''\
        configfile: "config.yaml"

        rule a:
            output: multiext("a", ".x", ".y")
            input: ancient("config.yaml")
            resources: cores = upto(4)
            local: True
            script: "run.py"
    ''')


def test_one_blank_line_around_blocks_and_at_most_one_elsewhere():
    out = format_text("\n\n\nimport os\nA = 1\n\n\nB = 2\nrule a:\n    shell: echo a\n# about b\nrule b:\n"
                      "    shell: echo b\nx.txt: a\n    touch x.txt\n\n\n\n")
    assert out.split("\n\n") == ["import os\nA = 1", "B = 2", "rule a:\n    shell: echo a",
                                  "# about b\nrule b:\n    shell: echo b", "x.txt: a\n    touch x.txt\n"]


def test_comments_stay_where_they_are():
    src = textwrap.dedent('''\
        # head
        import os  # why os
        X ?= [1,  # one
              2,
        ]
        python:  # helpers
            # first
            def f():
                return 1  # one
            # after
        rule a:  # the rule
            """Doc."""  # the doc
            # before output
            output: "x"  # the output
            input:  # the inputs
                # first input
                "a",  # a
                "b",
                # commented out: "c",
            shell:  # the body
                echo {output}  # a shell comment
                # inside the body
                cat {input}
                # after the body, in it
            # after the body, in the rule
        # between
        out.txt: in.txt  # short
            cp in.txt out.txt
            # after the short body
        # end
    ''')
    out = format_text(src)
    comments = [ln.split("#", 1)[1] for ln in src.splitlines() if "#" in ln]
    assert [ln.split("#", 1)[1] for ln in out.splitlines() if "#" in ln] == comments
    assert "    output: \"x\"  # the output\n" in out
    assert "    input:  # the inputs\n        # first input\n        \"a\",  # a\n" in out
    assert ("        cat {input}\n        # after the body, in it\n    # after the body, in the rule\n\n"
            "# between\nout.txt") in out
    assert format_text(out) == out


def test_comments_move_with_their_section():
    out = fmt("""
        rule a:
            # how to run
            shell: echo > {output}
            # what it makes
            output: "x"  # one file
    """)
    assert out == textwrap.dedent("""\
        rule a:
            # what it makes
            output: "x"  # one file
            # how to run
            shell: echo > {output}
    """)


def test_shell_bodies_keep_their_text_byte_for_byte():
    body = ("for f in {input}; do\n"
            "\tawk '{{print $1}}'   \"$f\"  >> {output}   \n"
            "done\n"
            "\n"
            "cat <<'EOF' >> {output}\n"
            "  x = 1  # not python\n"
            "EOF\n")
    src = "rule a:\n  output: 'o'\n  input: 'i'\n  shell:\n" + "".join(f"      {ln}" if ln else "\n" for ln in
                                                                      body.splitlines(True))
    out = format_text(src)
    (rule,) = parse_text(out).statements
    assert rule.sections["shell"].body.text == body  # type: ignore[attr-defined]
    assert "        for f in {input}; do\n        \tawk" in out
    assert format_text(out) == out


def test_tabs_crlf_and_a_bom():
    src = ("\ufeffrule a:\r\n\t# before the doc\r\n\t\"\"\"Doc\r\n\twith a tab.\"\"\"\r\n\toutput:\r\n\t\t'x',  # x\r\n"
           "\t\t[\r\n\t\t  'y',  # in brackets\r\n\t\t]\r\n\tshell:\r\n\t\tif true; then\r\n\t\t\techo {output}\r\n"
           "\t\tfi\r\npython:\r\n\tS = '''\r\n\t  tabbed\r\n\t'''\r\n")
    out = _check(src)
    assert out.startswith('rule a:\n    # before the doc\n    """Doc\n    with a tab."""\n    output:\n        "x",  # x\n')
    assert "    shell:\n        if true; then\n        \techo {output}\n        fi\n" in out
    assert '\npython:\n    S = """\n      tabbed\n    """\n' in out


def test_python_is_formatted_by_black_and_keeps_its_meaning():
    out = fmt("""
        X = {'a':1,'b':[1,2,3]}
        python:
            def f(x) :
              return x+1
        rule a:
            output: "o"
            python:
                with open(output[0],'w') as f: f.write(  'x' )
        rule b:
            python: print( 1 )  # one line
        rule c:
            python: print( 1 ) ; print(2)
    """)
    assert "rule b:\n    python: print(1)  # one line\n" in out
    assert "rule c:\n    python:\n        print(1)\n        print(2)\n" in out
    assert 'X = {"a": 1, "b": [1, 2, 3]}\n' in out
    assert "python:\n    def f(x):\n        return x + 1\n" in out
    assert "    python:\n        with open(output[0], \"w\") as f:\n            f.write(\"x\")\n" in out


def test_a_long_section_becomes_a_block_one_item_per_line():
    long = ", ".join(f'"input/file_number_{i}.txt"' for i in range(5))
    out = fmt(f"""
        rule a:
            input: {long}, script = "s.py"
            shell: cat {{input}}
    """)
    assert out.splitlines()[1:4] == ["    input:", '        "input/file_number_0.txt",',
                                     '        "input/file_number_1.txt",']
    assert '        script = "s.py",\n    shell:' in out


def test_a_block_stays_a_block_and_a_short_line_stays_a_line():
    out = fmt("""
        rule a:
            output:
                "a"
            input: "b", "c"
    """)
    assert out == 'rule a:\n    output:\n        "a",\n    input: "b", "c"\n'


def test_a_file_that_does_not_parse_gets_the_parsers_error():
    src = "rule a:\n    ouput: 'x'\n"
    with pytest.raises(PipefileError) as raised:
        format_text(src, "P")
    assert str(raised.value).startswith("P:2:5: error: unknown section 'ouput'")


def test_empty_and_comment_only_files():
    assert format_text("") == ""
    assert format_text("\n\n# only\n\n") == "# only\n"
