"""The parse cache (pyrule/parse_cache.py), in process: a hit gives the AST a parse gives, without
importing Lark; an entry in a cache others can write to is never loaded. That any change misses,
and a damaged cache is ignored, through the command: tests/e2e/test_parse_cache.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO

from pyrule import parse, parse_cache


@pytest.mark.parametrize("path", sorted(REPO.glob("examples/*/Pipefile")), ids=lambda p: p.parent.name)
def test_a_hit_is_the_parse_and_needs_no_lark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: Path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh = parse.parse_file(path)
    assert parse_cache.parse_file(path) == fresh  # a miss: parsed and stored
    assert len(list((tmp_path / "pyrule" / "parse").glob("*.pickle"))) == 1
    code = ("import sys; from pyrule import parse_cache; t = parse_cache.parse_file(sys.argv[1]); "
            "print(len(t.statements), 'lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         env={"XDG_CACHE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, check=True, timeout=60).stdout
    assert out.split() == [str(len(fresh.statements)), "False"]


def test_a_cache_others_can_write_to_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Unpickling runs code: an entry planted in a group- or world-writable cache is never loaded."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "Pipefile").write_text('rule a:\n    output: "a.txt"\n    shell: touch a.txt\n')
    parse_cache.parse_file(tmp_path / "Pipefile")
    directory = tmp_path / "pyrule" / "parse"
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    [entry] = directory.glob("*.pickle")
    entry.write_bytes(b"planted")  # stands for a malicious pickle: loading it would fail loudly here
    directory.chmod(0o777)
    tree = parse_cache.parse_file(tmp_path / "Pipefile")
    assert tree == parse.parse_file(tmp_path / "Pipefile")
    assert entry.read_bytes() == b"planted"  # neither read nor rewritten
