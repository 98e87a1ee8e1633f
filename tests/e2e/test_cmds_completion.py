"""Shell completion (issue 22): `pyrule --completion bash|zsh|fish` scripts, run by the real shells,
completing options and the current Pipefile's rule names and targets through the hidden
`pyrule --complete-targets`, which never runs the Pipefile's Python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import in_ci
from harness import ok, pipefile, write

PIPEFILE = """
    import os
    MARK = open("python-ran", "a").write("x")  # the Pipefile's Python leaves a mark
    N ?= 3
    default: summary.txt

    rule count:
        output: "counts/{sample}.tsv"
        input: "reads/{sample}.fq"
        shell: cp {input} {output}

    rule summarize:
        output: "summary.txt", log2 = protected("summary.log")
        input: "counts/a.tsv"
        shell: cat {input} > {output[0]}; touch {output.log2}

    plots/a.png: counts/a.tsv
        cp {input} {output}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    pipefile(d, PIPEFILE)
    write(d / "reads/a.fq", "r")
    write(d / "config.yaml", "c")
    # `pyrule` on PATH, as the scripts call it: this checkout's, by the interpreter running the tests
    bin_dir = tmp_path / "bin"
    write(bin_dir / "pyrule", f'#!/bin/sh\nexec {sys.executable} -m pyrule "$@"\n').chmod(0o755)
    return d


def _env(project: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{project.parent / 'bin'}:{os.environ['PATH']}", "NO_COLOR": "1",
            "HOME": str(project.parent), "XDG_CONFIG_HOME": str(project.parent / ".config")}


def test_complete_targets_reads_the_syntax_only(project):
    out = ok(project, "--complete-targets").out.splitlines()
    assert out == ["count", "summarize", "summary.txt", "summary.log", "plots/a.png", "N="]
    assert not (project / "python-ran").exists()
    ok(project, "-n")  # parses (and caches the parse), runs the Python
    (project / "python-ran").unlink()
    assert ok(project, "--complete-targets").out.splitlines()[0] == "count"
    assert not (project / "python-ran").exists()
    sub = project / "reads"
    assert ok(sub, "--complete-targets").out.splitlines()[0] == "count"  # the Pipefile above


def _bash(project: Path, words: list[str]) -> list[str]:
    script = ok(project, "--completion", "bash").out
    (project.parent / "complete.bash").write_text(script)
    quoted = " ".join(f"'{w}'" for w in words)
    code = (f"source {project.parent / 'complete.bash'}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
            '_pyrule; printf "%s\\n" "${COMPREPLY[@]}"; complete -p pyrule')
    p = subprocess.run(["bash", "-c", code], cwd=project, env=_env(project), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[-1] == "complete -o filenames -F _pyrule pyrule"
    return [ln for ln in lines[:-1] if ln]


def test_bash_completes_rule_names_targets_and_files(project):
    assert _bash(project, ["pyrule", "s"]) == ["summarize", "summary.txt", "summary.log"]
    assert _bash(project, ["pyrule", "co"]) == ["count", "config.yaml"]
    assert _bash(project, ["pyrule", "-n", "pl"]) == ["plots/a.png"]
    assert _bash(project, ["pyrule", "N"]) == ["N="]  # an override of a ?= variable


def test_bash_completes_options_and_their_values(project):
    assert _bash(project, ["pyrule", "--keep"]) == ["--keep-going"]
    assert set(_bash(project, ["pyrule", "--list"])) == {"--list", "--list-changes", "--list-untracked"}
    assert _bash(project, ["pyrule", "--list-changes", ""]) == ["params", "code", "input"]
    assert _bash(project, ["pyrule", "--executor", "sl"]) == ["slurm"]
    assert _bash(project, ["pyrule", "--completion", "f"]) == ["fish"]
    assert _bash(project, ["pyrule", "--why", "cou"]) == ["count"]
    assert _bash(project, ["pyrule", "-j", ""]) == []


def test_bash_asks_the_pipefile_named_by_f_and_c(project, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    pipefile(other, """
        rule zeta:
            output: "z.txt"
            shell: touch {output}
    """)
    assert _bash(project, ["pyrule", "-C", str(other), "z"]) == ["zeta", "z.txt"]
    assert _bash(project, ["pyrule", "-f", str(other / "Pipefile"), "ze"]) == ["zeta"]


def _shell(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if in_ci():
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return path


def test_zsh_script_loads_and_finds_the_targets(project):
    zsh = _shell("zsh")
    script = ok(project, "--completion", "zsh").out
    path = project.parent / "_pyrule"
    path.write_text(script)
    assert subprocess.run([zsh, "-n", str(path)], capture_output=True, text=True).returncode == 0
    code = (f"autoload -Uz compinit && compinit -u -d {project.parent / 'zcompdump'}; source {path}; "
            "print -r -- $_comps[pyrule]; words=(pyrule su); CURRENT=2; _pyrule_targets")
    p = subprocess.run([zsh, "-f", "-c", code], cwd=project, env=_env(project), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["_pyrule", "count", "summarize", "summary.txt", "summary.log", "plots/a.png",
                                     "N="]


def test_fish_completes_for_real(project):
    fish = _shell("fish")
    script = ok(project, "--completion", "fish").out
    path = project.parent / "pyrule.fish"
    path.write_text(script)

    def complete(line: str) -> list[str]:
        p = subprocess.run([fish, "--no-config", "-c", f"source {path}; complete -C '{line}'"], cwd=project,
                           env=_env(project), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return [ln.split("\t")[0] for ln in p.stdout.splitlines()]

    assert {"summarize", "summary.txt", "summary.log"} <= set(complete("pyrule su"))
    assert complete("pyrule --keep") == ["--keep-going"]
    assert complete("pyrule --list-changes ") == ["code", "input", "params"] or \
        sorted(complete("pyrule --list-changes ")) == ["code", "input", "params"]
    assert complete("pyrule --why cou") == ["count"]
    assert complete("pyrule N") == ["N="]


def test_zsh_completes_in_a_real_completion_widget(project):
    """An interactive zsh on a pseudo-terminal (zsh/zpty) is sent `pyrule su<TAB>`; compadd is
    wrapped to write down the matches it is given."""
    zsh = _shell("zsh")
    base = project.parent
    (base / "_pyrule").write_text(ok(project, "--completion", "zsh").out)
    got = base / "got"
    driver = base / "drive.zsh"
    driver.write_text(f"""\
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1=''; autoload -Uz compinit; compinit -u -d {base}/zdump; source {base}/_pyrule"
zpty -w z "compadd() {{ builtin compadd -O out \\"\\$@\\"; print -rl -- \\$out '--' >> {got}; }}"
zpty -w z "_files() {{ }}"
zpty -w z "cd {project}"
zpty -n -w z "pyrule su"$'\\t'
for i in {{1..200}}; do [[ -s {got} ]] && break; sleep 0.1; done
zpty -d z
""")
    p = subprocess.run([zsh, "-f", str(driver)], env=_env(project), capture_output=True, text=True, timeout=60)
    assert got.exists(), p.stdout + p.stderr
    assert got.read_text().splitlines()[:4] == ["summarize", "summary.txt", "summary.log", "--"]
