"""The `pyrule` command: parse options, call the stages, show what happened.

Only this module and ui.py know about terminals; the stages below them return data.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import executors
from .errors import PyruleError, UsageError
from .project import STATE_DIR, find_pipefile
from .version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = "Run the rules of a Pipefile: only the jobs whose results are stale, in parallel."
_EPILOG = """examples:
  pyrule                      build the default targets
  pyrule -n                   show what would run, and why (-n -p: with the commands)
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


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is a UsageError (one line and a hint, exit 2), not a usage dump."""

    def error(self, message: str):  # type: ignore[override]
        hint = "pyrule --help lists the options"
        if message.startswith("argument --dag"):
            hint = f"write --dag=FORMAT, FORMAT one of {', '.join(DAG_FORMATS)}; other words are targets"
        raise UsageError(message, hint=hint)


DAG_FORMATS = ("dot", "mermaid", "json", "svg", "png")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pyrule", description=_DESCRIPTION, epilog=_EPILOG, formatter_class=_Formatter)
    p.add_argument("targets", nargs="*", metavar="TARGET", help="files or rule names to build, and NAME=VALUE overrides")
    p.add_argument("-f", "--file", metavar="FILE", help="the Pipefile (default: ./Pipefile, else the nearest one above)")
    p.add_argument("-C", "--directory", metavar="DIR", help="change to DIR first")
    p.add_argument("-n", "--dry-run", action="store_true", help="print the jobs that would run, in order, with reasons")
    p.add_argument("-p", "--print-commands", action="store_true",
                   help="print each job's command as it starts (with -n: the commands that would run)")
    p.add_argument("-j", "--jobs", type=_positive_int, metavar="N",
                   help="cores budget (default: CPU count)" + "".join(
                       f"; with --executor {name}: {e.jobs}" for name, e in executors.EXECUTORS.items() if e.jobs))
    p.add_argument("--mem", metavar="SIZE", help="memory budget, e.g. 16G (default: physical RAM)")
    # One or more NAME=N: _prepare() splits them into one --resources=NAME=N each.
    p.add_argument("--resources", action="append", metavar="NAME=N", default=[], help="custom resource budgets")
    p.add_argument("-k", "--keep-going", action="store_true", help="after a failure, go on with independent jobs")
    p.add_argument("-B", "--force-all", action="store_true", help="rerun every job")
    p.add_argument("--force", action="append", default=[], metavar="TARGET",
                   help="rerun TARGET's jobs (a file, job, rule or rule glob) and everything after them")
    p.add_argument("--overwrite-protected", action="store_true",
                   help="rerun jobs whose protected() outputs exist (else refused before anything runs)")
    p.add_argument("--delete-orphans", action="store_true",
                   help="remove outputs of jobs a checkpoint no longer asks for")
    p.add_argument("--until", action="append", default=[], metavar="TARGET",
                   help="run only what TARGET (a file, job, rule or rule glob) needs, TARGET included")
    p.add_argument("--why", metavar="TARGET", help="explain why TARGET (a file, job or rule) is or is not up to date")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a '?=' variable")
    # issue 22 (configuration): applied over the Pipefile's `configfile:`; --config takes the KEY=VALUE words that follow
    p.add_argument("--configfile", action="append", default=[], metavar="FILE",
                   help="a YAML, JSON or TOML file of config values, over the Pipefile's configfile")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="set config[KEY]; takes the KEY=VALUE words that follow")
    p.add_argument("--list", action="store_true", help="list the rules with their descriptions, inputs and outputs")
    # `--dag` alone is dot; a format is --dag=FORMAT or one of these words (_prepare): a path stays a target.
    p.add_argument("--dag", choices=DAG_FORMATS, metavar="FORMAT",
                   help=f"print the job graph with each job's current status ({', '.join(DAG_FORMATS)}; "
                        "default dot; png needs Graphviz)")
    p.add_argument("--status", action="store_true", help="show every target's state")
    p.add_argument("--stats", nargs="?", const="", metavar="RULE", help="the last run's per-job table, or RULE over all runs")
    p.add_argument("--report", nargs="?", const="pyrule-report.html", metavar="FILE", help="write an HTML report of the last run")
    p.add_argument("--run", metavar="RUN-ID", help="with --report: the recorded run to report (default: the last)")
    p.add_argument("--executor", choices=executors.names(), default=executors.DEFAULT, help="where jobs run")
    for flag, name, _option, text in _executor_options():
        p.add_argument(flag, metavar="NAME", help=f"with --executor {name}: {text}")
    # Snakemake users: their Snakefile as a Pipefile (convert.py, docs/from-snakemake.md)
    p.add_argument("--convert", metavar="SNAKEFILE", help="write SNAKEFILE as a Pipefile (to stdout or -o FILE); "
                   "what does not convert is kept as comments and listed on stderr")
    p.add_argument("-o", "--output", metavar="FILE", help="with --convert: write the Pipefile to FILE")
    p.add_argument("--run-job", metavar="NAME", help=argparse.SUPPRESS)  # on a Slurm node: run one job's body here
    p.add_argument("--lsp", action="store_true",  # pyrule/lsp/, the optional extra pyrule[lsp]
                   help="serve the Language Server Protocol on stdin/stdout, for editors (pip install 'pyrule[lsp]')")
    p.add_argument("-q", "--quiet", action="count", default=0, help="less output")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more output")
    # pyrule --fmt [--check] [FILE ...] (fmt.py): the targets name the files; nothing runs
    p.add_argument("--fmt", action="store_true", help="rewrite the Pipefile (or the files named as TARGETs; - for stdin) in the canonical layout")
    p.add_argument("--check", action="store_true", help="with --fmt: write nothing; exit 1 and show the diff if a file would change")
    p.add_argument("--version", action="version", version=f"pyrule {__version__}")
    # issue 20: the cache of job results (cache.py, docs/cache.md)
    p.add_argument("--cache", metavar="DIR", help="restore stale jobs' outputs from the cache DIR, and publish new "
                   "ones there (also $PYRULE_CACHE, or `cache:` in the Pipefile; --cache '' turns it off)")
    p.add_argument("--cache-info", action="store_true", help="the cache's size, entries and the hit rate of its last run")
    p.add_argument("--cache-prune", metavar="SIZE", help="shrink the cache to SIZE (e.g. 50G), least recently used first")
    p.add_argument("--value", metavar="JOB", help="print the value JOB's Python body returned at its last success, as JSON")
    # issue 19, software environments (containers.py, venvs.py; docs/environments.md)
    p.add_argument("--container-engine", metavar="NAME", help="run container: rules with NAME (podman, docker, "
                   "apptainer, singularity or a path; default: the first of these on PATH)")
    p.add_argument("--build-envs", action="store_true", help="build every venv: environment and check every "
                   "container: image, without running jobs")
    # issue 21: submit to Slurm and exit; a later run collects (detach.py, docs/slurm.md#detach)
    p.add_argument("--detach", action="store_true", help="submit every job (each waits for those it needs) and "
                   "exit, with an executor whose jobs outlive pyrule (" + ", ".join(
                       n for n, e in executors.EXECUTORS.items() if e.detach) + "); --status follows them, a later "
                   "run collects them")
    # issue 22 commands (cmds): in their own modules
    from . import commands, completion, settings

    commands.add_arguments(p)
    settings.add_arguments(p)
    completion.add_arguments(p)
    return p


def _executor_options() -> list[tuple[str, str, str, str]]:
    """(--NAME-OPTION, NAME, OPTION, help) of each registered executor's options."""
    return [(f"--{name}-{option}", name, option, text)
            for name, e in executors.EXECUTORS.items() for option, text in e.options.items()]


