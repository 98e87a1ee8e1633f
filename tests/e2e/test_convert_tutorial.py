"""`pyrule --convert` against Snakemake itself: a Snakefile converted with no hand edits runs under
pyrule and makes the same files, with the same content, as Snakemake makes from the Snakefile.

- The official tutorial's workflow (tests/data/snakemake-tutorial): bwa, samtools, bcftools and
  a matplotlib script; `configfile:`, `threads:` (`upto`), `script:`, temp() and protected().
  Its data is the tutorial's (../shared/data/snakemake-tutorial) where that is beside the
  repository, else a genome and reads made here from a fixed seed (indexed by the real bwa and
  samtools): the comparison is of the two tools on the same inputs.
- A small workflow of shell and Python rules that needs none of them.

What they need (tests/e2e/install_snakemake.sh, run by .ci/run): bwa, samtools and bcftools,
Snakemake in its own venv (tests/e2e/.venv-snakemake), matplotlib and pysam where pyrule runs.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from harness import pyrule

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "tests" / "data" / "snakemake-tutorial"
INSTALL = "bash tests/e2e/install_snakemake.sh"
pytestmark = pytest.mark.slow


def _snakemake() -> str:
    exe = os.environ.get("PYRULE_SNAKEMAKE") or str(REPO / "tests" / "e2e" / ".venv-snakemake" / "bin" / "snakemake")
    if not os.access(exe, os.X_OK):
        pytest.skip(f"no Snakemake at {exe}: run {INSTALL}")
    return exe


def _tutorial_data(tmp: Path) -> Path:
    for base in (REPO.parent, REPO.parent.parent):  # a clone beside shared/, or a worktree below it
        data = base / "shared" / "data" / "snakemake-tutorial" / "data"
        if data.is_dir():
            return data
    return _made_data(tmp / "data")


def _made_data(d: Path) -> Path:
    """A 30 kb genome and 1,500 reads of 100 bases per sample, with 40 variants that every read
    over them carries (so that bcftools calls them); indexed as the tutorial's is."""
    rnd = random.Random(22)
    genome = "".join(rnd.choice("ACGT") for _ in range(30_000))
    (d / "samples").mkdir(parents=True)
    lines = [genome[i:i + 60] for i in range(0, len(genome), 60)]
    (d / "genome.fa").write_text(">chr1\n" + "\n".join(lines) + "\n")
    variants = {p: rnd.choice([b for b in "ACGT" if b != genome[p]]) for p in rnd.sample(range(100, 29_900), 40)}
    for sample in "ABC":
        reads = []
        for n in range(1500):
            at = rnd.randrange(0, len(genome) - 100)
            read = "".join(variants.get(at + i, genome[at + i]) for i in range(100))
            reads.append(f"@{sample}{n}\n{read}\n+\n{'I' * 100}\n")
        (d / "samples" / f"{sample}.fastq").write_text("".join(reads))
    subprocess.run(["bwa", "index", "genome.fa"], cwd=d, check=True, capture_output=True, timeout=120)
    subprocess.run(["samtools", "faidx", "genome.fa"], cwd=d, check=True, capture_output=True, timeout=120)
    return d


def _env(d: Path) -> dict[str, str]:
    # The same plot from both: a fixed date and fixed SVG ids (matplotlib's svg.hashsalt).
    (d / "matplotlibrc").write_text("svg.hashsalt: pyrule-convert-test\n")
    return {"MATPLOTLIBRC": str(d / "matplotlibrc"), "SOURCE_DATE_EPOCH": "0"}


def _run_snakemake(d: Path) -> None:
    env = {**os.environ, **_env(d)}
    p = subprocess.run([_snakemake(), "--cores", "2", "--snakefile", "Snakefile"], cwd=d, env=env,
                       capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr


def _convert(d: Path) -> str:
    r = pyrule(d, "--convert", "Snakefile", "-o", "Pipefile")
    assert r.rc == 0 and r.out == "", r
    return r.err


def _files(d: Path) -> set[str]:
    skip = {".snakemake", ".pyrule", "data", "scripts"}
    found = set()
    for root, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if not (Path(root) == d and x in skip)]
        found.update(os.path.relpath(os.path.join(root, f), d) for f in files)
    return found - {"Snakefile", "Pipefile", "config.yaml", "matplotlibrc"}


