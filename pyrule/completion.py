"""Shell completion: `pyrule --completion bash|zsh|fish` prints a script that completes pyrule's
options, their values, and the rule names and targets of the Pipefile at hand.

The script asks `pyrule --complete-targets` (hidden) for the names: it reads the Pipefile's syntax
tree only (from the parse cache when the Pipefile was parsed before, parse_cache.py) and never
runs its Python, so a Pipefile that is slow to load, or broken, completes as fast: rule names,
`default:` targets, and the outputs written as plain strings (no `{wildcard}`), includes too.
"""

from __future__ import annotations

import argparse
import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable

SHELLS = ("bash", "zsh", "fish")
LONG = ("--completion",)  # --complete-targets is hidden (as --run-job): never suggested
_FILE_OPTIONS = ("-f", "--file", "--report")
_DIR_OPTIONS = ("-C", "--directory")
_TARGET_OPTIONS = ("--why", "--until", "--force", "--stats")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--completion", choices=SHELLS, metavar="SHELL",
                   help="print a completion script for SHELL (bash, zsh or fish): "
                        'e.g. eval "$(pyrule --completion bash)" in ~/.bashrc')
    p.add_argument("--complete-targets", action="store_true", help=argparse.SUPPRESS)


def completion_command(args: argparse.Namespace, console, build_parser: Callable[[], argparse.ArgumentParser]) -> int:
    """`build_parser`: cli's (the options to complete)."""
    if args.complete_targets:
        from .errors import UsageError
        from .project import find_pipefile

        path = args.file or find_pipefile(os.getcwd())
        if path is None or not os.path.isfile(path):
            raise UsageError("no Pipefile here or in any parent directory")
        names = targets(path)
        if names:
            console.out("\n".join(names))
        return 0
    console.out(script(args.completion, build_parser()))
    return 0


def targets(path: str) -> list[str]:
    """Rule names, then `default:` targets and literal outputs, then `NAME=` for each `?=`
    variable, of the Pipefile and its includes."""
    names: list[str] = []
    paths: list[str] = []
    overrides: list[str] = []
    _collect(path, names, paths, overrides, set())
    return list(dict.fromkeys(names + paths + overrides))


def _collect(path: str, names: list[str], paths: list[str], overrides: list[str], seen: set[str]) -> None:
    from . import syntax as S
    from .errors import PipefileError
    from .parse_cache import parse_file

    real = os.path.realpath(path)
    if real in seen or not os.path.isfile(path):
        return
    seen.add(real)
    try:
        tree = parse_file(path)
    except PipefileError:  # a broken Pipefile completes nothing (the run will say why)
        return
    for stmt in tree.statements:
        if isinstance(stmt, S.RuleDecl):
            names.append(stmt.name)
            section = stmt.sections.get("output")
            for code in section.values if section else []:
                paths += _literals(code.text)
        elif isinstance(stmt, S.ShortRule):
            paths += [t.text for t in stmt.outputs if "{" not in t.text]
        elif isinstance(stmt, S.Assignment) and stmt.op == "?=":
            overrides.append(stmt.name + "=")
        elif isinstance(stmt, S.Default):
            paths += [t.text for t in stmt.targets]
        elif isinstance(stmt, S.Include):
            for included in _literals(stmt.path.text):
                _collect(os.path.join(os.path.dirname(path), included), names, paths, overrides, seen)


_WRAPPERS = {"temp", "protected", "directory", "touch", "ancient"}


def _literals(text: str) -> list[str]:
    """The plain string paths among an output line's values (`"a.txt", name = protected("b")`)."""
    import ast

    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        return []
    if not isinstance(call, ast.Call):
        return []
    out = []
    for node in [*call.args, *(k.value for k in call.keywords)]:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _WRAPPERS \
                and len(node.args) == 1:
            node = node.args[0]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "{" not in node.value:
            out.append(node.value)
    return out


# --- the scripts ---------------------------------------------------------------------------------


def _options(parser: argparse.ArgumentParser) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(every visible option, option -> its choices, options that take a free value)."""
    flags: list[str] = []
    choices: dict[str, list[str]] = {}
    valued: list[str] = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or not action.option_strings:
            continue
        flags += action.option_strings
        for flag in action.option_strings:
            if action.choices:
                choices[flag] = [str(c) for c in action.choices]
            elif action.nargs != 0 and not isinstance(action, argparse._VersionAction):
                valued.append(flag)
    return flags, choices, valued


def _help(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Long option -> the first clause of its help (fish shows it)."""
    out = {}
    for action in parser._actions:
        if action.help and action.help != argparse.SUPPRESS:
            text = action.help.split(";")[0].split(" (")[0].replace("%%", "%")
            for flag in action.option_strings:
                out[flag] = text[:70]
    return out


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](parser)