_LONG = ("--file", "--directory", "--dry-run", "--print-commands", "--jobs", "--mem", "--resources", "--keep-going",
         "--force-all", "--force", "--overwrite-protected", "--delete-orphans", "--until", "--why", "--set",
         "--list", "--dag", "--status", "--stats", "--report", "--run", "--executor", "--convert", "--output", "--run-job", "--quiet",
         "--verbose", "--version", "--help", "--configfile", "--config",
         "--fmt", "--check")
_LSP = ("--lsp",)  # the language server (pyrule/lsp/)
_CACHE_LONG = ("--cache", "--cache-info", "--cache-prune", "--value")  # issue 20 (cache.py, values.py)
_ENVS = ("--container-engine", "--build-envs")  # issue 19 (containers.py, venvs.py)
_DETACH = ("--detach",)  # issue 21 (detach.py)


def long_options() -> tuple[str, ...]:
    """Every long option, the registered executors' (--NAME-OPTION) included: asked at each use,
    as an executor may be registered after this module is imported."""
    from . import commands, completion, settings

    return _LONG + _LSP + _CACHE_LONG + _ENVS + _DETACH + commands.LONG + settings.LONG + completion.LONG + tuple(flag for flag, *_ in _executor_options())
_SHORT = ("-f", "-C", "-n", "-p", "-j", "-k", "-B", "-q", "-v", "-h", "-o")

