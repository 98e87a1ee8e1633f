"""The parse cache through the `pyrule` command: any change of the Pipefile misses, an error is
never cached, and a damaged or unwritable cache is ignored. (A hit, in process:
tests/unit/test_parse_cache.py.)"""

from __future__ import annotations

from pathlib import Path

from harness import ok, pipefile, pyrule


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
