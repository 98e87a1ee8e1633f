"""Per-job locks (kernel file locks: released when a process dies).

A job holds its outputs' locks exclusively and, while it runs, the locks of its inputs that
other jobs make in shared mode: another pyrule process cannot start rebuilding (removing,
half-writing) an input while a job reads it, nor start a consumer while the input is being
rebuilt. Everything is taken without waiting and given back at the first refusal, so two
processes never wait on each other (no deadlock).

Each path is one byte of one of 64 files, `.pyrule/locks/jobs-XX.lock`, chosen by the top six
bits of the path's 64-bit hash, at an offset given by the low 56 bits; it is locked with an
open-file-description lock (Linux `F_OFD_SETLK`: owned by the open file, so two JobLocks of one
process exclude each other too, and freed when the process dies).

How many files: the kernel keeps a file's locks in a list that each new lock walks, so a job
that reads 100,000 made inputs takes 100,000 shared locks in time quadratic in the locks per
file (measured, taken in sorted order: one file 11 minutes, 16 files 3.1 s, 64 files 0.7 s,
256 files 0.34 s). But each file is created once per project, by the first job that hashes to
it, and on some disks creating a file costs 0.25-0.7 ms (ext4 with `discard` here; NFS: a round
trip): a fresh 200-job chain touched 134 of 256 files, ~100 ms, a sixth of its run. 64 files
keep the largest fan-in under a second and that cost under 20 ms.

The design named the filelock library, one lock file per path; measured on a chain of `cat`
jobs, creating that file cost ~100 us per job on ext4 and filelock's per-call bookkeeping
another 60-120 us, against 5 us for open + two fcntl + close here.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import time

import xxhash

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable

_BUSY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)
_MASK = (1 << 56) - 1  # offsets: l_start + l_len fits in a signed off_t


def _place(key: str) -> tuple[int, int]:
    """(file number, byte offset) of a path's lock."""
    h = xxhash.xxh3_64_intdigest(key.encode("utf-8", "surrogateescape"))
    return h >> 58, h & _MASK


def _flock(kind: int, offset: int, length: int = 1) -> bytes:
    # struct flock (64-bit Linux): l_type, l_whence, l_start, l_len (0: to the end), l_pid (0 for OFD locks)
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, offset, length, 0)


class ProjectLock:
    """flock(2) on the project directory itself, held shared by every run from before it opens
    the store until it ends. It is outside .pyrule/, so a run stays visible when .pyrule/ is
    deleted under it: a run that finds no store while another run holds this lock waits for it
    (enter_project). One open and one flock per run."""

    def __init__(self, directory: str = "."):
        self.fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def take(self, how: int) -> bool:
        """fcntl.LOCK_SH or LOCK_EX (| LOCK_NB: False if held elsewhere). A conversion is not
        atomic: a refused LOCK_EX | LOCK_NB leaves none held."""
        try:
            fcntl.flock(self.fd, how)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def enter_project(store: str, waiting: Callable[[], None]) -> tuple[ProjectLock | None, bool, bool]:
    """Take the project lock (ProjectLock), shared, before a run opens the store `store`. With
    no store to open, take it exclusively to create one: refused while another run holds it,
    that run's .pyrule/ was deleted under it (or a run is creating the store this instant):
    wait for it to end, as one waits for a job's lock (`waiting()` is called once, when that
    is known). It may have left half-written outputs that nothing records (its journal went
    with .pyrule/), so the run then adopts nothing: what has no record is rebuilt.

    Returns (the lock, held shared or exclusively; None where the directory cannot have one,
    whether it is held exclusively to create the store, whether the run waited for one whose
    .pyrule/ was deleted)."""
    try:
        lock = ProjectLock(".")
    except OSError:  # an unreadable directory: as before the project lock
        return None, False, False
    try:
        lock.take(fcntl.LOCK_SH | fcntl.LOCK_NB)  # False if a run is creating the store: taken below
    except OSError:  # a file system without flock: as before the project lock
        lock.close()
        return None, False, False
    refused, lost = 0, False
    try:
        while True:
            lock.take(fcntl.LOCK_SH)  # held exclusively only while a store is being created
            if os.path.lexists(store):
                return lock, False, lost
            if lock.take(fcntl.LOCK_EX | fcntl.LOCK_NB):
                return lock, True, lost
            refused += 1
            if refused == 2:  # twice: not a run creating the store right now
                waiting()
                lost = True
            time.sleep(0.05 + (time.monotonic_ns() % 100_000_000) / 1e9)  # 50-150 ms, jittered
    except BaseException:
        lock.close()
        raise


