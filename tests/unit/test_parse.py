"""Stage 1: Pipefile text -> AST. Every construct, and every syntax error with its location."""

from __future__ import annotations

import textwrap

import pytest

from pyrule import syntax as S
from pyrule.errors import Location, PipefileError
from pyrule.parse import grammar_keywords, parse_file, parse_text


def parse(text: str, dedent: bool = True) -> list[S.Statement]:
    return parse_text(textwrap.dedent(text) if dedent else text, "Pipefile").statements


def error(text: str, dedent: bool = True) -> PipefileError:
    with pytest.raises(PipefileError) as info:
        parse(text, dedent)
    return info.value


def at(line: int, col: int) -> Location:
    return Location("Pipefile", line, col)


# --- top-level statements ----------------------------------------------------------------------


def test_empty_file_and_blank_or_comment_only_files():
    assert parse("") == []
    assert parse("\n\n   \n") == []
    assert parse("# only a comment") == []
    assert parse("# one\n\n# two\n") == []


def test_assignment_and_default_assignment():
    a, b = parse("""\
        SAMPLES = ["a", "b"]   # a comment
        MIN_LEN ?= 30
    """)
    assert a == S.Assignment("SAMPLES", "=", S.Code('["a", "b"]', at(1, 11)), at(1, 1))
    assert b.name == "MIN_LEN" and b.op == "?=" and b.value.text == "30" and b.value.loc == at(2, 12)


def test_assignment_spanning_lines_inside_brackets_with_comments():
    (a,) = parse("""\
        L = [
            1,   # first
            {"k": (2,
                   3)},
        ]
    """)
    assert a.value.loc == at(1, 5)
    assert a.value.text.startswith("[") and a.value.text.endswith("]")
    assert eval(a.value.text) == [1, {"k": (2, 3)}]


def test_backslash_line_continuation():
    (a,) = parse("X = 1 + \\\n    2\n", dedent=False)
    assert eval(a.value.text) == 3


def test_hash_inside_strings_is_not_a_comment():
    (a,) = parse('X = "a#b" + \'#\'  # real comment\n')
    assert eval(a.value.text) == "a#b#"


def test_imports_including_multiline_parenthesised_from_import():
    a, b, c = parse("""\
        import json
        from os.path import (join,
            basename)   # comment
        import os.path as p
    """)
    assert isinstance(a, S.Import) and a.code.text == "import json" and a.loc == at(1, 1)
    assert b.code.text == "from os.path import (join,\n    basename)"
    assert b.loc == at(2, 1)
    assert c.code.text == "import os.path as p" and c.loc == at(4, 1)


def test_python_block_with_nested_indentation_and_dedented_comment():
    block, after = parse("""\
        python:
            def f(x):
                if x:
                    return 1
        # a dedented comment inside the block
                return 2
        Y = f(1)
    """)
    assert isinstance(block, S.PythonBlock)
    assert block.loc == at(1, 1) and block.body.loc == at(2, 5)
    ns: dict = {}
    exec(block.body.text, ns)
    assert ns["f"](1) == 1 and ns["f"](0) == 2
    assert "def f(x):\n    if x:\n        return 1\n" in block.body.text
    assert after.name == "Y" and after.loc == at(7, 1)


def test_include_statement():
    (inc,) = parse('include "sub/other.pipe"   # comment\n')
    assert isinstance(inc, S.Include)
    assert inc.path.text == '"sub/other.pipe"' and inc.path.loc == at(1, 9) and inc.loc == at(1, 1)


def test_default_statement_with_bare_and_quoted_targets():
    (d,) = parse('default: summary.json all "with space.txt"  # comment\n')
    assert isinstance(d, S.Default) and d.loc == at(1, 1)
    assert [(t.text, t.quoted) for t in d.targets] == [
        ("summary.json", False), ("all", False), ("with space.txt", True)]
    assert [t.loc.col for t in d.targets] == [10, 23, 27]


# --- rules -------------------------------------------------------------------------------------

ALL_SECTIONS_ONE_LINE = '''\
rule count:
    """Count reads."""
    output: "counts/{s}.tsv", table = "t/{s}.tsv"
    input: "reads/{s}.fq"
    params: min_len = 30, tag = "x"
    resources: cores = 2, mem = "500M"
    slurm: partition = "short"
    log: "logs/{s}.log"
    check: mtime
    retries: 2
    priority: 5
    env: LANG = "C"
    shell: wc -l {input} > {output}  # stays in the shell line
'''