def _bash(parser: argparse.ArgumentParser) -> str:
    flags, choices, valued = _options(parser)
    cases = []
    for flag, words in choices.items():
        extra = '_pyrule_reply "$(_pyrule_targets)" add; ' if flag == "--dag" else ""
        cases.append(f'        {flag}) _pyrule_words {" ".join(words)}; {extra}return;;')
    free = [f for f in valued if f not in (*_FILE_OPTIONS, *_DIR_OPTIONS, *_TARGET_OPTIONS)]
    return f"""\
# pyrule completion for bash. Load it with: eval "$(pyrule --completion bash)" (e.g. in ~/.bashrc),
# or save it as ~/.local/share/bash-completion/completions/pyrule
_pyrule_targets() {{
    local i
    local -a where=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            -f|--file|-C|--directory) where+=("${{COMP_WORDS[i]}}" "${{COMP_WORDS[i+1]}}");;
        esac
    done
    "${{COMP_WORDS[0]}}" "${{where[@]}}" --complete-targets 2>/dev/null
}}
_pyrule_words() {{  # words split by blanks
    COMPREPLY=($(compgen -W "$*" -- "$cur"))
}}
_pyrule_reply() {{  # $1: words one a line (paths may hold blanks); $2 = add: added to COMPREPLY
    local IFS=$'\\n'
    [[ $2 == add ]] || COMPREPLY=()
    COMPREPLY+=($(compgen -W "$1" -- "$cur"))
}}
_pyrule() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=
    ((COMP_CWORD > 0)) && prev=${{COMP_WORDS[COMP_CWORD-1]}}
    case $prev in
        {"|".join(_FILE_OPTIONS)}) COMPREPLY=($(compgen -f -- "$cur")); return;;
        {"|".join(_DIR_OPTIONS)}) COMPREPLY=($(compgen -d -- "$cur")); return;;
        {"|".join(_TARGET_OPTIONS)}) _pyrule_reply "$(_pyrule_targets)"; return;;
{chr(10).join(cases)}
        {"|".join(free)}) return;;
    esac
    if [[ $cur == -* ]]; then
        _pyrule_words {" ".join(flags)}
        return
    fi
    _pyrule_reply "$(_pyrule_targets)"
    local IFS=$'\\n'
    COMPREPLY+=($(compgen -f -- "$cur"))
    [[ ${{#COMPREPLY[@]}} == 1 && ${{COMPREPLY[0]}} == *= ]] && compopt -o nospace  # NAME=: the value follows
}}
complete -o filenames -F _pyrule pyrule
"""


def _zsh(parser: argparse.ArgumentParser) -> str:
    flags, choices, valued = _options(parser)
    cases = [f"        ({flag}) compadd -- {' '.join(words)}; return;;" for flag, words in choices.items()]
    free = [f for f in valued if f not in (*_FILE_OPTIONS, *_DIR_OPTIONS, *_TARGET_OPTIONS)]
    return f"""\
#compdef pyrule
# pyrule completion for zsh. Load it with: eval "$(pyrule --completion zsh)" after compinit
# (e.g. in ~/.zshrc), or save it as _pyrule in a directory of $fpath
_pyrule_targets() {{  # the Pipefile's rule names and targets; words: the command line so far
    local i
    local -a where
    for ((i = 2; i < $#words; i++)); do
        case $words[i] in
            (-f|--file|-C|--directory) where+=($words[i] $words[i+1]);;
        esac
    done
    ${{words[1]:-pyrule}} $where --complete-targets 2>/dev/null
}}
_pyrule() {{
    local prev=$words[CURRENT-1] cur=$words[CURRENT]
    case $prev in
        ({"|".join(_FILE_OPTIONS)}) _files; return;;
        ({"|".join(_DIR_OPTIONS)}) _directories; return;;
        ({"|".join(_TARGET_OPTIONS)}) compadd -- ${{(f)"$(_pyrule_targets)"}}; return;;
{chr(10).join(cases)}
        ({"|".join(free)}) return;;
    esac
    if [[ $cur == -* ]]; then
        compadd -- {" ".join(flags)}
        return
    fi
    local -a found
    found=(${{(f)"$(_pyrule_targets)"}})
    compadd -- ${{found:#*=}}
    compadd -S '' -- ${{(M)found:#*=}}  # NAME=: the value follows, no space
    _files
}}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _pyrule "$@"
else
    compdef _pyrule pyrule
fi
"""


def _fish(parser: argparse.ArgumentParser) -> str:
    flags, choices, valued = _options(parser)
    helps = _help(parser)
    lines = [
        "# pyrule completion for fish. Load it with: pyrule --completion fish | source,",
        "# or save it as ~/.config/fish/completions/pyrule.fish",
        "function __pyrule_targets",
        "    set -l words (commandline -opc)",
        "    set -l where",
        "    for i in (seq 2 (math (count $words) - 1))",
        "        switch $words[$i]",
        "            case -f --file -C --directory",
        "                set -a where $words[$i] $words[(math $i + 1)]",
        "        end",
        "    end",
        "    $words[1] $where --complete-targets 2>/dev/null",
        "end",
        "complete -c pyrule -a '(__pyrule_targets)'",
    ]
    for flag in flags:
        if not flag.startswith("--") and len(flag) != 2:
            continue
        spec = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
        if flag in choices:
            spec += f" -x -a '{' '.join(choices[flag])}'"
        elif flag in _FILE_OPTIONS:
            spec += " -r -F"
        elif flag in _DIR_OPTIONS:
            spec += " -x -a '(__fish_complete_directories)'"
        elif flag in _TARGET_OPTIONS:
            spec += " -x -a '(__pyrule_targets)'"
        elif flag in valued:
            spec += " -x"
        text = helps.get(flag, "").replace("\\", "\\\\").replace("'", "\\'")
        lines.append(f"complete -c pyrule {spec}" + (f" -d '{text}'" if text else ""))
    return "\n".join(lines) + "\n"