# What Make and Snakemake users type, in pyrule's words.
_OTHER_TOOLS = {
    "--cores": "the cores budget is -j N (--jobs N)",
    "-c": "the cores budget is -j N (--jobs N)",
    "--dryrun": "a dry run is -n (--dry-run)",
    "--just-print": "a dry run is -n (--dry-run)",
    "--recon": "a dry run is -n (--dry-run)",
    "--forceall": "rerunning every job is -B (--force-all)",
    "--always-make": "rerunning every job is -B (--force-all)",
    "-F": "rerunning every job is -B (--force-all)",
    "--forcerun": "rerunning a target's jobs and what follows is --force TARGET",
    "-R": "rerunning a target's jobs and what follows is --force TARGET",
    "--printshellcmds": "printing the commands is -p (--print-commands)",
    "--configfiles": "write --configfile FILE once per file",
    "--snakefile": "the Pipefile is named with -f FILE",
    "-s": "the Pipefile is named with -f FILE",
    "--makefile": "the Pipefile is named with -f FILE",
    "-d": "the directory is -C DIR (--directory DIR)",
    "--list-rules": "the rules are listed by --list",
    "--rulegraph": "the job graph is --dag",
    "--detailed-summary": "every output's job, date and state is --summary",
    "--list-params-changes": "the outputs whose params changed are --list-changes params",
    "--list-code-changes": "the outputs whose code changed are --list-changes code",
    "--list-input-changes": "the outputs whose input set changed are --list-changes input",
    "--profile": "a project's defaults go in pyrule.toml beside the Pipefile (pyrule --show-config shows them)",
    "--workflow-profile": "a project's defaults go in pyrule.toml beside the Pipefile (pyrule --show-config shows them)",
    "-t": "marking outputs up to date without running is --touch",
}


def _unknown_option(arg: str) -> UsageError:
    import difflib

    name = arg.split("=", 1)[0]
    hint = _OTHER_TOOLS.get(name)
    if hint is None:
        long = long_options()
        close = difflib.get_close_matches(name, long if name.startswith("--") else long + _SHORT, n=1, cutoff=0.75)
        hint = f"did you mean {close[0]}?" if close else "pyrule --help lists the options"
    return UsageError(f"unknown option {name}", hint=hint)


