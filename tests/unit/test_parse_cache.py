"""The parse cache: a hit gives the AST a parse gives, without importing Lark; any change misses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO, ok, pipefile, pyrule

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


def test_any_change_is_a_miss_and_errors_are_never_cached(tmp_path: Path):
    pipefile(tmp_path, """
        rule a:
            output: "a.txt"
            shell: echo one > {output}
    """)
    ok(tmp_path)
    assert (tmp_path / "a.txt").read_text() == "one\n"
    text = (tmp_path / "Pipefile").read_text()
    (tmp_path / "Pipefile").write_text(text.replace("one", "two"))  # same size, other bytes
    ok(tmp_path)
    assert (tmp_path / "a.txt").read_text() == "two\n"
    (tmp_path / "Pipefile").write_text(text.replace("rule a:", "rule a"))
    for _ in range(2):  # the error comes from the parser every time
        r = pyrule(tmp_path, "-n")
        assert r.rc == 2 and "Pipefile:1:" in r.err, str(r)


def test_a_damaged_or_unwritable_cache_is_ignored(tmp_path: Path):
    cache = tmp_path / "cache"
    pipefile(tmp_path, """
        rule a:
            output: "a.txt"
            shell: echo one > {output}
    """)
    ok(tmp_path, "-n", env={"XDG_CACHE_HOME": str(cache)})
    [entry] = (cache / "pyrule" / "parse").glob("*.pickle")
    entry.write_bytes(b"garbage")
    assert "a.txt" in ok(tmp_path, "-n", env={"XDG_CACHE_HOME": str(cache)}).out
    assert entry.read_bytes() != b"garbage"  # re-made
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    assert "a.txt" in ok(tmp_path, "-n", env={"XDG_CACHE_HOME": str(blocked)}).out
    assert "a.txt" in ok(tmp_path, "-n", env={"PYRULE_PARSE_CACHE": "0"}).out


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
