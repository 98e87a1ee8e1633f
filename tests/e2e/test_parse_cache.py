"""The parse cache through the `pyrule` command: any change of the Pipefile misses, an error is
never cached, and a damaged or unwritable cache is ignored. (A hit, in process:
tests/unit/test_parse_cache.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import REPO, ok, pipefile, pyrule, write


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



def test_a_changed_parser_of_the_same_version_never_reads_old_entries(tmp_path: Path):
    # A checkout or an editable install keeps its version string across commits: an entry stored
    # by the old parser would give the old syntax tree (a fixed parser bug would stay).
    code = tmp_path / "code"
    shutil.copytree(REPO / "pyrule", code / "pyrule", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "grammar", code / "grammar")
    d = tmp_path / "p"
    write(d / "Pipefile", "out.txt:\n\techo hi > out.txt\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(code)}
    entries = tmp_path / "cache" / "pyrule" / "parse"
    for changed in ("parse.py", "syntax.py"):
        assert pyrule(d, "--list", env=env).rc == 0
        before = set(entries.glob("*.pickle"))
        source = code / "pyrule" / changed
        source.write_text(source.read_text() + "\n# changed\n")
        assert pyrule(d, "--list", env=env).rc == 0
        assert set(entries.glob("*.pickle")) > before, f"a changed {changed} must not read the old entry"