def _prepare(argv: list[str]) -> list[str]:
    """argv for argparse: long option abbreviations spelt out; `--dag` takes a format only as
    --dag=FORMAT or one of DAG_FORMATS (`--dag results/x.tsv` keeps the target); `--resources`
    takes its first value and then the NAME=NUMBER words that follow (`--resources gpus=1 other`
    keeps the target `other`, and `NORM=l1` after it stays an override)."""
    out: list[str] = []
    long = long_options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":  # the rest are targets
            out += argv[i - 1:]
            break
        if not arg.startswith("--"):
            out.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name not in long:
            matches = [o for o in long if o.startswith(name)]
            name = matches[0] if len(matches) == 1 else name
        if name == "--dag" and not eq:
            if i < len(argv) and argv[i] in DAG_FORMATS:
                value, i = argv[i], i + 1
            out.append("--dag=" + (value or "dot"))
        elif name == "--config":  # like Snakemake's: every KEY=VALUE word that follows
            values = [value] if eq else []
            while i < len(argv) and not argv[i].startswith("-") and (not values or "=" in argv[i]):
                values.append(argv[i])
                i += 1
            out += [f"--config={v}" for v in values] if values else [name]
        elif name == "--resources":
            values = [value] if eq else []
            if not eq and i < len(argv) and not argv[i].startswith("-"):
                values.append(argv[i])
                i += 1
            while i < len(argv) and _is_budget(argv[i]):
                values.append(argv[i])
                i += 1
            out += [f"--resources={v}" for v in values] if values else [name]
        else:
            out.append(name + eq + value)
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line as pyrule reads it; a mistake raises UsageError (--help and --version
    exit, as argparse does). Intermixed: targets, NAME=VALUE and options in any order, as with make."""
    argv = _prepare(argv)
    after = argv.index("--") if "--" in argv else len(argv)  # what follows `--` is targets
    args, unknown = build_parser().parse_known_intermixed_args(argv[:after])
    if unknown:
        raise _unknown_option(unknown[0])
    args.targets += argv[after + 1:]
    return args


def override_args(args: argparse.Namespace) -> list[str]:
    """The NAME=VALUE overrides of a command line: positional ones, then --set ones."""
    return [t for t in args.targets if _is_override(t)] + list(args.set)


def config_args(args: argparse.Namespace) -> list[str]:
    """The run's --configfile and --config as words a Slurm node's `pyrule --run-job ... -- WORDS`
    takes back (_config_arg): a node loads the Pipefile with the same config."""
    return [f"--configfile={os.path.abspath(f)}" for f in args.configfile] + [f"--config={v}" for v in args.config]


def _config_arg(word: str, args: argparse.Namespace) -> bool:
    for flag in ("--configfile", "--config"):
        if word.startswith(flag + "="):
            getattr(args, flag[2:]).append(word[len(flag) + 1:])
            return True
    return False


def _is_budget(arg: str) -> bool:
    name, sep, value = arg.partition("=")
    try:
        float(value)
    except ValueError:
        return False
    return bool(sep) and name.isidentifier()


def check_options(args: argparse.Namespace, executors_too: bool = True) -> None:
    """Every option's value, before anything is read or planned: a dry run, a no-op run and a
    real run refuse the same mistakes, with the same words. `executors_too` False: not yet
    whether an executor's options go with --executor, which a project's pyrule.toml may set
    (settings.apply_settings checks it then)."""
    import math

    from .units import parse_size

    if args.mem is not None:
        try:
            parse_size(args.mem)
        except ValueError as e:
            raise UsageError(f"--mem {args.mem}: {e}") from None
    for item in args.resources:
        name, sep, value = item.partition("=")
        try:
            n = float(value) if sep and name.isidentifier() else -1.0
        except ValueError:
            n = -1.0
        if not (0 <= n and math.isfinite(n)):
            raise UsageError(f"--resources {item}: write NAME=N, e.g. gpus=2 or disk_io=4")
    if args.check and not args.fmt:
        raise UsageError("--check: only with --fmt", hint="write pyrule --fmt --check [FILE ...]")
    if args.output is not None and args.convert is None:
        raise UsageError(f"-o {args.output}: only with --convert", hint=f"write pyrule --convert Snakefile -o {args.output}")
    if args.run is not None and args.report is None:
        raise UsageError(f"--run {args.run}: only with --report", hint=f"write pyrule --report --run {args.run}")
    if args.detach and executors_too and not executors.EXECUTORS[args.executor].detach:
        able = [n for n, e in executors.EXECUTORS.items() if e.detach]
        raise UsageError(f"--detach: not with --executor {args.executor}, whose jobs end with pyrule",
                         hint=f"write pyrule --executor {able[0]} --detach" if able else None)
    for flag, name, _option, _text in _executor_options() if executors_too else ():
        value = getattr(args, _dest(flag))
        if value is not None and args.executor != name:
            raise UsageError(f"{flag} {value}: only with --executor {name}",
                             hint=f"write pyrule --executor {name} {flag} {value}")


def _dest(flag: str) -> str:
    """argparse's attribute for a long option."""
    return flag[2:].replace("-", "_")


def executor_options(args: argparse.Namespace) -> dict[str, str]:
    """The chosen executor's options given on the command line, as OPTION=VALUE for its class."""
    return {option: value for flag, name, option, _text in _executor_options()
            if name == args.executor and (value := getattr(args, _dest(flag)))}


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
        check_options(args, executors_too=False)
    except SystemExit as e:  # --help, --version
        return EXIT_USAGE if e.code else EXIT_OK
    except UsageError as e:
        from .ui import Console

        Console().error(e)
        return e.exit_code
    from .ui import Console

    console = Console(quiet=args.quiet, verbose=args.verbose)
    import gc

    was_enabled = gc.isenabled()
    try:
        if args.lsp:  # the language server: no Pipefile is read here (pyrule/lsp/)
            from .lsp import serve

            return serve()
        return _main(args, argv, console)
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


