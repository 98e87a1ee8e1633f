"""One stat() per path per invocation: planning and stale detection share the results."""

from __future__ import annotations

import os


class Stat:
    """The fields pyrule reads of a stat result. An os.stat_result holds some twenty separate
    objects (~850 bytes); at 100,000 jobs the cache held 170 MB of them. ctime: the fingerprint
    cache and the no-op memo compare it, as nothing can set it back (unlike mtime)."""

    __slots__ = ("st_mode", "st_size", "st_mtime_ns", "st_ino", "st_ctime_ns")

    def __init__(self, st: os.stat_result) -> None:
        mode, mtime, ctime = st.st_mode, st.st_mtime_ns, st.st_ctime_ns
        # The same int objects where values repeat (~64 bytes a file at a million files): a few
        # modes for all files, and ctime is mtime for a file not touched since it was written.
        self.st_mode = _MODES.setdefault(mode, mode)
        self.st_size, self.st_mtime_ns, self.st_ino = st.st_size, mtime, st.st_ino
        self.st_ctime_ns = mtime if ctime == mtime else ctime


_MODES: dict[int, int] = {}


_UNKNOWN = object()
# An exists-only entry (StatCache(exists_only=True)): the path existed when `exists` asked; a
# later `stat` of it stats it again and keeps the full result.
_EXISTS = object()


class StatCache(dict):
    """path -> Stat, or None when the path does not exist.

    `exists_only`: what `exists` learns is kept as an exists-only entry rather than the whole
    result (a `Stat` and its ints are ~160 bytes, one a source file: 160 MB for a million-job
    dry run's inputs, which it never reads more of when their jobs' outputs are missing). A
    later `stat` of such a path stats it a second time. Iterate the entries only after `settle`."""

    def __init__(self, exists_only: bool = False) -> None:
        super().__init__()
        self.exists_only = exists_only

    def stat(self, path: str) -> Stat | None:
        known = self.get(path, _UNKNOWN)  # (not try/except KeyError: a miss, the first look at a path, is common)
        if known is not _UNKNOWN and known is not _EXISTS:
            return known
        try:
            st: Stat | None = Stat(os.stat(path))
        except (FileNotFoundError, NotADirectoryError):
            st = None
        except (OSError, ValueError):  # ValueError: a NUL in the path (no file has one)
            st = None
        self[path] = st
        return st

    def exists(self, path: str) -> bool:
        if not self.exists_only:
            return self.stat(path) is not None
        known = self.get(path, _UNKNOWN)
        if known is not _UNKNOWN:
            return known is not None
        try:
            os.stat(path)
        except (OSError, ValueError):  # (as `stat`: whatever cannot be stat'ed counts as missing)
            self[path] = None
            return False
        self[path] = _EXISTS
        return True

    def drop_exists_only(self) -> None:
        """Forget the exists-only entries (planning is over: a later `stat` stats such a path
        again), in a table of the size of what is left: a dict does not shrink as keys go."""
        if self.exists_only:
            kept = [(p, st) for p, st in self.items() if st is not _EXISTS]
            self.clear()
            self.update(kept)

    def settle(self) -> None:
        """Every exists-only entry a full one (stat'ed again): before the entries are read as a
        whole (the no-op memo)."""
        if self.exists_only:
            for path in [p for p, st in self.items() if st is _EXISTS]:
                self.stat(path)

    def forget(self, path: str) -> None:
        self.pop(path, None)


class SnapshotStatCache(StatCache):
    """A StatCache for a command that writes no file while it looks (`pyrule -n`): once
    frozen (nothing writes from then on: planning, and the Pipefile functions it calls, are
    over), when two paths in a row are missing from the same directory, the directory is
    looked at once, and if it is empty (or absent) its other paths are missing without a stat
    each (a dry run of an unbuilt tree: one stat a missing output saved). Only paths below the
    project (relative, no `..`) are so answered, and only names (not `.`, `..`): an empty
    directory holds no name on any file system. Until frozen it is a plain StatCache."""

    def __init__(self, exists_only: bool = False) -> None:
        super().__init__(exists_only)
        self.frozen = False
        self._last_missing = ""  # the directory of the last missing path
        self._listed: set[str] = set()  # directories looked at (at most _MAX_LISTED)
        self._empty: set[str] = set()  # those of them that were empty or absent

    def stat(self, path: str) -> Stat | None:
        known = self.get(path, _UNKNOWN)
        if known is not _UNKNOWN and known is not _EXISTS:
            return known
        if self._empty and known is _UNKNOWN:
            parent, _, name = path.rpartition("/")
            if parent in self._empty and name and name != "." and name != "..":
                self[path] = None
                return None
        st = StatCache.stat(self, path)
        if st is None and self.frozen:
            parent = path.rpartition("/")[0]
            if parent == self._last_missing and parent and parent not in self._listed \
                    and len(self._listed) < _MAX_LISTED and _below(path):
                self._listed.add(parent)
                if _empty_dir(parent):
                    self._empty.add(parent)
            self._last_missing = parent
        return st


_MAX_LISTED = 65_536  # (each a directory name kept: a bound on what a million one-file directories cost)


def _below(path: str) -> bool:
    """A path relative to the project and below it: no leading '/', no '..' component."""
    return not path.startswith(("/", "../")) and "/../" not in path and not path.endswith("/..")


def _empty_dir(path: str) -> bool:
    """Whether the directory holds no entry, or is absent (then no path below it exists either)."""
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except (FileNotFoundError, NotADirectoryError):
        return True
    except (OSError, ValueError):
        return False
