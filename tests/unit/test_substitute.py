"""In-process unit tests of pyrule/substitute.py: the quoting context the scanner gives each field,
what each context writes (exact text, and what a real bash then receives), the reference checks
and their messages, and the top-level values that go into job signatures. (tests/e2e/test_substitution.py
checks the same through `python -m pyrule`; mutation testing only sees calls made in this process.)"""

from __future__ import annotations

import subprocess

import pytest
import xxhash

from pyrule.errors import Location, PipefileError
from pyrule.graph import Job
from pyrule.paths import Namespace, Paths
from pyrule.rules import Rule
from pyrule.substitute import (
    ANSI,
    COMMENT,
    CONTEXT_NAMES,
    DOUBLE,
    HEREDOC,
    HEREDOC_QUOTED,
    SINGLE,
    UNQUOTED,
    UNSURE,
    Template,
    context,
    substitute,
    template,
    top_level_fields,
)

U, D, S, A, H, HQ, C = UNQUOTED, DOUBLE, SINGLE, ANSI, HEREDOC, HEREDOC_QUOTED, COMMENT


def quotings(body: str) -> list[str]:
    return [f.quoting for f in Template(body).fields]


def render(body: str, value, root: str = "input", wildcards=None, namespace=None) -> str:
    """The body with `root` (a path namespace unless it is a wildcard) set to value."""
    values = value if isinstance(value, list) else [value]
    ctx = {} if wildcards is not None else {root: Paths(values)}
    return Template(body).render(ctx, wildcards or {}, namespace or {})


def bash(script: str, cwd) -> str:
    """What the script prints when run as pyrule runs a shell body."""
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, (script, p.stderr)
    return p.stdout


def error(body: str, value, root: str = "input", wildcards=None) -> PipefileError:
    with pytest.raises(PipefileError) as e:
        render(body, value, root, wildcards)
    return e.value


# --- the quoting context of each field -------------------------------------------------------------

@pytest.mark.parametrize(("body", "want"), [
    ("{input}", [U]),
    ("'{input}' {input}", [S, U]),
    ("'a''{input}'", [S]),
    ('"{input}" {input}', [D, U]),
    ('"\\"{input}"', [D]),  # an escaped quote does not close
    ('"a\\\\"{input}', [U]),  # an escaped backslash does not escape the quote after it
    ("$'{input}' {input}", [A, U]),
    ("$'\\'{input}' {input}", [A, U]),  # \' does not close $'...'
    ("$''{input}", [U]),  # an empty $'' closes at once
    ("echo $x'{input}'", [S]),  # `$` followed by no quote: no $'...'
    ("'$'{input}", [U]),
    ('"$(echo {input})" "{input}"', [U, D]),
    ('"$( (echo a) ; echo {input})" {input}', [U, U]),  # a subshell's `)` does not close $(
    ('"$( ( (echo a) ) ; echo {input})" "{input}"', [U, D]),
    ('"$( ((1)) ; echo {input} )" "{input}"', [U, D]),  # `((` opens with its own two parentheses
    ('"$(echo $((1)) {input})" "{input}"', [U, D]),
    ('"$(echo $(( (1) )) {input})" "{input}"', [U, D]),
    ('(( {input} ))', [U]),
    ('(("{input}"))', [D]),  # `((` uses up two characters, not three
    ('(( 1 )) && echo "{input}"', [D]),
    ('"$(case $x in a) echo {input};; esac)" "{input}"', [U, D]),
    ('"$(case $x in (a) echo {input};; esac)" "{input}"', [U, D]),
    ('"$(case $x in a) :;; esac;)" "{input}"', [D]),
    ('"$(case $x in a) :;;\nesac\n)" "{input}"', [D]),
    ('"$(case\t$x in a) :;; esac\t)" "{input}"', [D]),
    ('"$(case\tx in a) echo {input};; esac)" "{input}"', [U, D]),
    ('"$(case $x in a) :;; esac{input})" "{input}"', [U, D]),  # `esac` ends where the field starts
    ('"$(case $x in a) :;; esac)" "{input}"', [D]),
    ('"$(echo esac) {input}"', [D]),  # `esac` with no `case` open
    ('"$(echo casex) {input}"', [D]),  # not the word `case`
    ('"$(echo acase) {input}"', [D]),  # nor inside a word
    ('"$(echo $(case $x in a) :;; esac) {input})" "{input}"', [U, D]),
    ("echo a#{input}", [U]),
    ("echo X#{input}", [U]),
    ("#{input}", [C]),
    ("echo a #{input}", [C]),
    ("echo a;#{input}", [C]),
    ("echo a&#{input}", [C]),
    ("echo a|#{input}", [C]),
    ("echo a\t#{input}", [C]),
    ("(#{input}\n)", [C]),
    ("echo a >#{input}", [C]),
    ("echo a <#{input}", [C]),
    ("echo \\ #{input}", [U]),  # an escaped blank is part of a word
    ("echo {input}#{input}", [U, U]),  # a value is part of a word
    ("echo $# {input}", [U]),
    ("x=1 # {input}\n{input}", [C, U]),
    ("x=1 # '\n{input}", [U]),  # a quote in a comment opens nothing
    ("cat <<EOF # c\n{input}\nEOF\n{input}", [H, U]),  # the comment's newline starts the here-document
    ("cat <<EOF\n{input}\nEOF\n#{input}", [H, C]),
    ("cat <<EOF\n{input}\nEOF", [H]),
    ("cat <<EOF\n$(echo {input})\n`echo {input}`\n\\{input}\nEOF", [U, U, H]),
    ("cat <<'EOF'\n$(echo {input}\n`echo {input}\n\\{input}\nEOF", [HQ, HQ, HQ]),
    ('cat <<"EOF"\n{input}\nEOF', [HQ]),
    ("cat <<\\EOF\n{input}\nEOF\n{input}", [HQ, U]),
    ('cat <<E"O"F\n{input}\nEOF\n{input}', [HQ, U]),
    ("cat <<'E O'\n{input}\nE O\n{input}", [HQ, U]),
    ("cat << XEOF\n{input}\nXEOF\n{input}", [H, U]),
    ("cat <<\tXEOF\n{input}\nXEOF\n{input}", [H, U]),
    ("cat <<-XEOF\n\t{input}\n\t\tXEOF\n{input}", [H, U]),
    ("cat <<XEOF\n\t{input}\n\tXEOF\nXEOF\n{input}", [H, U]),  # without `-` a tab is part of the line
    ("cat <<EOF\n{input}EOF\nEOF\n{input}", [H, U]),  # a line that holds a value is no end
    ("cat <<EOF\nx\n{input}\nEOF", [H]),
    ("cat <<EOF\nx EOF\n{input}\nEOF", [H]),  # only a whole line ends it
    ("cat <<XEOF\n\tXEOF\n{input}\nXEOF", [H]),
    ("cat <<-EOF\n  EOF\n{input}\nEOF", [H]),  # `<<-` strips tabs only
    ("cat <<E\\\"\nx\nE\"\n{input}", [U]),  # the end line is used up, its quote opens nothing
    ("cat <<EOF\nEOF\n{input}", [U]),
    ("cat <<EOF\n\nEOF\n{input}", [U]),
    ("cat <<A <<'B'\n{input}\nA\n{input}\nB\n{input}", [H, HQ, U]),
    ("cat <<A <<B\na\nA\nB\n{input}", [U]),  # an empty second here-document
    ("cat <<A; cat <<B\na\nA\nb\nB\n{input}", [U]),
    ('cat <<EOF >"{input}"\n{input}\nEOF', [D, H]),
    ('"$(cat <<EOF\n{input}\nEOF\n)" "{input}"', [H, D]),
    ("cat << {input}", [U]),  # `<<` with no word yet
    ("cat <<< {input}", [U]),
    ("cat <<<EOF\n{input}", [U]),  # a here-string announces no here-document
    ("cat <<<-x\n{input}", [U]),
    ("cat <<<'{input}'", [S]),
    ('cat <<<"{input}"', [D]),
    ('echo $((1<<2))\necho "{input}"', [D]),
    ('(( x <<= 1 ))\necho "{input}"', [D]),
    ("echo `echo {input}` {input}", [U, U]),
    ("echo `echo '{input}'`", [S]),
])
def test_the_quoting_context_of_each_field(body, want):
    assert quotings(body) == want


