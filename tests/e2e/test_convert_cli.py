"""`pyrule --convert SNAKEFILE [-o FILE]` as a user runs it: the Pipefile on stdout or in FILE,
what did not convert on stderr with the Snakefile's line, and the usual one-line usage errors."""

from __future__ import annotations

from pathlib import Path

from harness import pyrule, write

SNAKEFILE = '''\
rule all:
    input: "b.txt"

rule b:
    output: "b.txt"
    conda: "env.yaml"
    shell: "echo b > {output}"
'''


def test_stdout_and_notes_on_stderr(tmp_path: Path):
    write(tmp_path / "Snakefile", SNAKEFILE)
    r = pyrule(tmp_path, "--convert", "Snakefile")
    assert r.rc == 0
    assert r.out == ('rule all:\n    input: "b.txt"\n\nrule b:\n    output: "b.txt"\n    # conda: "env.yaml"\n'
                     "    shell: echo b > {output}\n")
    assert r.err.splitlines() == [
        "Snakefile:6: not converted: rule 'b': conda: pyrule has no conda environments yet",
        "1 note(s): 1 construct(s) kept as comments, 0 converted approximately (check them)",
    ]
    assert not (tmp_path / "Pipefile").exists()


def test_output_file_then_run_it(tmp_path: Path):
    write(tmp_path / "Snakefile", SNAKEFILE)
    r = pyrule(tmp_path, "--conv", "Snakefile", "-o", "Pipefile")  # abbreviations work as for every option
    assert r.rc == 0 and r.out == ""
    assert pyrule(tmp_path).rc == 0
    assert (tmp_path / "b.txt").read_text() == "b\n"


def test_usage_errors(tmp_path: Path):
    r = pyrule(tmp_path, "--convert", "Nothing")
    assert r.rc == 2 and "--convert Nothing: no such file" in r.err
    r = pyrule(tmp_path, "-o", "x.pipe")
    assert r.rc == 2 and "-o x.pipe: only with --convert" in r.err
    write(tmp_path / "Snakefile", "rule a:\n    output: (\n")
    r = pyrule(tmp_path, "--convert", "Snakefile")
    assert r.rc == 2 and r.err.startswith("Snakefile:") and "not Python tokens" in r.err


def test_a_directory_with_a_snakefile_and_no_pipefile_says_how_to_convert(tmp_path: Path):
    write(tmp_path / "workflow" / "Snakefile", SNAKEFILE)
    r = pyrule(tmp_path)
    assert r.rc == 2
    assert "hint: workflow/Snakefile is here: pyrule --convert workflow/Snakefile -o Pipefile writes it" in r.err