def open_dir(root: str) -> int:
    """The lock files' directory, opened once at the start of a run: JobLocks open their files
    through it, so a run never takes locks in a `.pyrule/locks` made anew after its own was
    deleted (where nobody else's locks would exclude it); it gets FileNotFoundError instead."""
    path = os.path.join(root, "locks")
    os.makedirs(path, exist_ok=True)
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


class JobLock:
    """Non-blocking lock on a job's outputs (one byte per output, taken in sorted order), and
    shared locks on `shared` (its inputs made by other jobs). `dir_fd`: the run's open_dir().

    `whole_files`: for a command over a whole graph's outputs (--touch, --delete-all-output),
    each lock file that no other process holds a lock in is locked whole, with one lock: a
    million outputs one byte each would take hours (each lock walks the file's list). That also
    keeps other runs from starting any job while the command runs (they wait, as for a job);
    a file another process holds a lock in gets one byte per output, as without."""

    def __init__(self, root: str, keys: list[str], shared: list[str] | tuple[str, ...] = (),
                 dir_fd: int | None = None, whole_files: bool = False):
        self._dir = os.path.join(root, "locks")
        self._dir_fd = dir_fd
        own = set(keys)
        self._wanted = sorted({(*_place(k), fcntl.F_WRLCK) for k in own})
        self._wanted += sorted({(*_place(k), fcntl.F_RDLCK) for k in set(shared) - own})
        self._whole_files = whole_files
        self._fds: dict[int, int] = {}  # file number -> fd
        self._taken: list[tuple[int, int, int]] = []  # (fd, offset, length)
        self.held = False

    def _open(self, number: int) -> int:
        fd = self._fds.get(number)
        if fd is not None:
            return fd
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        path = os.path.join(self._dir, f"jobs-{number:02x}.lock")
        if self._dir_fd is not None:  # FileNotFoundError: that directory was deleted
            fd = os.open(os.path.basename(path), flags, 0o644, dir_fd=self._dir_fd)
        else:
            try:
                fd = os.open(path, flags, 0o644)
            except FileNotFoundError:  # the first lock here, or .pyrule/ deleted meanwhile
                os.makedirs(self._dir, exist_ok=True)
                fd = os.open(path, flags, 0o644)
        self._fds[number] = fd
        if os.fstat(fd).st_nlink == 0:  # deleted between open and now: it would guard nothing
            raise BlockingIOError(errno.EAGAIN, "lock file replaced")
        return fd

    def try_acquire(self) -> bool:
        whole: dict[int, bool] = {}  # file number -> locked whole (whole_files)
        for number, offset, kind in self._wanted:
            try:
                fd = self._open(number)
                if self._whole_files:
                    if number not in whole:
                        whole[number] = self._lock(fd, fcntl.F_WRLCK, 0, 0)
                    if whole[number]:
                        continue
                if not self._lock(fd, kind, offset, 1):
                    self._unlock_all()
                    return False
            except OSError as e:  # EAGAIN from _open: a lock file replaced meanwhile
                self._unlock_all()
                if e.errno in _BUSY:
                    return False
                raise
        self.held = True
        return True

    def _lock(self, fd: int, kind: int, offset: int, length: int) -> bool:
        """One lock (length 0: the whole file), without waiting; False if held elsewhere."""
        try:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(kind, offset, length))
        except OSError as e:
            if e.errno in _BUSY:
                return False
            raise
        self._taken.append((fd, offset, length))
        return True

    def _unlock_all(self) -> None:
        try:  # explicitly: a forked Python body shares the descriptors, and closing ours alone would not
            for fd, offset, length in self._taken:
                fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_UNLCK, offset, length))
        finally:
            for fd in self._fds.values():
                os.close(fd)
            self._fds, self._taken = {}, []

    def release(self) -> None:
        if self.held:
            self._unlock_all()
            self.held = False
