"""A project's defaults for pyrule's options: `pyrule.toml` beside the Pipefile, else the table
`[tool.pyrule]` of `pyproject.toml` there. A key is a long option's name (`jobs`, `mem`,
`keep-going`, `executor`, `slurm-partition`, ...; `_` may stand for `-`); the command line wins
over it. Commands (`--touch`, `--dag`, `-n`, ...) are not defaults. `--show-config` prints the
effective settings and where each came from.

    jobs = 8
    mem = "32G"
    keep-going = true
    resources = { gpus = 1 }
    executor = "slurm"
    slurm-partition = "short"
"""

from __future__ import annotations

import argparse
import os
import re

from .errors import Location, UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable

SETTINGS_FILES = ("pyrule.toml", "pyproject.toml")
LONG = ("--show-config",)

# Options that are not defaults of a project: commands, one-shot choices, and what names the Pipefile.
_NOT_SETTINGS = {
    "help", "version", "file", "directory", "dry-run", "force-all", "force", "until", "why", "set", "list",
    "dag", "status", "stats", "report", "run", "run-job", "touch", "summary", "list-changes",
    "delete-all-output", "list-untracked", "show-config", "completion", "complete-targets",
    "lsp", "fmt", "check", "convert", "output",
    "cache-info", "cache-prune",  # commands of the cache (cache.py); `cache = "DIR"` is a setting
    "config", "configfile",  # read before pyrule.toml; the Pipefile's `configfile:` is the project's
    "detach",  # a default would detach the run that is to collect too (detach.py)
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--show-config", action="store_true",
                   help="print the effective settings (pyrule.toml or [tool.pyrule] in pyproject.toml, "
                        "then the command line) and where each came from")


class _Settings:
    """Key -> (value, location) read from one file."""

    def __init__(self, path: str, table: str, values: dict, text: str):
        self.path = path
        self.table = table
        self.values = values
        self.text = text

    def loc(self, key: str) -> Location:
        return _locate(self.path, self.text, self.table, key)


def read_settings(directory: str) -> _Settings | None:
    """The project's settings file in `directory`, read; None without one."""
    toml = os.path.join(directory, "pyrule.toml") if directory else "pyrule.toml"
    if os.path.isfile(toml):
        return _read(toml, "")
    pyproject = os.path.join(directory, "pyproject.toml") if directory else "pyproject.toml"
    try:
        with open(pyproject, "rb") as f:
            if b"tool.pyrule" not in f.read():  # most pyproject.toml files: no TOML parser imported
                return None
    except OSError:
        return None
    return _read(pyproject, "tool.pyrule")


def _read(path: str, table: str) -> _Settings | None:
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

    try:
        with open(path, "rb") as f:
            data = f.read()
        text = data.decode("utf-8")
        values = tomllib.loads(text)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text ({e.reason})", Location(path, 1)) from None
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        loc = Location(path, int(m.group(1)), int(m.group(2))) if m else Location(path, 1)
        raise UsageError(f"not valid TOML: {re.sub(r' [(]at .*[)]$', '', str(e))}", loc) from None
    for part in table.split(".") if table else []:
        values = values.get(part)
        if not isinstance(values, dict):
            return None
    return _Settings(path, table, values, text)


def _locate(path: str, text: str, table: str, key: str) -> Location:
    """Where `key` of `table` ("" the top level) is written: `key = ...` in the table, or its own
    `[table.key]` header."""
    header = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    current = ""
    for n, line in enumerate(text.splitlines(), 1):
        m = header.match(line)
        if m:
            current = m.group(1).replace('"', "").replace(" ", "")
            if current == (f"{table}.{key}" if table else key):
                return Location(path, n, line.index("[") + 1)
            continue
        if current == table:
            m = re.match(r"\s*([\"']?)([A-Za-z0-9_-]+)\1\s*[=.]", line)
            if m and m.group(2) == key:
                return Location(path, n, m.start(2) + 1 - len(m.group(1)))
    return Location(path, 1)


