"""Per-job locks (kernel file locks: released when a process dies).

A job holds its outputs' locks exclusively (filelock) and, while it runs, the locks of its
inputs that other jobs make in shared mode (flock LOCK_SH on the same lock files): another
pyrule process cannot start rebuilding (removing, half-writing) an input while a job reads it,
nor start a consumer while the input is being rebuilt. Everything is taken without waiting
and given back at the first refusal, so two processes never wait on each other (no deadlock).
"""

from __future__ import annotations

import errno
import fcntl
import os

import xxhash
from filelock import FileLock, Timeout


def _path(d: str, key: str) -> str:
    return os.path.join(d, xxhash.xxh3_64_hexdigest(key.encode("utf-8", "surrogateescape")) + ".lock")


class JobLock:
    """Non-blocking lock on a job's outputs (one lock file per output, taken in sorted order),
    and shared locks on `shared` (its inputs made by other jobs)."""

    def __init__(self, root: str, keys: list[str], shared: list[str] | tuple[str, ...] = ()):
        d = os.path.join(root, "locks")
        os.makedirs(d, exist_ok=True)
        self.locks = [FileLock(_path(d, k)) for k in sorted(set(keys))]
        self.shared = [_path(d, k) for k in sorted(set(shared) - set(keys))]
        self._fds: list[int] = []
        self.held = False

    def try_acquire(self) -> bool:
        taken: list[FileLock] = []
        for lock in self.locks:
            try:
                lock.acquire(timeout=0)
            except Timeout:
                for t in taken:
                    t.release()
                return False
            taken.append(lock)
        for path in self.shared:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                if os.fstat(fd).st_nlink == 0:  # unlinked meanwhile: it guards no name; try later
                    raise BlockingIOError(errno.EAGAIN, "lock file replaced")
            except OSError as e:
                os.close(fd)
                self._close_shared()
                for t in taken:
                    t.release()
                if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    return False
                raise
            self._fds.append(fd)
        self.held = True
        return True

    def _close_shared(self) -> None:
        for fd in self._fds:
            try:  # explicitly: a forked Python body shares the descriptor, and closing ours alone would not
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self._fds = []

    def release(self) -> None:
        if self.held:
            self._close_shared()
            for lock in reversed(self.locks):
                lock.release()
            self.held = False
