"""The command-line side of the report and of `--dag svg|png` (called by pyrule/cli.py)."""

from __future__ import annotations

import os
import sys

from ..errors import PyruleError, UsageError
from ..stats import run_dirs


def project_dir(pipefile: str | None) -> str:
    """Where the runs were recorded: the current directory with -f, else the directory of the
    nearest Pipefile (as a run would chdir there), else the current directory."""
    if pipefile:
        return os.getcwd()
    from ..project import find_pipefile

    found = find_pipefile(os.getcwd())
    return os.path.dirname(found) if found is not None else os.getcwd()


def pick_run(root: str, run_id: str | None) -> str:
    """The run directory to report: RUN-ID (or a unique prefix of one), else the last run."""
    runs = run_dirs(os.path.join(root, ".pyrule"))
    where = os.path.relpath(os.path.join(root, ".pyrule", "runs"))
    if not runs:
        raise UsageError(f"no recorded run in {where}: there is nothing to report yet",
                         hint="run pyrule first (e.g. `pyrule -j 4`), then `pyrule --report`")
    if not run_id:
        return runs[-1]
    names = [os.path.basename(r) for r in runs]
    if run_id in names:
        return runs[names.index(run_id)]
    matches = [r for r, n in zip(runs, names) if n.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    recent = ", ".join(names[-5:][::-1])
    if matches:
        raise UsageError(f"--run {run_id}: {len(matches)} recorded runs start with that",
                         hint=f"give more of the run id; the latest runs are {recent}")
    raise UsageError(f"--run {run_id}: no such run recorded in {where}",
                     hint=f"the latest runs are {recent}")


def report_command(out: str, run_id: str | None, pipefile: str | None, console) -> int:
    from . import write_report

    out_path = os.path.abspath(out)  # relative to where pyrule was started (after -C)
    run_dir = pick_run(project_dir(pipefile), run_id)
    try:
        write_report(run_dir, out_path)
    except (ValueError, KeyError) as e:
        raise PyruleError(f"{os.path.join(run_dir, 'stats.json')} cannot be read: {e}",
                          hint="the run's record is damaged or from another pyrule; pick another with --run") from None
    except OSError as e:
        raise UsageError(f"--report {out}: cannot write it: {e.strerror or e}",
                         hint="name a file in a writable directory") from None
    console.note(f"report of run {os.path.basename(run_dir)} written to {out}")
    return 0


def dag_command(graph, fmt: str, decisions, console) -> int:
    from ..dag import render, render_png

    if fmt == "png":
        if sys.stdout.isatty():
            raise UsageError("--dag png writes a PNG image to standard output, which is a terminal here",
                             hint="redirect it to a file: pyrule --dag png > dag.png")
        data = render_png(graph, decisions)
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    console.out(render(graph, fmt, decisions))
    return 0
