"""Small regression tests for what the fuzzers found (each reproduces one minimal input)."""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

import pytest
from harness import PYRULE, pyrule
from reliability_util import clean_error

from pyrule.errors import PipefileError
from pyrule.parse import parse_text


@pytest.mark.parametrize("text", [
    'rule r0:\n    """\x00Make r0."""\n    output: "x"\n    shell: touch x\n',  # found by test_fuzz
    "X = 1\x00\n",
    "rule a:\n    shell:\n        echo \x00\n",
])
def test_a_nul_character_is_a_located_error(text: str):
    with pytest.raises(PipefileError) as info:
        parse_text(text)
    assert "NUL" in info.value.message and info.value.loc is not None


@pytest.mark.parametrize("literal", ['b"bytes"', "rb'x'", 'f"{1}"', "F'x'", 'b"é"', "'\\N{nope}'"])
def test_a_docstring_that_is_no_plain_string_is_a_located_error(literal: str):
    with pytest.raises(PipefileError) as info:
        parse_text(f'rule a:\n    {literal}\n    output: "x"\n    shell: touch x\n')
    assert info.value.loc is not None and info.value.loc.line == 2


@pytest.mark.parametrize("literal", ['b"x"', 'f"x{1}"', 'b"é"', "'\\N{nope}'"])
def test_a_quoted_short_rule_target_that_is_no_plain_string_is_a_located_error(literal: str):
    with pytest.raises(PipefileError) as info:
        parse_text(f"{literal}: y\n    touch x\n")
    assert info.value.loc is not None and info.value.loc.line == 1


def test_the_command_shows_them_cleanly(tmp_path: Path):
    (tmp_path / "Pipefile").write_bytes(b'rule a:\n    b"doc"\n    output: "x"\n    shell: touch x\n')
    r = pyrule(tmp_path, "-n")
    assert clean_error(r.rc, r.err) is None and r.rc == 2, str(r)


@pytest.mark.parametrize("override", ["CORES=1e400", "MEM=1e400", "MEM=-1", "MEM=-1e400", "RUNTIME=1e400",
                                      "RUNTIME=-5", "GPUS=1e400", "DISK=1e400"])
def test_infinite_or_negative_resources_are_located_errors(tmp_path: Path, override: str):
    """Found by the override fuzzer: `pyrule CORES=1e400` (a float infinity) was an internal
    error (OverflowError); a negative mem was accepted."""
    (tmp_path / "Pipefile").write_text(
        "CORES ?= 1\nMEM ?= 10\nRUNTIME ?= 1\nGPUS ?= 0\nDISK ?= 0\n"
        "rule a:\n    output: \"a\"\n"
        "    resources: cores = CORES, mem = MEM, runtime = RUNTIME, gpus = GPUS, disk = DISK\n"
        "    shell: touch a\n")
    r = pyrule(tmp_path, "-n", override)
    assert r.rc == 2 and clean_error(r.rc, r.err) is None, str(r)


@pytest.mark.parametrize(("pipefile", "args"), [
    ('rule all:\n    input: expand("r\\0/{s}.txt", s=["a"])\n', []),  # found by the mutation fuzzer
    ('SAMPLES ?= ["a"]\nrule all:\n    input: expand("out/{s}.txt", s=SAMPLES)\n'
     'rule make:\n    output: "out/{s}.txt"\n    shell: touch {output}\n', ["SAMPLES='\\x00'"]),  # override fuzzer
    ('default: "a\\0"\nrule x:\n    output: "y"\n    shell: touch y\n', []),
    ('rule x:\n    output: "y\\0"\n    shell: touch y\n', []),
])
def test_a_nul_in_a_path_is_a_located_error(tmp_path: Path, pipefile: str, args: list[str]):
    """A path holding NUL (a Python escape, or an override's value) made os.stat raise ValueError:
    an internal error."""
    (tmp_path / "Pipefile").write_text(pipefile)
    r = pyrule(tmp_path, "-n", *args)
    assert r.rc == 2 and clean_error(r.rc, r.err) is None, str(r)


@pytest.mark.parametrize("text", ["X = 1\n", "", "# only a comment\n", 'V = """\nrule a:\n    shell: x\n"""\n'])
def test_a_pipefile_without_rules_is_a_located_error(tmp_path: Path, text: str):
    """Found by the mutation fuzzer (a triple-quoted string swallowing every rule): 'the Pipefile
    has no rules' came without a file:line:col."""
    (tmp_path / "Pipefile").write_text(text)
    r = pyrule(tmp_path, "-n")
    assert r.rc == 2 and clean_error(r.rc, r.err) is None and "Pipefile:1:1" in r.err, str(r)


def test_a_pipefile_that_asks_for_too_much_memory_is_a_located_error(tmp_path: Path):
    """Found by the mutation soak (`[1, 2, 3]*9**9`, 9 GB in one C call): under a memory limit
    the MemoryError must be the Pipefile's error at its line, with no empty message."""
    (tmp_path / "Pipefile").write_text('N = 9**9\nX = [1, 2, 3]*N\nrule a:\n    output: "a"\n    shell: touch a\n')
    r = subprocess.run([*PYRULE, "-n"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)))
    assert r.returncode == 2 and clean_error(r.returncode, r.stderr) is None, r.stderr
    assert "Pipefile:2:5: error: MemoryError\n" in r.stderr and "hint:" in r.stderr, r.stderr


def test_main_in_process_leaves_the_collector_as_it_found_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Found by the mutation soak (9 GB after 5 minutes in one process): main() turned the
    cyclic collector off and froze every object it made, so each call in a long-lived process
    (the API, the in-process fuzzers) kept everything it allocated."""
    import contextlib
    import gc
    import io

    from pyrule.cli import main

    (tmp_path / "Pipefile").write_text('rule all:\n    input: expand("o/{s}.txt", s=range(50))\n'
                                       'rule make:\n    output: "o/{s}.txt"\n    shell: touch {output}\n')
    monkeypatch.chdir(tmp_path)

    def call() -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main(["-n"]) == 0

    call()
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(100):
        call()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.collect()
    assert len(gc.get_objects()) - before < 2000  # was ~100 objects per job per call: 500,000 here