@pytest.mark.parametrize(("body", "where"), [
    ('echo "{input}"', "double quotes"),
    ("echo '\"' {input}", "unquoted"),
    ('echo \\"{input}', "unquoted"),
    ('echo "a\\"{input}"', "double quotes"),
    ("echo $'\\'' {input}", "unquoted"),
    ('echo "$(echo "{input}")"', "double quotes"),
    ('"$(case $x in a) echo "{input}";; esac)"', "double quotes"),
    ('echo $((1<<2))\necho "{input}"', "double quotes"),
    ('(( x <<= 1 ))\necho "{input}"', "double quotes"),
    ('cat <<< "{input}"', "double quotes"),
    ('cat <<EOF\n"{input}"\nEOF', "a here-document"),
    ('cat <<EOF\nEOF\necho "{input}"', "double quotes"),
    ('cat <<-"E"\n\t{input}\n\tE', "a quoted here-document"),
    ("cat <<A <<'B'\n{input}\nA\n{input}\nB\n{input}", "a here-document,a quoted here-document,unquoted"),
    ("x=1 # {input}\n{input}", "a comment,unquoted"),
    ("echo $# {input}", "unquoted"),
])
def test_the_quoting_context_of_a_field(body, where):
    assert ",".join(f.quoting for f in template(body).fields) == where


def test_dollar_brace_is_the_shells_own():
    assert template("echo ${input} ${X} \\${input}").fields[0].start == len("echo ${input} ${X} \\$")


@pytest.mark.parametrize(("body", "want"), [
    ("echo `echo {input}`", (False,)),
    ('echo "`echo {input}`"', (True,)),
    ('echo "`echo "{input}"`"', (True,)),
    ("echo `echo $(echo {input})`", (False,)),
    ('echo "$(echo `echo {input}`)"', (False,)),  # the backticks' own enclosing frame is $(...)
    ('echo "`echo $(echo `echo {input}`)`"', (False, True)),  # innermost first
    ("echo {input}", ()),
    ("echo `echo a` {input}", ()),
])
def test_the_backticks_around_a_field(body, want):
    assert Template(body).fields[0].backticks == want


@pytest.mark.parametrize(("body", "want"), [
    ("echo \\{input}", True),
    ('echo "\\{input}"', True),
    ("cat <<EOF\n\\{input}\nEOF", True),
    ("echo `echo \\{input}`", True),
    ("echo '\\{input}'", False),  # a backslash is no escape inside '...'
    ("cat <<'EOF'\n\\{input}\nEOF", False),
    ("# \\{input}", False),
    ("echo \\\\{input}", False),
    ("echo \\a{input}", False),
])
def test_a_field_right_after_an_escaping_backslash(body, want):
    assert Template(body).fields[0].escaped is want


