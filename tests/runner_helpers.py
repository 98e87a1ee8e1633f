"""Helpers for the end-to-end runner tests: run the real `pyrule` command in a directory and
read back what it recorded (.pyrule/runs/RUN-ID/stats.json). No mocks, real processes."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYRULE = [sys.executable, "-m", "pyrule"]
TIMEOUT = 60


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYRULE_REPORT", None)
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def _runs(d: Path) -> set[str]:
    return set(glob.glob(os.path.join(d, ".pyrule", "runs", "*")))


@dataclass
class Result:
    """A finished `pyrule` invocation: exit code, output, and the run directory it created."""

    cwd: Path
    args: tuple[str, ...]
    rc: int
    out: str
    err: str
    run_dir: str | None

    def stats(self) -> dict[str, Any]:
        assert self.run_dir is not None, f"no run directory for pyrule {self.args}\n{self.err}"
        with open(os.path.join(self.run_dir, "stats.json"), encoding="utf-8") as f:
            return json.load(f)

    def jobs(self) -> dict[str, dict[str, Any]]:
        return {j["job"]: j for j in self.stats()["jobs"]}

    def with_status(self, status: str) -> set[str]:
        if self.run_dir is None:
            return set()
        return {name for name, j in self.jobs().items() if j["status"] == status}

    @property
    def ran(self) -> set[str]:
        return self.with_status("ran")

    def __str__(self) -> str:
        return f"pyrule {' '.join(self.args)} -> {self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def pyrule(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> Result:
    """Run `python -m pyrule ARGS` in cwd and wait for it."""
    before = _runs(cwd)
    p = subprocess.run([*PYRULE, *args], cwd=cwd, env=_env(env), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    new = sorted(_runs(cwd) - before)
    return Result(cwd, args, p.returncode, p.stdout, p.stderr, new[-1] if new else None)


def ok(cwd: Path, *args: str, **kw: Any) -> Result:
    """Run pyrule and require exit code 0."""
    r = pyrule(cwd, *args, **kw)
    assert r.rc == 0, str(r)
    return r


def spawn(cwd: Path, *args: str, env: dict[str, str] | None = None, stderr: Any = subprocess.PIPE,
          stdin: Any = subprocess.DEVNULL) -> subprocess.Popen:
    """Start `python -m pyrule ARGS` in cwd without waiting (stdout and, by default, stderr piped; text)."""
    return subprocess.Popen([*PYRULE, *args], cwd=cwd, env=_env(env), stdout=subprocess.PIPE,
                            stderr=stderr, text=True, stdin=stdin)


def pipefile(d: Path, text: str) -> Path:
    """Write d/Pipefile from an indented triple-quoted string."""
    path = Path(d) / "Pipefile"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def read_pid(path: Path) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is pgid."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry.name))
    return members


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


def kill_with_watchdog(p: subprocess.Popen) -> None:
    """SIGKILL pyrule and its watchdog together (as `kill -9` of both, or the OOM killer would):
    nothing stops the jobs then, and the next run has to find what was left."""
    dogs = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    ppid = int(f.read().rpartition(b")")[2].split()[1])
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    cmdline = f.read().split(b"\0")
            except OSError:
                continue
            if ppid == p.pid and b"pyrule-watchdog" in cmdline:
                dogs.append(int(entry.name))
    assert dogs, "pyrule has no watchdog process"
    for pid in dogs:
        os.kill(pid, signal.SIGKILL)
    os.kill(p.pid, signal.SIGKILL)


def intervals_overlap(intervals: list[tuple[float, float]]) -> bool:
    ordered = sorted(intervals)
    return any(b_start < a_end for (_, a_end), (b_start, _) in zip(ordered, ordered[1:]))


# A shell snippet that records "NAME START END" (seconds since the epoch) around a short sleep.
def timed(name: str, sleep: float = 0.3, log: str = "times.txt") -> str:
    return (f's=$(date +%s.%N); sleep {sleep}; e=$(date +%s.%N); echo "{name} $s $e" >> {log}')


def read_intervals(path: Path) -> dict[str, tuple[float, float]]:
    out = {}
    for line in Path(path).read_text().splitlines():
        name, s, e = line.split()
        out[name] = (float(s), float(e))
    return out


def mount(*args: str) -> bool:
    """`mount ARGS` as root; False when not root, no mount(8), or it fails."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", *args], capture_output=True, timeout=60).returncode == 0


# a.txt -> b (sort) -> b.txt -> c (copy, with the top-level N) -> c.txt; `all` gathers c.txt
CHAIN_PIPEFILE = """
    N ?= 1
    default: all

    rule all:
        input: "c.txt"

    rule b:
        output: "b.txt"
        input: "a.txt"
        params: k = 1
        shell:
            sort {input} > {output}

    rule c:
        output: "c.txt"
        input: "b.txt"
        shell:
            cat {input} > {output}; echo {N} >> {output}
"""
