"""`resources: cores = upto(N)` (issue 22): a job gets min(N, the cores budget -j), substituted as
{resources.cores}; a plain `cores = N` over the budget is still refused. Real pyrule."""

from __future__ import annotations

import os

import pytest
from harness import ok, pipefile, pyrule


def test_upto_gets_the_budget_and_substitutes_it(tmp_path):
    pipefile(tmp_path, """
        rule big:
            output: "big.txt"
            resources: cores = upto(8)
            shell: echo {resources.cores} > {output}
    """)
    ok(tmp_path, "-j", "2")
    assert (tmp_path / "big.txt").read_text() == "2\n"
    r = ok(tmp_path, "-n", "-p", "-B", "-j", "3")
    assert "echo 3 > big.txt" in r.out
    # a larger budget than asked: N
    ok(tmp_path, "-B", "-j", "16")
    assert (tmp_path / "big.txt").read_text() == "8\n"
    # changing -j is not a change of the job: no rerun
    r = ok(tmp_path, "-n", "-j", "4")
    assert "nothing to do" in r.out + r.err


def test_upto_default_budget_is_the_cpu_count(tmp_path):
    pipefile(tmp_path, """
        rule big:
            output: "big.txt"
            resources: cores = upto(100000)
            python:
                open(output[0], "w").write(str(resources.cores))
    """)
    ok(tmp_path)
    assert (tmp_path / "big.txt").read_text() == str(os.cpu_count())


def test_plain_cores_over_the_budget_is_still_refused(tmp_path):
    pipefile(tmp_path, """
        rule big:
            output: "big.txt"
            resources: cores = 8
            shell: touch {output}
    """)
    r = pyrule(tmp_path, "-j", "2")
    assert r.rc == 2 and "needs cores=8 but the budget is 2" in r.err
    assert "cores = upto(N) takes what the budget gives" in r.err  # the way out, in the hint


@pytest.mark.parametrize("resources, message", [
    ("mem = upto(8)", "upto() is for cores only"),
    ("cores = upto(0)", "upto() takes a whole number of at least 1"),
])
def test_upto_is_for_cores_only_and_takes_a_whole_number(tmp_path, resources, message):
    pipefile(tmp_path, f"""
        rule big:
            output: "big.txt"
            resources: {resources}
            shell: touch {{output}}
    """)
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2 and message in r.err and "Pipefile:3:" in r.err
