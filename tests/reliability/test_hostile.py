"""Hostile file names and paths: substitution never runs them as code, never splits them into
words, never lets a command take them for options; a wildcard value never carries a path out of
the project; a failed job's cleanup never deletes (or chmods) anything outside the project.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import time
from pathlib import Path

import psutil
import pytest
from harness import ok, pipefile, pyrule
from reliability_util import LOCATED, record

# Every name is a wildcard value (found by glob_wildcards, spread by expand).
NAMES = [
    "a b", "  two  spaces  ", "it's", 'say "hi"', "$(touch PWNED1)", "`touch PWNED2`", "semi;touch PWNED3",
    "'; touch PWNED4; '", '"; touch PWNED5; "', "$(touch\tPWNED6)", "a&&touch PWNED7", "x|touch PWNED8",
    "star*", "q?", "glob[ab]", "new\nline", "cr\rret", "tab\tname", "ünïcødé-名前-🙂", "-rf", "--help", "-", "--",
    "-n", "dollar$HOME", "back\\slash", "amp&bg", "redir>x", "<in", "hash#x", "~tilde", "percent%s",
    "!bang", "(paren)", "trailing space ", " leading", ".hidden", "...", "x..", "=eq", ",comma", "@at", "\\$x",
]
PWNED = "PWNED"

HOSTILE_PIPEFILE = """
    NAMES = glob_wildcards("in/{name}.txt").name
    TOPS = glob_wildcards("{name}.src").name
    default: all

    rule all:
        input:
            expand("out/{name}.txt", name=NAMES),
            expand("{name}.out", name=TOPS),
            expand("w/{name}.txt", name=NAMES),
            expand("py/{name}.txt", name=NAMES),
            expand("sh/{name}.txt", name=NAMES),

    rule copy:
        output: "out/{name}.txt"
        input: "in/{name}.txt"
        log: "logs/{name}.log"
        shell: cat {input} > {output}; echo logged > {log}

    rule top:
        output: "{name}.out"
        input: "{name}.src"
        shell: cat {input} > {output}

    rule words:
        output: "w/{name}.txt"
        shell: printf '%s|' {wildcards.name} {name} > {output}

    rule py:
        output: "py/{name}.txt"
        input: "in/{name}.txt"
        python:
            open(output[0], "wb").write(open(input[0], "rb").read()[::-1])

    rule pysh:
        output: "sh/{name}.txt"
        input: "in/{name}.txt"
        python:
            shell("cat {input} {input} > {output}")