def settable(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Long option name (without --) -> its action, for every option a project may set."""
    out = {}
    for action in parser._actions:
        for flag in action.option_strings:
            name = flag[2:]
            if flag.startswith("--") and name not in _NOT_SETTINGS and action.help != argparse.SUPPRESS:
                out[name] = action
    return out


def _tokens(flag: str, action: argparse.Action, value, where: str) -> list[str]:
    """The command-line words that say `value` for this option."""
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise UsageError(f"{where}: write true or false, not {value!r}")
        return [flag] if value else []
    if isinstance(action, argparse._CountAction):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"{where}: write a count (0, 1, 2), not {value!r}")
        return [flag] * value
    if isinstance(action, argparse._AppendAction):
        if isinstance(value, dict):
            value = [f"{k}={v}" for k, v in value.items()]
        items = value if isinstance(value, list) else [value]
    else:
        items = [value]
    for v in items:
        if isinstance(v, (dict, list)) or isinstance(v, bool):
            raise UsageError(f"{where}: write a value, not {v!r}")
    return [f"{flag}={v}" for v in items]


def apply_settings(args: argparse.Namespace, argv: list[str], pipefile: str, console,
                   build_parser: Callable[[], argparse.ArgumentParser],
                   check_options: Callable[[argparse.Namespace], None]) -> bool:
    """Fill in the options that the command line leaves unset (`argv`, as cli._prepare spells it
    out) from the project's settings file; with --show-config, print the result and return True.
    `build_parser` and `check_options` are cli's."""
    settings = read_settings(os.path.dirname(pipefile))
    if settings is None and not args.show_config:
        check_options(args)  # the executor's options go with the executor (cli.main checked the rest)
        return False
    parser = build_parser()
    options = settable(parser)
    given = _given(parser, argv)
    sources: dict[str, str] = {}
    for key, value in (settings.values if settings else {}).items():
        if isinstance(value, dict) and key in _executor_names():  # [tool.pyrule.NAME]: that executor's own table
            continue
        name = key.replace("_", "-")
        action = options.get(name)
        if action is None:
            import difflib

            close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
            if name in ("config", "configfile"):
                hint = "a project's config file goes in the Pipefile: configfile: \"config.yaml\""
            elif name in _NOT_SETTINGS:
                hint = f"--{name} is a command or a one-off choice, not a project default"
            else:
                hint = f"did you mean '{close[0]}'?" if close else "the keys are pyrule's long options: pyrule --help"
            raise UsageError(f"unknown setting '{key}'", settings.loc(key), hint)  # type: ignore[union-attr]
        flag = "--" + name
        where = f"{name} = {value!r}"
        try:
            one = parser.parse_args(_tokens(flag, action, value, where))
            executor = next((e for e in _executor_names() if name.startswith(f"{e}-")), None)
            if executor:  # a Slurm profile: checked as if --executor slurm were given
                one.executor = executor
            check_options(one)
        except UsageError as e:
            message = e.message if e.message.startswith(where) else f"{where}: {e.message}"
            raise UsageError(message, settings.loc(key), e.hint) from None  # type: ignore[union-attr]
        except SystemExit:  # argparse's own exit (cannot happen for these actions)
            raise UsageError(f"{where}: not a value for {flag}", settings.loc(key)) from None  # type: ignore[union-attr]
        dest = action.dest
        if dest in given:
            if isinstance(action, argparse._AppendAction):  # per NAME: the command line's win
                mine = {str(v).partition("=")[0] for v in getattr(args, dest)}
                setattr(args, dest, [v for v in getattr(one, dest) if str(v).partition("=")[0] not in mine]
                        + getattr(args, dest))
                sources[dest] = f"{settings.loc(key)} and the command line"  # type: ignore[union-attr]
            continue
        setattr(args, dest, getattr(one, dest))
        sources[dest] = str(settings.loc(key))  # type: ignore[union-attr]
    for name, action in options.items():  # a Slurm profile applies only with --executor slurm
        executor = next((e for e in _executor_names() if name.startswith(f"{e}-")), None)
        if executor and args.executor != executor and action.dest in sources:
            setattr(args, action.dest, None)
            sources[action.dest] = f"{sources[action.dest]} (unused: not --executor {executor})"
    check_options(args)
    console.quiet, console.verbose = args.quiet, args.verbose
    if args.show_config:
        _show(console, settings, options, args, given, sources)
        return True
    return False


def _executor_names() -> list[str]:
    from . import executors

    return list(executors.EXECUTORS)


def _given(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The dests of the options on the command line (argv as cli._prepare leaves it)."""
    known = parser._option_string_actions
    given = set()
    for arg in argv:
        if arg == "--":
            break
        if arg.startswith("--"):
            action = known.get(arg.partition("=")[0])
            if action is not None:
                given.add(action.dest)
        elif arg.startswith("-") and len(arg) > 1:
            for c in arg[1:]:
                action = known.get("-" + c)
                if action is None:
                    break
                given.add(action.dest)
                if action.nargs != 0:  # the rest of the word is its value
                    break
    return given


def _show(console, settings: _Settings | None, options: dict[str, argparse.Action], args: argparse.Namespace,
          given: set[str], sources: dict[str, str]) -> None:
    import json

    if settings is None:
        console.out("# no settings file: no pyrule.toml here, no [tool.pyrule] in pyproject.toml")
    else:
        console.out(f"# settings: {settings.path}" + (f" [{settings.table}]" if settings.table else ""))
    rows = []
    for name, action in options.items():
        value = getattr(args, action.dest)
        if value is None or value == []:
            shown = "(unset)"
        elif isinstance(value, bool):
            shown = "true" if value else "false"
        else:
            shown = json.dumps(value)
        source = "command line" if action.dest in given and action.dest not in sources else \
            sources.get(action.dest, "default")
        rows.append((f"{name} = {shown}", source))
    width = max(len(r[0]) for r in rows)
    console.out("\n".join(f"{a.ljust(width)}  # {b}" for a, b in rows))
