"""When a process started, and whether it still runs: read from /proc, without psutil.

The start time is the one psutil gives (boot time + the process's start in clock ticks), so a
value stored by another pyrule compares equal; importing psutil for it would cost ~13 ms per run.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Container

_TICKS = os.sysconf("SC_CLK_TCK")
_boot: float | None = None


def boot_time() -> float:
    """When the machine booted, in seconds since the epoch."""
    global _boot
    if _boot is None:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime"):
                    _boot = float(line.split()[1])
                    break
            else:
                _boot = 0.0
    return _boot


def _stat(pid: int | str) -> list[bytes] | None:
    """Fields of /proc/PID/stat after the command (state is [0]); None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()
    except OSError:
        return None


def _started(fields: list[bytes]) -> float:
    return boot_time() + int(fields[19]) / _TICKS


def start_time(pid: int | str = "self") -> float | None:
    """The process's start, in seconds since the epoch; None if it does not exist."""
    fields = _stat(pid)
    return None if fields is None else _started(fields)


def alive_since(pid: int, start: float) -> bool:
    """Whether pid runs and is the process that started at `start`: not a zombie (a pyrule
    killed with -9 stays one until its parent reaps it), not a reused pid."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in (b"Z", b"X") and abs(_started(fields) - start) < 1.0


# --- job marks: which processes belong to a job -----------------------------------------------
#
# Every process of a job carries PYRULE_JOB=RUN-ID/NAME (body.job_spec): a shell job in its
# environment, which what it execs inherits. A Python body is a fork of the runner, whose
# /proc/PID/environ stays the runner's (os.environ changes are not seen there), and so is a daemon
# it forks: mark_self() marks such a process with a small shared mapping named after the mark,
# which /proc/PID/maps shows and every fork keeps (what they exec gets the environment's mark).
# Finding them means reading /proc: on recovery, on shutdown and after a job's end (new pids only).

_ENV_MARK = b"PYRULE_JOB="
_MAP_MARK = b"/memfd:PYRULE_JOB="
_MEMFD_NAME_MAX = 249  # memfd_create's limit (bytes, without the "memfd:" the kernel adds)
_marks: list = []  # the mapping of mark_self, kept for the life of the process


def _map_name(mark: bytes) -> bytes:
    return (_ENV_MARK + mark)[:_MEMFD_NAME_MAX]


def mark_self(mark: str) -> None:
    """Mark this process and every process it will fork as PYRULE_JOB=mark (see above)."""
    import mmap

    try:
        fd = os.memfd_create(os.fsdecode(_map_name(os.fsencode(mark))), os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # no memfd (Linux < 3.17, a sandbox): the environment's mark only
        return
    try:
        os.ftruncate(fd, 1)
        _marks.append(mmap.mmap(fd, 1))
    except OSError:
        pass
    finally:
        os.close(fd)


def is_marked(pid: int | str, mark: bytes, prefix: bool = False, forks_of: bytes | None = None) -> bool:
    """Whether the process carries PYRULE_JOB=mark (or, with `prefix`, a mark that starts so).
    `forks_of`: look for a Python body's mark only if the process has this environment (a fork
    of the process whose environment it is): /proc/PID/maps is the larger read."""
    want = _ENV_MARK + mark
    try:
        env = read_proc(f"/proc/{pid}/environ")
    except OSError:
        return False
    if want in env and any(e == want or (prefix and e.startswith(want)) for e in env.split(b"\0")):
        return True
    if forks_of is not None and env != forks_of:
        return False
    want = _map_name(mark)
    try:
        maps = read_proc(f"/proc/{pid}/maps")
    except OSError:
        return False
    at = maps.find(_MAP_MARK)
    while at >= 0:
        end = maps.find(b"\n", at)
        name = maps[at + 7:end if end >= 0 else len(maps)].removesuffix(b" (deleted)")  # after "/memfd:"
        if name == want or (prefix and name.startswith(want)):
            return True
        at = maps.find(_MAP_MARK, at + 1)
    return False


def read_proc(path: str) -> bytes:
    """A /proc file's content: open, read, close (a Python file object adds four syscalls, and
    the sweep after each job's end reads one or two of these for every pid allocated meanwhile)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def marked_processes(mark: str, prefix: bool = False, newer_than: int = 0, own_jobs: bool = False,
                     skip: Container[int] = ()) -> list[int]:
    """Processes (not this one) that carry PYRULE_JOB=mark, or a mark starting with `mark` if
    `prefix`. `newer_than`: only those started after that pid was (pids grow until they wrap
    around at pid_max; one wrap-around meanwhile is allowed for). `own_jobs`: the marks are of
    jobs this process started (so a Python body's processes have its environment). `skip`: pids
    known not to carry it (not read)."""
    want = os.fsencode(mark)
    me = os.getpid()
    last = _last_pid() if newer_than else None
    pids: range | list[int]
    if last is not None and 0 <= last - newer_than <= 64:  # a few new pids: no listing of /proc
        pids = range(newer_than + 1, last + 1)
    else:
        try:
            pids = [int(n) for n in os.listdir("/proc") if n.isdigit()]
        except OSError:
            return []
        if newer_than and last is not None:
            # Allocated after newer_than: above it, or (after a wrap-around) up to the last one.
            pids = [p for p in pids if newer_than < p <= last or (last < newer_than and (p > newer_than or p <= last))]
    forks_of = _own_environ() if own_jobs else None
    return [p for p in pids if p != me and p not in skip and is_marked(p, want, prefix, forks_of)]


_environ: bytes | None = None


def _own_environ() -> bytes:
    global _environ
    if _environ is None:
        with open("/proc/self/environ", "rb") as f:
            _environ = f.read()
    return _environ


def _last_pid() -> int | None:
    """The pid allocated last (in this pid namespace)."""
    try:
        return int(read_proc("/proc/loadavg").split()[-1])
    except (OSError, ValueError, IndexError):
        return None