def test_rule_with_every_section_on_one_line():
    (rule,) = parse(ALL_SECTIONS_ONE_LINE)
    assert isinstance(rule, S.RuleDecl)
    assert rule.kind == "rule" and rule.name == "count" and rule.doc == "Count reads." and rule.loc == at(1, 1)
    assert list(rule.sections) == ["output", "input", "params", "resources", "slurm", "log", "check",
                                   "retries", "priority", "env", "shell"]
    out = rule.sections["output"]
    assert out.loc == at(3, 5) and [c.text for c in out.values] == ['"counts/{s}.tsv", table = "t/{s}.tsv"']
    assert out.values[0].loc == at(3, 13)
    assert rule.sections["check"].values[0].text == "mtime"
    shell = rule.sections["shell"]
    assert shell.body == S.Body("wc -l {input} > {output}  # stays in the shell line\n", at(13, 12))
    # (script: is a body too, as a path: a rule has shell:, python: or script:; local: is for Slurm)
    assert set(grammar_keywords()["sections"]) - {"script", "local", "cache", "container", "venv", "group"} | {"shell"} == set(rule.sections)


def test_rule_with_every_section_as_a_block():
    (rule,) = parse('''\
        rule count:
            output:
                "counts/{s}.tsv",
                table = "t/{s}.tsv"
            input:
                "reads/{s}.fq"   # comment
            params:
                min_len = 30,
                tag = "x"
            resources:
                cores = 2
            slurm:
                partition = "short"
            log:
                "logs/{s}.log"
            check:
                mtime
            retries:
                2
            priority:
                5
            env:
                LANG = "C"
            python:
                import os
                for p in input:
                    # a comment
                    print(p)
    ''')
    out = rule.sections["output"]
    assert [c.text for c in out.values] == ['"counts/{s}.tsv",', 'table = "t/{s}.tsv"']
    assert [c.loc for c in out.values] == [at(3, 9), at(4, 9)]
    assert rule.sections["params"].values[1].text == 'tag = "x"'
    body = rule.sections["python"].body
    assert body.loc == at(25, 9)
    assert body.text == "import os\nfor p in input:\n    # a comment\n    print(p)\n"
    assert set(rule.sections) == set(grammar_keywords()["sections"]) - {"script", "local", "cache", "container", "venv", "group"} | {"python"}


def test_shell_block_keeps_hashes_quotes_and_nesting():
    (rule,) = parse('''\
        rule a:
            output: "x"
            shell:   # a comment after the header
                echo "# not a comment" > {output}
                for i in 1 2; do
                    echo $i  # shell comment
                done
                awk '{print $1}' x
    ''')
    body = rule.sections["shell"].body
    assert body.loc == at(4, 9)
    assert body.text == ('echo "# not a comment" > {output}\nfor i in 1 2; do\n    echo $i  # shell comment\n'
                         "done\nawk '{print $1}' x\n")


def test_sections_in_any_order_blank_lines_and_comments_between():
    (rule,) = parse("""\
        rule a:   # trailing comment

            # a comment line
            shell: touch x

            output: "x"   # comment

    """)
    assert list(rule.sections) == ["shell", "output"]
    assert rule.doc is None


def test_checkpoint_parses():
    (cp,) = parse("""\
        checkpoint split:
            output: directory("parts")
            shell: mkdir parts
    """)
    assert cp.kind == "checkpoint" and cp.name == "split" and cp.sections["output"].values[0].text == 'directory("parts")'


def test_short_rule_with_body():
    (r,) = parse("""\
        plots/{sample}.png: counts/{sample}.tsv tools/plot.py   # comment
            python tools/plot.py {input[0]} {output}
            echo done
    """)
    assert isinstance(r, S.ShortRule) and r.loc == at(1, 1)
    assert [t.text for t in r.outputs] == ["plots/{sample}.png"]
    assert [(t.text, t.loc.col) for t in r.inputs] == [("counts/{sample}.tsv", 21), ("tools/plot.py", 41)]
    assert r.body == S.Body("python tools/plot.py {input[0]} {output}\necho done\n", at(2, 5))


def test_short_rule_variants():
    gather, noinput, several, quoted, regex = parse("""\
        all: a.txt b.txt
        x.txt:
            touch x.txt
        a.txt b.txt: c.txt
            touch a.txt b.txt
        "out file.txt": "in file.txt"
            cp "{input}" "{output}"
        out/{n,[0-9]+}.txt: in/{n}.txt
            cp {input} {output}
    """)
    assert gather.body is None and [t.text for t in gather.outputs] == ["all"]
    assert [t.text for t in gather.inputs] == ["a.txt", "b.txt"]
    assert noinput.inputs == [] and noinput.body.text == "touch x.txt\n"
    assert [t.text for t in several.outputs] == ["a.txt", "b.txt"]
    assert quoted.outputs[0].text == "out file.txt" and quoted.outputs[0].quoted
    assert regex.outputs[0].text == "out/{n,[0-9]+}.txt"


