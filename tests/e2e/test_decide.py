"""When a job runs, end to end: the real `pyrule` command on real files (design: "When a job
runs (invariants)"). Each test builds a small project in a temporary directory."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from harness import ok, pipefile, pyrule, write

CHAIN = """
    MIN ?= 3
    default: all

    rule all:
        input: "c1.txt", "c2.txt"

    rule a:
        output: "a{n}.txt"
        input: "src{n}.txt"
        params: min = MIN
        shell:
            grep -v '^#' {input} > {output}
            echo "min {params.min}" >> {output}

    rule b:
        output: "b{n}.txt"
        input: "a{n}.txt"
        shell:
            tr a-z A-Z < {input} > {output}

    rule c:
        output: "c{n}.txt"
        input: "b{n}.txt"
        shell:
            cat {input} {input} > {output}
"""

CHAIN1 = {"a[n=1]", "b[n=1]", "c[n=1]"}
CHAIN2 = {"a[n=2]", "b[n=2]", "c[n=2]"}


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    pipefile(tmp_path, CHAIN)
    write(tmp_path / "src1.txt", "one\n")
    write(tmp_path / "src2.txt", "two\n")
    r = ok(tmp_path)
    assert r.ran == CHAIN1 | CHAIN2, r
    assert (tmp_path / "c1.txt").read_text() == "ONE\nMIN 3\nONE\nMIN 3\n"
    return tmp_path


def _mtimes(d: Path, *names: str) -> dict[str, int]:
    return {n: os.stat(d / n).st_mtime_ns for n in names}


def test_second_run_does_nothing(chain: Path):
    before = _mtimes(chain, "a1.txt", "b1.txt", "c1.txt", "c2.txt")
    r = ok(chain)
    assert r.ran == set()
    assert "nothing to do" in r.err
    assert _mtimes(chain, "a1.txt", "b1.txt", "c1.txt", "c2.txt") == before
    assert "nothing to do" in ok(chain, "-n").out


def test_touch_without_content_change_reruns_nothing(chain: Path):
    st = os.stat(chain / "src1.txt")
    os.utime(chain / "src1.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**10))
    assert "nothing to do" in ok(chain, "-n").out
    assert ok(chain).ran == set()


def test_content_change_reruns_exactly_the_consumer_chain(chain: Path):
    write(chain / "src1.txt", "uno\n")
    plan = ok(chain, "-n").out
    assert "a[n=1]: input src1.txt changed (content)" in plan
    assert "a[n=2]" not in plan
    r = ok(chain)
    assert r.ran == CHAIN1
    assert (chain / "c1.txt").read_text() == "UNO\nMIN 3\nUNO\nMIN 3\n"
    assert ok(chain).ran == set()


def test_params_change_reruns_that_rules_jobs(chain: Path):
    plan = ok(chain, "-n", "MIN=5").out
    assert "a[n=1]: params.min: 3 → 5" in plan
    assert "a[n=2]: params.min: 3 → 5" in plan
    assert ok(chain, "-n", "MIN=3").out.strip().startswith("nothing to do")
    r = ok(chain, "MIN=5")
    assert r.ran == CHAIN1 | CHAIN2  # a's output holds the value: b and c follow
    assert "MIN 5" in (chain / "c2.txt").read_text()
    assert ok(chain, "MIN=5").ran == set()
    assert ok(chain, "MIN=3").ran == CHAIN1 | CHAIN2


def test_a_top_level_name_in_a_shell_body_reruns_its_jobs_when_it_changes(tmp_path: Path):
    pipefile(tmp_path, """
        THREADS ?= 2
        rule all:
            input: "z1.txt", "z2.txt", "o.txt"
        rule z:
            output: "z{n}.txt"
            shell: echo {THREADS} {n} > {output}
        rule other:
            output: "o.txt"
            shell: echo {rule} > {output}
    """)
    assert ok(tmp_path).ran == {"z[n=1]", "z[n=2]", "other"}
    plan = ok(tmp_path, "-n", "THREADS=4").out
    assert "z[n=1]: top-level {THREADS} in the shell body: 2 → 4" in plan
    assert "other:" not in plan  # a rule that uses no top-level name is not touched
    assert ok(tmp_path, "THREADS=4").ran == {"z[n=1]", "z[n=2]"}
    assert (tmp_path / "z2.txt").read_text() == "4 2\n"
    assert ok(tmp_path, "THREADS=4").ran == set()


def test_a_long_top_level_value_is_recorded_as_its_digest(tmp_path: Path):
    pipefile(tmp_path, """
        SAMPLES ?= ["sample%03d" % i for i in range(100)]
        rule z:
            output: "z.txt"
            shell: echo {SAMPLES} > {output}
    """)
    assert ok(tmp_path).ran == {"z"}
    assert "sample099" in (tmp_path / "z.txt").read_text()
    with sqlite3.connect(tmp_path / ".pyrule" / "state.db") as db:
        [(signature,)] = db.execute("SELECT signature FROM jobs WHERE name='z'").fetchall()
    assert "sample099" not in signature and len(signature) < 1000
    plan = ok(tmp_path, "-n", "SAMPLES=['a', 'b']").out
    assert "z: top-level {SAMPLES} in the shell body: xxh3:" in plan and "(999 characters) → a b" in plan


def test_a_wildcard_shadows_a_top_level_name_of_the_same_name(tmp_path: Path):
    pipefile(tmp_path, """
        n ?= 7
        rule z:
            output: "z{n}.txt"
            shell: echo {n} > {output}
    """)
    assert ok(tmp_path, "z1.txt").ran == {"z[n=1]"}
    assert (tmp_path / "z1.txt").read_text() == "1\n"
    assert ok(tmp_path, "z1.txt", "n=8").ran == set()  # the command did not change


def test_rule_body_change(chain: Path):
    text = (chain / "Pipefile").read_text().replace("cat {input} {input} > {output}", "cat {input} > {output}")
    (chain / "Pipefile").write_text(text)
    plan = ok(chain, "-n").out
    assert "c[n=1]: rule body changed" in plan
    assert "c[n=2]: rule body changed" in plan
    assert "b[n=1]" not in plan
    assert ok(chain).ran == {"c[n=1]", "c[n=2]"}


def test_input_set_change(tmp_path: Path):
    pipefile(tmp_path, """
        FILES ?= ["x.txt"]

        rule cat:
            output: "cat.txt"
            input: FILES
            shell: cat {input} > {output}
    """)
    write(tmp_path / "x.txt", "x\n")
    write(tmp_path / "y.txt", "y\n")
    ok(tmp_path)
    plan = ok(tmp_path, "-n", "FILES=['x.txt','y.txt']").out
    assert "cat: input set changed (+y.txt)" in plan
    assert ok(tmp_path, "FILES=['x.txt','y.txt']").ran == {"cat"}
    assert (tmp_path / "cat.txt").read_text() == "x\ny\n"
    plan = ok(tmp_path, "-n", "FILES=['y.txt']").out
    assert "cat: input set changed (-x.txt)" in plan


def test_check_mtime_reruns_on_touch(tmp_path: Path):
    pipefile(tmp_path, """
        rule by_mtime:
            output: "m.txt"
            input: "in.txt"
            check: mtime
            shell: cp {input} {output}

        rule by_content:
            output: "c.txt"
            input: "in.txt"
            shell: cp {input} {output}
    """)
    write(tmp_path / "in.txt", "x\n")
    ok(tmp_path, "m.txt", "c.txt")
    st = os.stat(tmp_path / "in.txt")
    os.utime(tmp_path / "in.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**10))
    plan = ok(tmp_path, "-n", "m.txt", "c.txt").out
    assert "by_mtime: input in.txt changed (mtime)" in plan
    assert "by_content" not in plan
    assert ok(tmp_path, "m.txt", "c.txt").ran == {"by_mtime"}


def test_early_cutoff_identical_rerun_leaves_consumer_up_to_date(chain: Path):
    before = _mtimes(chain, "a1.txt", "b1.txt", "c1.txt")
    write(chain / "src1.txt", "# a comment the rule drops\none\n")
    assert "b[n=1]: upstream a[n=1] will run" in ok(chain, "-n").out
    r = ok(chain)
    assert r.ran == {"a[n=1]"}
    assert r.jobs()["b[n=1]"]["status"] == "up-to-date"
    after = _mtimes(chain, "a1.txt", "b1.txt", "c1.txt")
    assert after["a1.txt"] != before["a1.txt"]
    assert after["b1.txt"] == before["b1.txt"]
    assert after["c1.txt"] == before["c1.txt"]
    assert ok(chain).ran == set()


ADOPT = """
    rule make:
        output: "out.txt"
        input: "in.txt"
        shell: echo built > {output}
