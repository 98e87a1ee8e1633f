"""The journal of running jobs: `.pyrule/running/RUN-ID`, one small file per run, beside the store.

The store marks jobs as running too, but a store damaged or removed after a kill loses those
marks, and the next run would adopt a half-written output as "newer than its inputs". The
journal keeps them where a damaged store cannot take them along: a line per job written before
it starts (one write for the jobs started together), a line once its outputs are complete or
removed, and the file removed when its run ends with nothing open. No fsync: like the store
(synchronous=NORMAL), it must survive the process, not the machine. A run that finds the
journal of a dead pyrule removes the outputs of its open jobs (recover.Recovery),
whatever the store says.
"""

from __future__ import annotations

import errno
import os

from .procinfo import alive_since

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    import json


def _import_json() -> None:
    """json, imported by the first journal written or read, not at start: a dry run of a
    project with no journal reads none. Every use below comes after one of these calls."""
    global json
    import json

DIR = "running"


class Entry:
    """A job a run's journal has open (started, not ended), with the fields of state.RunningJob.
    A plain class: record() would cost a millisecond of every run's start."""

    __slots__ = ("name", "run_id", "owner_pid", "owner_start", "outputs", "started", "executor")

    def __init__(self, name: str, run_id: str, owner_pid: int, owner_start: float, outputs: list[str],
                 started: float, executor: str):
        self.name, self.run_id, self.owner_pid, self.owner_start = name, run_id, owner_pid, owner_start
        self.outputs, self.started, self.executor = outputs, started, executor


class Journal:
    """This run's journal; the file is made when the first job starts (a no-op writes nothing)."""

    def __init__(self, root: str, run_id: str, owner_pid: int, owner_start: float):
        self.path = os.path.join(root, DIR, run_id)
        _import_json()
        self._header = json.dumps({"run": run_id, "pid": owner_pid, "start": owner_start}) + "\n"
        self._fd: int | None = None
        self.open: set[str] = set()

    def started(self, jobs: list[tuple[str, list[str]]], executor: str, now: float) -> None:
        """Before the jobs start (raises OSError if that cannot be written: they must not start)."""
        # Each line starts a line too: one cut short by a full disk cannot swallow the next.
        text = "\n" + json.dumps(["start", executor, now, jobs]) + "\n"
        if self._fd is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            text = self._header + text
        data = text.encode("utf-8", "surrogateescape")
        if os.write(self._fd, data) != len(data):  # a full disk: a cut line would not count
            raise OSError(errno.ENOSPC, "the journal's line was cut short (is the disk full?)")
        self.open.update(name for name, _ in jobs)

    def ended(self, names: list[str]) -> None:
        """The jobs' outputs are complete, or removed. Not written: the next run removes complete
        outputs and rebuilds them, which costs time but is never wrong."""
        names = [n for n in names if n in self.open]
        if not names or self._fd is None:
            return
        self.open.difference_update(names)
        try:
            os.write(self._fd, ("\n" + json.dumps(["end", names]) + "\n").encode("utf-8", "surrogateescape"))
        except OSError:
            pass

    def close(self) -> None:
        """At the end of the run: the file goes unless jobs are still open (the next run cleans up)."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if not self.open:
            remove(self.path)


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def settle(root: str, run_id: str, names: set[str]) -> None:
    """Another run has recovered these jobs of a dead run (from the store's marks): end them in
    that run's journal too, which goes once nothing in it is open, so that the next run does not
    remove (and rebuild) what was rebuilt since."""
    path = os.path.join(root, DIR, run_id)
    entries = _read(path)  # (json imported)
    if entries is None:
        return
    if {e.name for e in entries} <= names:
        remove(path)
        return
    try:
        with open(path, "a", encoding="utf-8", errors="surrogateescape") as f:
            f.write("\n" + json.dumps(["end", sorted(names)]) + "\n")
    except OSError:
        pass


def dead(root: str, own: str | None = None) -> list[tuple[str, list[Entry]]]:
    """(path, open entries) of every journal whose run's process is gone."""
    found = []
    try:
        names = os.listdir(os.path.join(root, DIR))
    except OSError:  # none yet (or .pyrule/running is not a directory: nothing to read there)
        return []
    for name in sorted(names):
        if name == own:
            continue
        path = os.path.join(root, DIR, name)
        entries = _read(path)
        if entries is not None:
            found.append((path, entries))
    return found


def _read(path: str) -> list[Entry] | None:
    """The open entries of a dead run's journal; None while its run is alive (or not readable)."""
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "surrogateescape").split("\n")
    except OSError:
        return None
    _import_json()
    try:
        head = json.loads(lines[0])
        run_id, pid, start = str(head["run"]), int(head["pid"]), float(head["start"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None  # no whole first line: its run is writing it now (or it is not a journal)
    if alive_since(pid, start):
        return None
    entries: dict[str, Entry] = {}
    for line in lines[1:]:
        try:
            item = json.loads(line)
            if item[0] == "start":  # ["start", executor, time, [[name, outputs], ...]]
                for name, outputs in item[3]:
                    entries[name] = Entry(str(name), run_id, pid, start, [str(p) for p in outputs], float(item[2]),
                                          str(item[1]))
            elif item[0] == "end":  # ["end", [name, ...]]
                for name in item[1]:
                    entries.pop(name, None)
        except (ValueError, KeyError, TypeError, IndexError):
            continue  # a line cut short by the kill
    return list(entries.values())
