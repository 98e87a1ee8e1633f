#!/usr/bin/env python3
"""Time pyrule against GNU Make, Snakemake, pydoit, Ninja and a plain shell script (floor).

Each tool is timed as a whole process (wall clock, time.perf_counter around spawn and wait;
peak RSS of the largest process in its tree, from os.wait4).  After one warm-up round, the
tools take turns run by run (the order rotates every round) so machine drift hits all alike.
Reported: median and min-max wall time, peak RSS, and the ratio pyrule/tool of the medians.

Workspaces: a build is timed on a fresh copy of the generated directory; a no-op on a directory
that tool built before (untimed); a dry run on a per-tool copy in which nothing gets built.

A tool that is missing or fails is reported as `n/a (reason)`; the harness never stops for it.

    python benchmarks/run.py [--workloads W0,W1,...] [--tools pyrule,make,...] [--runs N]
                             [--size N] [--big] [--check] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import filecmp
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from generate import (
    ALL_TOOLS,
    GENERATOR_VERSION,
    PYRULE_ALT,
    STAT_FLOOR,
    WORKLOADS,
    Manifest,
    Workload,
    changed_input,
    expected_outputs,
    generate,
    read_manifest,
)

HERE = Path(__file__).resolve().parent
DEFAULT_ANCHORS = HERE / ".venv-anchors" / "bin"
DEFAULT_WORKDIR = HERE / "work"
DEFAULT_WORKLOADS = ("W0", "W1", "W2", "W3", "W4")
BIG_WORKLOADS = ("W5", "W6")
SNAKEMAKE_BATCH = 1000  # jobs per --batch slice when Snakemake pre-builds a big no-op workspace
PHASE_LABEL = {"build": "build", "noop": "no-op", "change": "one changed", "dry": "dry run"}
# the stat floor: every input and output stat'ed by one C process, its output thrown away
STAT_FLOOR_SH = "find in out -printf '%T@ %s\\n' > /dev/null"

# the environment every tool runs in: C locale so that `out/*.txt` sorts alike in every shell
# Python tools may cache their bytecode, as they do once installed: a PYTHONDONTWRITEBYTECODE
# inherited from a sandbox would make every run of a source-installed tool recompile it.
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "LC_ALL": "C"}
ENV.pop("MAKEFLAGS", None)
ENV.pop("MFLAGS", None)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- tools


@dataclass
class Tool:
    name: str
    base: list[str] | None  # argv prefix; None when unavailable
    missing: str = ""  # why unavailable
    version: str = "?"
    env: dict[str, str] = field(default_factory=dict)  # on top of ENV

    def argv(self, phase: str, jobs: int) -> list[str]:
        assert self.base is not None
        b = self.base
        # "change" (a rerun after one input changed) is invoked like a build
        if self.name in ("pyrule", "pyrule-long", PYRULE_ALT):
            return [*b, "-n"] if phase == "dry" else [*b, "-j", str(jobs)]
        if self.name == "make":
            return [*b, "-n"] if phase == "dry" else [*b, f"-j{jobs}"]
        if self.name == "ninja":
            return [*b, "-n"] if phase == "dry" else [*b, f"-j{jobs}"]
        if self.name == "snakemake":
            if phase == "dry":
                return [*b, "-n", "--cores", "1"]
            # greedy: the default ILP scheduler solves a program over every ready job each round
            # and managed ~30 jobs a minute on 10 000 ready jobs, which measures PuLP, not Snakemake
            return [*b, "--cores", str(jobs), "--scheduler", "greedy"]
        if self.name == "doit":
            # doit has no dry run: `list --all --status` loads every task and computes whether
            # it is up to date (R = would run, U = up to date) without running anything.
            if phase == "dry":
                return [*b, "list", "--all", "--status"]
            return [*b, "-n", str(jobs)] if jobs > 1 else b
        if self.name == "floor":
            return [*b, "floor.sh"]
        if self.name == STAT_FLOOR:
            return [*b, "-c", STAT_FLOOR_SH]
        raise ValueError(self.name)


def _version(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60, env=ENV)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[0].strip() if lines and r.returncode == 0 else "?"


def resolve_shim(exe: str) -> str:
    """A pyenv shim costs a bash script and a `pyenv` lookup per call: time the real program."""
    if "/shims/" not in exe:
        return exe
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            r = subprocess.run(
                [pyenv, "which", Path(exe).name], check=False, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return exe
        real = r.stdout.strip()
        if r.returncode == 0 and real and os.access(real, os.X_OK):
            return real
    return exe


def _default_pyrule() -> str:
    venv = Path(__file__).resolve().parent / ".venv-pyrule" / "bin" / "pyrule"
    return str(venv) if venv.exists() else "pyrule"


DEFAULT_PYRULE = _default_pyrule()


def find_tools(names: list[str], pyrule_cmd: str, anchors: Path, alt_cmd: str = "") -> dict[str, Tool]:
    tools: dict[str, Tool] = {}
    for name in names:
        if name == PYRULE_ALT and not alt_cmd:
            tools[name] = Tool(name, None, "no --pyrule-alt command")
            continue
        if name in ("pyrule", "pyrule-long", PYRULE_ALT):
            argv = shlex.split(alt_cmd if name == PYRULE_ALT else pyrule_cmd)
            exe = shutil.which(argv[0]) if argv else None
            if not exe:
                tools[name] = Tool(name, None, f"`{pyrule_cmd}` not found on PATH")
                continue
            exe = resolve_shim(exe)
            t = Tool(name, [exe, *argv[1:]], env={"PYRULE_NOOP_MEMO": "0"} if name == "pyrule-long" else {})
            t.version = _version([exe, *argv[1:], "--version"])
        elif name in ("make", "ninja"):
            exe = shutil.which(name)
            if not exe:
                tools[name] = Tool(name, None, f"{name} not installed (benchmarks/setup_anchors.sh)")
                continue
            t = Tool(name, [exe])
            t.version = _version([exe, "--version"])
        elif name in ("snakemake", "doit"):
            exe_path = anchors / name
            if not (exe_path.is_file() and os.access(exe_path, os.X_OK)):
                tools[name] = Tool(name, None, f"not in {anchors} (run benchmarks/setup_anchors.sh)")
                continue
            t = Tool(name, [str(exe_path)])
            t.version = _version([str(exe_path), "--version"])
        elif name in ("floor", STAT_FLOOR):
            sh = shutil.which("sh")
            t = Tool(name, [sh] if sh else None, "" if sh else "no sh")
            t.version = "sh floor.sh" if name == "floor" else STAT_FLOOR_SH
        else:
            raise SystemExit(f"unknown tool {name!r}; choose from {', '.join(ALL_TOOLS)}")
        tools[name] = t
    return tools


# --------------------------------------------------------------------------- processes


@dataclass
class Sample:
    ok: bool
    wall: float = 0.0
    cpu: float = 0.0  # user + system time of the tool's whole tree (wait4: its reaped descendants too)
    maxrss_kib: int = 0
    rss_exact: bool = False  # measured by GNU time, not inflated by the harness's own fork
    reason: str = ""


def find_gnu_time() -> str | None:
    """GNU time, used once per tool and workload to measure peak RSS.

    os.wait4's ru_maxrss of a child forked from this Python process is never below this
    process's own RSS (Linux carries the pre-exec memory's high-water mark across execve), so a
    2 MiB `make` would read as ~20 MiB.  GNU time forks the tool from a small C process, which
    gives the tool's real peak.  It is not used for the timed runs (it adds a fork and an exec).
    """
    exe = shutil.which("time") or ("/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None)
    if not exe:
        return None
    try:
        r = subprocess.run([exe, "-f", "%M", "-o", os.devnull, "true"], check=False, capture_output=True)
    except OSError:
        return None
    return exe if r.returncode == 0 else None


GNU_TIME = find_gnu_time()


def _read_rss(path: Path) -> int | None:
    try:
        lines = path.read_text().split()
        return int(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def _tail(path: Path, limit: int = 160) -> str:
    try:
        data = path.read_bytes()[-4096:].decode(errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in data.splitlines() if ln.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return last if len(last) <= limit else last[: limit - 3] + "..."


def run_timed(argv: list[str], cwd: Path, logfile: Path, timeout: float, measure_rss: bool = False,
              env: dict[str, str] | None = None) -> Sample:
    """Run argv in cwd as one process tree: wall clock, and peak RSS of its largest process.

    With measure_rss (and GNU time available) the tool runs under GNU time for a clean RSS.
    """
    timed_out = threading.Event()
    rss_file = logfile.with_suffix(".rss")
    wrapped = bool(measure_rss and GNU_TIME)
    if wrapped:
        assert GNU_TIME is not None
        rss_file.unlink(missing_ok=True)
        argv = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv]
    with open(logfile, "wb") as out:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**ENV, **(env or {})},
                start_new_session=True,  # its own process group: a timeout kills the whole tree
            )
        except OSError as e:
            return Sample(False, reason=f"cannot start: {e.strerror}")

        def on_timeout() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout, on_timeout)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4: keep Popen from waiting again
    rss, exact = usage.ru_maxrss, False
    cpu = usage.ru_utime + usage.ru_stime
    if wrapped:
        measured = _read_rss(rss_file)
        if measured is not None:
            rss, exact = measured, True
    if timed_out.is_set():
        return Sample(False, wall, cpu, rss, exact, f"timeout after {timeout:g} s")
    if code != 0:
        why = f"exit {code}" if code > 0 else f"signal {-code}"
        tail = _tail(logfile)
        return Sample(False, wall, cpu, rss, exact, f"{why}: {tail}" if tail else why)
    return Sample(True, wall, cpu, rss, exact)


def copy_tree(src: Path, dst: Path, hardlink: bool = False) -> None:
    """Fresh copy of a generated directory (cp -a; hard links for the big-file workload)."""
    remove_tree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al" if hardlink else "-a", str(src), str(dst)], check=True)


def remove_tree(path: Path) -> None:
    if path.exists():
        subprocess.run(["rm", "-rf", str(path)], check=True)


# --------------------------------------------------------------------------- checks


def missing_outputs(d: Path, outputs: list[str]) -> list[str]:
    return [p for p in outputs if not (d / p).is_file()]


def compare_outputs(ref: Path, d: Path, outputs: list[str]) -> str:
    bad = [p for p in outputs if not (d / p).is_file() or not filecmp.cmp(ref / p, d / p, shallow=False)]
    if not bad:
        return f"ok ({len(outputs)} file{'' if len(outputs) == 1 else 's'} identical)"
    return f"DIFF {len(bad)}/{len(outputs)} (first: {bad[0]})"


def snapshot(d: Path, outputs: list[str]) -> dict[str, int]:
    snap: dict[str, int] = {}
    for p in outputs:
        try:
            snap[p] = (d / p).stat().st_mtime_ns
        except OSError:
            snap[p] = -1
    return snap


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    workload: str
    phase: str
    tool: str
    samples: list[float] = field(default_factory=list)  # wall times, in round order
    cpus: list[float] = field(default_factory=list)  # CPU time of the same runs
    rss_kib: int = 0  # from the tool's first run in this phase (under GNU time when available)
    rss_exact: bool = False
    failure: str = ""
    check: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.failure and bool(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def utilisation(self) -> float:
        """Median over the runs of CPU time / wall time: cores kept busy (2.0 = both of two)."""
        return statistics.median(c / w for c, w in zip(self.cpus, self.samples) if w > 0)


@dataclass
class Options:
    runs: int
    warmup: int
    timeout: float
    caps: dict[str, int]
    check: bool
    keep: bool
    workdir: Path
    paired: bool = False  # A, B, A, B ...: the same order every round, a ratio per round


def fmt_s(x: float) -> str:
    if x < 0.01:
        return f"{x * 1000:.2f} ms"
    if x < 1:
        return f"{x * 1000:.0f} ms"
    if x < 100:
        return f"{x:.2f} s"
    return f"{x:.0f} s"


def fmt_rss(kib: int, exact: bool = True) -> str:
    v = f"{kib / 1024:.0f} MiB" if kib >= 10 * 1024 else f"{kib / 1024:.1f} MiB"
    return v if exact else f"<={v}"


# --------------------------------------------------------------------------- one phase


class Bench:
    def __init__(self, tools: dict[str, Tool], opts: Options) -> None:
        self.tools = tools
        self.opts = opts
        self.gen_root = opts.workdir / "gen"
        self.run_root = opts.workdir / "run"
        self.log_root = opts.workdir / "logs"
        self.log_root.mkdir(parents=True, exist_ok=True)
        self.build_failed: dict[tuple[str, str], str] = {}

    # generated directories are reused when their manifest matches
    def generated(self, wl: Workload, size: int | None) -> tuple[Path, Manifest]:
        n = wl.n(size)
        d = self.gen_root / f"{wl.id}-{n}"
        m = read_manifest(d)
        if m is not None and m.workload == wl.id and m.n == n and m.version == GENERATOR_VERSION:
            return d, m
        log(f"[{wl.id}] generating N={n} in {d}")
        return d, generate(wl.id, d, size)

    def reference(self, wl: Workload, gen: Path, m: Manifest, outputs: list[str]) -> Path | None:
        """Outputs of floor.sh, the reference every tool's build is compared with."""
        ref = self.opts.workdir / "ref" / f"{wl.id}-{m.n}"
        if (ref / ".complete").exists() and read_manifest(ref) == m:
            return ref
        copy_tree(gen, ref, hardlink=wl.shape == "bigfiles")
        s = run_timed(
            ["sh", "floor.sh"],
            ref,
            self.log_root / f"{wl.id}-reference.log",
            self.opts.timeout,
        )
        if not s.ok or missing_outputs(ref, outputs):
            log(f"[{wl.id}] reference build (floor.sh) failed: {s.reason}")
            return None
        (ref / ".complete").touch()
        return ref

    def phase(self, wl: Workload, phase: str, gen: Path, m: Manifest, names: list[str]) -> list[Result]:
        outputs = expected_outputs(wl, m.n)
        results = {t: Result(wl.id, phase, t) for t in names}
        ref = self.reference(wl, gen, m, outputs) if (self.opts.check and phase == "build") else None
        if self.opts.check and phase == "build" and ref is None:
            for r in results.values():
                r.check = "no reference (floor.sh failed)"
        hardlink = wl.shape == "bigfiles"
        dirs = {t: self.run_root / f"{wl.id}-{m.n}" / t for t in names}
        active: list[str] = []
        for t in names:
            tool = self.tools[t]
            if tool.base is None:
                results[t].failure = tool.missing
                continue
            if phase in ("noop", "change") and not self.build_failed.get((wl.id, t), "timeout").startswith("timeout"):
                results[t].failure = f"build failed: {self.build_failed[(wl.id, t)]}"
                continue
            if phase in ("noop", "change") and not self._prepare_noop(wl, tool, gen, dirs[t], outputs, results[t]):
                continue
            if phase == "dry":
                copy_tree(gen, dirs[t], hardlink)
            active.append(t)

        first_run: set[str] = set()
        caps = {t: self.opts.caps.get(t, self.opts.runs) for t in active}
        warm = {t: 0 if t in self.opts.caps else self.opts.warmup for t in active}
        for t in active:
            if t in self.opts.caps:
                results[t].note = f"capped at {caps[t]} run(s), no warm-up"
        rounds = self.opts.warmup + self.opts.runs
        for rnd in range(rounds):
            timed_round = rnd - self.opts.warmup  # < 0: warm-up
            k = 0 if self.opts.paired else rnd % max(1, len(active))
            order = active[k:] + active[:k]  # rotate so that no tool always goes first (unless paired)
            for t in order:
                res = results[t]
                if res.failure:
                    continue
                if timed_round < 0 and rnd >= warm[t]:
                    continue
                if timed_round >= caps[t]:
                    continue
                tool = self.tools[t]
                d = dirs[t]
                if phase == "build":
                    copy_tree(gen, d, hardlink)
                if phase == "change":
                    changed, _ = changed_input(m.n)
                    (d / changed).write_text(f"input {m.n // 2}, changed in round {rnd}\n")
                before = snapshot(d, outputs) if (self.opts.check and t not in first_run and phase != "build") else None
                what = "warm-up" if timed_round < 0 else f"run {timed_round + 1}"
                argv = tool.argv(phase, wl.jobs)
                first = t not in first_run
                logfile = self.log_root / f"{wl.id}-{phase}-{t}.log"
                # Every round from the same start, as a user's rerun: no write-back of the workspace
                # just copied, of the one just deleted or of the previous tool's files still pending
                # (the file system's flusher and journal would do it during the timed run).
                os.sync()
                s = run_timed(argv, d, logfile, self.opts.timeout, measure_rss=first, env=tool.env)
                log(
                    f"[{wl.id} {PHASE_LABEL[phase]}] {t:9s} {what:8s} "
                    + (
                        f"{fmt_s(s.wall):>9s}" + (f"  {fmt_rss(s.maxrss_kib)}" if s.rss_exact else "")
                        if s.ok
                        else f"FAILED: {s.reason}"
                    )
                )
                if not s.ok:
                    res.failure = s.reason
                    continue
                if first:
                    first_run.add(t)
                    res.rss_kib, res.rss_exact = s.maxrss_kib, s.rss_exact
                    if s.rss_exact and timed_round >= 0:
                        res.note = ", ".join(filter(None, [res.note, "1st run under GNU time"]))
                    if not self._first_run_checks(phase, d, outputs, ref, before, res, m.n):
                        continue
                if phase == "build":
                    (d / ".bench-built").touch()  # a later no-op phase may time on this directory
                if timed_round >= 0:
                    res.samples.append(s.wall)
                    res.cpus.append(s.cpu)
        if phase == "build":
            for t in names:
                if results[t].failure:
                    self.build_failed[(wl.id, t)] = results[t].failure
        if not self.opts.keep:
            later = wl.phases[wl.phases.index(phase) + 1:]
            reused = phase in ("build", "noop", "change") and ("noop" in later or "change" in later)
            for t in names:
                if not (reused and results[t].ok):
                    remove_tree(dirs[t])
        return [results[t] for t in names]

    def _prepare_noop(
        self,
        wl: Workload,
        tool: Tool,
        gen: Path,
        d: Path,
        outputs: list[str],
        res: Result,
    ) -> bool:
        """A directory the tool has built; reuses the build phase's directory when there is one."""
        marker = d / ".bench-built"
        if marker.exists() and not missing_outputs(d, outputs):
            return True
        copy_tree(gen, d, wl.shape == "bigfiles")
        log(f"[{wl.id} no-op] {tool.name}: building the workspace first (untimed)")
        # the stat floor builds nothing: its workspace is built by floor.sh
        build = tool.argv("build", wl.jobs) if tool.name != STAT_FLOOR else ["sh", "floor.sh"]
        steps = [build]
        batches = -(-len(outputs) // SNAKEMAKE_BATCH)
        if tool.name == "snakemake" and batches > 1 and wl.shape != "chain":
            # Snakemake schedules ~2 jobs a second once 10 000 are ready: build the workspace with
            # its own --batch feature (slices of the gathering rule's inputs), then the rest.
            rule = "aggregate" if wl.aggregate else "all"
            steps = [[*build, "--batch", f"{rule}={i}/{batches}"] for i in range(1, batches + 1)] + [build]
            res.note = f"workspace pre-built in {batches} --batch runs"
        for i, argv in enumerate(steps, 1):
            if len(steps) > 1:
                log(f"[{wl.id} no-op] {tool.name}: pre-build step {i}/{len(steps)}")
            step = f"-step{i}" if len(steps) > 1 else ""
            s = run_timed(argv, d, self.log_root / f"{wl.id}-prebuild-{tool.name}{step}.log", self.opts.timeout,
                          env=tool.env)
            if not s.ok:
                res.failure = f"pre-build failed: {s.reason}"
                return False
        missing = missing_outputs(d, outputs)
        if missing:
            res.failure = f"pre-build made {len(outputs) - len(missing)}/{len(outputs)} outputs"
            return False
        marker.touch()
        return True

    def _first_run_checks(
        self,
        phase: str,
        d: Path,
        outputs: list[str],
        ref: Path | None,
        before: dict[str, int] | None,
        res: Result,
        n: int = 0,
    ) -> bool:
        if phase == "change" and before is not None:
            after = snapshot(d, outputs)
            changed = sorted(p for p in outputs if before[p] != after[p])
            stale = changed_input(n)[1]
            res.check = f"ok (only {stale} rebuilt)" if changed == [stale] else f"REBUILT {changed[:3]} ({len(changed)})"
        elif phase == "build":
            missing = missing_outputs(d, outputs)
            if missing:
                res.failure = f"exit 0 but {len(missing)}/{len(outputs)} outputs missing (e.g. {missing[0]})"
                return False
            if ref is not None:
                res.check = compare_outputs(ref, d, outputs)
        elif before is not None:
            after = snapshot(d, outputs)
            changed = sum(1 for p in outputs if before[p] != after[p])
            if phase == "noop":
                res.check = "ok (nothing rebuilt)" if not changed else f"REBUILT {changed}/{len(outputs)}"
            else:
                res.check = "ok (nothing built)" if not changed else f"BUILT {changed}/{len(outputs)}"
        return True


# --------------------------------------------------------------------------- report


def machine_info(tools: dict[str, Tool]) -> list[str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    vers = ", ".join(f"{t.name} {t.version if t.base else 'n/a'}" for t in tools.values())
    return [
        f"- date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        (
            f"- machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()},"
            f" Python {platform.python_version()}"
        ),
        f"- tools: {vers}",
    ]


def render(results: list[Result], tools: dict[str, Tool], argv: list[str], opts: Options) -> str:
    pyrule_median: dict[tuple[str, str], float] = {}
    pyrule_runs: dict[tuple[str, str], list[float]] = {}
    for r in results:
        if r.tool == "pyrule" and r.ok:
            pyrule_median[(r.workload, r.phase)] = r.median
            pyrule_runs[(r.workload, r.phase)] = r.samples
    out = [
        "## pyrule benchmark",
        "",
        f"- command: `python benchmarks/run.py {shlex.join(argv)}`",
        *machine_info(tools),
        (
            f"- {opts.runs} timed run(s) per tool after {opts.warmup} warm-up run(s), tools"
            + (" alternating run by run in the same order (pairs)" if opts.paired
               else " alternating run by run (order rotated each round)")
            + "; wall time of the whole process"
        ),
        (
            "- peak RSS: largest single process of the tool's tree, measured on its first run under GNU time"
            if GNU_TIME
            else "- peak RSS: os.wait4 of the tool (`<=`: GNU time is missing, so the value"
            " includes the harness's own memory at fork and is only an upper bound)"
        ),
        "- pyrule/tool = pyrule's median / the tool's median (below 1: pyrule is faster); paired: the"
        " median (min..max) of pyrule's run / the tool's run of the same round"
        + (" (order fixed: A, B, A, B ...)" if opts.paired else " (order rotated each round)"),
        "- CPU/wall: user+system time of the tool's whole process tree / its wall time, median over"
        " the runs: the cores it kept busy",
        "",
        "| workload | tool | runs | median | min..max | CPU/wall | peak RSS | pyrule/tool | paired | check |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        wl = WORKLOADS[r.workload]
        name = wl.labels.get(r.phase) or (f"{r.workload} {PHASE_LABEL[r.phase]}" if len(wl.phases) > 1 else r.workload)
        if not r.ok:
            reason = (r.failure or "no successful run").replace("|", "\\|")
            out.append(f"| {name} | {r.tool} | 0 | n/a ({reason}) | | | | | | {r.check} |")
            continue
        runs = str(len(r.samples)) + (f" ({r.note})" if r.note else "")
        p = pyrule_median.get((r.workload, r.phase))
        ratio = f"{p / r.median:.2f}" if p is not None and r.median > 0 else "n/a"
        out.append(
            f"| {name} | {r.tool} | {runs} | {fmt_s(r.median)} | "
            f"{fmt_s(min(r.samples))} .. {fmt_s(max(r.samples))} | {r.utilisation:.2f} | "
            f"{fmt_rss(r.rss_kib, r.rss_exact)} | {ratio} | {paired_ratio(pyrule_runs.get((r.workload, r.phase)), r)} | "
            f"{r.check.replace('|', '/')} |"
        )
    return "\n".join(out) + "\n"


def paired_ratio(pyrule: list[float] | None, r: Result) -> str:
    """Median (min..max) over the rounds of pyrule's run / this tool's run in the same round."""
    if r.tool == "pyrule" or not pyrule or len(pyrule) != len(r.samples):
        return ""
    ratios = [a / b for a, b in zip(pyrule, r.samples) if b > 0]
    if not ratios:
        return ""
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}..{max(ratios):.2f})"