"""


def test_adoption_of_newer_outputs_made_by_hand(tmp_path: Path):
    pipefile(tmp_path, ADOPT)
    write(tmp_path / "in.txt", "x\n")
    write(tmp_path / "out.txt", "by hand\n")
    st = os.stat(tmp_path / "in.txt")
    os.utime(tmp_path / "out.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert "nothing to do" in ok(tmp_path, "-n").out
    r = ok(tmp_path)
    assert r.ran == set()
    assert r.jobs()["make"]["status"] == "up-to-date"
    assert (tmp_path / "out.txt").read_text() == "by hand\n"
    # recorded: its signature is now pyrule's, so a content change of the input reruns it
    why = ok(tmp_path, "--why", "out.txt").out
    assert "make is up to date: signature unchanged" in why
    write(tmp_path / "in.txt", "y\n")
    assert "make: input in.txt changed (content)" in ok(tmp_path, "-n").out
    assert ok(tmp_path).ran == {"make"}
    assert (tmp_path / "out.txt").read_text() == "built\n"


def test_adoption_refuses_outputs_older_than_inputs(tmp_path: Path):
    pipefile(tmp_path, ADOPT)
    write(tmp_path / "out.txt", "by hand\n")
    write(tmp_path / "in.txt", "x\n")
    st = os.stat(tmp_path / "in.txt")
    os.utime(tmp_path / "out.txt", ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))
    assert "make: never built by pyrule, and input in.txt is newer than its outputs" in ok(tmp_path, "-n").out
    assert ok(tmp_path).ran == {"make"}
    assert (tmp_path / "out.txt").read_text() == "built\n"


def test_missing_output_is_rebuilt(chain: Path):
    before = _mtimes(chain, "c1.txt")
    os.unlink(chain / "b1.txt")
    assert "b[n=1]: output b1.txt missing" in ok(chain, "-n").out
    r = ok(chain)
    assert r.ran == {"b[n=1]"}  # rebuilt with identical bytes: c stays up to date
    assert (chain / "b1.txt").read_text() == "ONE\nMIN 3\n"
    assert _mtimes(chain, "c1.txt") == before


def test_force_all(chain: Path):
    assert ok(chain, "-B").ran - {"all"} == CHAIN1 | CHAIN2  # 'all' has no body: forced, it runs nothing
    assert ok(chain).ran == set()


def test_force_target_and_everything_downstream(chain: Path):
    plan = ok(chain, "-n", "--force", "a2.txt").out
    assert "a[n=2]: forced" in plan and "c[n=2]: forced" in plan
    r = ok(chain, "--force", "a2.txt")
    assert CHAIN2 <= r.ran
    assert not (CHAIN1 & r.ran)
    r = ok(chain, "--force", "b")  # a rule name: all its jobs
    assert {"b[n=1]", "b[n=2]", "c[n=1]", "c[n=2]"} <= r.ran
    assert not ({"a[n=1]", "a[n=2]"} & r.ran)
    bad = pyrule(chain, "--force", "nope.txt")
    assert bad.rc == 2 and "--force nope.txt" in bad.err


def test_why_stale_and_up_to_date(chain: Path):
    write(chain / "src1.txt", "uno\n")
    why = ok(chain, "--why", "c1.txt").out.splitlines()
    assert why[0] == "c[n=1] will run: upstream b[n=1] will run"
    assert why[1] == "  b[n=1] will run: upstream a[n=1] will run"
    assert why[2] == "    a[n=1] will run: input src1.txt changed (content)"
    why = ok(chain, "--why", "c2.txt").out
    assert why.startswith("c[n=2] is up to date: signature unchanged since its last success")
    assert ok(chain, "--why", "a").out.count("will run") == 1  # a rule: each of its jobs
    bad = pyrule(chain, "--why", "zzz.txt")
    assert bad.rc != 0 and "--why zzz.txt" in bad.err
    assert ok(chain).ran == CHAIN1  # --why ran nothing


def test_until(tmp_path: Path):
    pipefile(tmp_path, CHAIN)
    write(tmp_path / "src1.txt", "one\n")
    write(tmp_path / "src2.txt", "two\n")
    r = ok(tmp_path, "--until", "b")
    assert r.ran == {"a[n=1]", "a[n=2]", "b[n=1]", "b[n=2]"}
    assert not (tmp_path / "c1.txt").exists()
    r = ok(tmp_path, "--until", "c2.txt")
    assert r.ran == {"c[n=2]"}
    assert not (tmp_path / "c1.txt").exists()
    assert ok(tmp_path).ran == {"c[n=1]"}