def test_crlf_line_endings():
    text = 'X = 1\r\nrule a:\r\n    output: "x"\r\n    shell:\r\n        touch x\r\n        echo hi\r\n'
    x, rule = parse(text, dedent=False)
    assert x.value.text == "1"
    assert rule.sections["output"].values[0].loc == at(3, 13)
    assert rule.sections["shell"].body.text == "touch x\necho hi\n"


def test_tabs_for_indentation():
    (rule,) = parse('rule a:\n\toutput: "x"\n\tshell:\n\t\ttouch x\n\t\tif true; then\n\t\t\techo\n\t\tfi\n', dedent=False)
    assert rule.sections["output"].loc == at(2, 2)
    assert rule.sections["shell"].body.text == "touch x\nif true; then\n\techo\nfi\n"


def test_no_trailing_newline():
    (rule,) = parse('rule a:\n    output: "x"\n    shell: touch x', dedent=False)
    assert rule.sections["shell"].body.text == "touch x\n"
    (rule,) = parse('rule a:\n    output: "x"\n    shell:\n        touch x\n# last', dedent=False)
    assert rule.sections["shell"].body.text == "touch x\n"
    (a,) = parse("X = 1", dedent=False)
    assert a.value.text == "1"


def test_parse_file_reads_utf8_and_names_the_file(tmp_path):
    p = tmp_path / "My.pipe"
    p.write_text('N = "é"\n', encoding="utf-8")
    pf = parse_file(p)
    assert pf.path == str(p) and pf.statements[0].loc == Location(str(p), 1, 1)


def test_parse_file_not_utf8(tmp_path):
    p = tmp_path / "Pipefile"
    p.write_bytes(b"X = '\xff'\n")
    with pytest.raises(PipefileError, match="not UTF-8"):
        parse_file(p)


def test_grammar_keywords():
    kw = grammar_keywords()
    assert "output" in kw["sections"] and "shell" in kw["bodies"] and "python" in kw["bodies"]
    assert {"rule", "checkpoint", "include", "default", "import", "from"} <= set(kw["statements"])


# --- errors ------------------------------------------------------------------------------------


def test_unknown_section_suggests_the_nearest():
    e = error('rule a:\n    ouptut: "x"\n    shell: touch x\n')
    assert e.message == "unknown section 'ouptut'" and e.loc == at(2, 5) and e.hint == "did you mean 'output'?"
    e = error('rule a:\n    output: "x"\n    shell:\n        touch x\n    inptu: "y"\n')
    assert e.message == "unknown section 'inptu'" and e.loc == at(5, 5) and "'input'" in e.hint


def test_unknown_section_without_close_match_lists_sections():
    e = error('rule a:\n    zzzzz: 1\n')
    assert e.message == "unknown section 'zzzzz'" and e.loc == at(2, 5)
    assert e.hint.startswith("sections are: output, input")


def test_duplicate_section():
    e = error('rule a:\n    output: "x"\n    shell: touch x\n    output: "y"\n')
    assert e.message == "section 'output:' appears twice in rule 'a'" and e.loc == at(4, 5)
    assert "line 2" in e.hint


def test_rule_without_indented_block():
    e = error('rule a:\noutput: "x"\n')
    assert e.message == "expected an indented block after 'rule a:' (line 1)" and e.loc == at(2, 1)
    e = error("rule a:\n")
    assert "expected an indented block after 'rule a:'" in e.message
    e = error("python:\nX = 1\n")
    assert e.message == "expected an indented block after 'python:' (line 1)" and e.loc == at(2, 1)


def test_inconsistent_indentation():
    e = error('rule a:\n    output: "x"\n  shell: touch x\n')
    assert e.message.startswith("inconsistent indentation") and e.loc == at(3, 3)
    e = error('rule a:\n    output: "x"\n    shell:\n        a\n          b\n         c\n')
    assert e.message.startswith("inconsistent indentation") and e.loc == at(6, 10)


def test_unexpected_indentation():
    e = error('rule a:\n    output: "x"\n        shell: touch x\n')
    assert e.loc.line == 3 and "indent" in e.message