# --------------------------------------------------------------------------- main


def parse_caps(values: list[str]) -> dict[str, int]:
    caps: dict[str, int] = {}
    for v in values:
        for item in v.split(","):
            if not item:
                continue
            name, _, num = item.partition("=")
            if name not in ALL_TOOLS or not num.isdigit() or int(num) < 1:
                raise SystemExit(f"--cap expects TOOL=N (N >= 1), got {item!r}")
            caps[name] = int(num)
    return caps


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--workloads",
        default=None,
        help=f"comma list from {','.join(WORKLOADS)}; default {','.join(DEFAULT_WORKLOADS)} (+W5,W6 with --big)",
    )
    p.add_argument("--tools", default=",".join(t for t in ALL_TOOLS if t != PYRULE_ALT),
                   help="comma list (default: all but pyrule-alt; each workload takes those that apply)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    p.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="untimed warm-up runs per tool (default 1)",
    )
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="override N of W1-W5 (W6: total MiB); W0 and PLAN-* keep theirs",
    )
    p.add_argument("--big", action="store_true", help="also run W5 and W6")
    p.add_argument(
        "--check",
        action="store_true",
        help="verify outputs are byte-identical to floor.sh's (builds), nothing rebuilt (no-op),"
        " nothing built (dry run)",
    )
    p.add_argument("--out", type=Path, default=None, help="also write the Markdown table here")
    p.add_argument("--pyrule", default=DEFAULT_PYRULE,
                   help="pyrule command (default: benchmarks/.venv-pyrule/bin/pyrule if setup_anchors.sh made it,"
                   " else pyrule from PATH)")
    p.add_argument("--pyrule-alt", default="",
                   help="a second pyrule command, the tool pyrule-alt: timed wherever pyrule is (e.g. the old code)")
    p.add_argument(
        "--anchors",
        type=Path,
        default=DEFAULT_ANCHORS,
        help="bin directory holding snakemake and doit (default benchmarks/.venv-anchors/bin)",
    )
    p.add_argument(
        "--cap",
        action="append",
        default=[],
        metavar="TOOL=N",
        help="at most N timed runs and no warm-up for TOOL, e.g. --cap snakemake=1",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="seconds per invocation (default 3600)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help="scratch space (default benchmarks/work)",
    )
    p.add_argument("--keep", action="store_true", help="keep the per-tool workspaces")
    p.add_argument("--paired", action="store_true",
                   help="the tools in the same order every round (A, B, A, B ...), for per-round ratios")
    p.add_argument("--phases", default=None,
                   help="comma list of the phases to time (build,noop,change,dry; default: all of each workload's)")
    a = p.parse_args(argv)
    if a.runs < 1 or a.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")

    if a.workloads:
        ids = [w.strip() for w in a.workloads.split(",") if w.strip()]
    else:
        ids = list(DEFAULT_WORKLOADS) + (list(BIG_WORKLOADS) if a.big else [])
    for w in ids:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    names = [t.strip() for t in a.tools.split(",") if t.strip()]
    for t in names:
        if t not in ALL_TOOLS:
            p.error(f"unknown tool {t!r}; choose from {', '.join(ALL_TOOLS)}")

    opts = Options(
        a.runs,
        a.warmup,
        a.timeout,
        parse_caps(a.cap),
        a.check,
        a.keep,
        a.workdir.resolve(),
        a.paired,
    )
    tools = find_tools(names, a.pyrule, a.anchors, a.pyrule_alt)
    for t in tools.values():
        log(f"tool {t.name:9s} " + (shlex.join(t.base) + f"  ({t.version})" if t.base else f"n/a: {t.missing}"))
    bench = Bench(tools, opts)

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # run_timed then kills the running tool's process group

    signal.signal(signal.SIGTERM, on_sigterm)
    results: list[Result] = []
    try:
        for w in ids:
            wl = WORKLOADS[w]
            gen, m = bench.generated(wl, a.size)
            for phase in wl.phases:
                if a.phases and phase not in a.phases.split(","):
                    continue
                applicable = [t for t in names if t in wl.tools.get(phase, ())
                              or (t == PYRULE_ALT and "pyrule" in wl.tools.get(phase, ()))]
                if not applicable:
                    continue
                tools_list = ", ".join(applicable)
                head = f"[{w} {PHASE_LABEL[phase]}] N={m.n}, {m.outputs} jobs, -j{wl.jobs}"
                log(f"{head}: {tools_list}")
                results += bench.phase(wl, phase, gen, m, applicable)
            if not opts.keep:
                remove_tree(opts.workdir / "run" / f"{w}-{m.n}")
    except KeyboardInterrupt:
        log("interrupted: reporting what was measured so far")
    table = render(results, tools, argv, opts)
    print(table)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(table)
        log(f"written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
