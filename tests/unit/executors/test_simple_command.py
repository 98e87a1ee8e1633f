"""A body that is one simple command runs without bash: which bodies are one
(pyrule/executors/simple_command.py), in process. That they give what bash would:
tests/e2e/test_simple_command.py."""

from __future__ import annotations

import os

import pytest

from pyrule.executors.simple_command import parse


@pytest.mark.parametrize(("script", "argv", "redirects"), [
    ("cat in/0.txt > out/0.txt", ["cat", "in/0.txt"], [(1, "out/0.txt", ">")]),
    ("cat a>b", ["cat", "a"], [(1, "b", ">")]),
    ("cat a 2>err", ["cat", "a"], [(2, "err", ">")]),
    ("cat a2>err", ["cat", "a2"], [(1, "err", ">")]),  # `2>` only where a word starts
    ("cat a 2 > err", ["cat", "a", "2"], [(1, "err", ">")]),
    ("cat 'a b' \"c d\" '' > 'o u'", ["cat", "a b", "c d", ""], [(1, "o u", ">")]),
    ("cat 'it'\"'\"'s'", ["cat", "it's"], []),  # what shlex.quote makes of a quote
    ("/bin/cat a >> b", ["/bin/cat", "a"], [(1, "b", ">>")]),
    ("sort -k2,2 -t, x=1 < in.csv > out.csv 2>> log", ["sort", "-k2,2", "-t,", "x=1"],
     [(0, "in.csv", "<"), (1, "out.csv", ">"), (2, "log", ">>")]),
    ("  gzip -c a > a.gz \n", ["gzip", "-c", "a"], [(1, "a.gz", ">")]),
])
def test_simple_commands(script: str, argv: list[str], redirects: list[tuple[int, str, str]]):
    flags = {">": os.O_WRONLY | os.O_CREAT | os.O_TRUNC, ">>": os.O_WRONLY | os.O_CREAT | os.O_APPEND, "<": os.O_RDONLY}
    cmd = parse(script)
    assert cmd is not None
    assert cmd.argv == argv and cmd.redirects == [(fd, p, flags[op]) for fd, p, op in redirects]


@pytest.mark.parametrize("script", [
    "", ":", "true", "echo hi > x", "test -e a", "[ -e a ]", "cd d", "exec cat a", "time cat a",  # bash words
    "cat a | wc", "cat a; ls", "cat a && ls", "cat a &", "(cat a)", "cat a\ncat b", "cat $x", "cat ${x}",
    'cat "$x"', "cat `x`", "cat $(x)", "cat *.txt", "cat a?", "cat [ab]", "cat ~/a", "cat {a,b}", "cat a # c",
    "cat a\\ b", '"cat" a', "X=1 cat a", "cat a > b > c", "cat a >", "cat a 2>&1", "cat a &> b", "cat <<EOF",
    "cat a <> b", "cat a >| b", "cat é", "cat a\rb", 'cat "a\\b"', "cat 'unclosed", "! cat a",
])
def test_anything_else_goes_to_bash(script: str):
    assert parse(script) is None