def _main(args: argparse.Namespace, argv: list[str], console) -> int:
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
    if args.convert is not None:  # reads a Snakefile: no Pipefile needed
        from .convert import convert_command

        return convert_command(args.convert, args.output, console)
    if args.fmt:  # pyrule --fmt [--check] [FILE ...] (fmt.py): no run
        from .fmt import fmt_command

        found = None if args.targets or args.file else find_pipefile(os.getcwd())
        if not (args.targets or args.file or found):
            raise UsageError("no Pipefile here or in any parent directory", hint="name the files: pyrule --fmt FILE ...")
        return fmt_command(args.targets or [args.file or os.path.relpath(str(found))], args.check, console)
    if args.report is not None:  # reads the recorded run only: no Pipefile needed
        from .report.command import report_command

        return report_command(args.report, args.run, args.file, console)
    if (args.cache_info or args.cache_prune) and (args.cache or os.environ.get("PYRULE_CACHE")):  # no Pipefile needed
        from .cache import cache_command

        return cache_command(args.cache, None, args.cache_prune, console)
    if args.completion or args.complete_targets:  # reads no Pipefile's Python (completion.py)
        from .completion import completion_command

        return completion_command(args, console, build_parser)
    from .load import load, other_case, parse_override

    targets = [t for t in args.targets if not _is_override(t)]
    overrides = dict(parse_override(t) for t in override_args(args))
    from .config import Config

    if args.run_job:  # a Slurm node: the run's --configfile/--config come among the targets (config_args)
        targets = [t for t in targets if not _config_arg(t, args)]
    config = Config(args.configfile, args.config)  # (read here: their paths are relative to where pyrule was started)
    config_words = config_args(args)  # (absolute paths: for a node)
    if args.file:
        pipefile = args.file
        if not os.path.isfile(pipefile):
            raise UsageError(f"-f {args.file}: no such file", hint="name an existing Pipefile")
    else:
        found = find_pipefile(os.getcwd())
        if found is None:
            raise UsageError("no Pipefile here or in any parent directory",
                             hint=other_case("Pipefile") or _snakefile_hint() or
                             "create a Pipefile, or name one with -f FILE (see README: quick start)")
        # Paths in messages stay short and relative, as people wrote them.
        home = os.path.dirname(found)
        if home != os.getcwd():
            os.chdir(home)
        pipefile = "Pipefile"
    from .settings import apply_settings

    # pyrule.toml or [tool.pyrule]; True: --show-config done (the parser's functions given: no import cycle)
    if apply_settings(args, _prepare(argv), pipefile, console, build_parser, check_options):
        return EXIT_OK
    rules = load(pipefile, overrides, config=config)
    if args.run_job:  # a Slurm job script runs a python body this way (executors/slurm.py)
        from .executors.node import run_job

        rules.cores_budget = float("inf")  # `cores = upto(N)`: N, as submitted

        return run_job(rules, args.run_job, targets)

    if args.cache_info or args.cache_prune:  # the Pipefile's `cache:`
        from .cache import cache_command

        return cache_command(args.cache, rules.cache, args.cache_prune, console)
    if args.value is not None:  # issue 20: a job's value (values.py)
        from .run import open_state
        from .values import value_command

        return value_command(args.value, rules, open_state(readonly=True, console=console), console.out)
    _check_budget_names(args.resources, rules)
    # `cores = upto(N)` gets min(N, -j); an executor whose -j is not the cores budget (Slurm) shares none
    rules.cores_budget = (args.jobs or os.cpu_count() or 1) if executors.EXECUTORS[args.executor].jobs is None \
        else float("inf")
    if args.list:
        console.rule_list(rules)
        return EXIT_OK
    if args.container_engine:  # (in the environment: a Slurm job script runs the engine too)
        os.environ["PYRULE_CONTAINER_ENGINE"] = args.container_engine
    if args.build_envs:
        from .containers import build_all

        return build_all(rules, console.out)
    if args.stats is not None:
        from .stats_view import show_stats

        return show_stats(console, args.stats or None)
    from .run import Options, check_software, dry_run, execute, known_unchanged, partial_graph

    options = Options(
        jobs=args.jobs, mem=args.mem, resources=args.resources, keep_going=args.keep_going,
        force_all=args.force_all, force=args.force, delete_orphans=args.delete_orphans,
        overwrite_protected=args.overwrite_protected, executor=args.executor, argv=list(argv),
        overrides=override_args(args) + config_words,
        print_commands=args.print_commands,
        executor_options=executor_options(args), cache=args.cache, detach=args.detach,
    )
    from . import commands

    if commands.wanted(args):  # --touch, --summary, --list-changes, --delete-all-output, --list-untracked
        from .plan import plan

        return commands.run(args, plan(rules, targets, until=args.until), rules, options, console)
    known = None
    if not (args.dag or args.why or args.status or args.force or args.force_all
            or os.environ.get("PYRULE_NOOP_MEMO") == "0"
            or (args.dry_run and not os.path.lexists(os.path.join(STATE_DIR, "state.db")))):  # (no store: no memo)
        # Nothing changed since a run that had nothing to do: say so without planning (noop_memo.py).
        from .noop_memo import memo_key

        options.noop_key = memo_key(rules, targets, args.until)
        # Some paths changed: a run decides only the jobs they reach (run.partial_graph).
        known = known_unchanged(options.noop_key, partial=not (args.dry_run or args.until)) \
            if options.noop_key else None
        if isinstance(known, tuple):
            console.unchanged(*known, dry_run=args.dry_run)
            return EXIT_OK
    from .plan import plan

    graph = partial_graph(known, rules, options, console) if known is not None and not isinstance(known, tuple) else None
    snapshot = None
    if graph is None:
        from .stat_cache import SnapshotStatCache  # (a dry run writes nothing: empty directories stay so)

        # -n: sources as exists-only entries (StatCache's exists_only: ~160 bytes a source less)
        snapshot = SnapshotStatCache(exists_only=True) if args.dry_run else None
        graph = plan(rules, targets, until=args.until, stats=snapshot)
    check_software(rules, graph)  # images and environments, before any job starts (issue 19)
    if args.dag:
        from .report.command import dag_command

        return dag_command(graph, args.dag, dry_run(graph, rules, options), console)
    if args.why:
        jobs = graph.select(args.why)
        if not jobs:  # not among the requested targets' jobs: its own graph
            graph, jobs = _graph_of(rules, args.why)
        return console.why(dry_run(graph, rules, options, console), jobs)
    if args.status:
        from .status import job_status

        console.out("\n".join(f"{name}: {text}" for name, text in job_status(graph, rules, options)))
        return EXIT_OK
    if args.dry_run:
        if graph.planner is not None:  # (nothing is re-planned in a dry run: memory back before deciding)
            graph.planner.release()
        if snapshot is not None:  # (planning and the Pipefile's functions are over: nothing writes now)
            snapshot.frozen = True
        if not options.force:  # (only --force FILE looks a job up by its output here: ~40 bytes a job)
            graph.producers = {}
        decisions = dry_run(graph, rules, options, console)
        if args.cache or (args.cache is None and (os.environ.get("PYRULE_CACHE") or rules.cache)):  # cache.py
            from .cache import annotate_dry_run

            annotate_dry_run(decisions, args.cache, rules.cache)
        console.plan(decisions, _commands(decisions, rules) if args.print_commands else None)
        from .executors import preview  # --executor slurm: the sbatch commands and scripts

        for text in preview(decisions, rules, options):
            console.out(text.rstrip("\n"))
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