@pytest.mark.parametrize("body", [
    'echo "{input}',
    "echo '{input}",
    "echo $'{input}",
    "echo $(echo {input}",
    "echo `echo {input}",
    "echo `echo {input}` `",
    "cat <<EOF\n{input}",
    "cat <<EOF\n{input}\n EOF",
    "cat <<EOF \\",  # the here-document is announced, its line never ends
    "cat <<EOF \\\n{input}",
    "(( 1 ) + {input}",
    '"$(case x in x) {input}"',
    "let x=1<<2\necho {input} > {output}",
])
def test_quotes_that_do_not_balance_make_every_field_unsure(body):
    t = Template(body + " {input}")
    assert [f.quoting for f in t.fields] == [UNSURE] * len(t.fields)
    assert all(f.backticks == () for f in t.fields)


def test_a_last_line_without_newline_still_ends_a_here_document():
    assert quotings("cat <<EOF\n{input}\nEOF") == [H]
    assert quotings("cat <<EOF\n{input}\nEOF\n") == [H]
    assert quotings("echo {input}\n") == [U]
    # and a last newline is not read twice: here an empty line would end a here-document `<<''`
    assert quotings("cat <<''\n{input}\n") == [UNSURE]


def test_fields_and_their_parts():
    t = Template("a {{x}} ${HOME}${X}{input[0]} {params.a.b} {CFG[-1][2]} }}")
    assert [f.text for f in t.fields] == ["{input[0]}", "{params.a.b}", "{CFG[-1][2]}"]
    assert [f.root for f in t.fields] == ["input", "params", "CFG"]
    assert [f.steps for f in t.fields] == [((False, 0),), ((True, "a"), (True, "b")), ((False, -1), (False, 2))]
    assert [f.start for f in t.fields] == [len("a {{x}} ${HOME}${X}"), len("a {{x}} ${HOME}${X}{input[0]} "),
                                          len("a {{x}} ${HOME}${X}{input[0]} {params.a.b} ")]
    assert [f.escaped for f in t.fields] == [False] * 3
    assert t.parts[0] == "a {x} ${HOME}${X}" and t.parts[2] == " " and t.parts[4] == " " and t.parts[6] == " }"
    assert t.parts[1] is t.fields[0] and t.parts[3] is t.fields[1] and t.parts[5] is t.fields[2]
    assert len(t.parts) == 7 and t.text == "a {{x}} ${HOME}${X}{input[0]} {params.a.b} {CFG[-1][2]} }}"
    assert Template("plain").parts == ["plain"] and Template("").parts == [""]


@pytest.mark.parametrize(("body", "want"), [
    ("echo ${input} ${X}{input}", "echo ${input} ${X}P"),
    ("echo \\${input}", "echo \\$P"),
    ("echo '${input}'", "echo '${input}'".replace("{input}", "P")),
    ("echo \"${input}\" $'${input}'", "echo \"${input}\" $'$P'"),
    ("echo {{input}} {{{input}}} }}", "echo {input} {P} }"),
    ("echo {input.}", "echo {input.}"),
    ("cat <<'EOF'\n${input}\nEOF", "cat <<'EOF'\n$P\nEOF"),
    ("cat <<EOF\n${input}\nEOF", "cat <<EOF\n${input}\nEOF"),
    ("x=$( echo ${input} )", "x=$( echo ${input} )"),
])
def test_dollar_brace_is_the_shells_own_where_dollar_is_special(body, want):
    assert render(body, "P") == want


def test_checked_fields_are_those_a_value_may_not_fit():
    t = Template("echo {input} \"{input}\" '{input}' $'{input}' \\{params} # {input}\n"
                 "cat <<A <<'B'\n{input}\nA\n{input}\nB")
    assert [f.quoting for f in t.checked] == [S, U, H, HQ]
    assert t.checked[1].escaped
    assert [f.quoting for f in Template("echo '{input}").checked] == [UNSURE]


# --- what each context writes, exactly ---------------------------------------------------------------

@pytest.mark.parametrize(("body", "value", "want"), [
    ("{input}", "a b", "'a b'"),
    ("{input}", "plain/a.txt", "plain/a.txt"),
    ("{input}", "-n", "./-n"),
    ("{input}", "a-", "a-"),
    ("{input}", ["a b", "-c", "d"], "'a b' ./-c d"),
    ('"{input}"', 'a\\b"c$d`e f', '"a\\\\b\\"c\\$d\\`e f"'),
    ('"{input}"', ["a", "b c"], '"a b c"'),
    ("'{input}'", 'a\\b"c$d`e', '\'a\\b"c$d`e\''),
    ("$'{input}'", "a\\b'c$d", "$'a\\\\b\\'c$d'"),
    ("# {input}", "a b\nc", "# 'a b c'"),
    ("cat <<EOF\n{input}\nEOF", "a\\b$c`d'e\"", "cat <<EOF\na\\\\b\\$c\\`d'e\"\nEOF"),
    ("cat <<'EOF'\n{input}\nEOF", "a\\b$c`d'e\"", "cat <<'EOF'\na\\b$c`d'e\"\nEOF"),
    ("`{input}`", 'a b$c"d\\', "`'a b\\$c\"d\\\\'`"),
    ('"`{input}`"', 'a b$c"d\\`', '"`\'a b\\$c\\"d\\\\\\`\'`"'),
    ('"`"{input}"`"', 'a$"', '"`"a\\\\\\$\\\\\\""`"'),
    ("`echo \"`{input}", "x", None),  # unbalanced: a plain value goes in as it is
    ("echo '{input}", "a/b.c-d_e+f,g=h:i@j%k^l", "echo 'a/b.c-d_e+f,g=h:i@j%k^l"),
])
def test_what_a_path_becomes_in_each_context(body, value, want):
    out = render(body, value)
    assert out == (want if want is not None else body.replace("{input}", value))


