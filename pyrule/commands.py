"""Commands on a project's outputs that run no job (issue 22, for Snakemake users):

--touch              record the requested jobs' existing outputs as up to date (-n: what it would record)
--summary            every output of the requested targets: its job, date and state (TSV when piped)
--list-changes KIND  outputs whose recorded params, code or input set differ from now
--delete-all-output  delete the requested targets' outputs (-n: list them), never outside the project
--list-untracked     files of the project that no job of the requested targets makes or reads

Each works on the graph of the requested targets (the default ones without any), as `-n` does.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager

from .errors import UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from .graph import JobGraph
    from .rules import Rules

CHANGE_KINDS = ("params", "code", "input")
LONG = ("--touch", "--summary", "--list-changes", "--delete-all-output", "--list-untracked")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--touch", action="store_true",
                   help="record the requested jobs' existing outputs as up to date, without running them "
                        "(with -n: what it would record)")
    p.add_argument("--summary", action="store_true",
                   help="every output of the requested targets: its job, date and state (TSV when piped)")
    p.add_argument("--list-changes", choices=CHANGE_KINDS, metavar="KIND",
                   help="the outputs whose recorded params, code (body) or input set differ from now "
                        "(KIND: params, code or input)")
    p.add_argument("--delete-all-output", action="store_true",
                   help="delete every output of the requested targets (with -n: list them)")
    p.add_argument("--list-untracked", action="store_true",
                   help="files in the project that no job of the requested targets makes or reads")


def wanted(args: argparse.Namespace) -> bool:
    """Whether one of these commands was asked for; more than one at once is a mistake."""
    asked = [flag for flag in LONG if getattr(args, flag[2:].replace("-", "_"))]
    if len(asked) > 1:
        raise UsageError(f"{asked[0]} and {asked[1]}: one command at a time", hint="run pyrule once for each")
    return bool(asked)


def run(args: argparse.Namespace, graph: JobGraph, rules: Rules, options, console) -> int:
    if args.touch:
        with _locked(graph, "--touch", args.dry_run):
            return touch(graph, rules, options, console, args.dry_run)
    if args.summary:
        return summary(graph, rules, options, console)
    if args.list_changes:
        return list_changes(graph, args.list_changes, console)
    if args.delete_all_output:
        with _locked(graph, "--delete-all-output", args.dry_run):
            return delete_all_output(graph, console, args.dry_run, args.overwrite_protected)
    return list_untracked(graph, rules, console)


@contextmanager
def _locked(graph: JobGraph, command: str, dry: bool):
    """The outputs of every job of the graph locked as a run locks them while it runs a job
    (locks.JobLock; each lock file nobody else uses locked whole, so a million outputs take 64
    locks): refused while another pyrule holds one; a dry run takes none."""
    from .locks import JobLock
    from .project import STATE_DIR

    jobs = [j for j in graph.jobs if j.outputs]
    if dry or not jobs:
        yield
        return
    lock = JobLock(STATE_DIR, [p for j in jobs for p in j.outputs], whole_files=True)
    try:
        acquired = lock.try_acquire()
    except OSError as e:  # .pyrule or .pyrule/locks a file, a read-only directory
        raise UsageError(f"{command}: cannot take the outputs' locks in {STATE_DIR}/locks: {e.strerror or e}",
                         hint=f"{STATE_DIR}/ must be a directory pyrule can write in; nothing was changed") from None
    if not acquired:
        for job in jobs:  # which one: the first whose outputs cannot be locked on their own
            alone = JobLock(STATE_DIR, list(job.outputs))
            if not alone.try_acquire():
                raise UsageError(f"{command}: the outputs of job {job.name} are locked by another pyrule process",
                                 hint="wait for it to end, then try again; nothing was changed")
            alone.release()
        raise UsageError(f"{command}: outputs are locked by another pyrule process",
                         hint="wait for it to end, then try again; nothing was changed")
    try:
        yield
    finally:
        lock.release()


# --- --touch ---------------------------------------------------------------------------------------


def touch(graph: JobGraph, rules: Rules, options, console, dry: bool) -> int:
    """Record each stale job of the graph whose outputs all exist as if it had just run."""
    from .decide import Decider
    from .run import dry_run, open_state
    from .stat_cache import StatCache

    decisions = dry_run(graph, rules, options, console)
    stale = [d for d in decisions if d.reason is not None and not d.pending]
    for d in stale:
        if d.job.phony:
            raise UsageError(f"--touch: job {d.job.name} has no outputs: nothing to mark up to date",
                             hint="name the targets to touch, without the rules that have no outputs")
        missing = [p for p in d.job.outputs if not os.path.lexists(p)]
        if missing:
            raise UsageError(f"--touch: job {d.job.name}'s output {missing[0]} does not exist: nothing to mark "
                             "up to date", hint=f"build it (pyrule {missing[0]}), or name other targets; "
                             "nothing was recorded")
        if str(d.reason).startswith(("incomplete after", "being built by", "cannot read input", "waits for checkpoint",
                                      "waits for the value")):
            raise UsageError(f"--touch: job {d.job.name} cannot be marked up to date: {d.reason}",
                             hint="run it instead; nothing was recorded")
    n_ok = sum(1 for d in decisions if d.reason is None and not d.job.gather)
    if not stale:
        console.note(f"nothing to record: all {n_ok} job(s) up to date")
        return 0
    if dry:
        console.out("\n".join(f"{d.job.name}: would be recorded as up to date (now: {d.reason})" for d in stale))
        console.note(f"{len(stale)} job(s) would be recorded as up to date")
        return 0
    state = open_state(readonly=False)
    try:
        decider = Decider(state, StatCache())
        for d in stale:
            digest, parts = decider.signature(d.job)
            state.succeeded(d.job.name, d.job.rule.name, digest, parts)
            console.out(f"{d.job.name}: recorded as up to date (was: {d.reason})")
    finally:
        state.close()
    console.note(f"{len(stale)} job(s) recorded as up to date")
    return 0


# --- --summary -------------------------------------------------------------------------------------


def summary(graph: JobGraph, rules: Rules, options, console) -> int:
    import time

    from .status import job_states

    rows: list[tuple[str, ...]] = [("output", "job", "date", "state")]
    for d, text in job_states(graph, rules, options):
        for p in d.job.outputs:
            try:
                date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.lstat(p).st_mtime))
            except OSError:
                date = "-"
            if text == "up to date":
                state = "ok"
            elif text.startswith("missing ("):  # said of the path that is missing; the others are stale
                state = "missing" if d.reason == f"output {p} missing" else f"stale: {d.reason}"
            else:
                state = text
            rows.append((p, d.job.name, date, state))
    console.out(table(rows, sys.stdout.isatty()))
    return 0


def table(rows: list[tuple[str, ...]], aligned: bool) -> str:
    """Rows as TSV, or (on a terminal) as columns aligned with two spaces between them."""
    if not aligned:
        return "\n".join("\t".join(r) for r in rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths)), r[-1]]) for r in rows)


# --- --list-changes --------------------------------------------------------------------------------


def list_changes(graph: JobGraph, kind: str, console) -> int:
    """The outputs of recorded jobs whose params (env and top-level values too), body or inputs
    are not those recorded at their last success."""
    from .decide import Fingerprints
    from .run import open_state
    from .stat_cache import StatCache

    state = open_state(readonly=True, console=console)
    if state is None:
        return 0
    fps = Fingerprints(state, StatCache())
    lines = []
    try:
        for job in graph.jobs:
            rec = state.record(job.name) if job.outputs else None
            if rec is None:
                continue
            change = _change(kind, state.signature_of(job.name, rec), job, fps)
            if change:
                lines += [f"{p}\t{job.name}: {change}" if console.verbose else p for p in job.outputs]
    finally:
        state.close()
    if lines:
        console.out("\n".join(lines))
    return 0


def _change(kind: str, old: dict, job, fps) -> str | None:
    body, _env, _repr, names = fps.rule_parts(job)
    if kind == "code":
        return "rule body changed" if old.get("body") != body else None
    if kind == "input":
        a, b = old.get("inputs", []), list(job.inputs)
        if a == b:
            return None
        change = [*(f"+{p}" for p in b if p not in a), *(f"-{p}" for p in a if p not in b)]
        return f"input set changed ({', '.join(change) or 'order'})"
    now = {"params": {k: repr(v) for k, v in job.params.items()}, "env": job.env, "names": names}
    for key in ("params", "env", "names"):
        a, b = old.get(key, {}), now[key]
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                what = f"{key}.{name}" if key != "names" else f"top-level {name}"
                return f"{what}: {a.get(name, '(unset)')} → {b.get(name, '(unset)')}"
    return None


# --- --delete-all-output ---------------------------------------------------------------------------


def delete_all_output(graph: JobGraph, console, dry: bool, overwrite_protected: bool) -> int:
    from .outputs import remove
    from .run import open_state, running_elsewhere

    root = os.path.realpath(".")
    doomed: list[tuple[str, str]] = []  # (path, job name)
    for job in graph.jobs:
        protected = set(job.flagged("protected"))
        for p in job.outputs:
            if not os.path.lexists(p):
                continue
            if not _inside(p, root):
                console.warn(f"left {p}: outside the project (output of job {job.name})")
                continue
            if p in protected and not overwrite_protected:
                raise UsageError(f"--delete-all-output: {p} is a protected output (of job {job.name})",
                                 job.rule.where("output"),
                                 "pass --overwrite-protected to delete protected outputs too; nothing was deleted")
            doomed.append((p, job.name))
    if dry:
        if doomed:
            console.out("\n".join(f"would delete {p}" for p, _ in doomed))
        console.note(f"{len(doomed)} output(s) would be deleted")
        return 0
    state = open_state(readonly=False) if doomed else None
    try:
        busy = running_elsewhere(state)
        for _, name in doomed:
            if name in busy:
                raise UsageError(f"--delete-all-output: job {name} runs in pyrule process {busy[name]}",
                                 hint="wait for it to end; nothing was deleted")
        for p, name in doomed:
            remove(p)
            if state is not None:
                state.forget_job(name)
            console.out(f"deleted {p}")
            _prune_empty(os.path.dirname(p), root)
    finally:
        if state is not None:
            state.close()
    console.note(f"{len(doomed)} output(s) deleted")
    return 0


def _inside(path: str, root: str) -> bool:
    """Whether `path` (its directory resolved, symlinks and all) lies within the project `root`."""
    norm = os.path.normpath(path)
    if norm in (".", ".."):
        return False
    parent = os.path.realpath(os.path.dirname(os.path.abspath(norm)))
    return parent == root or parent.startswith(root + os.sep)


def _prune_empty(directory: str, root: str) -> None:
    """Remove `directory` and its parents while they are empty (never the project's own)."""
    while directory and _inside(os.path.join(directory, "x"), root) and os.path.realpath(directory) != root:
        try:
            os.rmdir(directory)
        except OSError:
            return
        directory = os.path.dirname(directory)


# --- --list-untracked ------------------------------------------------------------------------------

_NEVER_LISTED = {"__pycache__"}


def list_untracked(graph: JobGraph, rules: Rules, console) -> int:
    """Files under the project directory that are neither an output nor an input of any job of
    the graph (nor a log, nor the Pipefile, its includes or pyrule's settings); hidden files and
    directories (.pyrule/, .git/) are not looked at."""
    from .settings import SETTINGS_FILES

    tracked: set[str] = {os.path.normpath(p) for p in [*rules.files, *SETTINGS_FILES, *graph.sources]}
    for job in graph.jobs:
        tracked.update(os.path.normpath(p) for p in [*job.outputs, *job.inputs])
        if job.log:
            tracked.add(os.path.normpath(job.log))
    untracked = []
    for top, dirs, files in os.walk("."):
        base = os.path.normpath(top)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NEVER_LISTED
                         and _join(base, d) not in tracked)  # a directory() output or input: all of it
        for name in sorted(files):
            path = _join(base, name)
            if not name.startswith(".") and path not in tracked:
                untracked.append(path)
    if untracked:
        console.out("\n".join(sorted(untracked)))
    return 0


def _join(base: str, name: str) -> str:
    return name if base == "." else f"{base}/{name}"