"""


def _content(i: int, name: str) -> bytes:
    return f"content {i} of {name!r}\n".encode() + bytes(range(256))


def _pwned(root: Path) -> list[str]:
    return [str(p) for base in (root, root.parent) for p in base.rglob(f"{PWNED}*")]


@pytest.mark.slow  # over 5 s on a loaded 2-core machine
def test_hostile_names_are_substituted_safely(tmp_path: Path):
    d = tmp_path / "proj"
    (d / "in").mkdir(parents=True)
    for i, name in enumerate(NAMES):
        (d / "in" / f"{name}.txt").write_bytes(_content(i, name))
        (d / f"{name}.src").write_bytes(_content(i, name)[::-1])
    pipefile(d, HOSTILE_PIPEFILE)
    r = pyrule(d, "-j", "4", timeout=300)
    assert r.rc == 0, str(r)
    assert "Traceback" not in r.err
    assert _pwned(d) == [], "a file name ran as code"
    wrong = []
    for i, name in enumerate(NAMES):
        src = _content(i, name)
        checks = {
            f"out/{name}.txt": src,
            f"{name}.out": src[::-1],
            f"w/{name}.txt": f"{name}|{name}|".encode(),
            f"py/{name}.txt": src[::-1],
            f"sh/{name}.txt": src + src,
            f"logs/{name}.log": b"logged\n",
        }
        for path, want in checks.items():
            p = d / path
            if not p.exists() or p.read_bytes() != want:
                wrong.append(path)
    assert not wrong, f"outputs with wrong bytes: {wrong}"
    # The names go through the state store, run.log and stats intact: nothing is stale.
    again = ok(d, "-n", "-q")
    assert again.out.strip() == "", again.out
    for extra in (["--status"], ["--dag", "json"], ["--stats"], ["--why", f"out/{NAMES[4]}.txt"]):
        r = pyrule(d, *extra)
        assert r.rc == 0 and "Traceback" not in r.err, str(r)
    assert _pwned(d) == []
    record("hostile", names=len(NAMES), rules=5, jobs=5 * len(NAMES), pwned=0, wrong=0)


# The same names inside the author's own quotes (Snakemake users write "{input}" by habit): each
# field is escaped for the quoting context it sits in. '...' cannot hold a name with a `'`.
QUOTING_PIPEFILE = r"""
    NAMES = glob_wildcards("in/{name}.txt").name
    PLAIN = [n for n in NAMES if "'" not in n]
    default: all

    rule all:
        input:
            expand("{ctx}/{name}.txt", ctx=["dq", "ansi", "cmd", "tick", "words", "py", "short"], name=NAMES),
            expand("{ctx}/{name}.txt", ctx=["sq", "shortsq"], name=PLAIN),

    rule dq:
        output: "dq/{name}.txt"
        input: "in/{name}.txt"
        shell: cat "{input}" > "{output}"

    rule sq:
        output: "sq/{name}.txt"
        input: "in/{name}.txt"
        shell: cat '{input}' > '{output}'

    rule ansi:
        output: "ansi/{name}.txt"
        input: "in/{name}.txt"
        shell: cat $'{input}' > $'{output}'

    rule cmd:
        output: "cmd/{name}.txt"
        input: "in/{name}.txt"
        shell: cat "$(printf '%s' "{input}")" > "$(printf '%s' {output})"

    rule tick:
        output: "tick/{name}.txt"
        input: "in/{name}.txt"
        shell: cat "`printf '%s' "{input}"`" > "`printf '%s' {output}`"

    rule words:
        output: "words/{name}.txt"
        shell: printf '%s|' "{wildcards.name}" "{name}"{name}'|' {jobname} > "{output}"

    rule py:
        output: "py/{name}.txt"
        input: "in/{name}.txt"
        python:
            shell('cat "{input}" > "{output}"')

    "short/{name}.txt": "in/{name}.txt"
        cat "{input}" > "{output}"

    "shortsq/{name}.txt": "in/{name}.txt"
        cat '{input}' > '{output}'
