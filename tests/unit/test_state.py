"""Unit tests of the state store (pyrule/state.py), each pinning one promise, on real SQLite files
in a temporary directory. The store is called in this process (mutation testing counts only
in-process calls); "another program" is a second SQLite connection, or a subprocess where its
death matters. The last section goes through the public API as the runner uses it, with a real
other process where it matters (a subprocess opening the same store)."""

from __future__ import annotations

import errno
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from harness import mount

from pyrule import state
from pyrule.run import dead_jobs
from pyrule.state import RunningJob, State, StateError

SIG = {"outputs": ["b.txt"], "inputs": ["a.txt"], "body": "cat a.txt > b.txt"}

# A store as a pyrule from before the fingerprint cache kept ctime and before no-op memos made it.
OLD_SCHEMA = """
CREATE TABLE jobs (name TEXT PRIMARY KEY, rule TEXT NOT NULL, digest TEXT NOT NULL, signature TEXT NOT NULL,
                   updated REAL NOT NULL);
CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, hash TEXT);
CREATE TABLE running (name TEXT PRIMARY KEY, run_id TEXT, owner_pid INTEGER, owner_start REAL, pgid INTEGER,
                      outputs TEXT, started REAL);
CREATE TABLE runs (id TEXT PRIMARY KEY, started REAL, ended REAL, status TEXT, argv TEXT);
INSERT INTO files VALUES ('a.txt', 3, 44, 55, 'h-a');
INSERT INTO jobs VALUES ('b', 'rule_b', 'd-old', '{"outputs": ["b.txt"]}', 1.0);
"""


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(tmp_path / ".pyrule")


@pytest.fixture
def store(root: str):
    s = State(root)
    yield s
    s.db.close()


def sql(root: str, query: str, *args) -> list[tuple]:
    """The store's rows as another program (a plain SQLite connection) sees them."""
    db = sqlite3.connect(os.path.join(root, "state.db"))
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()


def old_store(root: str) -> None:
    os.makedirs(root)
    db = sqlite3.connect(os.path.join(root, "state.db"))
    db.executescript(OLD_SCHEMA)
    db.close()


# --- opening ---------------------------------------------------------------------------------


def test_opening_creates_the_directory_and_a_wal_store_synced_normally(tmp_path: Path):
    root = str(tmp_path / "a" / "b" / ".pyrule")
    s = State(root)
    assert (s.root, s.path, s.readonly, s.warning) == (root, os.path.join(root, "state.db"), False, None)
    assert s.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert s.db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert s.db.in_transaction is False  # autocommit: every write is its own (or an explicit) transaction
    s.close()


def test_a_store_without_ctime_gets_the_column_and_keeps_its_rows(root: str):
    old_store(root)
    s = State(root)
    assert s.file_cache() == {"a.txt": (3, 44, 55, None, "h-a")}
    assert [r[1] for r in sql(root, "PRAGMA table_info(files)")][-1] == "ctime_ns"
    s.close()
    s = State(root)  # opening it again adds nothing twice
    assert s.file_cache() == {"a.txt": (3, 44, 55, None, "h-a")}
    s.close()


def test_a_column_added_by_another_program_meanwhile_is_no_error(root: str):
    # Two pyrules upgrading one store: the other adds ctime_ns between our look and our ALTER.
    old_store(root)
    db = sqlite3.connect(os.path.join(root, "state.db"), isolation_level=None)
    other = sqlite3.connect(os.path.join(root, "state.db"), isolation_level=None)

    def race(statement: str) -> None:
        if statement.startswith("ALTER TABLE files"):
            other.execute("ALTER TABLE files ADD COLUMN ctime_ns INTEGER")

    db.set_trace_callback(race)
    state._add_ctime(db)
    db.set_trace_callback(None)
    assert [r[1] for r in db.execute("PRAGMA table_info(files)")].count("ctime_ns") == 1
    db.close()
    other.close()


