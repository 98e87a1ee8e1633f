"""stat_cache.StatCache: one stat() per path per invocation; its exists-only entries (`pyrule -n`)."""

from __future__ import annotations

import os
import tracemalloc

from harness import fanout, ok, write

from pyrule.load import load
from pyrule.plan import plan
from pyrule.run import Options, dry_run
from pyrule.stat_cache import Stat, StatCache


def test_a_path_is_stated_once(tmp_path):
    p = str(write(tmp_path / "a.txt", "x\n"))
    cache = StatCache()
    assert cache.exists(p)
    write(p, "longer now\n")
    st = cache.stat(p)
    assert isinstance(st, Stat) and st.st_size == 2  # what the first stat saw
    assert cache.stat(p) is st


def test_exists_only_stats_again_when_the_whole_result_is_asked(tmp_path):
    p = str(write(tmp_path / "a.txt", "x\n"))
    cache = StatCache(exists_only=True)
    assert cache.exists(p) and cache.exists(p)
    write(p, "longer now\n")
    st = cache.stat(p)  # the exists-only entry becomes the whole result, taken now
    assert isinstance(st, Stat) and st.st_size == os.stat(p).st_size == 11
    assert cache.stat(p) is st and cache.exists(p)


def test_exists_only_keeps_a_missing_path_as_missing(tmp_path):
    p = str(tmp_path / "gone.txt")
    for cache in (StatCache(), StatCache(exists_only=True)):
        assert not cache.exists(p)
        write(p, "x\n")  # appearing later changes nothing within the invocation
        assert not cache.exists(p) and cache.stat(p) is None
        os.remove(p)
    link = tmp_path / "dangling"
    os.symlink(tmp_path / "nowhere", link)  # a dangling symlink is missing, as os.stat says
    assert not StatCache(exists_only=True).exists(str(link))


def test_drop_exists_only_keeps_whole_and_missing_entries(tmp_path):
    a, b = str(write(tmp_path / "a.txt", "x\n")), str(write(tmp_path / "b.txt", "y\n"))
    missing = str(tmp_path / "missing.txt")
    cache = StatCache(exists_only=True)
    assert cache.exists(a) and cache.stat(b) is not None and not cache.exists(missing)
    cache.drop_exists_only()
    assert set(cache) == {b, missing}
    assert cache.stat(a) is not None  # stated again when asked


def test_settle_makes_every_entry_a_whole_one(tmp_path):
    paths = [str(write(tmp_path / f"{i}.txt", "x\n")) for i in range(3)]
    cache = StatCache(exists_only=True)
    assert all(cache.exists(p) for p in paths) and not cache.exists(str(tmp_path / "none"))
    cache.settle()
    assert all(isinstance(cache[p], Stat) for p in paths) and cache[str(tmp_path / "none")] is None


def _held(cache: StatCache, paths: list[str]) -> int:
    tracemalloc.start()
    try:
        for p in paths:
            cache.exists(p)
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_an_exists_only_entry_holds_no_stat_result(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    paths = [str(write(d / f"{i}.txt", "x\n")) for i in range(2000)]
    whole, lean = _held(StatCache(), paths), _held(StatCache(exists_only=True), paths)
    # (a Stat and its two large ints: ~140 bytes a path; the dict's own table is the same)
    assert (whole - lean) / len(paths) > 100, (whole, lean)


def test_a_dry_run_on_exists_only_entries_decides_as_on_whole_ones(project):
    """What `pyrule -n` plans with (exists-only sources, dropped before deciding) leads to the
    same decisions as whole stat results: up to date, an input changed, an output missing."""
    fanout(project.root, 6)
    ok(project.root, "-j", "2")
    write(project.root / "in" / "2.txt", "changed\n")
    os.remove(project.root / "out" / "4.txt")
    rules = load("Pipefile")

    def decided(stats: StatCache) -> list[tuple[str, str | None, str]]:
        graph = plan(rules, [], stats=stats)
        assert graph.planner is not None
        graph.planner.release()
        return [(d.job.name, d.reason, d.why) for d in dry_run(graph, rules, Options())]

    lean = decided(StatCache(exists_only=True))
    assert lean == decided(StatCache())
    assert ("copy[i=2]", "input in/2.txt changed (content)", "") in lean
    assert ("copy[i=4]", "output out/4.txt missing", "") in lean
    assert ("copy[i=0]", None, "signature unchanged since its last success") in lean
