"""The no-op memo's partial path (noop_memo.py, issue 23's W7d): when some paths changed since a
run that had nothing to do, pyrule decides only the jobs those paths reach (and their consumers,
downstream) and trusts the memo for the rest. Never silently wrong: every scenario here is also
run the long way (PYRULE_NOOP_MEMO=0) on a copy of the same workspace, and the two must run the
same jobs and leave the same files.

`-v` says when the partial path decided (PARTIAL); the tests read that, and the files."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import fanout_pipefile, ok, pipefile, write

PARTIAL = "job(s) they reach"
MEMO = "no-op memo"  # a whole no-op answered from the memo

N = 150  # 3 paths a job: several of the memo's 64-path sub-chunks


def _fan(n: int = N, fan_in: bool = False) -> str:
    agg = """
    rule agg:
        output: "sum.txt"
        input: expand("out/{i}.txt", i=range(N))
        shell: cat {input} > {output}
    """ if fan_in else ""
    return f"""
    N = {n}

    rule all:
        input: {'"sum.txt", ' if fan_in else ''}expand("out/{{i}}.txt", i=range(N))

    rule b:
        output: "out/{{i}}.txt"
        input: "mid/{{i}}.txt"
        shell: cat {{input}} > {{output}}

    rule a:
        output: "mid/{{i}}.txt"
        input: "in/{{i}}.txt"
        shell: cat {{input}} > {{output}}
    """ + agg


def _project(d: Path, text: str, n: int = N) -> Path:
    pipefile(d, text)
    for i in range(n):
        write(d / "in" / f"{i}.txt", f"input {i}\n")
    ok(d)
    r = ok(d, "-v")
    assert MEMO in r.err, str(r)  # the build left a memo, and it answers
    return d


def _files(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): p.read_text() for sub in ("mid", "out") if (d / sub).is_dir()
            for p in sorted((d / sub).iterdir())} | ({"sum.txt": (d / "sum.txt").read_text()}
                                                     if (d / "sum.txt").exists() else {})


def _counts(err: str) -> list[str]:
    """The run's counts as the console says them: `N job(s) to run, M up to date` and the `done:` line's."""
    return re.findall(r"\d+ job\(s\) to run, \d+ up to date|\d+ ran, \d+ up to date", err)


def _both_ways(d: Path, change: Callable[[Path], None], partial: bool = True) -> set[str]:
    """Apply `change`, copy the workspace, run pyrule on both: the memo's way here and the long
    way (PYRULE_NOOP_MEMO=0) on the copy. They must run the same jobs and leave the same files.
    Returns the jobs that ran; `partial`: whether the partial path must have decided."""
    change(d)
    long = d.parent / (d.name + "-long")
    shutil.copytree(d, long, symlinks=True)
    r = ok(d, "-v")
    assert (PARTIAL in r.err) == partial, str(r)
    assert MEMO not in r.err, str(r)
    rl = ok(long, "-v", env={"PYRULE_NOOP_MEMO": "0"})
    assert r.ran == rl.ran, f"partial:\n{r}\nlong way:\n{rl}"
    # and say the same counts: the jobs the memo vouched for are up to date, as the long way finds
    assert _counts(r.err) == _counts(rl.err), f"partial:\n{r}\nlong way:\n{rl}"
    assert _files(d) == _files(long)
    r2 = ok(d, "-v")  # the run left a memo, which answers now, and is right to
    assert MEMO in r2.err and not r2.ran, str(r2)
    assert ok(long, "-v", env={"PYRULE_NOOP_MEMO": "0"}).ran == set()
    return r.ran


def test_one_changed_input_reruns_its_job_and_its_consumers_only(tmp_path: Path):
    d = _project(tmp_path / "p", _fan())
    ran = _both_ways(d, lambda d: write(d / "in" / "7.txt", "changed\n"))
    assert ran == {"a[i=7]", "b[i=7]"}
    assert (d / "out" / "7.txt").read_text() == "changed\n"


def test_a_changed_output_of_an_unrelated_job_is_noticed(tmp_path: Path):
    # mid/8.txt (job a[i=8]'s output, b[i=8]'s input) edited by hand beside the changed input:
    # as the long way does, its consumer reruns (an edited output is a changed input for it)
    d = _project(tmp_path / "p", _fan())

    def change(d: Path) -> None:
        write(d / "in" / "7.txt", "changed\n")
        write(d / "mid" / "8.txt", "edited by hand\n")
        write(d / "out" / "9.txt", "also by hand\n")  # no consumer: left alone, as the long way leaves it

    ran = _both_ways(d, change)
    assert ran == {"a[i=7]", "b[i=7]", "b[i=8]"}
    assert (d / "out" / "8.txt").read_text() == "edited by hand\n"


def test_an_output_changed_alone_is_noticed(tmp_path: Path):
    d = _project(tmp_path / "p", _fan())
    assert _both_ways(d, lambda d: write(d / "mid" / "120.txt", "edited\n")) == {"b[i=120]"}


@pytest.mark.parametrize("path, rerun", [
    ("out/40.txt", {"b[i=40]"}),
    ("mid/41.txt", {"a[i=41]"}),  # b[i=41]'s input comes back the same: early cutoff
])
def test_a_deleted_output_is_rebuilt(tmp_path: Path, path: str, rerun: set[str]):
    d = _project(tmp_path / "p", _fan())
    assert _both_ways(d, lambda d: os.remove(d / path)) == rerun
    assert (d / path).read_text() == f"input {path.split('/')[1].split('.')[0]}\n"


def test_two_changed_inputs_in_different_chunks(tmp_path: Path):
    # 2 x 2100 paths: more than one chunk of 4096 paths, far apart
    n = 2100
    d = _project(tmp_path / "p", fanout_pipefile(n), n)

    def change(d: Path) -> None:
        write(d / "in" / "3.txt", "changed\n")
        write(d / "in" / f"{n - 3}.txt", "changed too\n")

    assert _both_ways(d, change) == {"copy[i=3]", f"copy[i={n - 3}]"}


def test_a_changed_input_whose_consumer_is_an_aggregate_reruns_the_aggregate(tmp_path: Path):
    d = _project(tmp_path / "p", _fan(fan_in=True))
    ran = _both_ways(d, lambda d: write(d / "in" / "3.txt", "changed\n"))
    assert ran == {"a[i=3]", "b[i=3]", "agg"}
    assert "changed\n" in (d / "sum.txt").read_text()


def test_a_changed_input_with_the_same_content_reruns_nothing(tmp_path: Path):
    d = _project(tmp_path / "p", _fan())

    def touch(d: Path) -> None:
        os.utime(d / "in" / "5.txt", ns=(0, 10**18))

    assert _both_ways(d, touch) == set()


def test_a_pipefile_edit_decides_the_long_way(tmp_path: Path):
    d = _project(tmp_path / "p", _fan())

    def change(d: Path) -> None:
        write(d / "in" / "7.txt", "changed\n")
        text = (d / "Pipefile").read_text()
        a = text.index("rule a:")
        (d / "Pipefile").write_text(text[:a] + text[a:].replace("cat {input}", "cat < {input}"))

    # a rule's body edited: every job of it reruns (their consumers' inputs come out the same)
    assert _both_ways(d, change, partial=False) == {f"a[i={i}]" for i in range(N)} | {"b[i=7]"}


def test_a_command_line_variable_decides_the_long_way(tmp_path: Path):
    # a variable that changes a rule's body changes the memo's key: no memo, the long way
    text = _fan().replace("    N = 150\n", '    N = 150\n    TAG ?= "x"\n').replace(
        "mid/{i}.txt\"\n        shell: cat {input} > {output}", "mid/{i}.txt\"\n        shell: cat {input} > {output}; echo {TAG} >> {output}")
    assert "echo {TAG}" in text
    d = _project(tmp_path / "p", text)
    write(d / "in" / "7.txt", "changed\n")
    r = ok(d, "-v", "TAG=y")
    assert PARTIAL not in r.err and MEMO not in r.err, str(r)
    assert len(r.ran) == N + 1 and "a[i=7]" in r.ran  # every b (its body's TAG), and a[i=7]


def test_another_run_that_recorded_a_job_decides_the_long_way(tmp_path: Path):
    # The store changed since the memo (another target built): its generation retires the memo.
    d = _project(tmp_path / "p", _fan())
    write(d / "in" / "7.txt", "changed\n")
    assert ok(d, "mid/7.txt").ran == {"a[i=7]"}
    r = ok(d, "-v")
    assert PARTIAL not in r.err and r.ran == {"b[i=7]"}, str(r)


def test_a_dry_run_after_a_change_decides_the_long_way_and_changes_nothing(tmp_path: Path):
    d = _project(tmp_path / "p", _fan())
    write(d / "in" / "7.txt", "changed\n")
    r = ok(d, "-n", "-v")
    assert PARTIAL not in r.err
    assert "a[i=7]" in r.out and "b[i=7]" in r.out
    assert _both_ways(d, lambda d: None) == {"a[i=7]", "b[i=7]"}


def test_a_changed_input_read_by_a_job_with_an_input_function_is_never_memoised(tmp_path: Path):
    # Jobs that read values or checkpoints (input functions) have no memo at all: the long way.
    d = tmp_path / "p"
    pipefile(d, """
        rule all:
            input: lambda w: ["out/1.txt"]
        rule b:
            output: "out/{i}.txt"
            input: "in/{i}.txt"
            shell: cat {input} > {output}
    """)
    write(d / "in" / "1.txt", "one\n")
    ok(d)
    write(d / "in" / "1.txt", "two\n")
    r = ok(d, "-v")
    assert PARTIAL not in r.err and r.ran == {"b[i=1]"}, str(r)


def test_a_python_body_that_may_read_job_values_decides_the_long_way(tmp_path: Path):
    # A job that reads another's value (values.NAME.get() in its body) depends on it without a
    # path between them: the memo's graph does not hold that, so the long way decides.
    text = _fan().replace("    rule a:\n", '''    rule v:
        output: "v.txt"
        python:
            values = "none"
            open(output[0], "w").write(values)

    rule a:
''').replace('"sum.txt", ', "").replace("input: expand(", 'input: "v.txt", expand(', 1)
    assert "rule v:" in text and 'input: "v.txt"' in text
    d = _project(tmp_path / "p", text)
    assert _both_ways(d, lambda d: write(d / "in" / "7.txt", "changed\n"), partial=False) == {"a[i=7]", "b[i=7]"}


def test_a_temp_output_is_brought_back_for_a_consumer_decided_alone(tmp_path: Path):
    # b's input is a temp() output, removed after the build: a changed second input of b
    # (decided alone) needs it again, so its producer a (planned upstream of b) runs again.
    text = _fan().replace('output: "mid/{{i}}.txt"'.replace("{{", "{").replace("}}", "}"),
                          'output: temp("mid/{i}.txt")').replace(
        'input: "mid/{i}.txt"', 'input: "mid/{i}.txt", "extra/{i}.txt"')
    assert "temp(" in text and "extra/" in text
    d = tmp_path / "p"
    for i in range(N):
        write(d / "extra" / f"{i}.txt", f"extra {i}\n")
    _project(d, text)
    assert not (d / "mid" / "7.txt").exists()
    assert _both_ways(d, lambda d: write(d / "extra" / "7.txt", "changed\n")) == {"a[i=7]", "b[i=7]"}
    assert (d / "out" / "7.txt").read_text() == "input 7\nchanged\n"


@pytest.mark.parametrize("fan_in", [False, True])
def test_random_changes_are_decided_as_the_long_way_decides(tmp_path: Path, fan_in: bool):
    # A seeded walk of 1-3 changes at a time (inputs edited or touched, outputs deleted or edited
    # by hand, the aggregate deleted), applied alike to two copies: one run the memo's way, one
    # the long way. Every step they run the same jobs and leave the same files. (With the
    # aggregate every partial decision plans the whole graph, which is upstream of it.)
    import random

    rng = random.Random(23)
    d = _project(tmp_path / "p", _fan(fan_in=fan_in))
    kinds = ["edit", "touch", "rm-out", "rm-mid", "hand-mid"] + (["rm-sum"] if fan_in else [])
    long = tmp_path / "long"
    shutil.copytree(d, long, symlinks=True)
    partial_steps = 0
    for step in range(8):
        changes = []
        for _ in range(rng.randint(1, 3)):
            i, what = rng.randrange(N), rng.choice(kinds)
            changes.append((i, what, f"step {step} {rng.random()}\n"))
        for root in (d, long):
            for i, what, text in changes:
                path = {"edit": f"in/{i}.txt", "touch": f"in/{i}.txt", "rm-out": f"out/{i}.txt",
                        "rm-mid": f"mid/{i}.txt", "hand-mid": f"mid/{i}.txt", "rm-sum": "sum.txt"}[what]
                if what in ("edit", "hand-mid"):
                    write(root / path, text)
                elif what == "touch":
                    os.utime(root / path, ns=(step, 10**18 + step))
                elif (root / path).exists():
                    os.remove(root / path)
        r = ok(d, "-v")
        partial_steps += PARTIAL in r.err
        rl = ok(long, "-v", env={"PYRULE_NOOP_MEMO": "0"})
        assert r.ran == rl.ran, f"step {step} {changes}:\npartial:\n{r}\nlong way:\n{rl}"
        assert _files(d) == _files(long), f"step {step} {changes}"
    assert partial_steps >= 6  # (the rest: a change the memo cannot take, or none left)
