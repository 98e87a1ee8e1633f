#!/usr/bin/env python3
"""Where a build leaves the cores idle: runs a command under `perf sched record` and prints, for
the time between its first and its last job start, how long each state of its process tree
lasted: how many jobs were alive and runnable, and whether the runner (the command's own
process) and the spawner (its child that starts the jobs, if any) were runnable or asleep.

Usage:  python benchmarks/sched_states.py [--keep DIR] -- COMMAND...
        (in a fresh copy of a workload, e.g. `python benchmarks/generate.py W1 DIR`)
e.g.    python benchmarks/sched_states.py -- python -m pyrule -q -j 2
        python benchmarks/sched_states.py -- make -j2

A row `(1 job alive, 1 runnable, -, runner asleep)` is time in which a core that -j2 allows
is idle on an idle machine: one job runs, nothing prepares the next. Needs `perf` and the
permission to trace scheduler events (root, or kernel.perf_event_paranoid <= -1). On a loaded
machine, "runnable" includes waiting for a core that another process holds: read the runner's
and jobs' run time (the last lines) against the window, not only the states.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

EVENT = re.compile(r"^\s*(\S.*?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:(\w+):\s*(.*)$")


def _int(field: str, rest: str) -> int:
    m = re.search(rf"(?:^|\s){field}=(\d+)", rest)
    return int(m.group(1)) if m else -1


def analyse(lines: list[str], root: int) -> str:
    children: dict[int, list[int]] = collections.defaultdict(list)
    for line in lines:
        m = EVENT.match(line)
        if m and m.group(5) == "sched_process_fork":
            children[_int("pid", m.group(6))].append(_int("child_pid", m.group(6)))
    # The spawner: the runner's child that started the most processes (none: the runner's own)
    spawner = max(children.get(root, []), key=lambda p: len(children.get(p, [])), default=-1)
    if len(children.get(spawner, [])) < 10:
        spawner = -1
    starter = spawner if spawner > 0 else root
    ours = {root, spawner}
    live: set[int] = set()
    runnable: set[int] = set()
    states: collections.Counter[tuple[int, int, str, str]] = collections.Counter()
    run_time: collections.Counter[str] = collections.Counter()
    runner_sleep = "-"
    t_prev = t_first = t_last = None
    for line in lines:
        m = EVENT.match(line)
        if not m:
            continue
        _comm, pid_s, _cpu, t_s, name, rest = m.groups()
        t, pid = float(t_s), int(pid_s)
        if name == "sched_stat_runtime":
            if pid in ours:
                what = "runner" if pid == root else "spawner" if pid == spawner else "jobs"
                run_time[what] += _int("runtime", rest) / 1e9
            continue
        if t_first is not None and t_prev is not None:
            others = "+".join(w for p, w in ((root, "runner"), (spawner, "spawner")) if p in runnable) or "-"
            states[(len(live), sum(1 for p in runnable if p in live), others,
                    "running" if root in runnable else f"asleep ({runner_sleep})")] += t - t_prev
        t_prev = t
        if name == "sched_process_fork":
            parent, child = _int("pid", rest), _int("child_pid", rest)
            if parent == starter and child != spawner:
                live.add(child)
                ours.add(child)
                t_first = t if t_first is None else t_first
                t_last = t
            elif parent in ours and parent != root:
                ours.add(child)
        elif name in ("sched_waking", "sched_wakeup_new", "sched_wakeup"):
            p = _int("pid", rest)
            if p in ours:
                runnable.add(p)
        elif name == "sched_switch":
            prev, state, nxt = _int("prev_pid", rest), re.search(r"prev_state=(\S+)", rest), _int("next_pid", rest)
            st = state.group(1) if state else "R"
            if prev in ours and not st.startswith("R"):
                runnable.discard(prev)
                if st in ("Z", "X"):
                    live.discard(prev)
                if prev == root:
                    runner_sleep = st
            if nxt in ours:
                runnable.add(nxt)
    total = sum(states.values())
    if not total or t_first is None or t_last is None:
        return "no job starts seen"
    out = [f"window {total:.3f} s (first to last job start {t_last - t_first:.3f} s); "
           f"runner pid {root}, spawner pid {spawner if spawner > 0 else 'none'}",
           "  jobs alive, jobs runnable, runner/spawner runnable, runner      time     share"]
    for (alive, run, others, runner), v in sorted(states.items(), key=lambda kv: -kv[1])[:16]:
        out.append(f"  {alive:>4} {run:>4}  {others:24s} {runner:14s} {v:8.3f} s {100 * v / total:5.1f}%")
    busy = sum(v * min(2, run + (others != "-") + (others == "runner+spawner"))
               for (_alive, run, others, _runner), v in states.items())
    out.append(f"cores the tree could keep busy (2 at most), mean: {busy / total:.2f}")
    out.append("run time (whole trace): " + ", ".join(f"{k} {v:.3f} s" for k, v in sorted(run_time.items())))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", help="keep perf.data and its `perf script` text in this directory")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command given (after --)")
    work = a.keep or tempfile.mkdtemp(prefix="sched-states-")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "perf.data")
    # The command's pid (perf forks it before recording starts: no fork event names it): a shell
    # writes its own and execs the command in its place.
    pidfile = os.path.join(work, "pid")
    wrapped = ["sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile, *cmd]
    r = subprocess.run(["perf", "sched", "record", "-o", data, "--", *wrapped])
    if r.returncode != 0:
        print(f"the command (or perf) exited {r.returncode}", file=sys.stderr)
        return 1
    text = subprocess.run(["perf", "script", "-i", data], capture_output=True, text=True).stdout
    if a.keep:
        with open(os.path.join(work, "script.txt"), "w") as f:
            f.write(text)
    with open(pidfile) as f:
        root = int(f.read())
    print(analyse(text.splitlines(), root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
