#!/usr/bin/env python3
"""Generate one benchmark workload as equivalent build files for every tool.

For a workload id and a size, writes into a target directory:

    Pipefile     pyrule
    Makefile     GNU Make (pattern rule + target list, built-in rules off)
    Snakefile    Snakemake (same rules as the Pipefile, in Snakemake syntax)
    dodo.py      pydoit (task generators with file_dep / targets)
    build.ninja  Ninja
    floor.sh     the same shell commands in a plain script, no checks: the physical floor
    in/...       the input files
    out/, c/     empty output directories (so that Make, Ninja, doit and floor.sh need no
                 per-job `mkdir`; pyrule and Snakemake create them anyway)
    workload.json  what was generated (read by run.py to reuse a generated directory)

Every job is `cat IN > OUT` run through a shell.  The one aggregate job (`all.txt`) reads its
inputs with a glob, `printf '%s\\n' out/*.txt | xargs cat > all.txt`, identical for every tool:
with 10 000 paths, `cat {input}` would exceed Linux's 128 KiB limit on one argument
(MAX_ARG_STRLEN) in `sh -c`, and that limit is not what we want to measure.  The tool still
declares all N files as the aggregate's inputs, so dependency tracking is unchanged.  run.py
sets LC_ALL=C so that the glob sorts the same way in every shell.

Usage:  python benchmarks/generate.py WORKLOAD DIR [--size N]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

GENERATOR_VERSION = 3  # (W7 added no new file: its directories are W1's shape without the aggregate)

BUILD_TOOLS: tuple[str, ...] = ("pyrule", "make", "snakemake", "doit", "ninja", "floor")
# pyrule-long: pyrule with its no-op memo off (PYRULE_NOOP_MEMO=0), deciding the long way (plan,
# read every record, recompute every signature): keeps that path measured, as the memo skips it
NOOP_TOOLS: tuple[str, ...] = ("pyrule", "pyrule-long", "make", "snakemake", "doit", "ninja")
DRY_TOOLS: tuple[str, ...] = ("pyrule", "make", "snakemake", "doit", "ninja")
# stat-floor: one process that stats every input and output (`find in out -printf '%T@ %s\n'`),
# the physical limit of a no-op; the W7 no-op is compared with it
STAT_FLOOR = "stat-floor"
# pyrule-alt: a second pyrule command (--pyrule-alt), e.g. an older checkout or another setting,
# timed beside pyrule on every workload pyrule runs (ratios of one code to the other, in pairs)
PYRULE_ALT = "pyrule-alt"
ALL_TOOLS: tuple[str, ...] = (*BUILD_TOOLS, "pyrule-long", STAT_FLOOR, PYRULE_ALT)

AGG_SHELL = r"printf '%s\n' out/*.txt | xargs cat"


@dataclass(frozen=True)
class Workload:
    """A workload: a graph shape, a default size and what is timed on it."""

    id: str
    shape: str  # "fanout" | "chain" | "bigfiles"
    default_n: int
    # each of "build", "noop", "change" (one input changed, then a rerun), "dry", timed in this order
    phases: tuple[str, ...]
    jobs: int  # parallel jobs for build and no-op invocations
    aggregate: bool  # fanout only: one extra job cats every output into all.txt
    tools: dict[str, tuple[str, ...]]  # phase -> tools that apply
    big: bool  # only run with --big (or when named explicitly)
    sizable: bool  # whether --size overrides default_n
    title: str
    labels: dict[str, str]  # phase -> the name the table gives it (W7: W7a..W7d)

    def n(self, size: int | None) -> int:
        return size if (size is not None and self.sizable) else self.default_n


def _wl(
    id: str,
    shape: str,
    n: int,
    phases: tuple[str, ...],
    jobs: int,
    title: str,
    *,
    aggregate: bool = True,
    tools: dict[str, tuple[str, ...]] | None = None,
    big: bool = False,
    sizable: bool = True,
    labels: dict[str, str] | None = None,
) -> Workload:
    default_tools = {"build": BUILD_TOOLS, "noop": NOOP_TOOLS, "dry": DRY_TOOLS}
    return Workload(
        id=id,
        shape=shape,
        default_n=n,
        phases=phases,
        jobs=jobs,
        aggregate=aggregate,
        tools=tools or default_tools,
        big=big,
        sizable=sizable,
        title=title,
        labels=labels or {},
    )


WORKLOADS: dict[str, Workload] = {
    w.id: w
    for w in (
        _wl("W0", "fanout", 1, ("build",), 1, "one job", aggregate=False, sizable=False),
        _wl("W1", "fanout", 1000, ("build",), 2, "N independent jobs + 1 aggregate, -j2"),
        _wl("W2", "chain", 200, ("build",), 1, "chain of N jobs, -j1"),
        _wl("W3", "fanout", 10000, ("noop",), 2, "no-op on N+1 built jobs"),
        _wl("W4", "fanout", 50000, ("dry",), 1, "dry run of N+1 jobs"),
        _wl(
            "W5",
            "fanout",
            100000,
            ("build", "noop"),
            2,
            "N jobs + 1 aggregate, -j2, then no-op",
            big=True,
        ),
        _wl(
            "W6",
            "bigfiles",
            2048,
            ("build", "noop"),
            2,
            "N MiB of inputs in 4 files: first run (checksums), then no-op",
            aggregate=False,
            big=True,
            tools={"build": ("pyrule", "make", "floor"), "noop": ("pyrule", "make")},
        ),
        # issue 23: a fan-out of a million jobs, no aggregate (`--size` for 100k when 1M does not fit)
        _wl(
            "W7",
            "fanout",
            1_000_000,
            ("build", "noop", "change", "dry"),
            2,
            "fan-out of N jobs: build -j2, no-op, one input changed, dry run",
            aggregate=False,
            big=True,
            tools={
                "build": ("pyrule", "make", "floor"),
                "noop": ("pyrule", "pyrule-long", "make", STAT_FLOOR),
                "change": ("pyrule", "make"),
                "dry": ("pyrule", "make"),
            },
            labels={"dry": "W7a dry run", "build": "W7b build", "noop": "W7c no-op", "change": "W7d one changed"},
        ),
        *(
            _wl(
                f"PLAN-{k}k",
                "fanout",
                k * 1000,
                ("dry",),
                1,
                f"planning: dry run of {k}k jobs",
                aggregate=False,
                tools={"dry": ("pyrule", "make")},
                sizable=False,
            )
            for k in (10, 50, 100)
        ),
    )
}

BIGFILES_COUNT = 4


@dataclass(frozen=True)
class Manifest:
    """What generate() wrote; stored as workload.json next to the build files."""

    version: int
    workload: str
    n: int
    jobs: int
    outputs: int

    def matches(self, other: Manifest) -> bool:
        return asdict(self) == asdict(other)


# --------------------------------------------------------------------------- graph facts


def fanout_count(wl: Workload, n: int) -> int:
    return BIGFILES_COUNT if wl.shape == "bigfiles" else n


def expected_outputs(wl: Workload, n: int) -> list[str]:
    """Every file a full build must produce, relative to the workload directory."""
    if wl.shape == "chain":
        return [f"c/{i}.txt" for i in range(1, n + 1)]
    outs = [f"out/{i}.txt" for i in range(fanout_count(wl, n))]
    if wl.aggregate:
        outs.append("all.txt")
    return outs


def changed_input(n: int) -> tuple[str, str]:
    """The input the "change" phase rewrites before each run, and the one output it makes stale."""
    return f"in/{n // 2}.txt", f"out/{n // 2}.txt"


def job_count(wl: Workload, n: int) -> int:
    return len(expected_outputs(wl, n))


# --------------------------------------------------------------------------- writers


def _header(wl: Workload, n: int, comment: str = "#") -> str:
    return f"{comment} generated by benchmarks/generate.py: workload {wl.id} ({wl.title}), N={n}\n"


def _pipefile(wl: Workload, n: int) -> str:
    h = _header(wl, n)
    if wl.shape == "chain":
        return (
            f"{h}N = {n}\n\n"
            "rule all:\n"
            '    input: "c/%d.txt" % N\n\n'
            "rule first:\n"
            '    output: "c/1.txt"\n'
            '    input: "in/0.txt"\n'
            "    shell: cat {input} > {output}\n\n"
            "rule link:\n"
            '    output: "c/{i,[0-9]+}.txt"\n'
            '    input: lambda wildcards: "c/%d.txt" % (int(wildcards.i) - 1)\n'
            "    shell: cat {input} > {output}\n"
        )
    count = fanout_count(wl, n)
    if wl.aggregate:
        top = (
            "rule aggregate:\n"
            '    output: "all.txt"\n'
            '    input: expand("out/{i}.txt", i=range(N))\n'
            f"    shell: {AGG_SHELL} > {{output}}\n\n"
        )
    else:
        top = 'rule all:\n    input: expand("out/{i}.txt", i=range(N))\n\n'
    return (
        f"{h}N = {count}\n\n{top}"
        "rule copy:\n"
        '    output: "out/{i}.txt"\n'
        '    input: "in/{i}.txt"\n'
        "    shell: cat {input} > {output}\n"
    )


def _snakefile(wl: Workload, n: int) -> str:
    h = _header(wl, n)
    if wl.shape == "chain":
        return (
            f"{h}N = {n}\n\n"
            "rule all:\n"
            '    input: "c/%d.txt" % N\n\n'
            "rule first:\n"
            '    output: "c/1.txt"\n'
            '    input: "in/0.txt"\n'
            '    shell: "cat {input} > {output}"\n\n'
            "rule link:\n"
            '    output: "c/{i,[0-9]+}.txt"\n'
            '    input: lambda wildcards: "c/%d.txt" % (int(wildcards.i) - 1)\n'
            '    shell: "cat {input} > {output}"\n\n'
            "ruleorder: first > link\n"
        )
    count = fanout_count(wl, n)
    if wl.aggregate:
        top = (
            "rule aggregate:\n"
            '    output: "all.txt"\n'
            '    input: expand("out/{i}.txt", i=range(N))\n'
            f'    shell: r"{AGG_SHELL} > {{output}}"\n\n'
        )
    else:
        top = 'rule all:\n    input: expand("out/{i}.txt", i=range(N))\n\n'
    return (
        f"{h}N = {count}\n\n{top}"
        "rule copy:\n"
        '    output: "out/{i}.txt"\n'
        '    input: "in/{i}.txt"\n'
        '    shell: "cat {input} > {output}"\n'
    )


_MAKE_PRELUDE = (
    "# built-in implicit rules off, as a Make user who cares about speed writes it\n"
    "MAKEFLAGS += --no-builtin-rules\n"
    ".SUFFIXES:\n"
)


def _makefile(wl: Workload, n: int) -> str:
    h = _header(wl, n) + _MAKE_PRELUDE
    if wl.shape == "chain":
        # Make has no arithmetic in patterns: the chain is written as explicit rules.
        lines = [
            h,
            f".DEFAULT_GOAL := c/{n}.txt\n\n",
            "c/1.txt: in/0.txt\n\tcat $< > $@\n",
        ]
        lines += [f"c/{i}.txt: c/{i - 1}.txt\n\tcat $< > $@\n" for i in range(2, n + 1)]
        return "".join(lines)
    count = fanout_count(wl, n)
    s = f"{h}N := {count}\nOUTS := $(patsubst %,out/%.txt,$(shell seq 0 {count - 1}))\n\n"
    if wl.aggregate:
        s += f"all.txt: $(OUTS)\n\t{AGG_SHELL} > $@\n\n"
    else:
        s += ".PHONY: all\nall: $(OUTS)\n\n"
    return s + "out/%.txt: in/%.txt\n\tcat $< > $@\n"


def _dodo(wl: Workload, n: int) -> str:
    # The sqlite3 backend: doit's default "dbm" falls back to the very slow dbm.dumb on a
    # Python built without gdbm/ndbm, which would measure Python's packaging, not doit.
    h = _header(wl, n) + ('DOIT_CONFIG = {"backend": "sqlite3", "action_string_formatting": "new"}\n\n')
    if wl.shape == "chain":
        return h + (
            f"N = {n}\n\n\n"
            "def task_chain():\n"
            "    for i in range(1, N + 1):\n"
            '        src = "in/0.txt" if i == 1 else f"c/{i - 1}.txt"\n'
            "        yield {\n"
            '            "name": str(i),\n'
            '            "actions": ["cat {dependencies} > {targets}"],\n'
            '            "file_dep": [src],\n'
            '            "targets": [f"c/{i}.txt"],\n'
            "        }\n"
        )
    count = fanout_count(wl, n)
    s = h + (
        f"N = {count}\n\n\n"
        "def task_copy():\n"
        "    for i in range(N):\n"
        "        yield {\n"
        '            "name": str(i),\n'
        '            "actions": ["cat {dependencies} > {targets}"],\n'
        '            "file_dep": [f"in/{i}.txt"],\n'
        '            "targets": [f"out/{i}.txt"],\n'
        "        }\n"
    )
    if wl.aggregate:
        agg = AGG_SHELL.replace("\\", "\\\\")
        s += (
            "\n\ndef task_aggregate():\n"
            "    return {\n"
            f'        "actions": ["{agg} > {{targets}}"],\n'
            '        "file_dep": [f"out/{i}.txt" for i in range(N)],\n'
            '        "targets": ["all.txt"],\n'
            "    }\n"
        )
    return s


def _ninja(wl: Workload, n: int) -> Iterable[str]:
    yield _header(wl, n)
    yield "rule copy\n  command = cat $in > $out\n"
    if wl.shape == "chain":
        yield "build c/1.txt: copy in/0.txt\n"
        for i in range(2, n + 1):
            yield f"build c/{i}.txt: copy c/{i - 1}.txt\n"
        yield f"default c/{n}.txt\n"
        return
    count = fanout_count(wl, n)
    for i in range(count):
        yield f"build out/{i}.txt: copy in/{i}.txt\n"
    outs = " ".join(f"out/{i}.txt" for i in range(count))
    if wl.aggregate:
        yield f"rule aggregate\n  command = {AGG_SHELL} > $out\n"
        yield f"build all.txt: aggregate {outs}\n"
        yield "default all.txt\n"
    else:
        yield f"build all: phony {outs}\n"
        yield "default all\n"


def _floor(wl: Workload, n: int) -> Iterable[str]:
    """The commands only, in one shell, no checks; parallel workloads split into lanes."""
    yield "#!/bin/sh\n" + _header(wl, n)
    if wl.shape == "chain":
        yield "cat in/0.txt > c/1.txt\n"
        for i in range(2, n + 1):
            yield f"cat c/{i - 1}.txt > c/{i}.txt\n"
        return
    count = fanout_count(wl, n)
    lanes = max(1, wl.jobs)
    if lanes == 1:
        for i in range(count):
            yield f"cat in/{i}.txt > out/{i}.txt\n"
    else:
        for lane in range(lanes):
            yield "(\n"
            for i in range(lane, count, lanes):
                yield f"cat in/{i}.txt > out/{i}.txt\n"
            yield ") &\n"
        yield "wait\n"
    if wl.aggregate:
        yield f"{AGG_SHELL} > all.txt\n"


def _write_inputs(wl: Workload, n: int, d: Path) -> None:
    ind = d / "in"
    ind.mkdir(parents=True, exist_ok=True)
    if wl.shape == "chain":
        (ind / "0.txt").write_text("chain input 0\n")
        (d / "c").mkdir(exist_ok=True)
        return
    (d / "out").mkdir(exist_ok=True)
    if wl.shape == "bigfiles":
        total = n * 1024 * 1024
        per_file = total // BIGFILES_COUNT
        chunk_size = 1024 * 1024
        for i in range(BIGFILES_COUNT):
            chunk = random.Random(i).randbytes(chunk_size)
            with open(ind / f"{i}.txt", "wb") as f:
                left = per_file
                while left > 0:
                    f.write(chunk[: min(left, chunk_size)])
                    left -= chunk_size
        return
    for i in range(n):
        with open(ind / f"{i}.txt", "w") as f:
            f.write(f"input {i}\n")


def generate(workload: str, target: Path, size: int | None = None) -> Manifest:
    """Write the workload into target (which is emptied first). Returns its manifest."""
    wl = WORKLOADS[workload]
    n = wl.n(size)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _write_inputs(wl, n, target)
    (target / "Pipefile").write_text(_pipefile(wl, n))
    (target / "Snakefile").write_text(_snakefile(wl, n))
    (target / "Makefile").write_text(_makefile(wl, n))
    (target / "dodo.py").write_text(_dodo(wl, n))
    with open(target / "build.ninja", "w") as f:
        f.writelines(_ninja(wl, n))
    with open(target / "floor.sh", "w") as f:
        f.writelines(_floor(wl, n))
    (target / "floor.sh").chmod(0o755)
    m = Manifest(GENERATOR_VERSION, wl.id, n, wl.jobs, job_count(wl, n))
    # written last: its presence means the directory is complete
    (target / "workload.json").write_text(json.dumps(asdict(m), indent=2) + "\n")
    return m


def read_manifest(target: Path) -> Manifest | None:
    try:
        data = json.loads((target / "workload.json").read_text())
        return Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("dir", type=Path)
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="N (W6: total MiB); W0 and PLAN-* are fixed",
    )
    a = p.parse_args(argv)
    m = generate(a.workload, a.dir, a.size)
    print(f"{m.workload}: N={m.n}, {m.outputs} jobs, written to {a.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
