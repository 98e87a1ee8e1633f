"""Removing and protecting job outputs: what a run, a recovery and --delete-orphans do to files."""

from __future__ import annotations

import os
import stat as statmod

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from .graph import Job


def remove(path: str) -> None:
    """Remove a file or a directory tree, even read-only, never through a symlink; quietly."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    try:
        if statmod.S_ISDIR(st.st_mode):
            import shutil  # here, not at the top: it costs ~4 ms of every start

            shutil.rmtree(path, onerror=_force_writable)
        else:
            # (never through a symlink: chmod would change the file it points to, maybe outside the project)
            if not statmod.S_ISLNK(st.st_mode) and not os.access(path, os.W_OK):
                os.chmod(path, st.st_mode | statmod.S_IWUSR)
            os.unlink(path)
    except OSError:
        pass


def _force_writable(func, path, exc_info) -> None:
    parent = os.path.dirname(path)
    if not os.path.islink(parent):  # (rmtree never goes through one; a link's target may be outside)
        os.chmod(parent, 0o755)
    if not os.path.islink(path):  # a link's target may be outside the project: leave it alone
        os.chmod(path, 0o755)
    func(path)


def protect(path: str) -> None:
    """Make a protected() output read-only (not through a symlink)."""
    st = os.lstat(path)
    if statmod.S_ISLNK(st.st_mode):  # never through a symlink: it may point out of the project
        return
    os.chmod(path, st.st_mode & ~(statmod.S_IWUSR | statmod.S_IWGRP | statmod.S_IWOTH))


class Temps:
    """The temp() outputs of a run: each is removed once every job of the run that reads it is
    done. `consumers` gives the graph's job -> the jobs that read its outputs (asked once, when
    first needed); `removed(path)` hears of each path removed."""

    def __init__(self, consumers: Callable[[], Mapping[Job, Iterable[Job]]], removed: Callable[[str], None]):
        self._consumers_of = consumers
        self._consumers: Mapping[Job, Iterable[Job]] | None = None
        self.removed = removed

    def drop(self, job: Job, done: Callable[[Job], bool]) -> None:
        """`job` is done: remove the temp() outputs of its inputs whose every consumer is `done`."""
        if self._consumers is None:
            self._consumers = self._consumers_of()
        consumers = self._consumers
        for dep in job.deps:
            temps = dep.flagged("temp")
            if temps and all(done(c) for c in consumers.get(dep, ())):
                for p in temps:
                    if os.path.lexists(p):
                        remove(p)
                        self.removed(p)
