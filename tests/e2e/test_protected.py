"""protected() outputs: pyrule never deletes or rewrites one that exists unless told so with
--overwrite-protected (refused before anything runs, exit 2), and never changes a file's mode
through a symlink."""

from __future__ import annotations

import os
import stat

KEEP = """
MODE ?= "gold"

rule keep:
    output: protected("precious.txt")
    params: mode = MODE
    shell: echo {params.mode} > {output}

rule other:
    output: "other.txt"
    shell: echo other > {output}
"""


def _writable(path) -> bool:
    return bool(os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def test_force_all_refuses_to_rewrite_a_protected_output(project):
    project.pipefile(KEEP)
    assert project.run("precious.txt", "other.txt")[0] == 0
    assert not _writable(project / "precious.txt")
    other = (project / "other.txt").stat().st_mtime_ns
    rc, out, err = project.run("-n", "-B", "precious.txt", "other.txt")
    assert rc == 0 and "keep: forced" in out and "would be refused" in err and "precious.txt" in err, err
    err = project.error("-B", "precious.txt", "other.txt")
    assert "precious.txt" in err and "--overwrite-protected" in err and "Pipefile:5:5" in err, err
    assert (project / "precious.txt").read_text() == "gold\n"
    assert (project / "other.txt").stat().st_mtime_ns == other  # nothing ran at all
    # told so explicitly, it is rebuilt (and protected again)
    rc, _, err = project.run("-B", "--overwrite-protected", "precious.txt")
    assert rc == 0, err
    assert not _writable(project / "precious.txt")


def test_a_param_change_refuses_to_rewrite_a_protected_output(project):
    project.pipefile(KEEP)
    assert project.run("precious.txt")[0] == 0
    err = project.error("precious.txt", "MODE=lead")
    assert "precious.txt" in err and "--overwrite-protected" in err and "params.mode" in err, err
    assert (project / "precious.txt").read_text() == "gold\n"
    assert project.run("precious.txt", "MODE=lead", "--overwrite-protected")[0] == 0
    assert (project / "precious.txt").read_text() == "lead\n"
    # an up-to-date protected output is no obstacle
    assert project.run("precious.txt", "MODE=lead")[0] == 0


def test_protected_symlink_output_does_not_change_the_file_it_points_to(project, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("theirs\n")
    outside.chmod(0o644)
    project.pipefile(f"""
        rule link:
            output: protected("link.txt")
            shell: ln -s {outside} {{output}}
    """)
    rc, _, err = project.run()
    assert rc == 0, err
    assert os.path.islink(project / "link.txt")
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644


def test_a_job_a_checkpoint_adds_does_not_rewrite_a_protected_output(project):
    # Jobs known only once a checkpoint has run are checked when they are re-planned: the one
    # that would rewrite a protected output fails (exit 1), and so does not what needs it.
    project.pipefile("""
        import os

        default: merged.txt

        checkpoint split:
            output: directory("chunks")
            input:  "input.txt"
            shell:  mkdir -p {output}; split -l 2 -d -a 3 {input} {output}/part.; for f in {output}/part.*; do mv $f $f.txt; done

        rule process:
            output: protected("processed/{part}.txt")
            input:  "chunks/{part}.txt"
            shell:  tr a-z A-Z < {input} > {output}

        python:
            def chunks(wildcards):
                d = checkpoints.split.get().output[0]
                return expand("processed/{part}.txt", part=glob_wildcards(os.path.join(d, "{part}.txt")).part)

        rule merge:
            output: "merged.txt"
            input:  chunks
            shell:  cat {input} > {output}
    """)
    project.write("input.txt", "a\nb\n")
    assert project.run()[0] == 0
    assert (project / "processed/part.000.txt").read_text() == "A\nB\n"
    import shutil

    shutil.rmtree(project / "chunks")  # the checkpoint's result is gone: its dependents are unknown
    project.write("input.txt", "c\nd\n")
    rc, _, err = project.run()
    assert rc == 1, err
    assert "processed/part.000.txt" in err and "--overwrite-protected" in err, err
    assert (project / "processed/part.000.txt").read_text() == "A\nB\n"
    assert project.run("--overwrite-protected")[0] == 0
    assert (project / "processed/part.000.txt").read_text() == "C\nD\n"
