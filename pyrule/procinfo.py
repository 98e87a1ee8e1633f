"""When a process started, and whether it still runs: read from /proc, without psutil.

The start time is the one psutil gives (boot time + the process's start in clock ticks), so a
value stored by another pyrule compares equal; importing psutil for it would cost ~13 ms per run.
"""

from __future__ import annotations

import os

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