@pytest.mark.parametrize("body", ["{sample}", "{wildcards.sample}"])
def test_a_wildcard_value_is_quoted_but_is_no_path(body):
    ctx = {"wildcards": Namespace(sample="-n x")}
    assert Template(body).render(ctx, {"sample": "-n x"}, {}) == "'-n x'"


def test_names_are_looked_up_in_context_then_wildcards_then_top_level():
    t = Template("{input} {sample} {X} {f} {_X} {nothing} {rule} {jobname} {params.p} {resources.r} {log}")
    ctx = {"input": Paths(["i n"]), "rule": "r x", "jobname": "j x", "params": Namespace(p=["a b", 2]),
           "resources": Namespace(r=("c", "d")), "log": Paths(["l g"])}
    ns = {"X": ["x y", ("z",)], "f": len, "_X": "hidden", "sample": "top", "input": "top"}
    assert t.render(ctx, {"sample": "s s", "X": "wild"}, ns) == \
        "'i n' 's s' wild {f} {_X} {nothing} r x 'j x' a b 2 c d 'l g'"
    assert t.render(ctx, {}, ns) == "'i n' top x y z {f} {_X} {nothing} r x 'j x' a b 2 c d 'l g'"
    assert substitute("{X}", {}, {}, {"X": ("a", ["b", "c"])}) == "a b c"
    assert substitute("{X[1]}", {}, {}, {"X": ("a", "b c")}) == "b c"


def test_a_tuple_of_paths_is_quoted_item_by_item():
    assert Template("{output}").render({"output": ("a b", "-c")}, {}, {}) == "'a b' ./-c"


# --- what a real bash receives ------------------------------------------------------------------------

HOSTILE = ["plain.txt", "a b.txt", "$(touch PWNED)", "`touch PWNED`", 'q"uote', "back\\slash", "$HOME", "*",
           "tab\there", "-n", "semi;colon&", "!bang", "{brace}", "~user", "a\\$b\\`c", "#hash", "'", "it's",
           "new\nline"]
RECEIVES = [
    "printf '%s\\n' {input}",
    "printf '%s\\n' \"{input}\"",
    "printf '%s\\n' '{input}'",
    "printf '%s\\n' $'{input}'",
    "printf '%s\\n' \"$(printf '%s' {input})\"",
    "printf '%s\\n' \"$(printf '%s' \"{input}\")\"",
    "x=$(printf '%s' '{input}'); printf '%s\\n' \"$x\"",
    "printf '%s\\n' \"`printf '%s' {input}`\"",
    "printf '%s\\n' \"`printf '%s' \"{input}\"`\"",
    "printf '%s\\n' \"`printf '%s' '{input}'`\"",
    "x=`printf '%s' {input}`; printf '%s\\n' \"$x\"",
    "x=`printf '%s' \"{input}\"`; printf '%s\\n' \"$x\"",
    "x=`printf '%s' $'{input}'`; printf '%s\\n' \"$x\"",
    "x=\"$(printf '%s' \"`printf '%s' \"{input}\"`\")\"; printf '%s\\n' \"$x\"",
    "case {input} in *) printf '%s\\n' {input};; esac",
    "cat <<< {input}",
    "cat <<EOF\n{input}\nEOF",
    "cat <<'EOF'\n{input}\nEOF",
    "cat <<-EOF\n\t{input}\n\tEOF",
    "cat <<EOF\n$(printf '%s' {input})\nEOF",
]


@pytest.mark.parametrize("body", RECEIVES)
def test_what_bash_receives_is_the_value(body, tmp_path):
    """Every value either reaches the command unchanged (a path starting with `-` as `./-...`) or
    is an error at substitution; none runs as code."""
    t = Template(body)
    scripts, want = [], []
    for value in HOSTILE:
        try:
            scripts.append(t.render({"input": Paths([value])}, {}, {}))
        except PipefileError as e:
            # only where the value cannot be written: a quote in '...', a line break in a here-document
            assert ("'" in value and "single quotes" in e.message) or ("\n" in value and "line break" in e.message)
            continue
        want.append(("./-n" if value == "-n" else value) + "\n")
    assert len(want) >= len(HOSTILE) - 3
    # one bash for all values (mutation testing runs this test per mutant): a line `===` after each
    out = bash("".join(f"{script}\necho ===\n" for script in scripts), tmp_path)
    assert out.split("===\n") == [*want, ""], scripts
    assert not (tmp_path / "PWNED").exists()


def test_a_list_of_paths_is_separate_words_unquoted_and_one_word_in_double_quotes(tmp_path):
    script = Template("printf '[%s]\\n' {input} \"{input}\" {input[1]}").render(
        {"input": Paths(["a b", "-c", "$(touch PWNED)"])}, {}, {})
    assert bash(script, tmp_path) == "[a b]\n[./-c]\n[$(touch PWNED)]\n[a b ./-c $(touch PWNED)]\n[./-c]\n"
    assert not (tmp_path / "PWNED").exists()


def test_a_value_in_a_comment_stays_in_the_comment(tmp_path):
    script = Template("printf '%s\\n' ok # {input} {input}").render({"input": Paths(["x\ntouch PWNED #"])}, {}, {})
    assert bash(script, tmp_path) == "ok\n"
    assert not (tmp_path / "PWNED").exists()


