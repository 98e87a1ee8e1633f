"""The stat cache of a dry run (stat_cache.SnapshotStatCache): it answers as the plain StatCache
does, but once frozen (planning over, nothing writes), an empty or absent directory that two
paths in a row were missing from answers for its other paths without a stat each (issue 23,
W4a: a dry run of an unbuilt tree)."""

from __future__ import annotations

import os

import pytest

from pyrule.stat_cache import SnapshotStatCache, StatCache


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A project (the working directory) with an empty directory, a full one, a file, a link to
    the empty directory, a dangling link, and an empty directory outside the project."""
    project = tmp_path / "project"
    for d in ("empty", "full/sub", "deep/empty"):
        (project / d).mkdir(parents=True)
    (project / "full" / "a").write_text("a")
    (project / "full" / "b").write_text("b")
    (project / "file").write_text("f")
    os.symlink("empty", project / "link")
    os.symlink("gone", project / "full" / "dangling")
    (tmp_path / "outside").mkdir()
    monkeypatch.chdir(project)
    return project


PATHS = [
    "empty/x", "empty/y", "empty/z", "empty/.", "empty/..", "empty/", "empty", "empty//x", "empty/./x",
    "absent/x", "absent/y", "absent/z/w", "absent/z/v", "file/x", "file/y", "file",
    "full/a", "full/x", "full/y", "full/b", "full/sub", "full/dangling", "full/sub/x", "full/sub/y",
    "link/x", "link/y", "link/.", "deep/empty/x", "deep/empty/y", "deep/empty/..", "deep/empty/../empty",
    "../outside/x", "../outside/y", "../outside", "./empty/x", "./empty/y", "x", "y", "full/a\0", "full/b\0",
]


def frozen() -> SnapshotStatCache:
    snapshot = SnapshotStatCache()
    snapshot.frozen = True
    return snapshot


def fields(st):
    return None if st is None else (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def test_it_answers_every_path_as_a_plain_stat_cache(tree):
    plain, snapshot = StatCache(), frozen()
    for order in (PATHS, PATHS[::-1], PATHS):
        fresh = frozen()
        for p in order:
            expected = fields(plain.stat(p))
            assert fields(snapshot.stat(p)) == expected, p
            assert fields(fresh.stat(p)) == expected, p
            assert snapshot.exists(p) == (expected is not None)


def test_an_empty_or_absent_directory_answers_for_its_paths_without_a_stat(tree):
    snapshot = frozen()
    for d in ("empty", "absent", "link"):
        assert snapshot.stat(f"{d}/1") is None and snapshot.stat(f"{d}/2") is None  # two in a row: looked at
    os.mkdir("absent")
    for d in ("empty", "absent", "link"):
        (tree / d / "3").write_text("new")
        assert snapshot.stat(f"{d}/3") is None  # answered from the look, not stat'ed: a dry run writes nothing
        assert StatCache().stat(f"{d}/3") is not None


def test_other_directories_are_stat_ed_path_by_path(tree):
    snapshot = frozen()
    # a full directory; an empty one with one miss only, or misses not in a row; one outside the project
    for p in ("full/1", "full/2", "empty/1", "deep/empty/1", "empty/2", "deep/empty/2", "../outside/1", "../outside/2"):
        assert snapshot.stat(p) is None
    for p in ("full/3", "empty/3", "deep/empty/3", "../outside/3"):
        with open(p, "w") as f:
            f.write("new")
        assert snapshot.stat(p) is not None, p


def test_until_frozen_it_stats_every_path(tree):
    snapshot = SnapshotStatCache()  # (while planning, a Pipefile function may still write a file)
    for p in ("empty/1", "empty/2", "absent/1", "absent/2"):
        assert snapshot.stat(p) is None
    os.mkdir("absent")
    for p in ("empty/3", "absent/3"):
        (tree / p).write_text("new")
        assert snapshot.stat(p) is not None, p