def _snakefile_hint() -> str | None:
    """A Snakemake user's directory: say how its Snakefile becomes a Pipefile."""
    found = next((p for p in ("Snakefile", "snakefile", "workflow/Snakefile") if os.path.isfile(p)), None)
    return f"{found} is here: pyrule --convert {found} -o Pipefile writes it as a Pipefile" if found else None


def _check_budget_names(resources: list[str], rules) -> None:
    """`--resources gpus=1 N=2` reads N=2 as a budget: when no rule asks for N and the Pipefile
    has a variable N, it was meant as an override."""
    asked = {k for rule in rules.rules.values() for k in rule.resources}
    for item in resources:
        name = item.partition("=")[0]
        if name not in asked and name in rules.namespace:
            raise UsageError(f"--resources {item}: no rule asks for {name}, a variable of the Pipefile",
                             hint=f"to override it, write {item} before --resources, or --set {item}")


def _graph_of(rules, name: str):
    """--why NAME for a file, job or rule outside the requested targets' graph: NAME's own graph."""
    from .plan import job_target, plan

    target = job_target(rules, name) or name
    try:
        graph = plan(rules, [target])
    except UsageError as e:
        if not e.message.startswith("unknown target"):
            raise
        raise UsageError(f"--why {name}: no rule of the Pipefile makes it or is so named",
                         hint=e.hint if e.hint and e.hint.startswith("did you mean") else
                         "name a file, a job or a rule (pyrule -n lists the jobs, --list the rules)") from None
    return graph, graph.select(name) or graph.select(target)


def _commands(decisions, rules) -> dict[str, str]:
    """-n -p: what each job that would run would run (as far as it can be told before the run)."""
    from .jobspec import command_text

    commands: dict[str, str] = {}
    for d in decisions:
        if d.reason is not None and not d.pending:
            try:
                text = command_text(d.job, rules.namespace)
            except PyruleError as e:
                text = f"(the command cannot be shown before the run: {e.message})"
            if text is not None:
                commands[d.job.name] = text
    return commands


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
