"""A body that is one simple command runs without bash, with the result bash would give: the same
files, exit codes and messages, through the `pyrule` command. (Which bodies take the fast path:
tests/unit/executors/test_simple_command.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import ok, pipefile, pyrule


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
