"""Recognise a shell body that is one simple command, so it can run without a shell.

GNU Make execs a recipe line directly when it holds no shell syntax; pyrule goes one step
further and also takes `<`, `>`, `>>`, `2>` and `2>>` redirections (posix_spawn opens the files,
in order, as bash would). Starting `bash -euo pipefail -c` costs about a millisecond per job, as
much as the job `cat a > b` itself. Only what bash would run the very same way qualifies:

- one line; words of plain characters, 'single-quoted' or "double-quoted" text (without $, `, \\
  or ! inside), and at most one redirection per file descriptor, each followed by a word;
- no variables, globs, ~, braces, comments, pipes, lists, subshells, here-documents, escapes;
- the command word is plain, not a bash builtin or keyword (`echo`, `test`, `cd`, `[`, ...):
  those run in bash, as bash would run them, and is found on PATH (or is a path).

Everything else returns None and runs in bash. The fast path does not change what the job does:
`set -euo pipefail` cannot matter for one simple command, and bash itself execs such a
command in place of itself (same process, same exit status and signals). Only SHLVL and `_`,
which bash adds to the environment, are absent.
"""

from __future__ import annotations

import os
import re

from ..record import record

_BASH_WORDS = frozenset(
    # builtins (`compgen -b` in bash 5) ...
    ". : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs "
    "disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local "
    "logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend "
    "test times trap true type typeset ulimit umask unalias unset wait "
    # ... and keywords (`compgen -k`)
    "if then else elif fi case esac for select while until do done in function time { } ! [[ ]] coproc".split()
)

# One token: blanks, a redirection operator, or a word made of plain/quoted pieces.
_TOKEN = re.compile(
    r"""(?P<blank>[ \t]+)
      | (?P<redir>2>>|2>|>>|>|<)
      | (?P<word>(?:[A-Za-z0-9_./,:@%+=^-]+|'[^'\x00]*'|"[^"$`\\!\x00]*")+)
    """,
    re.VERBOSE,
)
_PIECE = re.compile(r"""[^'"]+|'([^']*)'|"([^"]*)\"""")
_PLAIN_COMMAND = re.compile(r"[A-Za-z0-9_./+-]+")

_FLAGS = {
    ">": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "2>": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    ">>": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "2>>": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "<": os.O_RDONLY,
}
_FD = {">": 1, ">>": 1, "2>": 2, "2>>": 2, "<": 0}


@record(frozen=True)
class SimpleCommand:
    argv: list[str]  # argv[0] as written (a name to look up on PATH, or a path)
    redirects: list[tuple[int, str, int]]  # (fd, path, open flags), in the order written


def parse(script: str) -> SimpleCommand | None:
    """The command if `script` is one simple command that may skip the shell, else None."""
    text = script.strip(" \t\n")
    if not text or "\n" in text:
        return None
    words: list[str] = []
    redirects: list[tuple[int, str, int]] = []
    pending: str | None = None  # a redirection operator waiting for its word
    pos, end = 0, len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            return None
        pos = m.end()
        kind = m.lastgroup
        if kind == "blank":
            continue
        if kind == "redir":
            # The regex takes `2>` only where a word would start (in `a2>f`, `a2` is the word).
            if pending is not None:
                return None  # an operator without its word
            pending = m.group()
            continue
        word = "".join(p.group(1) if p.group(1) is not None else p.group(2) if p.group(2) is not None else p.group()
                       for p in _PIECE.finditer(m.group()))
        if pending is not None:
            fd = _FD[pending]
            if any(r[0] == fd for r in redirects):
                return None
            redirects.append((fd, word, _FLAGS[pending]))
            pending = None
        else:
            if not words and (m.group() != word or not _PLAIN_COMMAND.fullmatch(word) or word in _BASH_WORDS):
                return None  # quoted, an assignment (NAME=...), a builtin or keyword: bash decides
            words.append(word)
    if pending is not None or not words:
        return None
    return SimpleCommand(words, redirects)
