"""When a process started, and whether it still runs: read from /proc, without psutil.

The start time is the one psutil gives (boot time + the process's start in clock ticks), so a
value stored by another pyrule compares equal; importing psutil for it would cost ~13 ms per run.
"""

from __future__ import annotations

import os

_TICKS = os.sysconf("SC_CLK_TCK")
_boot: float | None = None


def _boot_time() -> float:
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


def start_time(pid: int | str = "self") -> float | None:
    """The process's start, in seconds since the epoch; None if it does not exist."""
    fields = _stat(pid)
    return None if fields is None else _boot_time() + int(fields[19]) / _TICKS


def alive_since(pid: int, start: float) -> bool:
    """Whether pid runs and is the process that started at `start` (not a zombie, not a reused pid)."""
    fields = _stat(pid)
    if fields is None or fields[0] in (b"Z", b"X"):
        return False
    return abs(_boot_time() + int(fields[19]) / _TICKS - start) < 1.0
