"""ancient(), multiext() and touch() (issue 22), as Snakemake users write them. Real pyrule."""

from __future__ import annotations

import os

from harness import ok, pipefile, pyrule, write


def test_ancient_input_changes_never_rerun(tmp_path):
    pipefile(tmp_path, """
        rule use:
            output: "out.txt"
            input:  ref = ancient("ref.txt"), data = "data.txt"
            shell: cat {input.ref} {input.data} > {output}
    """)
    write(tmp_path / "ref.txt", "ref 1\n")
    write(tmp_path / "data.txt", "data 1\n")
    ok(tmp_path)
    write(tmp_path / "ref.txt", "ref 2, newer and other content\n")
    os.utime(tmp_path / "ref.txt", (2e9, 2e9))
    r = ok(tmp_path, "-n")
    assert "nothing to do" in r.out + r.err
    assert (tmp_path / "out.txt").read_text() == "ref 1\ndata 1\n"
    write(tmp_path / "data.txt", "data 2\n")  # an ordinary input still counts
    r = ok(tmp_path, "-n")
    assert "input data.txt changed (content)" in r.out


def test_ancient_input_is_not_newer_for_adoption_but_must_exist(tmp_path):
    pipefile(tmp_path, """
        rule use:
            output: "out.txt"
            input:  ancient("ref.txt")
            shell: cat {input} > {output}
    """)
    write(tmp_path / "out.txt", "made by hand\n")
    write(tmp_path / "ref.txt", "ref\n")
    os.utime(tmp_path / "ref.txt", (2e9, 2e9))  # newer than the output: ignored
    r = ok(tmp_path, "-n")
    assert "nothing to do" in r.out + r.err or "0 job" in r.out, str(r)
    os.remove(tmp_path / "ref.txt")
    r = pyrule(tmp_path, "-n")
    assert r.rc != 0 and "no rule to make 'ref.txt'" in r.err


def test_ancient_input_made_by_a_rerun_upstream_job_does_not_rerun_the_consumer(tmp_path):
    pipefile(tmp_path, """
        rule use:
            input:  ancient("ref.txt")
            output: "out.txt"
            shell: cat {input} > {output}
        N ?= 1
        ref.txt:
            echo {N} > ref.txt
    """)
    ok(tmp_path, "out.txt")
    r = ok(tmp_path, "out.txt", "N=2")
    assert r.ran == {"ref.txt"}, str(r)
    assert (tmp_path / "out.txt").read_text() == "1\n"


def test_multiext_in_output_and_input(tmp_path):
    pipefile(tmp_path, """
        rule index:
            output: multiext("data/{s}", ".bam", ".bai")
            shell: touch {output}
        rule use:
            output: "{s}.list"
            input:  multiext("data/{s}", ".bam", ".bai")
            shell: echo {input} > {output}
    """)
    ok(tmp_path, "x.list")
    assert (tmp_path / "x.list").read_text() == "data/x.bam data/x.bai\n"


def test_touch_output_is_made_after_the_body(tmp_path):
    pipefile(tmp_path, """
        rule flag:
            output: touch("flags/{s}.done"), "out/{s}.txt"
            shell: echo hi > out/{wildcards.s}.txt
        rule pyflag:
            output: touch("flags/py.done")
            python:
                pass
        rule bodiless:
            output: touch("flags/empty.done")
    """)
    ok(tmp_path, "flags/a.done", "flags/py.done", "flags/empty.done")
    assert (tmp_path / "flags/a.done").exists() and (tmp_path / "flags/py.done").exists()
    assert (tmp_path / "flags/empty.done").exists()
    r = ok(tmp_path, "-n", "flags/a.done", "flags/py.done", "flags/empty.done")
    assert "nothing to do" in r.out + r.err


def test_touch_output_is_not_made_when_the_body_fails(tmp_path):
    pipefile(tmp_path, """
        rule flag:
            output: touch("x.done")
            shell: exit 3
    """)
    r = pyrule(tmp_path)
    assert r.rc == 1 and not (tmp_path / "x.done").exists()
