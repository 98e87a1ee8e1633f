"""Job log files that cost nothing when a short job prints nothing.

Creating a file costs ~100-200 us on ext4 here: as much as the rest of the runner's work for a
`cat a > b` job. So a log that does not exist yet starts as an unnamed file (O_TMPFILE, ~12 us)
in its directory, and gets its name (linkat, ~50 us) when the job ends having written something,
or as soon as the job has run one sampling interval (so `tail -f` works on every longer job).
A job that printed nothing leaves no log file once it succeeded (a longer one's named log is
removed then). Each run of a job starts its logs afresh
(a log left by an earlier run is truncated; a retry appends); pyrule's own log starts with a
header (when, where, what: see header()), which does not count as printing something; a rule's
own `log:` file is the user's: always created, no header.

On some disks even the unnamed file costs a file creation (~240 us on the reference
machine's ext4 with `discard`; NFS pays a round trip). So the unnamed file of a job that wrote
nothing is kept as a spare and handed to the next job that logs into the same directory — but
only when no process of the finished job is left (its process group is gone), since one left
behind could still write into it.
"""

from __future__ import annotations

import os

_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
_FRESH = _APPEND | os.O_TRUNC
_TMPFILE = getattr(os, "O_TMPFILE", 0)


def _open_in(directory: str, target: str, flags: int) -> int:
    """os.open, creating `directory` first if it is missing (only then: one syscall otherwise)."""
    try:
        return os.open(target, flags, 0o666)
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
        return os.open(target, flags, 0o666)


class LogFiles:
    def __init__(self) -> None:
        self._dirs: dict[str, int] = {}  # directory -> an fd of it, for linkat
        self._spares: dict[str, list[int]] = {}  # directory -> empty unnamed files, unused
        self._tmpfile = bool(_TMPFILE)
        self._headers: dict[int, int] = {}  # unnamed fd -> the size of its header

    def open(self, path: str, optional: bool, fresh: bool = True, header: bytes = b"") -> tuple[int, bool]:
        """An fd to append the job's output to, and whether it is still unnamed. `fresh`: this
        run's first attempt, which truncates a log an earlier run left. `header` is written
        first (an OSError from it, e.g. a full disk, is raised with the fd closed)."""
        fd, unnamed = self._open(path, optional, _FRESH if fresh else _APPEND)
        if header:
            try:
                os.write(fd, header)
            except OSError:
                os.close(fd)
                raise
            if unnamed:
                self._headers[fd] = len(header)
        return fd, unnamed

    def _open(self, path: str, optional: bool, flags: int) -> tuple[int, bool]:
        try:
            return os.open(path, flags), False
        except FileNotFoundError:
            pass
        directory = os.path.dirname(path) or "."
        if optional and self._tmpfile:
            spares = self._spares.get(directory)
            if spares:
                return spares.pop(), True
            try:
                return _open_in(directory, directory, _TMPFILE | _APPEND), True
            except OSError:  # a file system without O_TMPFILE: create logs by name from now on
                self._tmpfile = False
        return _open_in(directory, path, flags | os.O_CREAT), False

    def name(self, fd: int, path: str) -> bool:
        """Give the unnamed log its name; False if that name exists now (see finish)."""
        directory, base = os.path.split(path)
        for again in (False, True):
            dfd = self._dirs.get(directory)
            if dfd is None:
                dfd = self._dirs[directory] = _open_in(directory, directory or ".",
                                                       os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                # A dir_fd makes Python call linkat(), and follow_symlinks AT_SYMLINK_FOLLOW: the
                # way to give an O_TMPFILE file a name (plain link() on /proc/self/fd fails).
                os.link(f"/proc/self/fd/{fd}", base, dst_dir_fd=dfd, follow_symlinks=True)
            except FileExistsError:
                return False
            except FileNotFoundError:  # the directory was deleted (.pyrule/ removed during the run)
                os.close(self._dirs.pop(directory))
                if again:
                    raise
                continue
            return True
        return False

    def finish(self, fd: int, path: str, reusable: bool) -> None:
        """The job has ended: name its unnamed log if it wrote anything; close the fd, or keep
        it as a spare when it is empty and `reusable` (nothing of the job holds it any more)."""
        try:
            if os.fstat(fd).st_size <= self._headers.pop(fd, 0):  # nothing but its header
                if reusable:
                    os.ftruncate(fd, 0)
                    self._spares.setdefault(os.path.dirname(path) or ".", []).append(fd)
                    fd = -1
            elif not self.name(fd, path):
                # Created by someone else meanwhile: append what the job wrote.
                with open(f"/proc/self/fd/{fd}", "rb") as src, open(path, "ab") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
        finally:
            if fd >= 0:
                os.close(fd)

    def named(self, fd: int) -> int:
        """A log named while its job runs (its fd about to be closed): the size of its header."""
        return self._headers.pop(fd, 0)

    @staticmethod
    def remove_quiet(path: str, header: int) -> None:
        """A job that succeeded having printed nothing leaves no log, however long it ran: a
        build of long quiet jobs leaves no file per job (its command is in run.log)."""
        try:
            if os.stat(path).st_size <= header:
                os.unlink(path)
        except FileNotFoundError:
            pass

    def spare_fds(self) -> list[int]:
        """The spares' fds (a forked Python body closes them)."""
        return [fd for fds in self._spares.values() for fd in fds]

    def close(self) -> None:
        for dfd in (*self._dirs.values(), *self.spare_fds()):
            os.close(dfd)
        self._dirs.clear()
        self._spares.clear()
