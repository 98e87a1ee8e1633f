"""`pyrule --convert` on real Snakefiles that nobody on the team wrote: three public workflows and
Snakemake's own test suite (tests/data/snakefiles, sources and licences in its SOURCES.md). Each converts (exit 0), lists
what it did not convert with the Snakefile's line, and the Pipefile it writes is read by pyrule's
parser. The table below is the one in docs/from-snakemake.md.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from harness import pyrule

from pyrule.parse import parse_text

CORPUS = Path(__file__).resolve().parents[1] / "data" / "snakefiles"

# Snakefile: (constructs kept as comments, constructs converted approximately ("check"))
EXPECTED = {
    "babappasnake/Snakefile": (2, 0),
    "panpiper/assembly.smk": (3, 1),
    "panpiper/pangenome.smk": (25, 4),
    "panpiper/pyseer.smk": (15, 2),
    "panpiper/quality.smk": (10, 0),
    "snakealtpromoter/Genomesetup.Snakefile": (18, 3),
    "snakealtpromoter/Snakealtpromoter.Snakefile": (82, 1),
    "test01/Snakefile": (7, 1),
    "test02/Snakefile": (1, 0),
    "test05/Snakefile": (1, 0),
    "test13/Snakefile": (1, 0),
    "test_ancient/Snakefile": (2, 1),
    "test_checkpoints/Snakefile": (0, 1),
    "test_checkpoints_dir/Snakefile": (1, 0),
    "test_issue1284/Snakefile": (1, 0),
    "test_params/Snakefile": (1, 3),
    "test_pipes/Snakefile": (1, 1),
    "test_run_namedlist/Snakefile": (0, 1),
    "test_until/Snakefile": (0, 0),
    "test_config/Snakefile": (0, 1),
    "test_default_target/Snakefile": (0, 0),
    "test_github_issue1818/Snakefile": (0, 0),
    "test_issue1037/Snakefile": (0, 1),  # (its three group: are pyrule's group: now)
    "test_issue1046/Snakefile": (1, 1),
    "test_jupyter_notebook/Snakefile": (7, 0),
    "test_localrule/Snakefile": (0, 0),
    "test_modules_ruledeps_inheritance/Snakefile": (4, 0),
    "test_multiext/Snakefile": (0, 0),
    "test_pathlib/Snakefile": (0, 0),
    "test_pipe_depend/Snakefile": (0, 1),
    "test_script/Snakefile": (10, 5),
    "test_service_jobs/Snakefile": (1, 0),
    "test_touch/Snakefile": (0, 0),
    "test_unpack_dict/Snakefile": (1, 0),
}
_NOTE = re.compile(r"^([\w.-]+):(\d+): (not converted|check): .+$")



# Snakemake tests whose expected results (Snakemake's outputs, kept in the test's directory
# expected-results/) the converted Pipefile makes today: Snakemake's test arguments, in pyrule's words.
RUNS = {
    "test02": [], "test13": [], "test_checkpoints_dir": [], "test_default_target": [], "test_issue1284": [],
    "test_params": [], "test_pipe_depend": [], "test_pipes": [], "test_run_namedlist": [], "test_unpack_dict": [],
    "test_until": ["--until", "leveltwo_first", "--until", "leveltwo_second"],
}


def test_the_corpus_is_the_table():
    snakefiles = {str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*")
                  if p.name == "Snakefile" or p.suffix in (".smk", ".Snakefile")}
    assert snakefiles == set(EXPECTED)
    sources = (CORPUS / "SOURCES.md").read_text()
    assert all(f"| {name.split('/')[0]} |" in sources for name in EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_real_snakefile_converts(tmp_path: Path, name: str):
    directory, snakefile = name.split("/")
    d = tmp_path / directory
    shutil.copytree(CORPUS / directory, d)
    r = pyrule(d, "--convert", snakefile)
    assert r.rc == 0, r
    notes = r.err.splitlines()
    if notes:  # each construct on a line of its own, then a count
        *notes, summary = notes
        assert re.match(r"\d+ note\(s\): \d+ construct\(s\) kept as comments, \d+ converted approximately", summary)
    for line in notes:
        assert _NOTE.match(line), line
    kept = sum(": not converted: " in n for n in notes)
    approximate = sum(": check: " in n for n in notes)
    assert (kept, approximate) == EXPECTED[name], r.err
    source = (d / snakefile).read_text()
    comments = {ln.strip().lstrip("#").strip() for ln in r.out.split("\n") if ln.lstrip().startswith("#")}
    for line in notes:  # a kept construct is a comment that holds its Snakefile line
        m = _NOTE.match(line)
        assert m is not None
        if m.group(3) == "not converted" and m.group(1) == snakefile:
            original = source.split("\n")[int(m.group(2)) - 1].strip()
            assert any(original in comment for comment in comments), line
    parse_text(r.out, f"{directory}/Pipefile")


def test_output_file_and_stdout_are_the_same(tmp_path: Path):
    d = tmp_path / "c"
    shutil.copytree(CORPUS / "test_checkpoints", d)
    (d / "samples").mkdir()
    for sample in ("a", "b"):
        (d / "samples" / f"{sample}.txt").write_text("\n")
    out = pyrule(d, "--convert", "Snakefile")
    to_file = pyrule(d, "--convert", "Snakefile", "-o", "Pipefile")
    assert to_file.rc == 0 and to_file.out == "" and (d / "Pipefile").read_text() == out.out
    r = pyrule(d, "-n")  # the converted checkpoint workflow plans: its aggregate jobs wait for the checkpoint
    assert r.rc == 0, r
    assert "waits for checkpoint somestep" in r.out + r.err


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_converted_pipefile_makes_snakemakes_expected_results(tmp_path: Path, name: str):
    d = tmp_path / name
    shutil.copytree(CORPUS / name, d)
    expected = d / "expected-results"
    shutil.move(expected, tmp_path / "expected")  # not where the run could read or write it
    assert pyrule(d, "--convert", "Snakefile", "-o", "Pipefile").rc == 0
    r = pyrule(d, "-j", "3", *RUNS[name])
    assert r.rc == 0, r
    files = [p for p in (tmp_path / "expected").rglob("*") if p.is_file() and p.name != ".gitkeep"]
    for p in files:
        made = d / p.relative_to(tmp_path / "expected")
        assert made.read_bytes() == p.read_bytes(), made
    if name == "test_until":  # past what --until asked for: not made
        assert not (d / "levelthree.txt").exists()