def test_syntax_errors_name_what_was_expected():
    e = error("rule:\n    output: 'x'\n")
    assert e.message.startswith("unexpected ':'") and e.loc == at(1, 5)
    e = error("X =\n")
    assert e.message.startswith("unexpected end of line") and e.loc == at(1, 4)
    e = error("foo bar baz\n")
    assert e.message.startswith("unexpected end of line; expected ':'") and e.loc == at(1, 12)


def test_unclosed_bracket_at_end_of_file():
    e = error("X = [1,\n")
    assert e.message == "'[' is never closed" and e.loc == at(1, 5)


def test_python_syntax_error_in_expression_is_mapped_to_the_pipefile():
    e = error("Y = 1\nX = (1 +\n  )\n")
    assert e.message == "invalid Python: invalid syntax" and e.loc == at(3, 3)
    e = error("rule a:\n    params: x = = 1\n")
    assert e.message == "invalid Python: invalid syntax" and e.loc == at(2, 17)


def test_python_syntax_error_in_python_block():
    e = error("X = 1\npython:\n    def f(:\n        pass\n")
    assert e.message == "invalid Python: invalid syntax" and e.loc == at(3, 11)


def test_python_syntax_error_on_a_later_line_of_a_rule_body():
    e = error('rule a:\n    output: "x"\n    python:\n        x = 1\n        y = (\n')
    assert e.message == "invalid Python: '(' was never closed" and e.loc == at(5, 13)


def test_python_syntax_error_in_import():
    e = error("X = 1\nfrom x import\n")
    assert e.message == "invalid Python: invalid syntax" and e.loc == at(2, 14)
    e = error("import\n")
    assert e.message.startswith("unexpected end of line") and e.loc == at(1, 7)


def test_body_section_without_body():
    e = error('rule a:\n    output: "x"\n    shell:\n')
    assert e.message == "expected an indented block after 'shell:' (line 3)" and e.loc.line == 4


def test_multiline_docstring_is_cleaned_like_pythons():
    (rule,) = parse('''\
        rule a:
            """Line one.

            More detail.
            """
            output: "x"
            shell: touch x
    ''')
    assert rule.doc == "Line one.\n\nMore detail."
    assert rule.sections["output"].loc == at(6, 5)


def test_docstring_after_a_section_is_an_error():
    e = error('rule a:\n    output: "x"\n    """doc"""\n    shell: x\n')
    assert e.message.startswith("unexpected '\"\"\"doc\"\"\"'") and e.loc == at(3, 5)


def test_values_blocks_with_blank_and_comment_lines_and_open_brackets():
    (rule,) = parse('''\
        rule a:
            input:
                "a",

                # a comment
                expand("{s}",
          s=[1,
             2])
            output: "x"
    ''')
    assert [c.text for c in rule.sections["input"].values] == ['"a",', 'expand("{s}",\n  s=[1,\n     2])']
    assert [c.loc for c in rule.sections["input"].values] == [at(3, 9), at(6, 9)]


def test_byte_order_mark_is_ignored():
    (rule,) = parse('\ufeffrule a:\r\n    output: "x"\r\n    shell: touch x\r\n', dedent=False)
    assert rule.name == "a" and rule.loc == at(1, 1)


@pytest.mark.parametrize("header", ["rul count:", "Rule count:", "count:"])
def test_misspelt_rule_keyword_is_not_taken_for_a_short_rule(header):
    e = error(f'X = 1\n{header}\n    output: "x"\n    shell: touch x\n')
    assert e.message == f"'{header[:-1]}:' is read as a Make-style rule whose shell body starts with 'output:'"
    assert e.loc == at(2, 1) and e.hint.endswith("a rule is written 'rule NAME:'")
    if header != "count:":
        assert e.hint.startswith("did you mean 'rule'?")


def test_indented_first_statement():
    e = error("# comment\n\n  X = 1\nY = 2\n", dedent=False)
    assert e.message == "unexpected indentation" and e.loc == at(3, 3)
    e = error("  X = 1\n  Y = 2\n", dedent=False)
    assert e.message == "unexpected indentation" and e.loc == at(1, 3)
    assert parse("   # an indented comment\nX = 1\n", dedent=False)[0].name == "X"


def test_a_make_line_continuation_in_the_short_form_is_a_located_error():
    # Make joins `a.txt \` with the next line; here the next line would be the shell body.
    e = error("out.txt: a.txt \\\n    b.txt\n\tcat a.txt b.txt > out.txt\n", dedent=False)
    assert e.loc == at(1, 16)
    assert "line continuation" in e.message and "one line" in (e.hint or "")
