"""What a Python body's jobs are judged on (docs/how-it-decides.md): the canonical identity of its
code (bytecode, names and constants, nested code by content, default values), the values of the
top-level names its code reads, and `env:` values (callables evaluated per job). Real scripts
and Pipefiles, each run in its own process: the same code must never look changed, and a change
of behaviour always must."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from harness import ok, pipefile, pyrule, write

# --- Python API functions ------------------------------------------------------------------

API = '''\
import sys
from pyrule import Workflow

wf = Workflow()
SCALE = 2


@wf.rule(output="out.txt")
def make(output, k=3, *, sep=","):
    """Writes numbers."""
    vals = [x * SCALE for x in range(k)]  # a comprehension
    bump = lambda v: v + 1  # a lambda

    def fmt(v):  # a nested function
        return str(v) if v not in {"a", "b"} else "?"

    open(output[0], "w").write(sep.join(fmt(bump(v)) for v in vals) + "\\n")


if sys.argv[1:] == ["-n"]:
    for d in wf.run(dry_run=True):
        print(f"{d.job.name}: {d.reason}")
else:
    wf.run()
'''


def _script(d: Path, text: str) -> list[str]:
    """Run the API script with -n in a process of its own (another PYTHONHASHSEED than the
    build's): its decisions, `job: reason`."""
    write(d / "wf.py", text)
    p = subprocess.run([sys.executable, "wf.py", "-n"], cwd=d, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONHASHSEED": str(len(text))})
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def _build(d: Path, text: str) -> None:
    write(d / "wf.py", text)
    p = subprocess.run([sys.executable, "wf.py"], cwd=d, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONHASHSEED": "1"})
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("edit, old, new", [
    ("a comment", "# a comprehension", "# the values, doubled"),
    ("a blank line", "    bump = lambda", "\n\n    bump = lambda"),
    ("the hash seed only", "", ""),
])
def test_an_api_function_is_the_same_from_process_to_process(tmp_path: Path, edit: str, old: str, new: str):
    _build(tmp_path, API)
    assert (tmp_path / "out.txt").read_text() == "1,3,5\n"
    # Another process, another PYTHONHASHSEED, other addresses for the nested code objects.
    text = API.replace(old, new) if old else API + "\n"
    assert _script(tmp_path, text) == ["make: None"], edit


@pytest.mark.parametrize("edit, old, new", [
    ("a constant in the lambda", "v + 1", "v + 2"),
    ("an operator in the comprehension", "x * SCALE", "x + SCALE"),
    ("a name in the nested function", "return str(v)", "return repr(v)"),
    ("a constant in a set in the nested function", '{"a", "b"}', '{"a", "c"}'),
    ("a default value", "k=3", "k=4"),
    ("a keyword-only default value", 'sep=","', 'sep=";"'),
    ("a global the function reads", "SCALE = 2", "SCALE = 3"),
])
def test_an_api_function_whose_behaviour_changed_reruns(tmp_path: Path, edit: str, old: str, new: str):
    _build(tmp_path, API)
    assert old in API
    lines = _script(tmp_path, API.replace(old, new))
    assert len(lines) == 1 and lines[0] != "make: None", (edit, lines)
    if edit.startswith("a global"):
        assert lines == ["make: top-level SCALE in the Python body: 2 → 3"]
    else:
        assert lines == ["make: rule body changed"], edit


CLOSURE = '''\
import sys
from pyrule import Workflow

wf = Workflow()


def writer(text):
    def write(output):
        open(output[0], "w").write(text)
    return write


wf.rule("make", output="out.txt", python=writer("TEXT"))
if sys.argv[1:] == ["-n"]:
    for d in wf.run(dry_run=True):
        print(f"{d.job.name}: {d.reason}")
else:
    wf.run()
'''


def test_the_values_an_api_functions_closure_holds_count(tmp_path: Path):
    _build(tmp_path, CLOSURE.replace("TEXT", "one"))
    assert (tmp_path / "out.txt").read_text() == "one"
    assert _script(tmp_path, CLOSURE.replace("TEXT", "one")) == ["make: None"]
    assert _script(tmp_path, CLOSURE.replace("TEXT", "two")) == ["make: rule body changed"]


# --- Pipefile python: bodies ---------------------------------------------------------------

BODY = """
    FACTOR ?= 2
    OTHER ?= 5
    LABELS ?= {"x", "y", "z"}

    python:
        def scaled(v):
            return v * FACTOR

    rule z:
        output: "z.txt"
        python:
            # the values
            vals = [scaled(v) + OFFSET for v in range(3)]
            label = ",".join(sorted(LABELS))
            with open(output[0], "w") as f:
                f.write(f"{vals} {label}\\n")

    rule other:
        output: "o.txt"
        python:
            open(output[0], "w").write("other\\n")

    OFFSET = 1
"""


def _lines(r) -> list[str]:
    return [ln for ln in r.out.splitlines() if ln and "job(s)" not in ln]


@pytest.fixture
def body(tmp_path: Path) -> Path:
    pipefile(tmp_path, BODY)
    assert ok(tmp_path).ran == {"z"}
    assert (tmp_path / "z.txt").read_text() == "[1, 3, 5] x,y,z\n"
    return tmp_path


def test_a_comment_or_blank_line_edit_of_a_python_body_reruns_nothing(body: Path):
    text = (body / "Pipefile").read_text()
    text = text.replace("# the values", "# the values, scaled").replace("        label =", "\n        label =")
    (body / "Pipefile").write_text(text)
    r = ok(body, "-v", env={"PYTHONHASHSEED": "7"})  # and a set of strings in another order
    assert r.ran == set() and "nothing to do" in r.out + r.err, str(r)


@pytest.mark.parametrize("old, new", [("+ OFFSET", "- OFFSET"), ("range(3)", "range(4)"), ('","', '";"'),
                                      ("sorted(LABELS)", "list(LABELS)")])
def test_a_change_of_behaviour_in_a_python_body_reruns_it(body: Path, old: str, new: str):
    text = (body / "Pipefile").read_text()
    (body / "Pipefile").write_text(text.replace(old, new))
    assert _lines(ok(body, "-n")) == ["z: rule body changed"]


def test_a_top_level_name_a_python_body_reads_reruns_it_when_it_changes(body: Path):
    assert _lines(ok(body, "-n", "OTHER=6")) == []  # not read by any body
    assert _lines(ok(body, "-n", "FACTOR=3")) == ["z: top-level FACTOR in the Python body: 2 → 3"]
    r = ok(body, "FACTOR=3")
    assert r.ran == {"z"} and (body / "z.txt").read_text() == "[1, 4, 7] x,y,z\n"
    assert ok(body, "FACTOR=3").ran == set()
    plan = _lines(ok(body, "-n", "FACTOR=3", "LABELS={'x'}"))
    assert plan == ["z: top-level LABELS in the Python body: {'x', 'y', 'z'} → {'x'}"]


def test_the_no_op_memo_never_hides_a_changed_top_level_name_of_a_python_body(body: Path):
    r = ok(body, "-v")
    assert "no-op memo" in r.err  # the memo is there, and answers for the same values
    r = ok(body, "-v", "FACTOR=4")
    assert "no-op memo" not in r.err and r.ran == {"z"}, str(r)
    assert (body / "z.txt").read_text() == "[1, 5, 9] x,y,z\n"


def test_a_top_level_function_a_python_body_calls_is_part_of_it(body: Path):
    text = (body / "Pipefile").read_text()
    (body / "Pipefile").write_text(text.replace("return v * FACTOR", "# times the factor\n            return v * FACTOR"))
    assert _lines(ok(body, "-n")) == []  # a comment in it: the same function
    (body / "Pipefile").write_text(text.replace("return v * FACTOR", "return v ** FACTOR"))
    [line] = _lines(ok(body, "-n"))
    assert line.startswith("z: top-level scaled in the Python body: function scaled xxh3:"), line


def test_a_top_level_name_read_from_the_environment_by_a_python_body(tmp_path: Path):
    pipefile(tmp_path, """
        import os
        LEVEL = os.environ.get("LEVEL", "1")
        rule z:
            output: "z.txt"
            python:
                open(output[0], "w").write(LEVEL + "\\n")
    """)
    ok(tmp_path)
    r = ok(tmp_path, "-v", env={"LEVEL": "2"})
    assert r.ran == {"z"} and (tmp_path / "z.txt").read_text() == "2\n", str(r)


def test_a_top_level_name_in_a_command_a_python_body_runs_with_shell(tmp_path: Path):
    pipefile(tmp_path, """
        THREADS ?= 2
        rule z:
            output: "z{n}.txt"
            python:
                shell("echo {THREADS} {n} > {output}")
    """)
    assert ok(tmp_path, "z1.txt").ran == {"z[n=1]"}
    assert _lines(ok(tmp_path, "-n", "z1.txt", "THREADS=4")) == ["z[n=1]: top-level {THREADS} in the Python body: 2 → 4"]
    assert ok(tmp_path, "z1.txt", "THREADS=4").ran == {"z[n=1]"}
    assert (tmp_path / "z1.txt").read_text() == "4 1\n"


# --- env: with a function ------------------------------------------------------------------

ENV = """
    TAG ?= "v1"
    rule z:
        output: "z{s}.txt"
        env: UPPER = lambda w: w.s.upper() + TAG, PLAIN = "p"
        shell: echo "$UPPER $PLAIN" > {output}
    rule all:
        input: "za.txt", "zb.txt"
"""


def test_an_env_function_is_evaluated_per_job_and_tracked(tmp_path: Path):
    pipefile(tmp_path, ENV)
    assert ok(tmp_path, "all").ran == {"z[s=a]", "z[s=b]"}
    assert (tmp_path / "za.txt").read_text() == "Av1 p\n"
    assert (tmp_path / "zb.txt").read_text() == "Bv1 p\n"
    assert ok(tmp_path, "all").ran == set()
    assert _lines(ok(tmp_path, "-n", "all", "TAG='v2'")) == ["z[s=a]: env.UPPER: Av1 → Av2",
                                                             "z[s=b]: env.UPPER: Bv1 → Bv2"]
    assert ok(tmp_path, "all", "TAG='v2'").ran == {"z[s=a]", "z[s=b]"}
    assert (tmp_path / "zb.txt").read_text() == "Bv2 p\n"
    assert ok(tmp_path, "all", "TAG='v2'").ran == set()


def test_an_env_function_that_fails_is_a_located_error(tmp_path: Path):
    pipefile(tmp_path, """
        rule z:
            output: "z{s}.txt"
            env: X = lambda w: w.nope
            shell: echo $X > {output}
    """)
    r = pyrule(tmp_path, "za.txt")
    assert r.rc == 2 and "Traceback" not in r.err, str(r)
    assert "env function failed for z[s=a]" in r.err and "Pipefile:3:5" in r.err, r.err


def test_an_api_env_function(tmp_path: Path):
    text = textwrap.dedent('''\
        from pyrule import Workflow
        wf = Workflow()
        wf.rule("z", output="z.txt", env={"N": lambda w: 6 * 7}, shell='echo "$N" > {output}')
        wf.run()
    ''')
    _build(tmp_path, text)
    assert (tmp_path / "z.txt").read_text() == "42\n"
    assert _script(tmp_path, text.replace("wf.run()", "")
                   + 'for d in wf.run(dry_run=True):\n    print(f"{d.job.name}: {d.reason}")\n') == ["z: None"]
