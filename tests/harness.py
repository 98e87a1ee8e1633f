"""The project harness of the whole suite: write a Pipefile and files, run the real `pyrule`
command (`python -m pyrule`, a subprocess) in a directory, and read back what it recorded
(exit code, output, .pyrule/runs/RUN-ID/stats.json). No mocks, real processes.

Two spellings of the same thing:
- functions taking a directory: `pipefile(d, TEXT)`, `write(PATH, TEXT)`, `pyrule(d, ARGS)`,
  `ok(d, ARGS)`, `spawn(d, ARGS)`;
- the `project` fixture (tests/conftest.py), a `Project`: `project.pipefile(TEXT)`,
  `project.write(REL, TEXT)`, `project.run(ARGS)`, `project.error(ARGS)`, `project.dry(ARGS)`.
Both run pyrule through `pyrule()` and return a `Result`, which also unpacks as
`rc, out, err = ...`."""

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYRULE = [sys.executable, "-m", "pyrule"]
TIMEOUT = 120


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYRULE_REPORT", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    env["NO_COLOR"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _runs(d: Path) -> set[str]:
    return set(glob.glob(os.path.join(d, ".pyrule", "runs", "*")))


@dataclass
class Result:
    """A finished `pyrule` invocation: exit code, output, and the run directory it created.
    Unpacks (and indexes) as the tuple (rc, out, err)."""

    cwd: Path
    args: tuple[str, ...]
    rc: int
    out: str
    err: str
    run_dir: str | None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.rc, self.out, self.err))

    def __getitem__(self, i: int) -> Any:
        return (self.rc, self.out, self.err)[i]

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


def pyrule(cwd: str | os.PathLike, *args: str, env: dict[str, str] | None = None,
           timeout: float = TIMEOUT) -> Result:
    """Run `python -m pyrule ARGS` in cwd and wait for it."""
    cwd = Path(cwd)
    before = _runs(cwd)
    p = subprocess.run([*PYRULE, *args], cwd=cwd, env=_env(env), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    new = sorted(_runs(cwd) - before)
    return Result(cwd, args, p.returncode, p.stdout, p.stderr, new[-1] if new else None)


def ok(cwd: str | os.PathLike, *args: str, **kw: Any) -> Result:
    """Run pyrule and require exit code 0."""
    r = pyrule(cwd, *args, **kw)
    assert r.rc == 0, str(r)
    return r


def spawn(cwd: str | os.PathLike, *args: str, env: dict[str, str] | None = None, stderr: Any = subprocess.PIPE,
          stdin: Any = subprocess.DEVNULL) -> subprocess.Popen:
    """Start `python -m pyrule ARGS` in cwd without waiting (stdout and, by default, stderr piped; text)."""
    return subprocess.Popen([*PYRULE, *args], cwd=cwd, env=_env(env), stdout=subprocess.PIPE,
                            stderr=stderr, text=True, stdin=stdin)


def write(path: str | os.PathLike, text: str = "", dedent: bool = False) -> Path:
    """Write a file (UTF-8, parent directories created); `dedent=True` dedents text first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text) if dedent else text, encoding="utf-8")
    return path


def pipefile(d: str | os.PathLike, text: str, name: str = "Pipefile", dedent: bool = True,
             lstrip: bool = True) -> Path:
    """Write d/Pipefile (or d/NAME) from an indented triple-quoted string: dedented, and its first
    empty line dropped unless lstrip=False (then line numbers count from the opening quotes)."""
    if dedent:
        text = textwrap.dedent(text)
    return write(Path(d) / name, text.lstrip("\n") if lstrip else text)


class Project:
    """A temporary project directory (the `project` fixture): the functions above, bound to it."""

    def __init__(self, root: Path):
        self.root = root

    def __truediv__(self, other: str) -> Path:
        return self.root / other

    def __fspath__(self) -> str:
        return str(self.root)

    __str__ = __fspath__

    def write(self, relpath: str, text: str = "", dedent: bool = True) -> Path:
        """Write a file (parents created); text is dedented unless dedent=False."""
        return write(self.root / relpath, text, dedent)

    def pipefile(self, text: str, name: str = "Pipefile", dedent: bool = True) -> Path:
        """Write the Pipefile as given (dedented): its line 1 is the line of the opening quotes, so
        that the tests' expected `Pipefile:LINE:COL` count the lines as they read them."""
        return pipefile(self.root, text, name, dedent, lstrip=False)

    def touch(self, *relpaths: str) -> None:
        for rel in relpaths:
            self.write(rel, "")

    def run(self, *args: str, cwd: str | os.PathLike | None = None, **kw: Any) -> Result:
        """Run `pyrule ARGS` in the project (or in `cwd`)."""
        return pyrule(cwd if cwd is not None else self.root, *args, **kw)

    def error(self, *args: str, code: int = 2) -> str:
        """Run pyrule expecting a located user error: return stderr (asserts exit code, no traceback)."""
        rc, out, err = self.run(*args)
        assert rc == code, f"exit {rc}, expected {code}\nstdout:\n{out}\nstderr:\n{err}"
        assert "Traceback" not in err, err
        assert "internal error" not in err, err
        return err

    def dry(self, *args: str) -> list[str]:
        """Run `pyrule -n -q ARGS`; return the job lines (`NAME: reason`)."""
        rc, out, err = self.run("-n", "-q", *args)
        assert rc == 0, f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
        return [ln for ln in out.splitlines() if ln.strip()]


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


def spawner_of(pid: int) -> int:
    """The pid of process pid's job spawner (pyrule/executors/spawner.py), 0 if none runs."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                ppid = int(f.read().rpartition(b")")[2].split()[1])
        except OSError:
            continue
        if ppid == pid and b"pyrule-spawner" in argv:
            return int(entry.name)
    return 0


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


def fanout_pipefile(n: int) -> str:
    """W7's shape (benchmarks/generate.py): `all` gathers `out/{i}.txt`, each a `cat` of
    `in/{i}.txt`, for i < n."""
    return f"""
        rule all:
            input: expand("out/{{i}}.txt", i=range({n}))

        rule copy:
            output: "out/{{i}}.txt"
            input: "in/{{i}}.txt"
            shell: cat {{input}} > {{output}}
    """


def fanout(d: str | os.PathLike, n: int) -> Path:
    """fanout_pipefile(n) in d, and its n inputs (`x`). Returns d as a Path."""
    d = Path(d)
    pipefile(d, fanout_pipefile(n))
    os.makedirs(d / "in", exist_ok=True)
    for i in range(n):
        with open(d / "in" / f"{i}.txt", "w", encoding="utf-8") as f:
            f.write("x\n")
    return d


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
