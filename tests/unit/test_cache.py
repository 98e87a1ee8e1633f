"""The content-addressed cache (pyrule/cache.py) in process, on real files; crashes and races
with real forked processes."""

from __future__ import annotations

import os
import random
import signal
import stat
import time

import pytest

from pyrule.cache import Cache, Refused, job_key


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A project directory (the current one) and a cache directory beside it."""
    proj = tmp_path / "proj"
    proj.mkdir()
    monkeypatch.chdir(proj)
    return Cache(str(tmp_path / "cache"), run_id="r1")


def _write(path: str, data: bytes, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _blob_of(cache: Cache, key: str, index: int = 0) -> str:
    doc = cache.entry(key)
    assert doc is not None
    return cache.blob_path(doc["outputs"][index]["blob"])


def test_publish_restore_files_and_directories(work):
    _write("out/a.txt", b"alpha\n", 0o640)
    _write("tree/x/y.bin", bytes(range(256)) * 100)
    _write("tree/z.txt", b"z")
    os.makedirs("tree/empty")
    assert work.publish("k" * 32, ["out/a.txt", "tree"], reported={"reads": "12"})
    os.unlink("out/a.txt")
    _write("tree/z.txt", b"changed")
    doc = work.restore("k" * 32, ["out/a.txt", "tree"])
    assert doc is not None and doc["reported"] == {"reads": "12"}
    assert _read("out/a.txt") == b"alpha\n"
    assert stat.S_IMODE(os.stat("out/a.txt").st_mode) == 0o640
    assert _read("tree/x/y.bin") == bytes(range(256)) * 100
    assert _read("tree/z.txt") == b"z"
    assert os.path.isdir("tree/empty")
    # a copy, never a hard link: a later job writing the output cannot change the cache
    st = os.stat("out/a.txt")
    assert st.st_nlink == 1 and st.st_ino != os.stat(_blob_of(work, "k" * 32)).st_ino
    assert not [n for n in os.listdir("out") if "pyrule-cache" in n]


def test_miss_and_other_outputs(work):
    assert work.restore("0" * 32, ["a"]) is None
    _write("a", b"1")
    work.publish("1" * 32, ["a"])
    with pytest.raises(Refused, match="other outputs"):
        work.restore("1" * 32, ["b"])


@pytest.mark.parametrize("damage", ["flip", "truncate", "remove"])
def test_damaged_blob_is_refused_and_nothing_changes(work, damage):
    _write("a", b"x" * 5000)
    _write("b", b"the other output")
    work.publish("2" * 32, ["a", "b"])
    _write("a", b"old a")
    _write("b", b"old b")
    blob = _blob_of(work, "2" * 32, 1)
    os.chmod(blob, 0o644)
    if damage == "flip":
        data = bytearray(_read(blob))
        data[3] ^= 1
        _write(blob, bytes(data))
    elif damage == "truncate":
        _write(blob, _read(blob)[:-1])
    else:
        os.unlink(blob)
    with pytest.raises(Refused, match="does not match|missing"):
        work.restore("2" * 32, ["a", "b"])
    assert _read("a") == b"old a" and _read("b") == b"old b"  # nothing half-restored
    assert sorted(os.listdir(".")) == ["a", "b"]


def test_damaged_entry_is_refused(work):
    _write("a", b"1")
    work.publish("3" * 32, ["a"])
    path = work.entry_path("3" * 32)
    os.chmod(path, 0o644)
    _write(path, _read(path).replace(b'"path": "a"', b'"path": "../a"'))
    with pytest.raises(Refused, match="damaged"):
        work.restore("3" * 32, ["a"])
    _write(path, b'{"format": 1')
    with pytest.raises(Refused, match="damaged"):
        work.entry("3" * 32)


def _parts(inputs, fps, **over):
    parts = {"body": "b", "params": {"norm": "'l1'"}, "env": {}, "inputs": inputs, "outputs": ["o"], "fps": fps}
    parts.update(over)
    return parts


def test_key_covers_the_signature_and_input_contents(work):
    _write("in.txt", b"data")
    base = job_key(_parts(["in.txt"], ["h1"]))
    assert base == job_key(_parts(["in.txt"], ["h1"]))
    assert base != job_key(_parts(["in.txt"], ["h2"]))
    assert base != job_key(_parts(["in.txt"], ["h1"], params={"norm": "'l2'"}))
    assert base != job_key(_parts(["in.txt"], ["h1"], names={"NORM": "l2"}))
    assert base != job_key(_parts(["in.txt"], ["h1"], body="c"))
    assert base != job_key(_parts(["in.txt"], ["h1"], outputs=["p"]))
    # a fingerprint that is no content hash (check: mtime) counts by content
    a = job_key(_parts(["in.txt"], ["m:4:1"]))
    assert a == job_key(_parts(["in.txt"], ["m:4:2"]))
    _write("in.txt", b"DATA")
    assert a != job_key(_parts(["in.txt"], ["m:4:1"]))


def test_info_and_hit_rate(work):
    _write("a", b"1" * 100)
    work.publish("4" * 32, ["a"])
    work.restore("4" * 32, ["a"])
    work.journal("miss", "5" * 32)
    info = work.info()
    assert info["entries"] == 1 and info["blobs"] == 1 and info["size"] >= 100
    assert (info["hit"], info["miss"], info["hit_rate"]) == (1, 1, 0.5)


def test_prune_least_recently_used_first(work):
    for i, key in enumerate(("a" * 32, "b" * 32, "c" * 32)):
        _write(f"f{i}", bytes([i]) * 1000)
        work.publish(key, [f"f{i}"])
        time.sleep(0.01)
    for key in ("a" * 32, "b" * 32, "c" * 32):
        os.utime(work.entry_path(key), (1, 1))  # old entries, old blobs: only the journal orders them
    for b in work._blobs():
        os.utime(work.blob_path(b), (1, 1))
    os.remove(os.path.join(work.root, "use.log"))
    work.journal("hit", "a" * 32)
    time.sleep(0.01)
    work.journal("hit", "c" * 32)
    entries, blobs, freed = work.prune(2500)
    assert (entries, blobs, freed) == (1, 1, 1000)
    assert work.entry("b" * 32) is None
    assert work.entry("a" * 32) is not None and work.entry("c" * 32) is not None
    work.prune(0)
    assert work.info()["entries"] == 0 and work._blobs() == {}


def _publisher(cache: Cache, key: str, outputs: list[str]) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            code = 0 if cache.publish(key, outputs) else 3
        finally:
            os._exit(code)
    return pid


def test_killed_publisher_never_leaves_a_restorable_partial_entry(work):
    _write("big/one", os.urandom(1 << 19))
    _write("big/two", os.urandom(1 << 19))
    _write("three", os.urandom(1 << 18))
    t = time.monotonic()
    work.publish("f" * 32, ["big", "three"])
    took = time.monotonic() - t + 0.002  # and about what a fork costs
    whole = partial = 0
    for trial in range(100):
        key = f"{trial:032x}"
        _write("big/one", os.urandom(1 << 19))  # new content: new blobs to write each time
        _write("three", os.urandom(1 << 18))
        want = {p: _read(p) for p in ("big/one", "big/two", "three")}
        pid = _publisher(work, key, ["big", "three"])
        time.sleep(random.uniform(0, took * 1.5))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        for p in want:
            os.chmod(p, 0o644)
            os.unlink(p)
        doc = work.restore(key, ["big", "three"])  # never Refused: no entry, or a whole one
        if doc is None:
            partial += 1
            for p, data in want.items():
                _write(p, data)
            continue
        whole += 1
        assert {p: _read(p) for p in want} == want
    assert whole + partial == 100
    assert whole and partial, (whole, partial)  # killed before and after the entry's rename


def test_two_publishers_of_one_key_both_succeed(work):
    _write("a", os.urandom(1 << 20))
    _write("d/b", os.urandom(1 << 20))
    for trial in range(10):
        key = f"{trial:032x}"
        pids = [_publisher(work, key, ["a", "d"]) for _ in range(2)]
        assert [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids] == [0, 0]
        assert work.restore(key, ["a", "d"]) is not None
    assert not os.listdir(os.path.join(work.root, "tmp"))


def test_prune_while_another_process_restores_loses_nothing(work):
    data = {"a": os.urandom(3 << 20), "b": os.urandom(1 << 20)}
    for p, d in data.items():
        _write(p, d)
    key = "e" * 32
    work.publish(key, list(data))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child restores over and over, as runs would
        code = 2
        try:
            os.close(r)
            counts = {"restored": 0, "fallback": 0}
            reader = Cache(work.root, run_id="reader")
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                try:
                    doc = reader.restore(key, list(data))
                except Refused:
                    doc = None
                if doc is None:
                    counts["fallback"] += 1  # a run would run the job: rebuild it as the job would
                    for p, d in data.items():
                        _write(p, d)
                    reader.publish(key, list(data))
                    continue
                for p, d in data.items():
                    if _read(p) != d:
                        os.write(w, b"WRONG " + p.encode())
                        os._exit(1)
                counts["restored"] += 1
            os.write(w, f"{counts['restored']} {counts['fallback']}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    deadline = time.monotonic() + 3
    prunes = 0
    while time.monotonic() < deadline:
        work.prune(0)
        prunes += 1
        time.sleep(0.005)
    _pid, status = os.waitpid(pid, 0)
    said = os.read(r, 100).decode()
    assert os.waitstatus_to_exitcode(status) == 0, said
    restored, fallback = map(int, said.split())
    assert restored > 0 and prunes > 10
    for p, d in data.items():
        assert _read(p) == d


def test_shared_cache_is_group_readable(tmp_path, monkeypatch):
    root = tmp_path / "lab"
    root.mkdir()
    os.chmod(root, 0o2775)
    monkeypatch.chdir(tmp_path)
    cache = Cache(str(root))
    _write("a", b"1")
    cache.publish("9" * 32, ["a"])
    assert stat.S_IMODE(os.stat(root / "blobs").st_mode) == 0o2775
    assert os.stat(cache.entry_path("9" * 32)).st_mode & stat.S_IRGRP
    assert os.stat(_blob_of(cache, "9" * 32)).st_mode & 0o777 == 0o444


def test_a_group_only_cache_stays_group_only_whatever_the_umask(tmp_path, monkeypatch):
    root = tmp_path / "lab"
    root.mkdir()
    os.chmod(root, 0o2770)
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o077)
    try:
        cache = Cache(str(root))
        _write("a", b"1")
        cache.publish("8" * 32, ["a"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(root / "actions").st_mode) == 0o2770
    assert stat.S_IMODE(os.stat(cache.entry_path("8" * 32)).st_mode) == 0o440
    assert stat.S_IMODE(os.stat(_blob_of(cache, "8" * 32)).st_mode) == 0o440
    assert stat.S_IMODE(os.stat(root / "use.log").st_mode) == 0o660


def test_a_restore_killed_at_any_point_never_mixes_old_and_new_outputs(work):
    new = {"a": os.urandom(1 << 19), "d/b": os.urandom(1 << 19)}
    for p, d in new.items():
        _write(p, d)
    work.publish("7" * 32, ["a", "d"])
    old = {"a": b"old a", "d/b": b"old b"}
    t = time.monotonic()
    work.restore("7" * 32, ["a", "d"])
    took = time.monotonic() - t + 0.002
    seen = set()
    for _trial in range(30):
        for p, d in old.items():
            _remove_tree("d")
            _write(p, d)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                work.restore("7" * 32, ["a", "d"])
            finally:
                os._exit(0)
        time.sleep(random.uniform(0, took * 1.5))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        state = {p: (_read(p) if os.path.exists(p) else None) for p in new}
        if all(state[p] == new[p] for p in new):
            seen.add("new")
        elif all(state[p] == old[p] for p in new):
            seen.add("old")
        else:  # killed between removing the old outputs and renaming the new ones: one missing (the
            # job reruns), never old beside new
            assert None in state.values(), state
            assert not ({p for p in new if state[p] == new[p]} and {p for p in new if state[p] == old[p]}), state
            seen.add("missing")
    assert "old" in seen or "new" in seen
    work.restore("7" * 32, ["a", "d"])  # and a later restore clears what killed ones left
    assert sorted(os.listdir(".")) == ["a", "d"]
    assert {p: _read(p) for p in new} == new


def _remove_tree(path: str) -> None:
    from pyrule.outputs import remove

    remove(path)