def test_plain_values_in_an_unsure_body_run_as_written(tmp_path):
    script = Template("printf '%s\\n' {input} # don't").render({"input": Paths(["a/b-c.txt", "d=e"])}, {}, {})
    assert script == "printf '%s\\n' a/b-c.txt d=e # don't"
    assert bash(script + "'", tmp_path) == "a/b-c.txt\nd=e\n"


# --- values that cannot be written -------------------------------------------------------------------

def test_a_quote_inside_single_quotes_is_an_error():
    e = error("cat '{input}'", "it's")
    assert e.message == "{input} is inside single quotes, where the input \"it's\" cannot be written"
    assert e.hint == "remove the quotes around {input}: pyrule quotes paths itself"
    e = error("cat '{sample}'", "it's", "sample", {"sample": "it's"})
    assert e.message == "{sample} is inside single quotes, where the wildcard value \"it's\" cannot be written"
    e = error("cat '{jobname}'", "it's", "jobname")
    assert "the job name \"it's\"" in e.message
    e = error("cat '{log}'", "it's", "log")
    assert "the log \"it's\"" in e.message
    e = error("cat '{output}'", "it's", "output")
    assert "the output \"it's\"" in e.message
    assert render("cat '{input}'", "it s") == "cat 'it s'"


def test_a_line_break_in_a_here_document_is_an_error():
    for body, where in [("cat <<EOF\n{input}\nEOF", HEREDOC), ("cat <<'EOF'\n{input}\nEOF", HEREDOC_QUOTED)]:
        e = error(body, "a\nEOF")
        assert e.message == f"{{input}} is inside {where}, where the input 'a\\nEOF' cannot be written (a line break)"
        assert e.hint == "pass {input} to the command as an argument instead"


def test_an_unsure_body_takes_only_plain_values():
    e = error("echo {input} '", "a b")
    assert e.message == ("{input}: the input 'a b' cannot be quoted safely: pyrule cannot tell which quotes "
                         "{input} is in (quotes that do not balance)")
    assert e.hint == "check the body's quotes, $(...) and here-documents"
    for value in ["a$b", "a\nb", "a'b", "a`b", "a;b", "a*b", "~a", "a b"]:
        error("echo {input} '", value)
    assert render("echo {input} '", "-x") == "echo ./-x '"


def test_a_field_after_an_escaping_backslash_is_an_error_for_quoted_values():
    e = error("cat \\{input}", "a")
    assert e.message == "{input} follows a backslash, which would escape the first character of its value"
    assert e.hint == "remove the backslash: pyrule quotes input itself"
    e = error('cat "\\{sample}"', "a", "sample", {"sample": "a"})
    assert e.hint == "remove the backslash: pyrule quotes sample itself"
    # a param is the author's own text: the backslash is theirs too
    assert substitute("cat \\{params.p}", {"params": Namespace(p="x")}, {}, {}) == "cat \\x"
    assert substitute("cat \\{X}", {}, {}, {"X": "y"}) == "cat \\y"


# --- references that do not resolve ------------------------------------------------------------------

def unresolved(body: str, ctx=None, wildcards=None, namespace=None) -> PipefileError:
    with pytest.raises(PipefileError) as e:
        Template(body).render(ctx or {}, wildcards or {}, namespace or {})
    return e.value


@pytest.mark.parametrize(("body", "value", "message", "hint"), [
    ("{X[0]}", {"a": 1, "b": 2}, "{X[0]} does not resolve: X has names, not positions", "write {X.NAME} (a, b)"),
    ("{X[0]}", {}, "{X[0]} does not resolve: X has names, not positions", "write {X.NAME}"),
    ("{X[0]}", dict.fromkeys("abcdefghijkl"), "{X[0]} does not resolve: X has names, not positions",
     "write {X.NAME} (a, b, c, d, e, f, g, h, i, j)"),
    ("{X[1]}", 5, "{X[1]} does not resolve: X is a int, not a list", None),
    ("{X[1]}", ["a"], "{X[1]} does not resolve: X has 1 item", "indexes run from 0 to 0 (or -1 to -1)"),
    ("{X[-4]}", ["a", "b", "c"], "{X[-4]} does not resolve: X has 3 items", "indexes run from 0 to 2 (or -3 to -1)"),
    ("{X[0]}", [], "{X[0]} does not resolve: X has 0 items", "X is empty"),
    ("{X[0][1]}", [["a"]], "{X[0][1]} does not resolve: X[0] has 1 item", "indexes run from 0 to 0 (or -1 to -1)"),
    ("{X.a.b}", Namespace(a=Namespace(c=1)), "{X.a.b} does not resolve: X.a has no 'b'", "there is {X.a.c}"),
    ("{X.thraeds}", {"threads": 1}, "{X.thraeds} does not resolve: X has no 'thraeds'", "did you mean '{X.threads}'?"),
    ("{X.threads}", {"threads": 1}, "{X.threads} does not resolve: X is a dict, whose keys are not attributes",
     "pass it through params: (e.g. threads = X['threads']) and write {params.threads}"),
    ("{X.zz}", {"a": 1, "b": 2}, "{X.zz} does not resolve: X has no 'zz'", "there is {X.a}, {X.b}"),
    ("{X.zz}", dict.fromkeys("abcdefghijk"), "{X.zz} does not resolve: X has no 'zz'",
     "there is " + ", ".join("{X." + c + "}" for c in "abcdefghij") + ", ..."),
    ("{X.zz}", dict.fromkeys("abcdefghij"), "{X.zz} does not resolve: X has no 'zz'",
     "there is " + ", ".join("{X." + c + "}" for c in "abcdefghij")),
    ("{X.zz}", {}, "{X.zz} does not resolve: X has no 'zz'", None),
    ("{X.uper}", "s", "{X.uper} does not resolve: X has no 'uper'", "did you mean '{X.upper}'?"),
    ("{X.zzzz}", "s", "{X.zzzz} does not resolve: X has no 'zzzz'", None),
    ("{X.a.uper}", Namespace(a="s"), "{X.a.uper} does not resolve: X.a has no 'uper'",
     "did you mean '{X.a.upper}'?"),
])
def test_a_top_level_reference_that_does_not_resolve(body, value, message, hint):
    e = unresolved(body, namespace={"X": value})
    assert (e.message, e.hint) == (message, hint)


