"""`pyrule --fmt [--check] [FILE ...]` through the real command, on real files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from harness import pyrule, write

pytest.importorskip("black", reason="black is in the [fmt] and [test] extras")

REPO = Path(__file__).resolve().parent.parent.parent

CANONICAL = """\
# counts
SAMPLES = ["a", "b"]

rule count:
    output: "counts/{s}.txt"  # one per sample
    input: "reads/{s}.txt"
    shell:
        wc -l   < {input}  >  {output}

rule all:
    input: expand("counts/{s}.txt", s=SAMPLES)
"""
# The same, written as it comes: single quotes, 2-space indentation, no blank lines.
MESSY = CANONICAL.replace('"', "'").replace("    ", "  ").replace("\n\n", "\n")


def _stamp(path: Path) -> tuple[int, bytes]:
    return path.stat().st_mtime_ns, path.read_bytes()


def test_fmt_rewrites_the_pipefile_and_leaves_a_canonical_one_alone(tmp_path: Path):
    pipefile = write(tmp_path / "Pipefile", MESSY)
    r = pyrule(tmp_path, "--fmt")
    assert r.rc == 0, r
    assert pipefile.read_text() == CANONICAL
    assert "reformatted Pipefile" in r.err
    os.utime(pipefile, ns=(1_000_000_000, 1_000_000_000))  # an mtime the next write would change
    before = _stamp(pipefile)
    r = pyrule(tmp_path, "--fmt")
    assert r.rc == 0, r
    assert _stamp(pipefile) == before  # not rewritten
    assert "0 file(s) reformatted, 1 already formatted" in r.err


def test_check_exits_1_with_a_diff_and_writes_nothing(tmp_path: Path):
    pipefile = write(tmp_path / "Pipefile", MESSY)
    before = _stamp(pipefile)
    r = pyrule(tmp_path, "--fmt", "--check")
    assert r.rc == 1, r
    assert _stamp(pipefile) == before
    assert r.out.startswith("--- Pipefile (as it is)\n+++ Pipefile (formatted)\n@@ ")
    assert "-SAMPLES = ['a', 'b']\n+SAMPLES = [\"a\", \"b\"]\n" in r.out
    assert "would reformat Pipefile" in r.err
    pipefile.write_text(CANONICAL)
    r = pyrule(tmp_path, "--fmt", "--check")
    assert (r.rc, r.out) == (0, ""), r


def test_files_named_on_the_command_line(tmp_path: Path):
    a = write(tmp_path / "a.pipe", MESSY)
    b = write(tmp_path / "sub" / "b.pipe", CANONICAL)
    r = pyrule(tmp_path, "--check", "--fmt", "a.pipe", "sub/b.pipe")
    assert r.rc == 1 and "would reformat a.pipe" in r.err and "sub/b.pipe" not in r.out, r
    r = pyrule(tmp_path, "--fmt", "-f", "a.pipe")
    assert r.rc == 0 and a.read_text() == CANONICAL and b.read_text() == CANONICAL, r
    r = pyrule(tmp_path, "--fmt")  # no Pipefile here or above (tmp_path's parents hold none)
    assert r.rc == 2 and "error: no Pipefile here or in any parent directory" in r.err, r
    write(tmp_path / "Pipefile", MESSY)
    r = pyrule(tmp_path / "sub", "--fmt", "--check")  # the nearest one above, as a run finds it
    assert r.rc == 1 and "would reformat ../Pipefile" in r.err, r


def test_a_syntax_error_is_the_commands_error_and_nothing_is_written(tmp_path: Path):
    broken = MESSY.replace("  input: 'reads", "  ouput: 'reads")
    assert broken != MESSY
    pipefile = write(tmp_path / "Pipefile", broken)
    run = pyrule(tmp_path, "-n")
    for args in (["--fmt"], ["--fmt", "--check"]):
        r = pyrule(tmp_path, *args)
        assert r.rc == 2, r
        assert r.err.startswith("Pipefile:5:3: error: unknown section 'ouput'")
        assert r.err == run.err
        assert pipefile.read_text() == broken
    assert run.rc == 2


def test_every_example_is_stable_under_the_command(tmp_path: Path):
    for example in sorted(REPO.glob("examples/*/Pipefile")):
        project = tmp_path / example.parent.name
        shutil.copytree(example.parent, project)
        assert pyrule(project, "--fmt").rc == 0
        r = pyrule(project, "--fmt", "--check")
        assert (r.rc, r.out) == (0, ""), r
        assert pyrule(project, "-n", "-q").rc == 0


def test_formatting_makes_no_job_rerun(tmp_path: Path):
    project = tmp_path / "train-evaluate"
    shutil.copytree(REPO / "examples" / "train-evaluate", project)  # Python bodies and helpers black rewrites
    assert pyrule(project, "-q", "-j", "2").rc == 0
    r = pyrule(project, "--fmt")
    assert "reformatted Pipefile" in r.err, r
    r = pyrule(project, "-n", env={"PYRULE_NOOP_MEMO": "0"})
    assert r.rc == 0 and "nothing to do" in r.out + r.err, r


@pytest.mark.ci_may_skip("root writes into a read-only directory")
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_file_that_cannot_be_written_is_an_error_not_a_crash(tmp_path: Path):
    pipefile = write(tmp_path / "d" / "Pipefile", MESSY)
    (tmp_path / "d").chmod(0o555)
    try:
        r = pyrule(tmp_path / "d", "--fmt")
    finally:
        (tmp_path / "d").chmod(0o755)
    assert r.rc == 2 and "error: cannot write Pipefile: Permission denied" in r.err, r
    assert pipefile.read_text() == MESSY and os.listdir(tmp_path / "d") == ["Pipefile"]


def test_check_without_fmt_is_a_usage_error(tmp_path: Path):
    write(tmp_path / "Pipefile", CANONICAL)
    r = pyrule(tmp_path, "--check")
    assert r.rc == 2 and "error: --check: only with --fmt" in r.err, r


def test_a_run_imports_neither_black_nor_the_formatter(tmp_path: Path):
    """The start-up import guard (tests/test_startup_imports.py), for what --fmt brings."""
    import subprocess
    import sys

    write(tmp_path / "Pipefile", CANONICAL)
    write(tmp_path / "reads" / "a.txt", "x\n")
    write(tmp_path / "reads" / "b.txt", "y\n")
    code = ("import sys\nfrom pyrule.cli import main\nrc = main(['-q', 'all'])\n"
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] == 'black' or m == 'pyrule.fmt'))")
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.stdout.split("\n")[-2] == "0 []", p.stdout + p.stderr
    assert (tmp_path / "counts" / "a.txt").exists()


def test_without_black_fmt_says_how_to_get_it(tmp_path: Path):
    shim = write(tmp_path / "shim" / "black.py", "raise ImportError('black is not installed here')\n").parent
    project = tmp_path / "project"
    pipefile = write(project / "Pipefile", MESSY)
    r = pyrule(project, "--fmt", "Pipefile", "Pipefile",
               env={"PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])})
    assert r.rc == 2 and r.err.count("error: pyrule --fmt needs black, which is not installed") == 1, r
    assert "pip install 'pyrule[fmt]'" in r.err and pipefile.read_text() == MESSY


def test_standard_input_to_standard_output(tmp_path: Path):
    import subprocess

    from harness import PYRULE

    def fmt(*args: str, text: str) -> subprocess.CompletedProcess:
        return subprocess.run([*PYRULE, "--fmt", *args, "-"], input=text, cwd=tmp_path, capture_output=True,
                              text=True, timeout=60, env=dict(os.environ, NO_COLOR="1"))

    p = fmt(text=MESSY)
    assert (p.returncode, p.stdout, p.stderr) == (0, CANONICAL, "")
    p = fmt("--check", text=MESSY)
    assert p.returncode == 1 and p.stdout.startswith("--- - (as it is)\n+++ - (formatted)\n"), p
    p = fmt("--check", text=CANONICAL)
    assert (p.returncode, p.stdout) == (0, ""), p
    p = fmt(text=MESSY.replace("  input:", "  ouput:"))
    assert p.returncode == 2 and p.stdout == "" and p.stderr.startswith("<stdin>:5:3: error: unknown section 'ouput'"), p
    assert list(tmp_path.iterdir()) == []
