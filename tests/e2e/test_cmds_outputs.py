"""The commands that look at or act on a project's outputs without running jobs (issue 22):
--touch, --summary, --list-changes, --delete-all-output, --list-untracked. The real `pyrule`
command on real files."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from harness import CHAIN_PIPEFILE, PYRULE, ok, pipefile, pyrule, write


def _chain(tmp_path: Path) -> Path:
    pipefile(tmp_path, CHAIN_PIPEFILE)
    write(tmp_path / "a.txt", "2\n1\n")
    return tmp_path


# --- --touch ---------------------------------------------------------------------------------------


def test_touch_records_existing_outputs_so_that_a_run_does_nothing(tmp_path):
    d = _chain(tmp_path)
    ok(d)
    write(d / "a.txt", "3\n2\n1\n")  # b and c are stale now; the outputs stay as they are
    before = (d / "c.txt").read_text()
    r = ok(d, "--touch")
    assert "b: recorded as up to date (was: input a.txt changed (content))" in r.out
    assert "c: recorded as up to date (was: upstream b will run)" in r.out
    assert (d / "c.txt").read_text() == before and (d / "b.txt").read_text() == "1\n2\n"
    assert ok(d, "-n").out == "nothing to do: all 2 job(s) up to date\n"
    r = ok(d)
    assert r.ran == set(), str(r)
    assert (d / "c.txt").read_text() == before


def test_touch_of_never_built_outputs_and_named_targets(tmp_path):
    d = _chain(tmp_path)
    write(d / "b.txt", "by hand\n")
    write(d / "c.txt", "by hand\n")
    os.utime(d / "b.txt", (2, 2))  # older than a.txt: would not be adopted
    os.utime(d / "c.txt", (1, 1))  # older than b.txt
    r = ok(d, "--touch", "b.txt")
    assert r.out.splitlines() == ["b: recorded as up to date (was: never built by pyrule, and input a.txt is newer "
                                  "than its outputs)"]
    assert "1 job(s) recorded as up to date" in r.err
    r = ok(d, "-n")
    assert "b:" not in r.out and "c: never built by pyrule, and input b.txt is newer" in r.out


def test_touch_dry_run_shows_what_it_would_record_and_records_nothing(tmp_path):
    d = _chain(tmp_path)
    ok(d)
    (d / "a.txt").write_text("9\n")
    r = ok(d, "--touch", "-n")
    assert r.out.splitlines() == ["b: would be recorded as up to date (now: input a.txt changed (content))",
                                  "c: would be recorded as up to date (now: upstream b will run)"]
    assert "2 job(s) would be recorded as up to date" in r.err
    assert ok(d, "-n").out.splitlines()[0] == "b: input a.txt changed (content)"


def test_touch_refuses_outputs_that_do_not_exist(tmp_path):
    d = _chain(tmp_path)
    write(d / "b.txt", "x\n")
    r = pyrule(d, "--touch")
    assert r.rc == 2, str(r)
    assert "error: --touch: job c's output c.txt does not exist: nothing to mark up to date" in r.err
    assert "hint: build it (pyrule c.txt)" in r.err
    assert "Traceback" not in r.err
    assert not (d / ".pyrule" / "state.db").exists() or "b:" in pyrule(d, "-n").out  # nothing recorded


def test_touch_when_everything_is_up_to_date_says_so(tmp_path):
    d = _chain(tmp_path)
    ok(d)
    r = ok(d, "--touch")
    assert r.out == "" and "nothing to record: all 2 job(s) up to date" in r.err


# --- --summary -------------------------------------------------------------------------------------

SUMMARY_PIPEFILE = """
    rule all:
        input: "x/a.out", "x/b.out"

    rule make:
        output: "x/{s}.out", "x/{s}.log2"
        input: "in/{s}.txt"
        params: k = 1
        shell: cp {input} {output[0]}; cp {input} {output[1]}
