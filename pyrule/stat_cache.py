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


class StatCache(dict):
    """path -> Stat, or None when the path does not exist."""

    def stat(self, path: str) -> Stat | None:
        known = self.get(path, _UNKNOWN)  # (not try/except KeyError: a miss, the first look at a path, is common)
        if known is not _UNKNOWN:
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
        return self.stat(path) is not None

    def forget(self, path: str) -> None:
        self.pop(path, None)