def test_a_failure_to_add_the_column_is_raised(root: str):
    old_store(root)
    db = sqlite3.connect(f"file:{os.path.join(root, 'state.db')}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        state._add_ctime(db)
    db.close()


def test_read_only_opening_of_an_old_store_reads_it_as_it_is(root: str):
    old_store(root)
    r = State(root, readonly=True)
    assert r.readonly and r.warning is None
    assert r.file_cache() == {"a.txt": (3, 44, 55, None, "h-a")}  # ctime unknown: never matches a stat
    assert r.generation() == 0 and r.noop_memo("k") is None  # no memos yet: decide the long way
    assert r.record("b").digest == "d-old"
    r.close()
    assert "ctime_ns" not in [c[1] for c in sql(root, "PRAGMA table_info(files)")]  # nothing written
    assert sql(root, "SELECT name FROM sqlite_master WHERE name IN ('meta', 'noop_memo')") == []


def test_read_only_opening_of_a_path_with_uri_characters(tmp_path: Path):
    root = str(tmp_path / "100%41 sure?#x" / ".pyrule")  # %41: "A" if it were not escaped
    s = State(root)
    s.succeeded("b", "rule_b", "d1", SIG)
    s.close()
    r = State(root, readonly=True)
    assert r.record("b").digest == "d1"
    r.close()


def test_read_only_opening_of_a_store_without_tables_is_damaged(root: str):
    # A pyrule killed at once leaves an empty file: to a dry run a store it cannot use
    os.makedirs(root)
    Path(root, "state.db").touch()
    with pytest.raises(StateError) as e:
        State(root, readonly=True)
    assert e.value.message == (f"{root}/state.db is damaged (no such table: jobs): deciding without it; the next run "
                            "will set it aside and start a new one")
    assert os.listdir(root) == ["state.db"]
    s = State(root)  # while a run just creates the tables in it
    assert s.warning is None and s.records() == {}
    s.close()


def test_a_store_of_another_schema_is_set_aside(root: str):
    os.makedirs(root)
    db = sqlite3.connect(os.path.join(root, "state.db"))
    db.execute("CREATE TABLE jobs (name TEXT PRIMARY KEY, what TEXT)")
    db.close()
    with pytest.raises(StateError, match=r"is damaged \(no such column: rule\)"):
        State(root, readonly=True)
    s = State(root)
    assert s.warning is not None and "(no such column: rule)" in s.warning
    s.succeeded("b", "rule_b", "d1", SIG)
    s.close()
    assert State(root).record("b").digest == "d1"


def test_a_damaged_store_and_its_wal_and_shm_are_set_aside_under_one_name(root: str):
    # Damaged while another pyrule has it open, which keeps its -wal and -shm files in place.
    other = State(root)
    other.succeeded("a", "rule_a", "d0", SIG)
    other.flush()
    other.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    other.succeeded("b", "rule_b", "d1", SIG)
    other.flush()
    db = os.path.join(root, "state.db")
    with open(db, "r+b") as f:
        f.write(b"garbage " * 100)
    sizes = {suffix: os.path.getsize(db + suffix) for suffix in ("", "-wal", "-shm")}
    s = State(root)
    m = re.fullmatch(rf"{re.escape(db)} was damaged \((.+)\); moved it to ({re.escape(db)}\.broken-"
                     rf"\d{{8}}-\d{{6}}-{os.getpid()}) and started a new one", s.warning or "")
    assert m, s.warning
    assert m.group(1) == "file is not a database"
    assert {suffix: os.path.getsize(m.group(2) + suffix) for suffix in sizes} == sizes
    assert s.records() == {}
    s.close()
    other.db.close()


def test_a_directory_in_the_stores_place_is_set_aside(root: str):
    os.makedirs(os.path.join(root, "state.db", "x"))
    with pytest.raises(StateError, match="is damaged"):
        State(root, readonly=True)
    s = State(root)
    assert s.warning is not None and "was damaged" in s.warning
    (aside,) = [n for n in os.listdir(root) if n.startswith("state.db.broken-")]
    assert os.path.isdir(os.path.join(root, aside, "x"))
    s.close()


def test_a_missing_store_opened_read_only_is_a_clean_error(root: str):
    with pytest.raises(StateError) as e:
        State(root, readonly=True)
    assert e.value.message.startswith(f"cannot open the state store {root}/state.db: unable to open database file")
    assert not os.path.exists(root)


def test_a_store_in_a_read_only_directory_cannot_be_created(root: str, read_only):
    os.makedirs(root)
    read_only(Path(root))
    with pytest.raises(StateError) as e:
        State(root)
    assert e.value.message == (f"cannot open the state store {root}/state.db: unable to open database file "
                            "(the directory is read-only or not writable)")
    assert "`pyrule -n` works in a read-only directory" in e.value.hint


def test_a_damaged_store_in_a_read_only_directory_cannot_be_set_aside(root: str, read_only):
    os.makedirs(root)
    Path(root, "state.db").write_bytes(b"garbage " * 100)
    read_only(Path(root))
    with pytest.raises(StateError) as e:
        State(root)
    assert e.value.message.startswith(f"cannot write the state store {root}/state.db: ")
    assert "(the directory is read-only or not writable)" in e.value.message


# --- records ---------------------------------------------------------------------------------


def test_a_success_is_written_field_by_field(store: State, root: str):
    before = time.time()
    store.succeeded("b", "rule_b", "d1", {"z": 1, "a": [2]})
    store.flush()
    ((name, rule, digest, signature, updated),) = sql(root, "SELECT * FROM jobs")
    assert (name, rule, digest, signature) == ("b", "rule_b", "d1", '{"a": [2], "z": 1}')  # keys sorted
    assert before <= updated <= time.time()


def test_records_are_digests_read_once(store: State, root: str):
    store.succeeded("b", "rule_b", "d1", SIG)
    store.flush()
    t = State(root)
    recs = t.records()
    assert recs == {"b": state.Record("d1", None)}
    assert t.records() is recs
    assert t.record("nothing") is None
    t.db.close()


def test_a_success_before_the_records_are_read_is_read_from_the_store(store: State, root: str):
    store.succeeded("b", "rule_b", "d1", SIG)
    assert store.records() == {}  # not flushed yet: read as the store is
    store.flush()
    store.reread()
    assert store.record("b") == state.Record("d1", None)


def test_a_success_after_the_records_are_read_is_seen_at_once_with_its_signature(store: State):
    store.records()
    store.succeeded("b", "rule_b", "d1", SIG)
    rec = store.record("b")
    assert rec == state.Record("d1", SIG)
    assert store.signature_of("b", rec) is SIG


def test_a_fresh_record_is_kept_for_later_reads(store: State, root: str):
    assert store.record("b") is None
    assert store.record("b", fresh=True) is None and "b" not in store.records()
    other = State(root)
    other.succeeded("b", "rule_b", "d1", SIG)
    other.flush()
    rec = store.record("b", fresh=True)
    assert rec == state.Record("d1", json.dumps(SIG, sort_keys=True))  # its signature read with it
    assert store.record("b") is rec
    assert store.signature_of("b", rec) == SIG
    other.db.close()


def test_the_signature_of_a_record_gone_from_the_store_is_empty(store: State, root: str):
    store.succeeded("b", "rule_b", "d1", SIG)
    store.flush()
    t = State(root)
    rec = t.record("b")
    store.forget_job("b")
    assert t.signature_of("b", rec) == {}
    t.db.close()


def test_forgetting_a_job_removes_its_record_here_and_in_the_store(store: State, root: str):
    store.forget_job("nothing")  # records not read yet: nothing to forget here
    store.succeeded("b", "rule_b", "d1", SIG)
    store.succeeded("c", "rule_c", "d2", SIG)
    store.flush()
    assert set(store.records()) == {"b", "c"}
    store.forget_job("b")
    store.forget_job("nothing")
    assert set(store.records()) == {"c"}
    assert sql(root, "SELECT name FROM jobs") == [("c",)]


def test_recorded_outputs_of_several_rules(store: State):
    store.succeeded("b", "rule_b", "d1", SIG)
    store.succeeded("c", "rule_c", "d2", {"outputs": ["c1", "c2"]})
    store.succeeded("n", "rule_n", "d3", {"body": "no outputs recorded"})
    store.succeeded("x", "rule_x", "d4", SIG)
    store.flush()
    assert sorted(store.recorded_outputs(["rule_c", "rule_b", "rule_n"])) == [
        ("b", ["b.txt"]), ("c", ["c1", "c2"]), ("n", [])]
    assert store.recorded_outputs([]) == []


# --- fingerprint cache -------------------------------------------------------------------------


def test_the_fingerprint_cache_is_read_once_and_written_at_flush(store: State, root: str):
    cache = store.file_cache()
    assert cache == {} and store.file_cache() is cache
    store.remember_file("a.txt", 10, 11, 12, 13, "h")
    assert cache == {"a.txt": (10, 11, 12, 13, "h")}
    assert sql(root, "SELECT * FROM files") == []
    store.flush()
    assert sql(root, "SELECT path, size, mtime_ns, inode, ctime_ns, hash FROM files") == [("a.txt", 10, 11, 12, 13, "h")]


# --- running marks ---------------------------------------------------------------------------


def test_a_running_mark_is_written_at_once_field_by_field(store: State, root: str):
    before = time.time()
    store.mark_running([("b", 7, ["b.txt", "b 2.txt"]), ("c", -3, [])], "run-1", 12.5)
    rows = {r[0]: r for r in sql(root, "SELECT * FROM running")}
    assert rows["b"][:6] == ("b", "run-1", os.getpid(), 12.5, 7, '["b.txt", "b 2.txt"]')
    assert before <= rows["b"][6] <= time.time() and rows["c"][6] == rows["b"][6]
    job = store.running_job("b")
    assert job == RunningJob("b", "run-1", os.getpid(), 12.5, 7, ["b.txt", "b 2.txt"], rows["b"][6])
    assert sorted(store.running(), key=lambda r: r.name) == [job, store.running_job("c")]
    assert store.running_job("c").outputs == []


@pytest.mark.parametrize("pgid, slurm_job", [(4242, None), (0, None), (-77, "77"), (-(1 << 62), ""),
                                             (-((1 << 60) | 77 << 24 | 5), "77_5")])  # an array task
def test_slurm_job_of_a_mark(pgid: int, slurm_job: str | None):
    """The store keeps one integer per running job; the executors tell whose it is (executors/)."""
    from pyrule import executors
    from pyrule.executors.slurm import SlurmExecutor

    owner = executors.owner(RunningJob("b", "r", 1, 1.0, pgid, [], 1.0).pgid)
    assert (owner.job_id(pgid) if owner is SlurmExecutor else None) == slurm_job


def test_pending_writes_are_written_once(store: State, root: str):
    # After a flush, what it wrote is not written again by the next: another program's later
    # changes to the same rows stand.
    store.mark_running([("b", 0, []), ("c", 0, [])], "run-1", 1.0)
    store.set_pgid("b", 5)
    store.succeeded("j", "rule_j", "d1", SIG)
    store.remember_file("a.txt", 1, 2, 3, 4, "h")
    store.finished("c")
    store.flush()
    assert sql(root, "SELECT name, pgid FROM running") == [("b", 5)]
    other = State(root)
    other.set_pgid("b", 6, now=True)
    other.forget_job("j")
    other.remember_file("a.txt", 9, 9, 9, 9, "h9")
    other.flush()
    other.mark_running([("c", 0, [])], "run-2", 1.0)
    store.remember_file("z.txt", 1, 1, 1, 1, "z")
    store.flush()
    assert sql(root, "SELECT name, pgid FROM running ORDER BY name") == [("b", 6), ("c", 0)]
    assert sql(root, "SELECT name FROM jobs") == []
    assert sql(root, "SELECT path, hash FROM files ORDER BY path") == [("a.txt", "h9"), ("z.txt", "z")]
    other.db.close()


@pytest.mark.parametrize("what", ["pgid", "file", "finished"])
def test_each_kind_of_pending_write_alone_is_flushed(store: State, root: str, what: str):
    store.mark_running([("b", 0, [])], "run-1", 1.0)
    {"pgid": lambda: store.set_pgid("b", 5), "file": lambda: store.remember_file("a.txt", 1, 2, 3, 4, "h"),
     "finished": lambda: store.finished("b")}[what]()
    store.flush()
    assert sql(root, "SELECT name, pgid FROM running") == {"pgid": [("b", 5)], "file": [("b", 0)], "finished": []}[what]
    assert sql(root, "SELECT path FROM files") == ([("a.txt",)] if what == "file" else [])


def test_a_flush_with_nothing_pending_writes_nothing(root: str):
    s = State(root)
    s.close()
    r = State(root, readonly=True)
    r.flush()  # no transaction begun, so no error in a store it may not write
    r.close()
    r = State(root, readonly=True)
    r.remember_file("a.txt", 1, 2, 3, 4, "h")
    with pytest.raises(StateError, match="cannot write the state store"):
        r.close()
    with pytest.raises(sqlite3.ProgrammingError):  # closed all the same
        r.db.execute("SELECT 1")


# --- runs and no-op memos ------------------------------------------------------------------------


def test_a_run_is_written_when_it_starts_and_ends(store: State, root: str):
    t0 = time.time()
    store.run_started("run-1", ["-j", "2"])
    ((run, started, ended, status, argv),) = sql(root, "SELECT * FROM runs")
    assert (run, ended, status, argv) == ("run-1", None, "running", '["-j", "2"]') and t0 <= started <= time.time()
    t1 = time.time()
    store.run_ended("run-1", "failed")
    ((ended, status),) = sql(root, "SELECT ended, status FROM runs")
    assert status == "failed" and t1 <= ended <= time.time()


def test_the_generation_counts_writes_of_job_records_and_new_running_marks(store: State):
    assert store.generation() == 0
    store.succeeded("b", "rule_b", "d1", SIG)
    store.flush()
    assert store.generation() == 1
    store.mark_running([("c", 0, [])], "run-1", 1.0)
    assert store.generation() == 2
    store.forget_running(["c"])
    assert store.generation() == 2


def test_a_memo_holds_its_values_at_its_generation(store: State, root: str):
    assert store.noop_memo("k") is None
    assert store.save_noop_memo("k", 0, 3, b"\x00paths", "dig") is True
    assert store.noop_memo("k") == (3, b"\x00paths", "dig")
    store.mark_running([("c", 0, [])], "run-1", 1.0)
    assert store.noop_memo("k") is None
    assert store.save_noop_memo("k2", 0, 1, b"", "") is False  # made before the store moved on
    assert sql(root, "SELECT key FROM noop_memo") == [("k",)]
    assert store.save_noop_memo("k3", 1, 1, b"", "") is True
    assert sql(root, "SELECT key, generation FROM noop_memo") == [("k3", 1)]  # the stale ones are dropped


def test_only_the_newest_memos_are_kept(store: State, root: str):
    for i in range(state._MEMOS_KEPT + 2):
        assert store.save_noop_memo(f"k{i}", 0, i, b"", "")
    kept = sorted(int(k[1:]) for (k,) in sql(root, "SELECT key FROM noop_memo"))
    assert kept == list(range(2, state._MEMOS_KEPT + 2))
    assert store.noop_memo("k1") is None and store.noop_memo("k2") == (2, b"", "")


# --- failing writes --------------------------------------------------------------------------


def test_a_failing_write_is_undone_and_a_clean_error(store: State, root: str):
    with pytest.raises(StateError) as e:
        store.mark_running([("b", 0, []), ("c", object(), [])], "run-1", 1.0)  # c's pgid cannot be stored
    assert e.value.message.startswith(f"cannot write the state store {root}/state.db: Error binding parameter")
    assert sql(root, "SELECT name FROM running") == []  # b's row too
    assert not store.db.in_transaction
    store.mark_running([("b", 0, [])], "run-1", 1.0)  # and the store works on
    assert [r.name for r in store.running()] == ["b"]


def test_any_other_error_inside_a_write_is_raised_as_it_is_and_undone(store: State, root: str):
    store.mark_running([("b", 0, []), ("c", 0, [])], "run-1", 1.0)

    def names():
        yield "b"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.forget_running(names())
    assert not store.db.in_transaction
    assert sql(root, "SELECT name FROM running ORDER BY name") == [("b",), ("c",)]


def test_a_store_held_locked_is_a_clean_error(store: State, root: str):
    other = sqlite3.connect(os.path.join(root, "state.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    store.db.execute("PRAGMA busy_timeout=50")  # rather than 30 s
    try:
        with pytest.raises(StateError) as e:
            store.mark_running([("b", 0, [])], "run-1", 1.0)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert e.value.message == (f"cannot write the state store {root}/state.db: database is locked "
                            "(another program has held it locked for too long)")
    assert "fuser" in e.value.hint
    store.mark_running([("b", 0, [])], "run-1", 1.0)


def test_a_full_disk_is_a_clean_error_and_the_write_undone(tmp_path: Path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)):
        pytest.skip("needs root and mount -t tmpfs")
    try:
        root = str(disk / ".pyrule")
        s = State(root)
        s.succeeded("a", "rule_a", "d0", SIG)
        s.flush()
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"x" * 4096):
                pass
        except OSError as e:
            assert e.errno == errno.ENOSPC
        finally:
            os.close(fd)
        s.succeeded("b", "rule_b", "d1", {"big": "x" * 100_000})
        with pytest.raises(StateError) as e:
            s.flush()
        assert e.value.message.startswith(f"cannot write the state store {root}/state.db: ")
        assert e.value.message.endswith("(the disk is full)"), e.value.message
        assert e.value.hint == "free some space, then run pyrule again"
        assert not s.db.in_transaction
        s.db.close()
        os.remove(disk / "filler")
        t = State(root)
        assert set(t.records()) == {"a"}
        t.db.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=60)


