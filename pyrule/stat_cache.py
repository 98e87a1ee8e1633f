"""One stat() per path per invocation: planning and stale detection share the results."""

from __future__ import annotations

import os


class StatCache(dict):
    """path -> os.stat_result, or None when the path does not exist."""

    def stat(self, path: str) -> os.stat_result | None:
        try:
            return self[path]
        except KeyError:
            pass
        try:
            st = os.stat(path)
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