def _content(path: Path) -> bytes:
    """A file's content without what says when or how it was made: dates, command lines."""
    if path.suffix == ".bam":
        text = subprocess.run(["samtools", "view", "-h", "--no-PG", str(path)], capture_output=True, text=True,
                              check=True).stdout
        return "".join(ln for ln in text.splitlines(True) if not ln.startswith("@PG")).encode()
    data = path.read_bytes()
    if path.suffix == ".vcf":
        return b"".join(ln for ln in data.splitlines(True) if not re.match(rb"##\w+(Command|Version)=", ln))
    if path.suffix == ".log":  # tool chatter with timings: compared by presence only
        return b""
    return data


def _same_outputs(a: Path, b: Path) -> None:
    assert _files(a) == _files(b)
    for name in sorted(_files(a)):
        assert _content(a / name) == _content(b / name), name


def test_the_tutorial_converted_gives_snakemakes_outputs(tmp_path: Path):
    for tool in ("bwa", "samtools", "bcftools"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: run {INSTALL}")
    pytest.importorskip("matplotlib", reason=f"the tutorial's script needs matplotlib: run {INSTALL}")
    pytest.importorskip("pysam", reason=f"the tutorial's script needs pysam: run {INSTALL}")
    data = _tutorial_data(tmp_path)
    dirs = []
    for name in ("snakemake", "pyrule"):
        d = tmp_path / name
        shutil.copytree(TUTORIAL, d, ignore=shutil.ignore_patterns("README.md"))
        (d / "data").symlink_to(data)
        dirs.append(d)
    smk, pyr = dirs
    _run_snakemake(smk)
    assert _convert(pyr) == ""  # the tutorial converts completely: nothing to report
    r = pyrule(pyr, "-j", "2", env=_env(pyr), timeout=600)
    assert r.rc == 0, r
    assert not (pyr / "mapped_reads" / "A.bam").exists()  # temp(): removed once sorted, as by Snakemake
    assert not os.access(pyr / "sorted_reads" / "A.bam", os.W_OK) or os.geteuid() == 0  # protected()
    _same_outputs(smk, pyr)
    again = pyrule(pyr, "-n")
    assert "nothing to do" in again.out + again.err, again


SMALL = '''\
SAMPLES = sorted(glob_wildcards("in/{sample}.txt").sample)  # Snakemake gives them in directory order

wildcard_constraints:
    sample="[a-z]+"


rule all:
    input:
        "summary.txt",
        expand("upper/{sample}.txt", sample=SAMPLES)


rule upper:
    input:
        "in/{sample}.txt"
    output:
        temp("tmp/{sample}.txt"),
        final="upper/{sample}.txt"
    params:
        prefix=lambda wildcards: wildcards.sample + ":"
    shell:
        """
        tr a-z A-Z < {input} > {output[0]}
        sed 's/^/{params.prefix}/' {output[0]} > {output.final}
        """


rule count:
    input:
        rules.upper.output.final
    output:
        "counts/{sample}.txt"
    run:
        with open(input[0]) as f, open(output[0], "w") as out:
            out.write(f"{wildcards.sample} {len(f.read().split())}\\n")


rule summary:
    input:
        lambda wildcards: expand("counts/{sample}.txt", sample=SAMPLES)
    output:
        protected("summary.txt")
    shell:
        "cat {input} > {output}"
'''


def test_a_small_workflow_converted_gives_snakemakes_outputs(tmp_path: Path):
    dirs = []
    for name in ("snakemake", "pyrule"):
        d = tmp_path / name
        (d / "in").mkdir(parents=True)
        (d / "in" / "a.txt").write_text("one two three\n")
        (d / "in" / "bb.txt").write_text("four\nfive\n")
        (d / "Snakefile").write_text(SMALL)
        dirs.append(d)
    smk, pyr = dirs
    _run_snakemake(smk)
    assert _convert(pyr) == ""
    r = pyrule(pyr, "-j", "2")
    assert r.rc == 0, r
    _same_outputs(smk, pyr)
    assert (pyr / "summary.txt").read_text() == "a 3\nbb 2\n"
    assert textwrap.dedent("""\
        rule count:
            input: rules.upper.output.final
            output: "counts/{sample,[a-z]+}.txt"
            python:
                with open(input[0]) as f, open(output[0], "w") as out:
        """) in (pyr / "Pipefile").read_text()
