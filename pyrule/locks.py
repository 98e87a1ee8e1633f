"""Per-job locks (kernel file locks via filelock: released when a process dies)."""

from __future__ import annotations

import os

import xxhash
from filelock import FileLock, Timeout


class JobLock:
    """Non-blocking lock on a job's outputs (one lock file per output, taken in sorted order)."""

    def __init__(self, root: str, keys: list[str]):
        d = os.path.join(root, "locks")
        os.makedirs(d, exist_ok=True)
        self.locks = [FileLock(os.path.join(d, xxhash.xxh3_64_hexdigest(k.encode("utf-8", "surrogateescape")) + ".lock")) for k in sorted(set(keys))]
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
        self.held = True
        return True

    def release(self) -> None:
        if self.held:
            for lock in reversed(self.locks):
                lock.release()
            self.held = False