"""


def test_hostile_names_in_every_quoting_context(tmp_path: Path):
    d = tmp_path / "proj"
    (d / "in").mkdir(parents=True)
    for i, name in enumerate(NAMES):
        (d / "in" / f"{name}.txt").write_bytes(_content(i, name))
    pipefile(d, QUOTING_PIPEFILE)
    r = pyrule(d, "-j", "4", timeout=300)
    assert _pwned(d) == [], "a file name ran as code"
    assert r.rc == 0 and "Traceback" not in r.err, str(r)
    wrong = []
    for i, name in enumerate(NAMES):
        ctxs = ["dq", "ansi", "cmd", "tick", "py", "short"] + (["sq", "shortsq"] if "'" not in name else [])
        for ctx in ctxs:
            p = d / ctx / f"{name}.txt"
            if not p.exists() or p.read_bytes() != _content(i, name):
                wrong.append(f"{ctx}/{name}.txt")
        if (d / "words" / f"{name}.txt").read_bytes() != f"{name}|{name}{name}||words[name={name}]|".encode():
            wrong.append(f"words/{name}.txt")
    assert not wrong, f"outputs with wrong bytes: {wrong}"
    record("hostile-quoting", names=len(NAMES), contexts=9, pwned=0, wrong=0)


@pytest.mark.parametrize("body", ["cat '{input}' > {output}", "cat > {output} <<EOF\n{input}\nEOF"])
def test_a_name_that_cannot_be_written_in_its_quotes_is_a_located_error(tmp_path: Path, body: str):
    """In '...' a `'` would end the quotes, in a here-document a line break could end it: refused
    before any job runs, naming the file."""
    d = tmp_path / "proj"
    (d / "in").mkdir(parents=True)
    for name in ("fine", "it's", "new\nline"):
        (d / "in" / f"{name}.txt").write_text("x\n")
    bad = "it's" if "'" in body else "new\nline"
    (d / "Pipefile").write_text(f"default: all\nall: out/fine.txt {f'out/{bad}.txt'!r}\nout/{{n}}.txt: in/{{n}}.txt\n"
                                + "".join(f"    {line}\n" for line in body.split("\n")))
    for args in (["-n"], []):
        r = pyrule(d, *args)
        assert r.rc == 2 and LOCATED.search(r.err) and "Traceback" not in r.err, str(r)
        assert repr(f"in/{bad}.txt") in r.err, str(r)
    assert not (d / "out").exists() and _pwned(d) == []


def test_a_leading_dash_path_is_never_an_option(tmp_path: Path):
    """`rm {input}` with an input named `-rf x`: the command sees ./-rf x, not an option."""
    d = tmp_path / "proj"
    d.mkdir()
    (d / "-rf keep").write_text("keep\n")
    (d / "keep").write_text("precious\n")
    pipefile(d, """
        rule gone:
            output: "done.txt"
            input: "-rf keep"
            shell: ls -l {input} > {output}; grep -c keep {input} >> {output}
    """)
    ok(d)
    assert "./-rf keep" in (d / "done.txt").read_text()
    assert (d / "keep").read_text() == "precious\n"


@pytest.mark.parametrize("name", ["brace{x}", "${HOME}", "$(touch${IFS}PWNED)", "{name}"])
def test_brace_in_a_file_name_is_a_clean_error(tmp_path: Path, name: str):
    """expand() puts a value's braces into a path, which then reads as a wildcard: refused, located.
    (A known limitation: braces in file names that go through expand() are not supported.)"""
    d = tmp_path / "proj"
    (d / "in").mkdir(parents=True)
    (d / "in" / f"{name}.txt").write_text("x")
    pipefile(d, HOSTILE_PIPEFILE)
    for args in (["-n"], []):
        r = pyrule(d, *args)
        assert r.rc == 2 and LOCATED.search(r.err) and "Traceback" not in r.err, str(r)
    assert _pwned(d) == []


def test_a_file_name_that_is_not_utf8_is_a_clean_error(tmp_path: Path):
    """Linux allows any bytes in names; the store and logs need text: refused up front, located."""
    d = tmp_path / "proj"
    (d / "in").mkdir(parents=True)
    with open(os.path.join(os.fsencode(d), b"in", b"latin1-\xe9t\xe9.txt"), "wb") as f:
        f.write(b"x\n")
    (d / "in" / "fine.txt").write_text("y\n")
    pipefile(d, HOSTILE_PIPEFILE)
    for args in (["-n"], []):
        r = pyrule(d, *args)
        assert r.rc == 2, str(r)
        assert "not a UTF-8 file name" in r.err and LOCATED.search(r.err), str(r)
        assert "Traceback" not in r.err and "internal error" not in r.err
    assert not (d / "out").exists()


# --- paths out of the project --------------------------------------------------------------------

ESCAPES = [
    # (output pattern, target): each would put an output outside the project, or on it
    ("{name,.*}.txt", "../outside.txt"),
    ("{name,.*}.txt", "{tmp}/abs.txt"),
    ("out/{name,.*}.txt", "out/../../outside.txt"),
    ("out/{name,.*}", "out/a/../../../outside"),
    ("{name}.", ".."),
    ("{name}", "."),
    ("{a}{b}", ".."),
    ("out/{name,.*}", "out/.."),
]


@pytest.mark.parametrize(("pattern", "target"), ESCAPES)
def test_a_wildcard_value_never_reaches_outside_the_project(tmp_path: Path, pattern: str, target: str):
    outer = tmp_path / "outer"
    d = outer / "proj"
    (d / "out" / "a").mkdir(parents=True)
    (outer / "precious.txt").write_text("precious\n")
    target = target.replace("{tmp}", str(tmp_path))
    pipefile(d, f"""
        rule any:
            output: "{pattern}"
            shell: echo pwned > {{output}}
    """)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for force in ([], ["-B"]):
        r = pyrule(d, *force, target)
        assert "Traceback" not in r.err and "internal error" not in r.err, str(r)
        # refused (2), or no rule matches the normalised path and nothing runs (0)
        assert r.rc == 2 or (r.rc == 0 and "nothing to do" in r.err), str(r)
        if r.rc == 2:
            assert "outside the project" in r.err or "project directory itself" in r.err or "no rule" in r.err, str(r)
    assert (outer / "precious.txt").read_text() == "precious\n"
    after = sorted(str(p) for p in tmp_path.rglob("*") if ".pyrule" not in p.parts)
    assert after == [p for p in before if ".pyrule" not in Path(p).parts], "files appeared or vanished"


def test_values_from_expand_and_glob_stay_inside(tmp_path: Path):
    outer = tmp_path / "outer"
    d = outer / "proj"
    (d / "in").mkdir(parents=True)
    (outer / "secret").mkdir()
    (outer / "secret" / "s.txt").write_text("secret\n")
    (d / "in" / "link").symlink_to(outer / "secret")  # glob_wildcards does not follow it
    (d / "in" / "a.txt").write_text("a\n")
    pipefile(d, """
        NAMES = glob_wildcards("in/{name,.*}.txt").name
        default: all
        rule all:
            input: expand("out/{name}.txt", name=NAMES)
        rule copy:
            output: "out/{name,.*}.txt"
            input: "in/{name}.txt"
            shell: cat {input} > {output}
    """)
    ok(d)
    assert sorted(p.name for p in (d / "out").iterdir()) == ["a.txt"]
    pipefile(d, """
        rule all:
            input: expand("out/{name}.txt", name=["../../evil", "/abs/evil"])
        rule copy:
            output: "out/{name,.*}.txt"
            shell: echo evil > {output}
    """)
    r = pyrule(d)
    assert r.rc == 2 and "Traceback" not in r.err, str(r)
    assert not list(tmp_path.rglob("evil*"))


# --- cleanup after failures ----------------------------------------------------------------------


def _outside_files(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    f = outside / "file.txt"
    f.write_text("outside\n")
    f.chmod(0o444)
    (outside / "dir" / "inner.txt").write_text("inner\n")
    return f, outside / "dir"


@pytest.mark.parametrize("how", ["fails", "no-output", "interrupted"])
def test_cleanup_of_a_failed_job_never_touches_files_outside(tmp_path: Path, how: str):
    f, odir = _outside_files(tmp_path)
    d = tmp_path / "proj"
    d.mkdir()
    end = {"fails": "exit 1", "no-output": "rm {output.other}", "interrupted": "sleep 30"}[how]
    pipefile(d, f"""
        rule bad:
            output: link = "link.txt", tree = directory("tree"), dirlink = "dirlink", other = "other.txt"
            shell:
                ln -s {f} {{output.link}}
                mkdir -p {{output.tree}}
                ln -s {odir} {{output.tree}}/inside-link
                ln -s {f} {{output.tree}}/file-link
                ln -s {odir} {{output.dirlink}}
                touch {{output.other}}
                echo started > started.txt
                {end}
    """)
    if how == "interrupted":
        from harness import spawn, wait_for

        p = spawn(d)
        wait_for(lambda: (d / "started.txt").exists(), what="the job to start")
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 143, err
    else:
        r = pyrule(d)
        assert r.rc == 1, str(r)
    for name in ("link.txt", "tree", "dirlink", "other.txt"):
        assert not os.path.lexists(d / name), f"{name} was not removed"
    assert f.read_text() == "outside\n" and stat.S_IMODE(f.stat().st_mode) == 0o444
    assert (odir / "inner.txt").read_text() == "inner\n"


def test_force_writable_never_chmods_through_a_symlink(tmp_path: Path):
    """rmtree's error handler makes what it removes writable: never the target of a link."""
    from pyrule.outputs import _force_writable, remove

    f, _ = _outside_files(tmp_path)
    tree = tmp_path / "proj" / "tree"
    tree.mkdir(parents=True)
    link = tree / "link"
    link.symlink_to(f)
    _force_writable(os.unlink, str(link), None)
    assert not os.path.lexists(link)
    assert stat.S_IMODE(f.stat().st_mode) == 0o444
    link.symlink_to(f)
    remove(str(link))
    assert not os.path.lexists(link) and stat.S_IMODE(f.stat().st_mode) == 0o444


def test_recovery_never_removes_a_recorded_output_outside_the_project(tmp_path: Path):
    """A store that says a dead run was writing ../victim.txt (damaged, or edited) must not make
    the next run delete it."""
    outer = tmp_path / "outer"
    d = outer / "proj"
    d.mkdir(parents=True)
    victim = outer / "victim.txt"
    victim.write_text("victim\n")
    pipefile(d, """
        rule a:
            output: "a.txt"
            shell: echo a > {output}
    """)
    ok(d)
    dead = psutil.Process(os.getpid())  # a pid that is alive but was not started at this time: "dead owner"
    con = sqlite3.connect(d / ".pyrule" / "state.db")
    with con:
        con.execute("INSERT OR REPLACE INTO running VALUES (?,?,?,?,?,?,?)",
                    ("a", "old-run", dead.pid, dead.create_time() - 1000, 0,
                     json.dumps(["a.txt", "../victim.txt", str(victim)]), time.time()))
    con.close()
    r = pyrule(d)
    assert r.rc == 0, str(r)
    assert victim.read_text() == "victim\n"
    assert "outside the project" in r.err, r.err
    assert (d / "a.txt").read_text() == "a\n"
