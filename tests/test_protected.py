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
