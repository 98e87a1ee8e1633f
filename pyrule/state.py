"""The state store: .pyrule/state.db (SQLite in WAL mode), safe for crashes and for several
pyrule processes at once.

It holds each job's signature at its last success, a fingerprint cache (so unchanged files
are not re-hashed), the jobs running now (so a run that died can be found and cleaned up),
and the list of runs. Reads happen once per invocation; writes are batched.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY, rule TEXT NOT NULL, digest TEXT NOT NULL, signature TEXT NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, hash TEXT
);
CREATE TABLE IF NOT EXISTS running (
    name TEXT PRIMARY KEY, run_id TEXT, owner_pid INTEGER, owner_start REAL, pgid INTEGER,
    outputs TEXT, started REAL
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, started REAL, ended REAL, status TEXT, argv TEXT
);
"""


@dataclass
class Record:
    """A job's signature at its last success."""

    digest: str
    signature: dict[str, Any]


@dataclass
class RunningJob:
    name: str
    run_id: str
    owner_pid: int
    owner_start: float
    pgid: int
    outputs: list[str]
    started: float


class StateError(Exception):
    pass


class State:
    """Open (and create) the store under `root` (the .pyrule directory)."""

    def __init__(self, root: str = ".pyrule", readonly: bool = False):
        self.root = root
        self.path = os.path.join(root, "state.db")
        self._pending_jobs: list[tuple] = []
        self._pending_files: dict[str, tuple] = {}
        self._pending_done: list[str] = []
        self._pending_pgids: list[tuple[int, str]] = []
        self._records: dict[str, Record] | None = None
        self._files: dict[str, tuple] | None = None
        self.warning: str | None = None
        try:
            if not readonly:
                os.makedirs(root, exist_ok=True)
            self.db = self._open()
        except (sqlite3.DatabaseError, OSError) as e:
            self.db = self._recover(e)

    def _open(self) -> sqlite3.Connection:
        # Several pyrule processes creating the store at once: switching to WAL can meet
        # SQLITE_BUSY without SQLite's busy handler being asked, so retry here (as long as it would).
        deadline = time.monotonic() + 30
        while True:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
                db.execute("SELECT count(*) FROM jobs").fetchone()
                return db
            except sqlite3.OperationalError as e:
                db.close()
                if not ("locked" in str(e) or "busy" in str(e)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01 + random.random() * 0.04)

    def _recover(self, error: Exception) -> sqlite3.Connection:
        """A damaged store: set it aside and start afresh (everything unproven gets rebuilt)."""
        if isinstance(error, OSError) or "locked" in str(error):
            raise StateError(f"cannot open {self.path}: {error}") from None
        broken = f"{self.path}.broken-{int(time.time())}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, broken + suffix)
        self.warning = f"{self.path} was damaged ({error}); moved it to {broken} and started a new one"
        return self._open()

    # --- reading ------------------------------------------------------------------------------

    def records(self) -> dict[str, Record]:
        if self._records is None:
            rows = self.db.execute("SELECT name, digest, signature FROM jobs").fetchall()
            self._records = {n: Record(d, s) for n, d, s in rows}  # signature JSON decoded on demand
        return self._records

    def record(self, name: str, fresh: bool = False) -> Record | None:
        if fresh:
            row = self.db.execute("SELECT digest, signature FROM jobs WHERE name=?", (name,)).fetchone()
            rec = Record(row[0], row[1]) if row else None
            self.records()[name] = rec  # type: ignore[assignment]
            if rec is None:
                self.records().pop(name, None)
            return rec
        return self.records().get(name)

    @staticmethod
    def signature_of(rec: Record) -> dict[str, Any]:
        if isinstance(rec.signature, str):
            rec.signature = json.loads(rec.signature)
        return rec.signature

    def recorded_outputs(self, rules: list[str]) -> list[tuple[str, list[str]]]:
        """(job name, outputs) of every recorded job of these rules."""
        if not rules:
            return []
        marks = ",".join("?" * len(rules))
        rows = self.db.execute(f"SELECT name, signature FROM jobs WHERE rule IN ({marks})", rules).fetchall()
        return [(name, json.loads(sig).get("outputs", [])) for name, sig in rows]

    def file_cache(self) -> dict[str, tuple]:
        """path -> (size, mtime_ns, inode, hash)."""
        if self._files is None:
            self._files = {r[0]: r[1:] for r in self.db.execute("SELECT path, size, mtime_ns, inode, hash FROM files")}
        return self._files

    def running(self) -> list[RunningJob]:
        rows = self.db.execute("SELECT name, run_id, owner_pid, owner_start, pgid, outputs, started FROM running")
        return [RunningJob(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]

    def running_job(self, name: str) -> RunningJob | None:
        """The job's row in `running` as it is in the store now (another process may have changed it)."""
        r = self.db.execute("SELECT name, run_id, owner_pid, owner_start, pgid, outputs, started FROM running "
                            "WHERE name=?", (name,)).fetchone()
        return RunningJob(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) if r else None

    # --- writing ------------------------------------------------------------------------------

    def remember_file(self, path: str, size: int, mtime_ns: int, inode: int, digest: str) -> None:
        entry = (size, mtime_ns, inode, digest)
        self.file_cache()[path] = entry
        self._pending_files[path] = entry

    def mark_running(self, jobs: Iterable[tuple[str, int, list[str]]], run_id: str, owner_start: float) -> None:
        """Durably note jobs as running BEFORE they start, so a crash leaves them marked incomplete."""
        now = time.time()
        rows = [(n, run_id, os.getpid(), owner_start, pgid, json.dumps(outs), now) for n, pgid, outs in jobs]
        with self._transaction():
            self.db.executemany("INSERT OR REPLACE INTO running VALUES (?,?,?,?,?,?,?)", rows)

    def set_pgid(self, name: str, pgid: int) -> None:
        """Written with the next flush (right after the scheduler's next wait): the direct child
        already dies with pyrule (parent-death signal); the pgid lets a later run stop the rest."""
        self._pending_pgids.append((pgid, name))

    def succeeded(self, name: str, rule: str, digest: str, signature: dict[str, Any]) -> None:
        self._pending_jobs.append((name, rule, digest, json.dumps(signature, sort_keys=True), time.time()))
        self._pending_done.append(name)
        if self._records is not None:
            self._records[name] = Record(digest, signature)

    def finished(self, name: str) -> None:
        """The job is no longer running (failed and cleaned up, or done)."""
        self._pending_done.append(name)

    def forget_running(self, names: Iterable[str]) -> None:
        with self._transaction():
            self.db.executemany("DELETE FROM running WHERE name=?", [(n,) for n in names])

    def forget_job(self, name: str) -> None:
        self.db.execute("DELETE FROM jobs WHERE name=?", (name,))
        if self._records is not None:
            self._records.pop(name, None)

    def flush(self) -> None:
        if not (self._pending_jobs or self._pending_files or self._pending_done or self._pending_pgids):
            return
        with self._transaction():
            if self._pending_pgids:
                self.db.executemany("UPDATE running SET pgid=? WHERE name=?", self._pending_pgids)
            if self._pending_jobs:
                self.db.executemany("INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?)", self._pending_jobs)
            if self._pending_files:
                self.db.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?)",
                                    [(p, *v) for p, v in self._pending_files.items()])
            if self._pending_done:
                self.db.executemany("DELETE FROM running WHERE name=?", [(n,) for n in self._pending_done])
        self._pending_jobs.clear()
        self._pending_files.clear()
        self._pending_done.clear()
        self._pending_pgids.clear()

    def run_started(self, run_id: str, argv: list[str]) -> None:
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?)",
                            (run_id, time.time(), None, "running", json.dumps(argv)))

    def run_ended(self, run_id: str, status: str) -> None:
        with self._transaction():
            self.db.execute("UPDATE runs SET ended=?, status=? WHERE id=?", (time.time(), status, run_id))

    def _transaction(self):
        return _Transaction(self.db)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