"""


def test_summary_is_tsv_when_piped(tmp_path):
    pipefile(tmp_path, SUMMARY_PIPEFILE)
    write(tmp_path / "in/a.txt", "a")
    write(tmp_path / "in/b.txt", "b")
    ok(tmp_path)
    (tmp_path / "in/b.txt").write_text("bb")
    os.unlink(tmp_path / "x/a.log2")
    lines = ok(tmp_path, "--summary").out.splitlines()
    assert lines[0] == "output\tjob\tdate\tstate"
    rows = [line.split("\t") for line in lines[1:]]
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("x/a.out", "make[s=a]", "stale: output x/a.log2 missing"),
        ("x/a.log2", "make[s=a]", "missing"),
        ("x/b.out", "make[s=b]", "stale: input in/b.txt changed (content)"),
        ("x/b.log2", "make[s=b]", "stale: input in/b.txt changed (content)"),
    ]
    assert rows[1][2] == "-" and len(rows[0][2]) == len("2026-12-03 10:00:00")


def test_summary_is_an_aligned_table_on_a_terminal(tmp_path):
    pipefile(tmp_path, SUMMARY_PIPEFILE)
    write(tmp_path / "in/a.txt", "a")
    write(tmp_path / "in/b.txt", "b")
    ok(tmp_path)
    out = _on_terminal(tmp_path, "--summary")
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines[0].split() == ["output", "job", "date", "state"]
    assert "\t" not in out
    assert len({ln.index("make[") for ln in lines[1:]}) == 1  # the job column is aligned
    assert lines[1].startswith("x/a.out ") and lines[1].rstrip().endswith("ok")


def _on_terminal(cwd: Path, *args: str) -> str:
    """pyrule's stdout when stdout is a terminal (a pseudo-terminal)."""
    master, slave = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    p = subprocess.Popen([*PYRULE, *args], cwd=cwd, env=env, stdout=slave, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode().replace("\r\n", "\n")


# --- --list-changes --------------------------------------------------------------------------------

CHANGES_PIPEFILE = """
    K ?= 1
    EXTRA ?= []

    rule all:
        input: "p.txt", "q.txt"

    rule p:
        output: "p.txt"
        input: "a.txt", *EXTRA
        params: k = K
        shell: cat {input} > {output}

    rule q:
        output: "q.txt"
        input: "a.txt"
        shell: cat {input} > {output}
"""


def test_list_changes_params_code_and_input(tmp_path):
    pipefile(tmp_path, CHANGES_PIPEFILE)
    write(tmp_path / "a.txt", "a")
    write(tmp_path / "b.txt", "b")
    ok(tmp_path)
    for kind in ("params", "code", "input"):
        assert ok(tmp_path, "--list-changes", kind).out == ""
    assert ok(tmp_path, "--list-changes", "params", "K=2").out == "p.txt\n"
    assert ok(tmp_path, "--list-changes", "code", "K=2").out == ""
    assert ok(tmp_path, "--list-changes", "input", "EXTRA=['b.txt']").out == "p.txt\n"
    r = ok(tmp_path, "--list-changes", "params", "K=2", "-v")
    assert r.out == "p.txt\tp: params.k: 1 → 2\n"
    pipefile(tmp_path, CHANGES_PIPEFILE.replace("cat {input} > {output}\n\n    rule q", "cat {input} >{output}\n\n    rule q"))
    assert ok(tmp_path, "--list-changes", "code").out == "p.txt\n"
    r = pyrule(tmp_path, "--list-changes", "body")
    assert r.rc == 2 and "invalid choice: 'body'" in r.err


# --- --delete-all-output ---------------------------------------------------------------------------

DELETE_PIPEFILE = """
    rule all:
        input: "out/a.txt", "keep.txt"

    rule a:
        output: "out/a.txt"
        input: "src.txt"
        shell: cp {input} {output}

    rule keep:
        output: protected("keep.txt")
        shell: echo k > {output}
"""


def test_delete_all_output_dry_run_then_for_real(tmp_path):
    pipefile(tmp_path, DELETE_PIPEFILE.replace('protected("keep.txt")', '"keep.txt"'))
    write(tmp_path / "src.txt", "s")
    ok(tmp_path)
    r = ok(tmp_path, "--delete-all-output", "-n")
    assert r.out.splitlines() == ["would delete out/a.txt", "would delete keep.txt"]
    assert (tmp_path / "out/a.txt").exists()
    r = ok(tmp_path, "--delete-all-output")
    assert r.out.splitlines() == ["deleted out/a.txt", "deleted keep.txt"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "keep.txt").exists()
    assert (tmp_path / "src.txt").exists() and (tmp_path / "Pipefile").exists()
    assert ok(tmp_path).ran == {"a", "keep"}


def test_delete_all_output_of_one_target_and_refusing_protected(tmp_path):
    pipefile(tmp_path, DELETE_PIPEFILE)
    write(tmp_path / "src.txt", "s")
    ok(tmp_path)
    assert ok(tmp_path, "--delete-all-output", "out/a.txt").out == "deleted out/a.txt\n"
    assert (tmp_path / "keep.txt").exists()
    r = pyrule(tmp_path, "--delete-all-output")
    assert r.rc == 2 and "--delete-all-output: keep.txt is a protected output (of job keep)" in r.err
    assert "--overwrite-protected" in r.err and (tmp_path / "keep.txt").exists()
    assert ok(tmp_path, "--delete-all-output", "--overwrite-protected").out == "deleted keep.txt\n"
    assert not (tmp_path / "keep.txt").exists()


def test_delete_all_output_never_outside_the_project(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    proj = tmp_path / "proj"
    proj.mkdir()
    os.symlink(outside, proj / "link")
    pipefile(proj, f"""
        rule all:
            input: "in.txt", "link/x.txt", "{outside}/y.txt"

        rule a:
            output: "in.txt"
            shell: echo > {{output}}

        rule b:
            output: "link/x.txt"
            shell: echo > {{output}}

        rule c:
            output: "{outside}/y.txt"
            shell: echo > {{output}}
    """)
    ok(proj)
    r = ok(proj, "--delete-all-output")
    assert r.out == "deleted in.txt\n"
    assert "left link/x.txt: outside the project" in r.err and f"left {outside}/y.txt: outside the project" in r.err
    assert (outside / "x.txt").exists() and (outside / "y.txt").exists()


# --- --list-untracked ------------------------------------------------------------------------------


def test_list_untracked(tmp_path):
    pipefile(tmp_path, """
        rule all:
            input: "out/a.txt", "d"

        rule a:
            output: "out/a.txt"
            input: "src/a.txt"
            log: "logs/a.log"
            shell: cp {input} {output}; echo hi > {log}

        rule d:
            output: directory("d")
            shell: mkdir -p d/e && touch d/e/f
    """)
    write(tmp_path / "src/a.txt", "a")
    write(tmp_path / "src/notes.md", "n")
    write(tmp_path / "stray.txt", "s")
    write(tmp_path / ".git/config", "c")
    write(tmp_path / ".hidden", "h")
    write(tmp_path / "pyrule.toml", "jobs = 2\n")
    ok(tmp_path)
    assert ok(tmp_path, "--list-untracked").out.splitlines() == ["src/notes.md", "stray.txt"]


def test_one_command_at_a_time(tmp_path):
    d = _chain(tmp_path)
    r = pyrule(d, "--summary", "--touch")
    assert r.rc == 2 and "error: --touch and --summary: one command at a time" in r.err, str(r)


def test_new_commands_are_in_help():
    out = subprocess.run([sys.executable, "-m", "pyrule", "--help"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"}).stdout
    for option in ("--touch", "--summary", "--list-changes", "--delete-all-output", "--list-untracked"):
        assert option in out


def test_touch_and_delete_refuse_while_a_run_holds_the_outputs(tmp_path):
    from harness import spawn, wait_for

    pipefile(tmp_path, """
        rule slow:
            output: "s.txt"
            shell: touch started; sleep 4; echo s > {output}
    """)
    write(tmp_path / "s.txt", "old\n")
    p = spawn(tmp_path, "-B")
    try:
        wait_for(lambda: (tmp_path / "started").exists(), what="the job to start")
        for args in (["--touch"], ["--delete-all-output"]):
            r = pyrule(tmp_path, *args)
            assert r.rc == 2, str(r)
            assert f"error: {args[0]}: the outputs of job slow are locked by another pyrule process" in r.err
    finally:
        p.communicate(timeout=60)
    assert p.returncode == 0 and (tmp_path / "s.txt").read_text() == "s\n"


def test_touch_with_a_file_where_pyrule_keeps_its_directory(tmp_path):
    d = _chain(tmp_path)
    write(d / "b.txt", "1\n2\n")
    write(d / "c.txt", "x\n")
    write(d / ".pyrule", "not a directory")
    r = pyrule(d, "--touch")
    assert r.rc == 2 and "error: --touch: cannot take the outputs' locks in .pyrule/locks" in r.err, str(r)