@pytest.mark.parametrize(("body", "ctx", "message", "hint"), [
    ("{input.x}", {"input": Paths(["a"])}, "{input.x} does not resolve: input has no named items",
     "use {input[0]}, or name the items in the rule's input: section (x = \"...\")"),
    ("{log.x}", {"log": Paths(["a"])}, "{log.x} does not resolve: log has no named items",
     "a rule has one log: write {log}"),
    ("{input.scr}", {"input": Paths(["a"], {"src": "a"})}, "{input.scr} does not resolve: input has no 'scr'",
     "did you mean '{input.src}'?"),
    ("{input.zz}", {"input": Paths(["a", "b"], {"a": "a", "b": "b"})}, "{input.zz} does not resolve: input has no 'zz'",
     "there is {input.a}, {input.b}"),
    ("{input.reads.x}", {"input": Paths(["a"], {"reads": Paths(["a"])})},
     "{input.reads.x} does not resolve: input.reads has no named items",
     "use {input.reads[0]}, or name the items in the rule's input.reads: section (x = \"...\")"),
    ("{params.mn}", {"params": Namespace(min=1)}, "{params.mn} does not resolve: params has no 'mn'",
     "did you mean '{params.min}'?"),
    ("{wildcards.x}", {"wildcards": Namespace()}, "{wildcards.x} does not resolve: wildcards has no 'x'", None),
    ("{output[2]}", {"output": Paths(["a", "b"])}, "{output[2]} does not resolve: output has 2 items",
     "indexes run from 0 to 1 (or -2 to -1)"),
    ("{params.p.bit_lenght}", {"params": Namespace(p=1)},
     "{params.p.bit_lenght} does not resolve: params.p has no 'bit_lenght'", "did you mean '{params.p.bit_length}'?"),
])
def test_a_context_reference_that_does_not_resolve(body, ctx, message, hint):
    e = unresolved(body, ctx)
    assert (e.message, e.hint) == (message, hint)


def test_a_wildcard_reference_that_does_not_resolve():
    e = unresolved("{sample.uper}", wildcards={"sample": "a"})
    assert (e.message, e.hint) == ("{sample.uper} does not resolve: sample has no 'uper'", "did you mean '{sample.upper}'?")
    assert substitute("{sample.upper()}", {}, {"sample": "a"}, {}) == "{sample.upper()}"
    assert substitute("{sample[0]}", {}, {"sample": "-ab"}, {}) == "-"


def test_the_did_you_mean_replaces_only_the_step_that_failed():
    e = unresolved("{X.ab.ab}", namespace={"X": Namespace(ab=Namespace(abc=1))})
    assert e.hint == "did you mean '{X.ab.abc}'?"
    e = unresolved("{X.ab.X.ab.X.ab}", namespace={"X": Namespace(abc=1)})
    assert e.hint == "did you mean '{X.abc.X.ab.X.ab}'?"


def test_no_private_name_is_suggested():
    e = unresolved("{X.__lenn__}", namespace={"X": "s"})
    assert (e.message, e.hint) == ("{X.__lenn__} does not resolve: X has no '__lenn__'", None)


def test_check_passes_wildcards_and_top_level_names_on():
    t = Template("{sample} {X} '{sample}'")
    t.check(t.fields, {}, {"sample": "a"}, {"X": 1}, "r", None)
    with pytest.raises(PipefileError, match="wildcard value \"it's\""):
        t.check(t.fields, {}, {"sample": "it's"}, {"X": 1}, "r", None)


def test_check_rule_knows_whether_the_rule_has_a_log():
    assert Template("{log[0]}").check_rule(make_rule("", log="l.log"), [], {}) == []
    with pytest.raises(PipefileError, match="log has 0 items"):
        Template("{log[0]}").check_rule(make_rule(""), [], {})


def test_the_location_of_a_field_after_a_first_empty_line():
    t = Template("\n{X}")
    assert t.location(t.fields[0], Location("F", 10, 5)) == Location("F", 11, 5)


# --- checks at planning --------------------------------------------------------------------------------

def make_rule(body: str, **kw) -> Rule:
    kw.setdefault("outputs", [(None, "o/{sample}.txt"), ("main", "m/{sample}.txt")])
    return Rule(name="bad", shell=body, section_locs={"shell": Location("Pipefile", 10, 12)},
                loc=Location("Pipefile", 7, 1), **kw)


def check_rule_error(body: str, namespace=None, **kw) -> PipefileError:
    rule = make_rule(body, **kw)
    with pytest.raises(PipefileError) as e:
        Template(body).check_rule(rule, ["sample"], namespace or {})
    return e.value