# --- the messages: what went wrong, in words -------------------------------------------------


def _sqlite_error(text: str, name: str | None) -> sqlite3.Error:
    e = sqlite3.OperationalError(text)
    if name is not None:
        e.sqlite_errorname = name  # as SQLite's own errors carry it
    return e


READ_ONLY = ("the directory is read-only or not writable",
             "pyrule records what it built in .pyrule/ and needs to write there; `pyrule -n` works in a read-only directory")
FULL = ("the disk is full", "free some space, then run pyrule again")
IO = ("a disk I/O error", "is the disk full, or a file size limit (ulimit -f) in force?")
LOCKED = ("another program has held it locked for too long",
          "wait for it to finish (another pyrule?), or find what holds .pyrule/state.db (fuser)")
OTHER = ("", "check the permissions of .pyrule/, or whether another program holds it")


@pytest.mark.parametrize("error, expected", [
    (OSError(errno.EROFS, "Read-only file system"), READ_ONLY),
    (OSError(errno.EACCES, "Permission denied"), READ_ONLY),
    (OSError(errno.EPERM, "Operation not permitted"), READ_ONLY),
    (_sqlite_error("x", "SQLITE_READONLY_DIRECTORY"), READ_ONLY),
    (_sqlite_error("x", "SQLITE_CANTOPEN_ISDIR"), READ_ONLY),
    (_sqlite_error("attempt to write a readonly database", None), READ_ONLY),
    (OSError(errno.ENOSPC, "No space left on device"), FULL),
    (_sqlite_error("x", "SQLITE_FULL"), FULL),
    (_sqlite_error("database or disk is full", None), FULL),
    (_sqlite_error("x", "SQLITE_IOERR_WRITE"), IO),
    (_sqlite_error("disk I/O error", None), IO),
    (_sqlite_error("x", "SQLITE_BUSY_SNAPSHOT"), LOCKED),
    (_sqlite_error("x", "SQLITE_LOCKED_SHAREDCACHE"), LOCKED),
    (_sqlite_error("database table is locked", None), LOCKED),
    (_sqlite_error("the database is busy", None), LOCKED),
    (_sqlite_error("unable to open database file", "SQLITE_NOTADB"), OTHER),  # its directory is writable
    (OSError(errno.EIO, "Input/output error"), OTHER),
    (sqlite3.DatabaseError("x"), OTHER),
], ids=lambda v: repr(v)[:60] if isinstance(v, BaseException) else None)
def test_a_problem_is_said_in_words(tmp_path: Path, error: BaseException, expected: tuple[str, str]):
    path = str(tmp_path / "state.db")
    what, hint = expected
    for writing, verb in ((True, "write"), (False, "open")):
        e = state._problem(path, error, writing)
        assert isinstance(e, StateError)
        assert e.message == f"cannot {verb} the state store {path}: {error}" + (f" ({what})" if what else "")
        assert e.hint == hint


