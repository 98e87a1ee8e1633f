"""The state store: .pyrule/state.db (SQLite in WAL mode), safe for crashes and for several
pyrule processes at once.

It holds each job's signature at its last success (and the key/values it reported then), a
fingerprint cache (so unchanged files are not re-hashed), the jobs running now (so a run that died can be found and cleaned up),
the list of runs, and memos of no-op runs (noop_memo.py) with the generation they hold for.
Reads happen once per invocation; writes are batched.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable

from .errors import PyruleError
from .record import record
from .values import Stored

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    import json
    import sqlite3
    from typing import Any


def _import_modules() -> None:
    """sqlite3 and json, imported by the first State, not at start: a dry run or --status of a
    project without a store opens none (sqlite3 and datetime, json: ~3 ms of start-up). Every use
    of them below is a State's, or an error of one."""
    global json, sqlite3
    import json
    import sqlite3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY, rule TEXT NOT NULL, digest TEXT NOT NULL, signature TEXT NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, hash TEXT, ctime_ns INTEGER
);
CREATE TABLE IF NOT EXISTS running (
    name TEXT PRIMARY KEY, run_id TEXT, owner_pid INTEGER, owner_start REAL, pgid INTEGER,
    outputs TEXT, started REAL
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, started REAL, ended REAL, status TEXT, argv TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reported (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job_values (
    name TEXT PRIMARY KEY, hash TEXT NOT NULL, kind TEXT NOT NULL, short TEXT NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS noop_memo (
    key TEXT PRIMARY KEY, generation INTEGER NOT NULL, jobs INTEGER NOT NULL, paths BLOB NOT NULL,
    digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS noop_memo_graph (
    key TEXT PRIMARY KEY, generation INTEGER NOT NULL, paths TEXT NOT NULL, graph BLOB NOT NULL
);
""" + "".join(
    # The generation: every job record written or removed, and every job marked running, by any
    # program (another pyrule version, the sqlite3 shell), raises it in the same transaction. A
    # no-op memo (noop_memo.py) is made only while nothing is marked running, and holds only
    # while the generation it was made at is current; so only new marks matter of `running`.
    f"CREATE TRIGGER IF NOT EXISTS {table}_{op.lower()} AFTER {op} ON {table} BEGIN "
    "INSERT INTO meta VALUES ('generation', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1; END;\n"
    for table, op in (("jobs", "INSERT"), ("jobs", "UPDATE"), ("jobs", "DELETE"), ("running", "INSERT"),
                      ("job_values", "INSERT"), ("job_values", "UPDATE"), ("job_values", "DELETE")))
_MEMOS_KEPT = 8
_CHECKPOINT_PAGES = 10_000  # of 4 KiB: the write-ahead log grows to ~40 MiB at most between checkpoints


@record(slots=True)  # one per job: no per-instance __dict__
class Record:
    """A job's signature at its last success."""

    digest: str
    signature: dict[str, Any] | str | None  # None: not read yet (see signature_of); str: JSON


@record
class RunningJob:
    name: str
    run_id: str
    owner_pid: int
    owner_start: float
    # How its executor records it (executors/: Executor.recorded; executors.owner tells whose):
    # a local job's process group (0 until known), or an id an executor encodes as a number < 0.
    pgid: int
    outputs: list[str]
    started: float


class StateError(PyruleError):
    """The store cannot be opened or written (full disk, read-only directory, held locked...):
    a clean error (exit 2), never a traceback. A damaged store is set aside instead (_recover)."""


def _problem(path: str, error: BaseException, writing: bool) -> StateError:
    """A StateError that says what went wrong with the store in words, and what to do."""
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error)
    root = os.path.dirname(path)  # "" (a relative path) or missing: judged by the current directory
    if isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM) or \
            name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) or "readonly" in text or \
            (("unable to open" in text) and not os.access(root if os.path.isdir(root) else ".", os.W_OK)):
        hint = ("pyrule records what it built in .pyrule/ and needs to write there; "
                "`pyrule -n` works in a read-only directory")
        what = "the directory is read-only or not writable"
    elif isinstance(error, OSError) and error.errno == errno.ENOSPC or name == "SQLITE_FULL" or "full" in text:
        what, hint = "the disk is full", "free some space, then run pyrule again"
    elif name.startswith("SQLITE_IOERR") or "I/O error" in text:
        what, hint = "a disk I/O error", "is the disk full, or a file size limit (ulimit -f) in force?"
    elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        what = "another program has held it locked for too long"
        hint = "wait for it to finish (another pyrule?), or find what holds .pyrule/state.db (fuser)"
    else:
        what, hint = "", "check the permissions of .pyrule/, or whether another program holds it"
    verb = "write" if writing else "open"
    return StateError(f"cannot {verb} the state store {path}: {text}" + (f" ({what})" if what else ""), hint=hint)


def _damaged(error: BaseException, path: str) -> bool:
    """Whether the store is damaged (garbage, truncated, not a database, a directory), as opposed
    to unreachable (read-only, full, locked), which setting it aside would not cure."""
    if os.path.isdir(path):
        return True
    if not isinstance(error, sqlite3.DatabaseError) or isinstance(error, sqlite3.OperationalError):
        # OperationalError: cannot open, locked, full, I/O... but a store without its tables
        # (created by a pyrule that died at once) is as good as new: damaged, harmlessly.
        return "no such table" in str(error) or "no such column" in str(error)
    return True


class State:
    """Open (and create) the store under `root` (the .pyrule directory)."""

    def __init__(self, root: str = ".pyrule", readonly: bool = False):
        _import_modules()
        self.root = root
        self.path = os.path.join(root, "state.db")
        self._pending_jobs: list[tuple] = []
        self._pending_files: dict[str, tuple] = {}
        self._pending_done: list[str] = []
        self._pending_pgids: list[tuple[int, str]] = []
        self._pending_reports: dict[str, str | None] = {}  # job -> JSON of its values; None: remove
        self._reports: dict[str, dict[str, str]] | None = None
        self._records: dict[str, Record] | None = None
        self._files: dict[str, tuple] | None = None
        # Jobs' values (values.py): read per name on first use; written with the job records.
        self._values: dict[str, Stored | None] = {}
        self._pending_values: dict[str, Stored | None] = {}
        self.warning: str | None = None
        self.readonly = readonly
        # How much this process's own writes raised the generation (in its transactions): a run
        # that decided part of the graph (noop_memo.Partial) leaves a memo only if no other
        # process wrote meanwhile.
        self.raised = 0
        # Records and fingerprints read one at a time, when asked, not the whole tables first: set
        # by a run that decides a few jobs of many (noop_memo.Partial).
        self.few = False
        try:
            if not readonly:
                os.makedirs(root, exist_ok=True)
            self.db = self._open_readonly() if readonly else self._open()
        except (sqlite3.DatabaseError, OSError) as e:
            self.db = self._recover(e)

    def _open(self) -> sqlite3.Connection:
        # Several pyrule processes creating the store at once: switching to WAL can meet
        # SQLITE_BUSY without SQLite's busy handler being asked, so retry here (as long as it would).
        deadline = time.monotonic() + 30
        # A new store's WAL switch and schema are written without fsync (tens of ms of a fresh
        # run's start): cut short by a power loss, it is a damaged store, set aside and started
        # afresh (_recover), as an empty one costs nothing to be. Then (and for a store that has
        # records) NORMAL: each checkpoint syncs the log, then the file.
        try:
            new = os.stat(self.path).st_size == 0
        except OSError:  # none yet (or unreadable: connect says why)
            new = True
        while True:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            try:
                db.execute(f"PRAGMA synchronous={'OFF' if new else 'NORMAL'}")
                db.execute("PRAGMA journal_mode=WAL")
                # A checkpoint (the log copied into the file: two fsyncs, ms each) only every
                # ~1,000 jobs, not SQLite's default ~100 (1,000 pages; a job's start and end write
                # ~10): in a chain each one delays the next job. The close checkpoints the rest.
                # The log survives the process like the file (kill -9 loses nothing committed).
                db.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
                db.executescript(_SCHEMA)
                db.execute("PRAGMA synchronous=NORMAL")
                _add_ctime(db)
                _probe(db)
                return db
            except sqlite3.OperationalError as e:
                db.close()
                if not ("locked" in str(e) or "busy" in str(e)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01 + (time.monotonic_ns() % 40_000_000) / 1e9)  # 10-50 ms, jittered without `random`
            except BaseException:
                db.close()
                raise

    def _open_readonly(self) -> sqlite3.Connection:
        """Read without writing anything (no WAL switch, no schema): a dry run must also work in
        a read-only directory, and must leave a damaged store where it is."""
        # SQLite's URI path: only %, ? and # must be escaped (urllib.parse costs start-up time)
        path = os.path.abspath(self.path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
        uri = f"file:{path}?mode=ro"
        try:
            return _checked(sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False))
        except sqlite3.OperationalError as e:
            if "unable to open" not in str(e) and "readonly" not in str(e):
                raise
        # A WAL store whose -shm file cannot be created (a read-only directory): nobody can be
        # writing to it either, so read it as it is on disk.
        return _checked(sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30, isolation_level=None,
                                        check_same_thread=False))

    def _recover(self, error: Exception) -> sqlite3.Connection:
        """A damaged store: set it aside and start afresh (everything unproven gets rebuilt).
        One that cannot be reached (read-only, full, locked) is a clean error instead."""
        if not _damaged(error, self.path):
            raise _problem(self.path, error, writing=False) from None
        if self.readonly:  # a dry run leaves it alone; the next run sets it aside
            raise StateError(f"{self.path} is damaged ({error}): deciding without it; the next run will "
                             "set it aside and start a new one") from None
        broken = f"{self.path}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        try:
            for suffix in ("", "-wal", "-shm"):
                if os.path.lexists(self.path + suffix):
                    os.replace(self.path + suffix, broken + suffix)
            db = self._open()
        except (sqlite3.DatabaseError, OSError) as e:
            raise _problem(self.path, e, writing=True) from None
        self.warning = f"{self.path} was damaged ({error}); moved it to {broken} and started a new one"
        return db

    # --- reading ------------------------------------------------------------------------------

    def records(self) -> dict[str, Record]:
        if self._records is None and self.few:
            self._records = _OnDemand(self._record_row)
        if self._records is None:
            # Digests only: a signature is read (and decoded) when a job's digest differs, to say
            # what changed. At 100k jobs the texts alone were 26 MB.
            rows = self.db.execute("SELECT name, digest FROM jobs").fetchall()
            self._records = {n: Record(d, None) for n, d in rows}
        return self._records

    def record(self, name: str, fresh: bool = False) -> Record | None:
        if fresh:
            row = self.db.execute("SELECT digest, signature FROM jobs WHERE name=?", (name,)).fetchone()
            if row is None:
                self.records().pop(name, None)
                return None
            rec = self.records()[name] = Record(row[0], row[1])
            return rec
        return self.records().get(name)

    def reread(self, keep: bool = True) -> None:
        """Forget the records read so far: the next record() reads the store as it is now.
        `keep=False`: each record is read alone when asked and not kept (one pass that asks each
        job once, as the no-op memo's check after a build: a million jobs' names and digests
        held were ~200 MB; a row at a time costs ~1 µs a job more than reading them all)."""
        self._records = None if keep else _OnDemand(self._record_row, keep=False)

    def signature_of(self, name: str, rec: Record) -> dict[str, Any]:
        """The recorded signature's parts (read from the store on first use)."""
        if rec.signature is None:
            row = self.db.execute("SELECT signature FROM jobs WHERE name=?", (name,)).fetchone()
            rec.signature = row[0] if row else "{}"
        if isinstance(rec.signature, str):
            rec.signature = json.loads(rec.signature)
        return rec.signature  # type: ignore[return-value]  # a dict now: read and parsed above

    def recorded_outputs(self, rules: list[str]) -> list[tuple[str, list[str]]]:
        """(job name, outputs) of every recorded job of these rules."""
        if not rules:
            return []
        marks = ",".join("?" * len(rules))
        rows = self.db.execute(f"SELECT name, signature FROM jobs WHERE rule IN ({marks})", rules).fetchall()
        return [(name, json.loads(sig).get("outputs", [])) for name, sig in rows]

    def reports(self) -> dict[str, dict[str, str]]:
        """job -> the key/values it reported when it last succeeded (only jobs that reported any:
        one read of a table that is usually small). They stay until the job runs again."""
        if self._reports is None:
            try:
                rows = self.db.execute("SELECT name, data FROM reported").fetchall()
            except sqlite3.OperationalError:  # a store from before they were kept, opened read-only
                rows = []
            self._reports = {n: json.loads(d) for n, d in rows}
        return self._reports

    def _record_row(self, name: str) -> Record | None:
        row = self.db.execute("SELECT digest FROM jobs WHERE name=?", (name,)).fetchone()
        return Record(row[0], None) if row else None

    def _file_row(self, path: str) -> tuple | None:
        row = self.db.execute("SELECT size, mtime_ns, inode, ctime_ns, hash FROM files WHERE path=?",
                              (path,)).fetchone()
        return tuple(row) if row else None

    def file_cache(self) -> dict[str, tuple]:
        """path -> (size, mtime_ns, inode, ctime_ns, hash); ctime None: recorded before pyrule kept it."""
        if self._files is None and self.few:
            self._files = _OnDemand(self._file_row)
        if self._files is None:
            try:
                rows = self.db.execute("SELECT path, size, mtime_ns, inode, ctime_ns, hash FROM files").fetchall()
            except sqlite3.OperationalError:  # a store from before ctime, opened read-only
                rows = self.db.execute("SELECT path, size, mtime_ns, inode, NULL, hash FROM files").fetchall()
            self._files = {r[0]: r[1:] for r in rows}
        return self._files

    def value_of(self, name: str) -> Stored | None:
        """The value the job's last success returned (values.py); None: it has none."""
        if name in self._values:
            return self._values[name]
        try:
            row = self.db.execute("SELECT hash, kind, data, short FROM job_values WHERE name=?", (name,)).fetchone()
        except sqlite3.OperationalError:  # a store from before values, opened read-only
            row = None
        value = self._values[name] = Stored(row[0], row[1], bytes(row[2]), row[3]) if row else None
        return value

    def valued(self) -> set[str]:
        """The names of the jobs that have a value."""
        try:
            names = {r[0] for r in self.db.execute("SELECT name FROM job_values")}
        except sqlite3.OperationalError:  # a store from before values, opened read-only
            names = set()
        names.update(n for n, v in self._pending_values.items() if v is not None)
        return names - {n for n, v in self._pending_values.items() if v is None}

    def set_value(self, name: str, value: Stored | None) -> None:
        """The job's value from now on (None: it has none), written with the next flush."""
        if value is None and self.value_of(name) is None:
            return
        self._values[name] = self._pending_values[name] = value

    def running(self) -> list[RunningJob]:
        rows = self.db.execute("SELECT name, run_id, owner_pid, owner_start, pgid, outputs, started FROM running")
        return [RunningJob(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]

    def running_job(self, name: str) -> RunningJob | None:
        """The job's row in `running` as it is in the store now (another process may have changed it)."""
        r = self.db.execute("SELECT name, run_id, owner_pid, owner_start, pgid, outputs, started FROM running "
                            "WHERE name=?", (name,)).fetchone()
        return RunningJob(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) if r else None

    def runs_with_status(self, status: str) -> set[str]:
        """The ids of the recorded runs that ended with `status` (e.g. "detached": detach.py)."""
        try:
            return {r[0] for r in self.db.execute("SELECT id FROM runs WHERE status=?", (status,))}
        except sqlite3.OperationalError:  # a store from before the runs table, opened read-only
            return set()

    # --- writing ------------------------------------------------------------------------------

    def remember_file(self, path: str, size: int, mtime_ns: int, inode: int, ctime_ns: int, digest: str,
                      racy: bool = False) -> None:
        """`racy`: hashed within the file's timestamp tick (decide.racily_clean): this run
        uses the entry, the store keeps it with size -1, which no stat matches, so the next
        run hashes the file again (git "smudges" such index entries the same way)."""
        entry = (size, mtime_ns, inode, ctime_ns, digest)
        self.file_cache()[path] = entry
        self._pending_files[path] = (-1, *entry[1:]) if racy else entry

    def mark_running(self, jobs: Iterable[tuple[str, int, list[str]]], run_id: str, owner_start: float) -> None:
        """Durably note jobs as running BEFORE they start, so a crash leaves them marked incomplete."""
        now = time.time()
        rows = [(n, run_id, os.getpid(), owner_start, pgid, json.dumps(outs), now) for n, pgid, outs in jobs]
        with self._transaction():
            self.db.executemany("INSERT OR REPLACE INTO running VALUES (?,?,?,?,?,?,?)", rows)

    def set_pgid(self, name: str, pgid: int, now: bool = False) -> None:
        """Written with the next flush (right after the scheduler's next wait) unless `now`: a
        local job's direct child already dies with pyrule (parent-death signal) and the pgid only
        lets a later run stop the rest; a Slurm job id must be durable at once (it outlives us)."""
        if now:
            self.db.execute("UPDATE running SET pgid=? WHERE name=?", (pgid, name))
        else:
            self._pending_pgids.append((pgid, name))

    def succeeded(self, name: str, rule: str, digest: str, signature: dict[str, Any]) -> None:
        self._pending_jobs.append((name, rule, digest, json.dumps(signature, sort_keys=True), time.time()))
        self._pending_done.append(name)
        if self._records is not None:
            self._records[name] = Record(digest, signature)

    def keep_reported(self, name: str, values: dict[str, str]) -> None:
        """The key/values of the job's run that succeeded replace those it reported before
        (written with the next flush, as its record is)."""
        known = self.reports()
        if values:
            known[name] = dict(values)
            self._pending_reports[name] = json.dumps(values, sort_keys=True)
        elif known.pop(name, None) is not None:
            self._pending_reports[name] = None

    def forget_reported(self, name: str) -> None:
        """The job runs again (its outputs are removed): what it reported before goes with them."""
        if self.reports().pop(name, None) is not None:
            self._pending_reports[name] = None

    def finished(self, name: str) -> None:
        """The job is no longer running (failed and cleaned up, or done)."""
        self._pending_done.append(name)

    def forget_running(self, names: Iterable[str]) -> None:
        with self._transaction():
            self.db.executemany("DELETE FROM running WHERE name=?", [(n,) for n in names])

    def forget_run(self, run_id: str) -> None:
        """No job of this run is marked running any more (after it stopped them all)."""
        with self._transaction():
            self.db.execute("DELETE FROM running WHERE run_id=?", (run_id,))

    def forget_job(self, name: str) -> None:
        self.raised += self.db.execute("DELETE FROM jobs WHERE name=?", (name,)).rowcount  # one trigger a row
        self.db.execute("DELETE FROM reported WHERE name=?", (name,))
        if self._reports is not None:
            self._reports.pop(name, None)
        self.raised += self.db.execute("DELETE FROM job_values WHERE name=?", (name,)).rowcount  # (a trigger too)
        self._values.pop(name, None)
        if self._records is not None:
            self._records.pop(name, None)

    def flush(self) -> None:
        if not (self._pending_jobs or self._pending_files or self._pending_done or self._pending_pgids
                or self._pending_reports or self._pending_values):
            return
        with self._transaction():
            if self._pending_pgids:
                self.db.executemany("UPDATE running SET pgid=? WHERE name=?", self._pending_pgids)
            if self._pending_jobs:
                self.db.executemany("INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?)", self._pending_jobs)
            if self._pending_files:
                self.db.executemany("INSERT OR REPLACE INTO files (path, size, mtime_ns, inode, ctime_ns, hash) "
                                    "VALUES (?,?,?,?,?,?)", [(p, *v) for p, v in self._pending_files.items()])
            if self._pending_done:
                self.db.executemany("DELETE FROM running WHERE name=?", [(n,) for n in self._pending_done])
            if self._pending_reports:
                self.db.executemany("DELETE FROM reported WHERE name=?",
                                    [(n,) for n, v in self._pending_reports.items() if v is None])
                self.db.executemany("INSERT OR REPLACE INTO reported VALUES (?,?)",
                                    [(n, v) for n, v in self._pending_reports.items() if v is not None])
            if self._pending_values:
                self._write_values()
        self._pending_jobs.clear()
        self._pending_files.clear()
        self._pending_done.clear()
        self._pending_pgids.clear()
        self._pending_reports.clear()
        self._pending_values.clear()

    def _write_values(self) -> None:
        items = self._pending_values.items()
        self.db.executemany("DELETE FROM job_values WHERE name=?", [(n,) for n, v in items if v is None])
        self.db.executemany("INSERT OR REPLACE INTO job_values VALUES (?,?,?,?,?)",
                            [(n, v.hash, v.kind, v.short, v.data) for n, v in items if v is not None])

    # --- no-op memos (noop_memo.py) -----------------------------------------------------------

    def generation(self) -> int:
        """A counter raised by every job record written or removed and every job marked running."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        except sqlite3.OperationalError:  # a store from before memos, opened read-only
            return 0
        return row[0] if row else 0

    def noop_memo(self, key: str) -> tuple[int, bytes, str] | None:
        """(jobs up to date, paths, stat digests) of the memo under `key`, if it holds for the
        store as it is now (made at the current generation)."""
        try:
            row = self.db.execute("SELECT generation, jobs, paths, digest FROM noop_memo WHERE key=?",
                                  (key,)).fetchone()
        except sqlite3.Error:  # a store from before memos, opened read-only: decide the long way
            return None
        # Read after the memo: a write in between raised the generation (it only grows).
        if row is None or row[0] != self.generation():
            return None
        return row[1], row[2], row[3]

    def noop_memo_graph(self, key: str, generation: int, paths: str) -> bytes | None:
        """The job graph kept with the memo under `key` (noop_memo.Partial), if it was made at
        `generation` over the paths whose digest is `paths`."""
        try:
            row = self.db.execute("SELECT graph FROM noop_memo_graph WHERE key=? AND generation=? AND paths=?",
                                  (key, generation, paths)).fetchone()
        except sqlite3.Error:  # a store from before the graphs, opened read-only: decide the long way
            return None
        return row[0] if row else None

    def save_noop_memo(self, key: str, generation: int, jobs: int, paths: bytes, digest: str,
                       graph: tuple[str, bytes] | None = None) -> bool:
        """Keep the memo if the store is still at `generation` (what the run's decisions read);
        `graph`: (digest of `paths`, the job graph) for its partial path (noop_memo.Partial)."""
        with self._transaction():
            if self.generation() != generation:
                return False
            self.db.execute("DELETE FROM noop_memo WHERE generation != ?", (generation,))
            self.db.execute("INSERT OR REPLACE INTO noop_memo VALUES (?,?,?,?,?)",
                            (key, generation, jobs, paths, digest))
            self.db.execute("DELETE FROM noop_memo WHERE rowid NOT IN "
                            f"(SELECT rowid FROM noop_memo ORDER BY rowid DESC LIMIT {_MEMOS_KEPT})")
            if graph is not None:
                self.db.execute("INSERT OR REPLACE INTO noop_memo_graph VALUES (?,?,?,?)", (key, generation, *graph))
            self.db.execute("DELETE FROM noop_memo_graph WHERE generation != ? OR key NOT IN "
                            "(SELECT key FROM noop_memo)" + (" OR key = ?" if graph is None else ""),
                            (generation, key) if graph is None else (generation,))
        return True

    def run_started(self, run_id: str, argv: list[str]) -> None:
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?)",
                            (run_id, time.time(), None, "running", json.dumps(argv)))

    def run_ended(self, run_id: str, status: str) -> None:
        with self._transaction():
            self.db.execute("UPDATE runs SET ended=?, status=? WHERE id=?", (time.time(), status, run_id))

    def _transaction(self):
        return _Transaction(self.db, self.path, self)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()
            # What was read of the store, in memory (two entries a job, ~400 bytes): emptied in
            # place, as the run's deciders hold the fingerprint cache too.
            for cache in (self._records, self._files):
                if cache is not None:
                    cache.clear()
            self._records = self._files = None


def _add_ctime(db: sqlite3.Connection) -> None:
    """A store from before the fingerprint cache kept ctime gets the column (its rows NULL)."""
    if any(row[1] == "ctime_ns" for row in db.execute("PRAGMA table_info(files)")):
        return
    try:
        db.execute("ALTER TABLE files ADD COLUMN ctime_ns INTEGER")
    except sqlite3.OperationalError as e:
        if "duplicate column" not in str(e):  # not another pyrule that added it just now
            raise


def _probe(db: sqlite3.Connection) -> None:
    """Read every table with the columns pyrule uses: a store with another schema (from another
    program, or damaged) fails here, at open, rather than in the middle of a run."""
    for table, columns in (("jobs", "name, rule, digest, signature, updated"),
                           ("files", "path, size, mtime_ns, inode, hash"),
                           ("running", "name, run_id, owner_pid, owner_start, pgid, outputs, started"),
                           ("runs", "id, started, ended, status, argv")):
        db.execute(f"SELECT {columns} FROM {table} LIMIT 1").fetchall()


def _checked(db: sqlite3.Connection) -> sqlite3.Connection:
    try:
        _probe(db)
        return db
    except BaseException:
        db.close()
        raise


class _OnDemand(dict):
    """A table read one key at a time, when first asked (`get`): for a run that decides a few jobs
    of many. A key without a row is kept as None; with `keep=False` nothing read is kept (what
    is set is)."""

    def __init__(self, fetch, keep: bool = True) -> None:
        super().__init__()
        self.fetch, self.keep = fetch, keep

    def get(self, key, default=None):
        try:
            value = self[key]
        except KeyError:
            value = self.fetch(key)
            if self.keep:
                self[key] = value
        return default if value is None else value


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT; a store that cannot be written (full disk, file size limit,
    I/O error, held locked past the timeout) raises StateError, with the transaction undone."""

    def __init__(self, db: sqlite3.Connection, path: str, state: State):
        self.db = db
        self.path = path
        self.state = state
        self.generation = 0

    def __enter__(self):
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.generation = self.state.generation()  # nobody else writes until COMMIT
        except sqlite3.Error as e:
            raise _problem(self.path, e, writing=True) from None

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.state.raised += self.state.generation() - self.generation
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        except sqlite3.Error as e:
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if exc_type is None or issubclass(exc_type, sqlite3.Error):
                raise _problem(self.path, e, writing=True) from None
        if exc_type is not None and issubclass(exc_type, sqlite3.Error):
            raise _problem(self.path, exc, writing=True) from None
