"""Helpers shared by the reliability tests (see conftest.py for the options)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from pathlib import Path

import pytest

# `Pipefile:3:7: error: ...` (a location) at the start of some line of stderr
LOCATED = re.compile(r"^\S.*:\d+:\d+: error: ", re.M)


def base_seed() -> int:
    return int(os.environ.get("PYRULE_RELIABILITY_SEED", "20240601"))


def record(test: str, **figures) -> None:
    """Append this test's figures to $PYRULE_RELIABILITY_REPORT (one JSON object per line)."""
    path = os.environ.get("PYRULE_RELIABILITY_REPORT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"test": test, "time": time.time(), **figures}) + "\n")


def soak_enabled(config: pytest.Config) -> bool:
    """`--soak` (added by tests/conftest.py) or PYRULE_SOAK=1.

    Here, not in conftest.py: `from conftest import ...` finds whichever conftest module was
    imported first (tests/slurm has one too)."""
    return bool(config.getoption("--soak", default=False)) or os.environ.get("PYRULE_SOAK") == "1"


def count(config: pytest.Config, option: str, default: int, soak_default: int) -> int:
    """A trial count: the command-line option if given, else the soak or the CI default."""
    given = config.getoption(option, default=None)
    if given:
        return int(given)
    return soak_default if soak_enabled(config) else default


def tree(root: Path, skip: tuple[str, ...] = (".pyrule",), skip_files: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under root (relative path -> content), leaving out `skip` directories at the top."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if rel in skip_files:
                continue
            out[rel] = p.read_bytes()
    return out


def running_rows(root: Path) -> list[tuple[str, list[str]]]:
    """The jobs the state store marks as running: (name, outputs)."""
    db = Path(root) / ".pyrule" / "state.db"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return [(n, json.loads(o)) for n, o in con.execute("SELECT name, outputs FROM running")]
    except sqlite3.OperationalError:  # no table yet: pyrule died while creating the store
        return []
    finally:
        con.close()


def proc_state(pid: int) -> str | None:
    """The /proc state letter of pid (None: no such process)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0].decode()
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """os.kill(pid, 0) finds it, and it is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return proc_state(pid) not in (None, "Z", "X")


def read_pids(path: Path) -> list[int]:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [int(x) for x in text.split() if x.isdigit()]


def wait_dead(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of pids runs; return those still running at the timeout."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if pid_alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [p for p in left if pid_alive(p)]
    return left


def clean_error(rc: int, err: str, *, located: bool = True) -> str | None:
    """What is wrong with an exit code and stderr that should be 0, or a clean error (2);
    None when they are fine."""
    if "Traceback" in err:
        return "a traceback"
    if "internal error" in err:
        return "an internal error"
    if rc == 0:
        return None
    if rc != 2:
        return f"exit code {rc}"
    if "error" not in err:
        return "exit 2 without an error message"
    if located and not LOCATED.search(err):
        return "an error without a file:line:col location"
    return None