def test_check_rule_checks_what_no_job_changes():
    rule = make_rule("echo {output} {output.main} {output[1]} {log} {params.n} {resources.mem} {wildcards.sample}"
                     " {sample} {input.src} {input[0]} {CFG[1]} {rule} {jobname}",
                     inputs=[("src", "in.txt")], log="l.log", params={"n": 1}, resources={"mem": 1})
    assert Template(rule.shell).check_rule(rule, ["sample"], {"CFG": [1, 2]}) == []


@pytest.mark.parametrize(("body", "kw", "message", "hint", "col"), [
    ("echo {output.mian}", {}, "rule 'bad': {output.mian} does not resolve: output has no 'mian'",
     "did you mean '{output.main}'?", 17),
    ("echo {output[2]}", {}, "rule 'bad': {output[2]} does not resolve: output has 2 items",
     "indexes run from 0 to 1 (or -2 to -1)", 17),
    ("echo\n  x {log.x}", {"log": "l.log"}, "rule 'bad': {log.x} does not resolve: log has no named items",
     "a rule has one log: write {log}", 16),
    ("echo {params.m}", {"params": {"n": 1}}, "rule 'bad': {params.m} does not resolve: params has no 'm'",
     "there is {params.n}", 17),
    ("echo {resources.memm}", {"resources": {"mem": "1G"}},
     "rule 'bad': {resources.memm} does not resolve: resources has no 'memm'", "did you mean '{resources.mem}'?", 17),
    ("echo {wildcards.smaple}", {}, "rule 'bad': {wildcards.smaple} does not resolve: wildcards has no 'smaple'",
     "did you mean '{wildcards.sample}'?", 17),
    ("echo {input.scr}", {"inputs": [("src", "a")]}, "rule 'bad': {input.scr} does not resolve: input has no 'scr'",
     "did you mean '{input.src}'?", 17),
    ("echo {input.reads[2]}", {"inputs": [("reads", ["a", "b"])]},
     "rule 'bad': {input.reads[2]} does not resolve: input.reads has 2 items", "indexes run from 0 to 1 (or -2 to -1)",
     17),
    ("echo {CFG[5]}", {}, "rule 'bad': {CFG[5]} does not resolve: CFG has 2 items",
     "indexes run from 0 to 1 (or -2 to -1)", 17),
])
def test_check_rule_names_the_rule_and_where_the_field_is(body, kw, message, hint, col):
    e = check_rule_error(body, {"CFG": [1, 2]}, **kw)
    assert (e.message, e.hint) == (message, hint)
    assert e.loc == Location("Pipefile", 10 + body.count("\n"), col)


def test_check_rule_leaves_to_each_job_what_depends_on_the_job():
    body = ("echo {params.n.real} {params.n} {input.main} {input.x.y} '{output}' {sample} {sample.upper}"
            " \\{input} {CFG.real} {jobname.x} {rule} {X}\ncat <<EOF\n{input}\nEOF")
    rule = make_rule(body, inputs=[("main", lambda w: "in.txt")], params={"n": 1})
    left = Template(body).check_rule(rule, ["sample"], {"CFG": 1, "X": 1})
    assert [f.text for f in left] == ["{params.n.real}", "{input.main}", "{input.x.y}", "{output}", "{sample.upper}",
                                      "{input}", "{jobname.x}", "{input}"]


def test_check_rule_does_not_take_a_wildcard_or_a_context_name_for_a_top_level_name():
    rule = make_rule("echo {sample.x} {rule.x} {input.x}", inputs=[(None, lambda w: "a")])
    ns = {"sample": Namespace(), "rule": Namespace(), "input": Namespace()}
    left = Template(rule.shell).check_rule(rule, ["sample"], ns)
    assert [f.text for f in left] == ["{sample.x}", "{rule.x}", "{input.x}"]
    left = Template("{_P.x} {f.x} {f}").check_rule(make_rule(""), [], {"_P": 1, "f": len})
    assert [f.text for f in left] == ["{_P.x}", "{f.x}"]  # not top-level values: left as written, per job


def test_check_rule_uses_the_rules_location():
    rule = Rule(name="r", shell="{X.y}", loc=Location("P", 3, 1))
    with pytest.raises(PipefileError) as e:
        Template("{X.y}").check_rule(rule, [], {"X": 1})
    assert e.value.loc == Location("P", 3, 1)
    rule = Rule(name="r", shell="{X.y}")
    with pytest.raises(PipefileError) as e:
        Template("{X.y}").check_rule(rule, [], {"X": 1})
    assert e.value.loc is None


def test_check_per_job_names_the_rule_and_the_field():
    t = Template("echo ok {input}\n  cat '{input}' {params.n.x}")
    ctx = {"input": Paths(["it's"]), "params": Namespace(n=1)}
    with pytest.raises(PipefileError) as e:
        t.check(t.fields, ctx, {}, {}, "r", Location("P", 4, 9))
    assert e.value.message == "rule 'r': {input} is inside single quotes, where the input \"it's\" cannot be written"
    assert e.value.hint == "remove the quotes around {input}: pyrule quotes paths itself"
    assert e.value.loc == Location("P", 5, 16)
    assert e.value.__cause__ is None and e.value.__suppress_context__
    with pytest.raises(PipefileError) as e:
        t.check(t.fields[2:], ctx, {}, {}, "r", None)
    assert e.value.message == "rule 'r': {params.n.x} does not resolve: params.n has no 'x'"
    assert e.value.loc is None
    t.check(t.fields[:1], ctx, {}, {}, "r", None)  # only the fields given
    t.check(t.fields, {"input": Paths(["its"]), "params": Namespace(n=Namespace(x=1))}, {}, {}, "r", None)


