"""What the run's helper processes import as they start (spawner.py, watchdog.py). The spawner's
start is on the path of a build's first job (its request waits in the socket until the
spawner's Python is up), and the watchdog's start shares the cores with it: a pure-Python module
such as `signal` (which imports `enum`) or `array` (which imports `collections`) costs a
few ms of CPU each at every run. A guard without timings (benchmarks/ measure the time)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from pyrule.executors import spawner, watchdog

# pulled in by signal.py (enum, functools, types) and array (collections, collections.abc)
HEAVY = {"enum", "collections", "collections.abc", "functools", "types", "signal", "array"}


def _imports(code: str, marker: str, stdin: int, other_end: int) -> set[str]:
    """The modules a helper's code imports, started as the executor starts it, until it exits at
    the end of its input (`other_end`, the runner's, closed at once: the runner gone)."""
    p = subprocess.Popen([sys.executable, "-I", "-S", "-X", "importtime", "-c", code, marker], stdin=stdin,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    os.close(stdin)
    os.close(other_end)
    _, err = p.communicate(timeout=60)
    names = {line.rpartition("|")[2].strip() for line in err.splitlines() if line.startswith("import time:")}
    assert "os" in names, err  # (-X importtime worked)
    return names


def test_the_spawner_starts_without_the_slow_modules() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    names = _imports(spawner._CODE, spawner.MARKER, theirs.detach(), ours.detach())
    assert not names & HEAVY, sorted(names & HEAVY)


def test_the_watchdog_starts_without_the_slow_modules() -> None:
    r, w = os.pipe()
    names = _imports(watchdog._CODE, watchdog.MARKER, r, w)
    assert not names & HEAVY, sorted(names & HEAVY)
