"""The `pyrule` command: parse options, call the stages, show what happened.

Only this module and ui.py know about terminals; the stages below them return data.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .errors import PyruleError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = "Run the rules of a Pipefile: only the jobs whose results are stale, in parallel."
_EPILOG = """examples:
  pyrule                      build the default targets
  pyrule -n                   show what would run, and why
  pyrule counts/a.tsv report  build a file and a rule
  pyrule MIN_LEN=40           override a '?=' variable
  pyrule --until count        run only what the 'count' jobs need, and them
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, given the width: left to itself, it imports shutil (and with it
    bz2 and lzma, ~4 ms) on every start, even when no help is printed."""

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            try:
                width = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
            except (OSError, ValueError, AttributeError):
                width = 80
        super().__init__(prog, width=max(width, 20) - 2)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyrule", description=_DESCRIPTION, epilog=_EPILOG, formatter_class=_Formatter)
    p.add_argument("targets", nargs="*", metavar="TARGET", help="files or rule names to build, and NAME=VALUE overrides")
    p.add_argument("-f", "--file", metavar="FILE", help="the Pipefile (default: ./Pipefile, else the nearest one above)")
    p.add_argument("-C", "--directory", metavar="DIR", help="change to DIR first")
    p.add_argument("-n", "--dry-run", action="store_true", help="print the jobs that would run, in order, with reasons")
    p.add_argument("-j", "--jobs", type=_positive_int, metavar="N",
                   help="cores budget (default: CPU count); with --executor slurm: jobs submitted at once (default 100)")
    p.add_argument("--mem", metavar="SIZE", help="memory budget, e.g. 16G (default: physical RAM)")
    p.add_argument("--resources", nargs="+", metavar="NAME=N", default=[], help="custom resource budgets")
    p.add_argument("-k", "--keep-going", action="store_true", help="after a failure, go on with independent jobs")
    p.add_argument("-B", "--force-all", action="store_true", help="rerun every job")
    p.add_argument("--force", action="append", default=[], metavar="TARGET", help="rerun TARGET's job and everything after it")
    p.add_argument("--overwrite-protected", action="store_true",
                   help="rerun jobs whose protected() outputs exist (else refused before anything runs)")
    p.add_argument("--delete-orphans", action="store_true",
                   help="remove outputs of jobs a checkpoint no longer asks for")
    p.add_argument("--until", action="append", default=[], metavar="TARGET", help="run only what TARGET needs, TARGET included")
    p.add_argument("--why", metavar="TARGET", help="explain why TARGET is or is not up to date")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a '?=' variable")
    p.add_argument("--list", action="store_true", help="list the rules with their descriptions, inputs and outputs")
    p.add_argument("--dag", nargs="?", const="dot", choices=["dot", "mermaid", "json", "svg", "png"],
                   help="print the job graph with each job's current status (png needs Graphviz)")
    p.add_argument("--status", action="store_true", help="show every target's state")
    p.add_argument("--stats", nargs="?", const="", metavar="RULE", help="the last run's per-job table, or RULE over all runs")
    p.add_argument("--report", nargs="?", const="pyrule-report.html", metavar="FILE", help="write an HTML report of the last run")
    p.add_argument("--run", metavar="RUN-ID", help="with --report: the recorded run to report (default: the last)")
    p.add_argument("--executor", choices=["local", "slurm"], default="local", help="where jobs run")
    p.add_argument("--slurm-partition", metavar="NAME", help="with --executor slurm: default partition (sbatch -p)")
    p.add_argument("--slurm-account", metavar="NAME", help="with --executor slurm: default account (sbatch -A)")
    p.add_argument("--run-job", metavar="NAME", help=argparse.SUPPRESS)  # on a Slurm node: run one job's body here
    p.add_argument("-q", "--quiet", action="count", default=0, help="less output")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more output")
    p.add_argument("--version", action="version", version=f"pyrule {__version__}")
    return p


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def find_pipefile(start: str) -> str | None:
    """./Pipefile, else the nearest Pipefile in a parent directory (like git); `start` is absolute."""
    while True:
        candidate = os.path.join(start, "Pipefile")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(start)
        if parent == start:
            return None
        start = parent


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage error
        return EXIT_USAGE if e.code else EXIT_OK
    from .ui import Console

    console = Console(quiet=args.quiet, verbose=args.verbose)
    import gc

    was_enabled = gc.isenabled()
    try:
        return _main(args, console)
    except PyruleError as e:
        console.error(e)
        return e.exit_code
    except KeyboardInterrupt:
        console.plain("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # noqa: BLE001 - a bug in pyrule, not the user's mistake
        console.internal_error(e)
        return 3
    finally:
        # The command exits here (run_cli), but a caller that goes on (the API, tests) must get
        # its collector back: frozen and uncollected objects of this call would never be freed.
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def _main(args: argparse.Namespace, console) -> int:
    import gc

    # Loading, planning and deciding allocate a great many objects and free no cycles: the
    # cyclic collector would only rescan them (half of planning time on 50k jobs). The runner
    # turns it back on, with these objects frozen, before it starts jobs.
    gc.disable()
    if args.directory:
        try:
            os.chdir(args.directory)
        except OSError as e:
            raise UsageError(f"-C {args.directory}: {e.strerror}", hint="name an existing directory") from None
    if args.report is not None:  # reads the recorded run only: no Pipefile needed
        from .report.command import report_command

        return report_command(args.report, args.run, args.file, console)
    from .load import load, other_case, parse_override

    targets = [t for t in args.targets if not _is_override(t)]
    overrides = dict(parse_override(t) for t in [*(t for t in args.targets if _is_override(t)), *args.set])
    if args.file:
        pipefile = args.file
        if not os.path.isfile(pipefile):
            raise UsageError(f"-f {args.file}: no such file", hint="name an existing Pipefile")
    else:
        found = find_pipefile(os.getcwd())
        if found is None:
            raise UsageError("no Pipefile here or in any parent directory",
                             hint=other_case("Pipefile") or "create a Pipefile, or name one with -f FILE (see README: quick start)")
        # Paths in messages stay short and relative, as people wrote them.
        home = os.path.dirname(found)
        if home != os.getcwd():
            os.chdir(home)
        pipefile = "Pipefile"
    rules = load(pipefile, overrides)
    if args.run_job:  # a Slurm job script runs a python body this way (executors/slurm.py)
        from .executors.slurm import run_job

        return run_job(rules, args.run_job, targets)

    if args.list:
        console.rule_list(rules)
        return EXIT_OK
    if args.stats is not None:
        from .stats_view import show_stats

        return show_stats(console, args.stats or None)
    from .run import Options, dry_run, execute, known_unchanged

    options = Options(
        jobs=args.jobs, mem=args.mem, resources=args.resources, keep_going=args.keep_going,
        force_all=args.force_all, force=args.force, delete_orphans=args.delete_orphans,
        overwrite_protected=args.overwrite_protected, executor=args.executor, argv=sys.argv[1:],
        executor_options={k: v for k, v in (("partition", args.slurm_partition), ("account", args.slurm_account))
                          if v} if args.executor == "slurm" else {},
    )
    if not (args.dag or args.why or args.status or args.force or args.force_all
            or os.environ.get("PYRULE_NOOP_MEMO") == "0"):
        # Nothing changed since a run that had nothing to do: say so without planning (noop_memo.py).
        from .noop_memo import memo_key

        options.noop_key = memo_key(rules, targets, args.until)
        known = known_unchanged(options.noop_key) if options.noop_key else None
        if known is not None:
            console.unchanged(*known, dry_run=args.dry_run)
            return EXIT_OK
    from .plan import plan

    graph = plan(rules, targets, until=args.until)
    if args.dag:
        from .report.command import dag_command

        return dag_command(graph, args.dag, dry_run(graph, rules, options), console)
    if args.why:
        return console.why(dry_run(graph, rules, options, console), args.why)
    if args.status:
        from .status import job_status

        console.out("\n".join(f"{name}: {text}" for name, text in job_status(graph, rules, options)))
        return EXIT_OK
    if args.dry_run:
        decisions = dry_run(graph, rules, options, console)
        console.plan(decisions)
        if not args.overwrite_protected:  # say now what the run would refuse
            from .run import check_protected

            try:
                check_protected([d for d in decisions if d.reason is not None])
            except UsageError as e:
                console.warn(f"the run would be refused: {e.message}; --overwrite-protected allows it")
        from .orphans import find_orphans
        from .run import open_state

        for name, outputs in find_orphans(graph, open_state(readonly=True)):
            console.out(f"orphaned: {', '.join(outputs)} (made by {name}, no longer in the graph; --delete-orphans removes it)")
        return EXIT_OK
    return execute(graph, rules, options, console)


def _is_override(arg: str) -> bool:
    name, sep, _ = arg.partition("=")
    return bool(sep) and name.isidentifier()


def run_cli() -> None:
    """The `pyrule` command: main(), then exit without tearing the interpreter down.

    Freeing hundreds of thousands of planned objects one by one at exit takes longer than
    planning some of them; the process is ending, so the kernel reclaims the memory at once.
    Everything pyrule writes is flushed or closed before this point.
    """
    code = main()
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)  # a profiler or coverage tool wants its report written at exit
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, OSError):
        pass
    os._exit(code)