def test_the_location_of_a_field():
    t = Template("a {X}\nbb {Y} {Z}\n\n  {W}")
    at = Location("F", 10, 5)
    assert [t.location(f, at) for f in t.fields] == [Location("F", 10, 7), Location("F", 11, 8), Location("F", 11, 12),
                                                    Location("F", 13, 7)]
    assert t.location(t.fields[0], None) is None


# --- the names a body sees, and its top-level values ---------------------------------------------------

def test_the_context_of_a_job():
    rule = Rule(name="align")
    job = Job(rule=rule, wildcards={"s": "a"}, name="align[s=a]", outputs=Paths(["o"]), inputs=Paths(["i"]),
              log="l.log", params=Namespace(p=1), resources=Namespace(mem=2))
    ctx = context(job, {})
    assert sorted(ctx) == sorted(CONTEXT_NAMES)
    assert ctx["input"] is job.inputs and ctx["output"] is job.outputs
    assert ctx["params"] is job.params and ctx["resources"] is job.resources
    assert ctx["wildcards"] == {"s": "a"} and ctx["wildcards"].s == "a"
    assert ctx["log"] == ["l.log"] and isinstance(ctx["log"], Paths)
    assert ctx["rule"] == "align" and ctx["jobname"] == "align[s=a]"
    job.log = None
    assert context(job, {})["log"] == [] and isinstance(context(job, {})["log"], Paths)
    assert substitute("{rule} {jobname} {wildcards.s} {log}", context(job, {}), job.wildcards, {}) == \
        "align 'align[s=a]' a "


def test_top_level_fields_are_what_top_level_names_give():
    ns = {"REF": "ref.fa", "CFG": {"t": 4}, "L": [1, "a b"], "f": len, "_p": 1, "input": "x", "sample": "y",
          "N": Namespace(t=8)}
    text = "{REF} {CFG.t} {L} {L[1]} {f} {_p} {input} {sample} {N.t} {N.x} {missing} {REF} ${REF}"
    assert top_level_fields(text, ns, ["sample"]) == {"{REF}": "ref.fa", "{L}": "1 a b", "{L[1]}": "a b", "{N.t}": "8"}
    assert top_level_fields("{sample}", ns) == {"{sample}": "y"}
    assert top_level_fields("{input}", ns) == {}


def test_a_long_top_level_value_is_kept_as_its_digest():
    for n in (199, 200):
        assert top_level_fields("{V}", {"V": "v" * n}) == {"{V}": "v" * n}
    value = "\udcff" + "v" * 200
    digest = xxhash.xxh3_64_hexdigest(value.encode("utf-8", "surrogateescape"))
    assert top_level_fields("{V}", {"V": value}) == {"{V}": f"xxh3:{digest} (201 characters)"}
    assert top_level_fields("{V}", {"V": ["a" * 100, "b" * 100]}) == {
        "{V}": f"xxh3:{xxhash.xxh3_64_hexdigest(('a' * 100 + ' ' + 'b' * 100).encode())} (201 characters)"}


def test_template_is_cached_per_text():
    assert template("echo {input} x") is template("echo {input} x")
    assert isinstance(template("echo"), Template)


# --- backslashes the scanner cannot follow ---------------------------------------------------------------

@pytest.mark.parametrize(("body", "value"), [
    # $'\{input}': the author's backslash escapes the value's first character, here a `'` (written \'),
    # which then closes the $'...'; the rest of the value was unquoted.
    ("printf '%s\\n' $'\\{input}'", "'$(touch PWNED) #"),
    # Inside backticks the shell removes a level of backslashes before it parses the command: an escaped
    # backtick opens a nested substitution, which the value's own backticks then closed.
    ("x=`echo \\`printf %s {input}\\``; printf '%s\\n' \"$x\"", "a`;touch PWNED;`b"),
    # ... and in "`...`" an escaped `"` opens double quotes, where the value quoted for no quotes ran.
    ("x=\"`printf '%s' \\\"{input}\\\"`\"; printf '%s\\n' \"$x\"", "'$(touch PWNED)'"),
    # ... and `\\` before the value escapes its first character.
    ("x=`printf '%s' \\\\{input}`; printf '%s\\n' \"$x\"", "'$(touch PWNED) #"),
])
def test_a_value_behind_a_backslash_the_scanner_cannot_follow_is_an_error_never_run(body, value, tmp_path):
    with pytest.raises(PipefileError):
        script = Template(body).render({"input": Paths([value])}, {}, {})
        subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, timeout=60)
    assert not (tmp_path / "PWNED").exists()
    if body.startswith("x="):  # (in backticks a plain value still goes in; after $'\ none does)
        assert bash(Template(body).render({"input": Paths(["a.txt"])}, {}, {}), tmp_path) == "a.txt\n"


@pytest.mark.parametrize(("body", "escaped", "unsure"), [
    ("$'\\{input}'", True, False),
    ("`echo \\`echo {input}\\``", False, True),
    ("\"`echo \\\"{input}\\\"`\"", False, True),
    ("`echo $'\\\\{input}'`", False, True),
    ("`echo {input}` \\`", False, False),  # a backslash after the backticks
    ("\\` `echo {input}`", False, False),
])
def test_backslashes_in_ansi_quotes_and_backticks(body, escaped, unsure):
    t = Template(body)
    assert t.fields[0].escaped is escaped
    assert (t.fields[0].quoting == UNSURE) is unsure