def test_unable_to_open_in_a_directory_not_writable_is_read_only(tmp_path: Path, read_only):
    d = tmp_path / "ro"
    d.mkdir()
    read_only(d)
    e = state._problem(str(d / "state.db"), _sqlite_error("unable to open database file", None), False)
    assert e.hint == READ_ONLY[1]


def test_a_relative_path_is_judged_by_the_current_directory(tmp_path: Path, read_only):
    d = tmp_path / "ro"
    d.mkdir()
    read_only(d)
    here = os.getcwd()
    os.chdir(d)
    try:
        e = state._problem("state.db", _sqlite_error("unable to open database file", None), True)
    finally:
        os.chdir(here)  # before the fixture unmounts it
    assert e.message == ("cannot write the state store state.db: unable to open database file "
                         "(the directory is read-only or not writable)")


def test_the_store_may_be_used_from_another_thread(store: State):
    # The scheduler's threads write through the run's one connection.
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.mark_running([("b", 0, [])], "run-1", 1.0)
        except BaseException as e:  # noqa: BLE001 -- reported below, in the test's thread
            errors.append(e)

    t = threading.Thread(target=write)
    t.start()
    t.join(timeout=60)
    assert errors == [] and [r.name for r in store.running()] == ["b"]


@pytest.mark.slow
def test_a_store_locked_for_a_few_seconds_is_waited_for(store: State, root: str):
    # SQLite's default is to give up after 5 s; the store waits up to 30 s for another program's write.
    other = sqlite3.connect(os.path.join(root, "state.db"), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(6.0, lambda: other.execute("ROLLBACK"))
    release.start()
    try:
        store.mark_running([("b", 0, [])], "run-1", 1.0)
    finally:
        release.join(timeout=60)
        other.close()
    assert [r.name for r in store.running()] == ["b"]


def test_the_default_store_is_pyrule_in_the_current_directory(tmp_path: Path):
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        s = State()
        s.close()
    finally:
        os.chdir(here)
    assert os.path.isfile(tmp_path / ".pyrule" / "state.db")


def test_read_only_opening_sees_what_another_run_has_not_checkpointed(store: State, root: str):
    # The writer keeps the store open: its last writes are only in the -wal file.
    store.succeeded("b", "rule_b", "d1", SIG)
    store.flush()
    assert os.path.getsize(os.path.join(root, "state.db-wal")) > 0
    r = State(root, readonly=True)
    assert r.record("b").digest == "d1"
    seen: list = []
    t = threading.Thread(target=lambda: seen.append(r.record("b", fresh=True)))  # usable from another thread
    t.start()
    t.join(timeout=60)
    assert seen and seen[0].digest == "d1"
    r.close()


def test_unable_to_open_in_a_missing_directory_is_judged_by_the_current_one(tmp_path: Path):
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        e = state._problem(str(tmp_path / "missing" / "state.db"), _sqlite_error("unable to open database file", None),
                           False)
    finally:
        os.chdir(here)
    assert e.hint == OTHER[1]


# --- the public API as the runner uses it -----------------------------------------------------

FULL_SIG = {"body": "b0", "params": {"k": "1"}, "env": {}, "inputs": ["a.txt"], "outputs": ["b.txt"], "fps": ["f0"]}


def other_process(root: str, code: str) -> str:
    """Run `code` in another Python process with `state = State(root)` open; its stdout."""
    src = f"from pyrule.state import State\nstate = State({root!r})\n" + textwrap.dedent(code)
    p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_a_new_store_is_created_empty(root: str):
    s = State(root)
    assert os.path.isfile(os.path.join(root, "state.db"))
    assert s.records() == {} and s.file_cache() == {} and s.running() == []
    assert s.generation() == 0
    assert s.warning is None
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()


def test_succeeded_is_written_at_flush_and_read_back(root: str):
    s = State(root)
    assert s.records() == {}  # a run reads the records (deciding) before any job succeeds
    s.succeeded("b", "rule_b", "d1", FULL_SIG)
    assert s.record("b").digest == "d1"  # this process sees it at once
    assert State(root).record("b") is None  # the store does not, until the flush
    s.flush()
    t = State(root)
    rec = t.record("b")
    assert rec is not None and rec.digest == "d1"
    assert rec.signature is None  # digests only, until a signature is asked for
    assert t.signature_of("b", rec) == FULL_SIG
    assert t.recorded_outputs(["rule_b"]) == [("b", ["b.txt"])]
    assert t.recorded_outputs(["other"]) == [] and t.recorded_outputs([]) == []
    s.close()
    t.close()


def test_a_later_success_replaces_the_record(root: str):
    s = State(root)
    s.succeeded("b", "rule_b", "d1", FULL_SIG)
    s.flush()
    s.succeeded("b", "rule_b", "d2", {**FULL_SIG, "fps": ["f1"]})
    s.close()  # close flushes
    t = State(root)
    rec = t.record("b")
    assert rec.digest == "d2" and t.signature_of("b", rec)["fps"] == ["f1"]
    assert list(t.records()) == ["b"]
    t.close()


def test_records_are_read_once_unless_fresh_or_reread(root: str):
    s, t = State(root), State(root)
    assert s.record("b") is None
    t.succeeded("b", "rule_b", "d1", FULL_SIG)
    t.flush()
    assert s.record("b") is None  # read once per invocation
    assert s.record("b", fresh=True).digest == "d1"
    t.forget_job("b")
    assert s.record("b").digest == "d1"
    s.reread()
    assert s.record("b") is None
    assert s.record("b", fresh=True) is None
    s.close()
    t.close()


def test_fingerprint_cache_round_trip_and_racy_entries_never_match(root: str):
    s = State(root)
    s.remember_file("a.txt", 10, 111, 7, 222, "h-a")
    s.remember_file("r.txt", 20, 333, 8, 444, "h-r", racy=True)
    assert s.file_cache()["r.txt"] == (20, 333, 8, 444, "h-r")  # this run uses it as it is
    s.flush()
    t = State(root)
    assert t.file_cache() == {"a.txt": (10, 111, 7, 222, "h-a"), "r.txt": (-1, 333, 8, 444, "h-r")}
    s.close()
    t.close()


def test_running_marks(root: str):
    s = State(root)
    # An executor's record of a job is any integer (executors/: Slurm's are negative).
    s.mark_running([("b", 0, ["b.txt"]), ("c", -(1 << 62), ["c.txt", "d.txt"])], "run-1", 12.5)
    t = State(root)  # durable at once: no flush needed
    marks = {r.name: r for r in t.running()}
    assert set(marks) == {"b", "c"}
    b, c = marks["b"], marks["c"]
    assert (b.run_id, b.owner_pid, b.owner_start, b.pgid, b.outputs) == ("run-1", os.getpid(), 12.5, 0, ["b.txt"])
    assert c.pgid == -(1 << 62) and c.outputs == ["c.txt", "d.txt"]
    assert t.running_job("b") == b and t.running_job("zzz") is None

    s.set_pgid("b", 4242)  # with the next flush
    assert t.running_job("b").pgid == 0
    s.flush()
    assert t.running_job("b").pgid == 4242
    s.set_pgid("c", -77, now=True)  # at once (a Slurm job id: it outlives us)
    assert t.running_job("c").pgid == -77

    s.finished("b")  # no longer running from the next flush
    assert t.running_job("b") is not None
    s.flush()
    assert t.running_job("b") is None
    s.forget_running(["c"])
    assert t.running() == []
    s.close()
    t.close()


def test_succeeded_clears_the_running_mark_in_the_same_flush(root: str):
    s = State(root)
    s.mark_running([("b", 0, ["b.txt"])], "run-1", 1.0)
    s.succeeded("b", "rule_b", "d1", FULL_SIG)
    assert [r.name for r in State(root).running()] == ["b"]
    s.flush()
    t = State(root)
    assert t.running() == [] and t.record("b").digest == "d1"
    s.close()
    t.close()


def test_forget_run_clears_only_that_runs_marks(root: str):
    s = State(root)
    s.mark_running([("b", 0, [])], "run-1", 1.0)
    s.mark_running([("c", 0, [])], "run-2", 1.0)
    s.forget_run("run-1")
    assert [r.name for r in s.running()] == ["c"]
    s.close()


def test_runs_started_and_ended(root: str):
    s = State(root)
    s.run_started("run-1", ["-j", "2", "all"])
    db = sqlite3.connect(os.path.join(root, "state.db"))
    started, ended, status, argv = db.execute("SELECT started, ended, status, argv FROM runs WHERE id='run-1'").fetchone()
    assert (ended, status, json.loads(argv)) == (None, "running", ["-j", "2", "all"])
    s.run_ended("run-1", "ok")
    ended, status = db.execute("SELECT ended, status FROM runs WHERE id='run-1'").fetchone()
    assert status == "ok" and ended >= started
    db.close()
    s.close()


def test_generation_counts_job_records_and_running_marks_only(root: str):
    s = State(root)
    g0 = s.generation()
    s.remember_file("a.txt", 1, 2, 3, 4, "h")
    s.flush()
    s.run_started("r", [])
    assert s.generation() == g0  # fingerprints and runs do not change decisions' inputs
    s.succeeded("b", "rule_b", "d1", FULL_SIG)
    s.flush()
    g1 = s.generation()
    assert g1 > g0
    s.mark_running([("b", 0, [])], "r", 1.0)
    g2 = s.generation()
    assert g2 > g1
    s.forget_job("b")
    assert s.generation() > g2
    s.close()


def test_noop_memo_holds_only_at_its_generation(root: str):
    s = State(root)
    g = s.generation()
    assert s.save_noop_memo("k", g, 3, b"paths", "dig")
    assert s.noop_memo("k") == (3, b"paths", "dig")
    assert s.noop_memo("other") is None
    assert not s.save_noop_memo("k2", g - 1, 3, b"p", "d")  # the store moved on since
    s.succeeded("b", "rule_b", "d1", FULL_SIG)
    s.flush()
    assert s.noop_memo("k") is None
    s.close()


def test_read_only_opening_reads_and_never_writes(root: str):
    s = State(root)
    s.succeeded("b", "rule_b", "d1", FULL_SIG)
    s.close()
    r = State(root, readonly=True)
    assert r.record("b").digest == "d1"
    with pytest.raises(StateError, match="cannot write the state store"):
        r.mark_running([("b", 0, [])], "r", 1.0)
    r.close()
    assert State(root).running() == []


def test_read_only_opening_creates_nothing(tmp_path: Path):
    root = str(tmp_path / "none" / ".pyrule")
    with pytest.raises(StateError, match="cannot open the state store"):
        State(root, readonly=True)
    assert not os.path.exists(os.path.dirname(root))


def test_read_only_opening_in_a_read_only_directory(root: str, read_only):
    s = State(root)
    s.succeeded("b", "rule_b", "d1", FULL_SIG)
    s.close()
    read_only(Path(root))
    r = State(root, readonly=True)
    assert r.record("b").digest == "d1"
    r.close()


def test_a_damaged_store_is_set_aside_and_a_new_one_started(root: str):
    os.makedirs(root)
    Path(root, "state.db").write_bytes(b"this is not a database" * 100)
    r = None
    with pytest.raises(StateError, match="is damaged"):
        r = State(root, readonly=True)  # a dry run leaves it where it is
    assert r is None and os.listdir(root) == ["state.db"]
    s = State(root)
    assert s.warning and "was damaged" in s.warning and "moved it to" in s.warning
    assert s.records() == {}
    assert any(n.startswith("state.db.broken-") for n in os.listdir(root))
    s.close()


def test_another_process_sees_marks_and_records_and_its_death(root: str):
    s = State(root)
    out = other_process(root, """
        import os
        state.mark_running([("c", 0, ["c.txt"])], "run-x", __import__("pyrule.procinfo").procinfo.start_time())
        state.succeeded("b", "rule_b", "d-other", {"outputs": ["b.txt"]})
        state.close()
        print(os.getpid())
    """)
    pid = int(out)
    mark = s.running_job("c")
    assert mark is not None and mark.owner_pid == pid and mark.run_id == "run-x"
    assert s.record("b", fresh=True).digest == "d-other"
    assert [r.name for r in dead_jobs(s)] == ["c"]  # that process is gone
    s.close()


def test_a_live_process_marks_are_not_dead(root: str):
    s = State(root)
    s.mark_running([("b", 0, [])], "run-1", __import__("pyrule.procinfo").procinfo.start_time())
    out = other_process(root, """
        from pyrule.run import dead_jobs
        print([r.name for r in dead_jobs(state)], [r.name for r in state.running()])
    """)
    assert out.split("\n")[0] == "[] ['b']"  # this process lives
    s.close()


def test_unflushed_writes_of_a_dead_process_are_lost_not_half_written(root: str):
    other_process(root, """
        import os
        state.succeeded("b", "rule_b", "d1", {})
        state.remember_file("a.txt", 1, 2, 3, 4, "h")
        os._exit(0)  # dies without flushing
    """)
    t = State(root)
    assert t.records() == {} and t.file_cache() == {}
    t.close()
