"""A body that is one simple command runs without bash, with the result bash would give."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import ok, pipefile, pyrule

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


def test_the_fast_path_gives_what_bash_gives(tmp_path: Path):
    """Same files, same exit codes and messages; only SHLVL (which bash raises) tells them apart."""
    pipefile(tmp_path, """
        rule all:
            input: "fast.txt", "slow.txt", "quoted out.txt", "sorted.txt", "err.txt", "script.txt"
        rule fast:
            output: "fast.txt"
            shell: env > {output}
        rule slow:
            output: "slow.txt"
            shell: env > {output}; true
        rule quoted:
            output: "quoted out.txt"
            input: "in put.txt"
            shell: cat {input} {input} > {output}
        rule sorted:
            output: "sorted.txt"
            input: "in put.txt"
            shell: sort -r < {input} > {output}
        rule err:
            output: "err.txt"
            shell: ls no-such-file 2> {output} > /dev/null || true
        rule script:
            output: "script.txt"
            shell: ./noshebang {output}
    """)
    (tmp_path / "in put.txt").write_text("a\nb\n")
    (tmp_path / "noshebang").write_text('echo "run by a shell" > "$1"\n')  # execve: ENOEXEC; bash runs it
    (tmp_path / "noshebang").chmod(0o755)
    ok(tmp_path, env={"SHLVL": "5"})
    assert "SHLVL=5\n" in (tmp_path / "fast.txt").read_text()  # no bash in between
    assert "SHLVL=6\n" in (tmp_path / "slow.txt").read_text()
    assert (tmp_path / "quoted out.txt").read_text() == "a\nb\na\nb\n"
    assert (tmp_path / "sorted.txt").read_text() == "b\na\n"
    assert "no-such-file" in (tmp_path / "err.txt").read_text()
    assert (tmp_path / "script.txt").read_text() == "run by a shell\n"


@pytest.mark.parametrize(("body", "message"), [
    ("no-such-program-xyz {output}", "no-such-program-xyz: command not found"),
    ("cat missing.txt > {output}", "missing.txt: No such file or directory"),
    ("cat < missing.txt > {output}", "missing.txt: No such file or directory"),
    ("cat in.txt > no/dir/x", "no/dir/x: No such file or directory"),
])
def test_failures_read_as_bash_would_report_them(tmp_path: Path, body: str, message: str):
    pipefile(tmp_path, f"""
        rule a:
            output: "a.txt"
            shell: {body}
    """)
    (tmp_path / "in.txt").write_text("x\n")
    r = pyrule(tmp_path)
    assert r.rc == 1, str(r)
    log = (tmp_path / ".pyrule" / "logs" / "a" / "a.log").read_text()
    assert message in log, log
    assert not (tmp_path / "a.txt").exists()
