"""A cache of parsed Pipefiles, so that an unchanged Pipefile is not parsed (nor Lark imported).

Importing Lark and building its parser is the largest part of pyrule's start-up (~30 ms of
~100 ms); a Pipefile changes far less often than it is run. So the AST of each successfully
parsed file is pickled under a key made of everything the parse depends on — pyrule's version
and its parser files' stat, the grammar's text, the Python version, the file's name as given and
its exact bytes — in the
user's cache directory (`$XDG_CACHE_HOME/pyrule/parse`, by default `~/.cache/pyrule/parse`;
used only if the user owns it and nobody else can write to it, since unpickling runs code),
beside which Lark keeps its own parser cache. A hit is the same AST a parse would give: any
change to the inputs is a new key. Only parses that succeed are stored, so every error still
comes from the parser. The cache is best effort: unreadable, unwritable or damaged entries are
ignored (and re-made), and `PYRULE_PARSE_CACHE=0` turns it off.
"""

from __future__ import annotations

import os
import pickle
import sys

import xxhash

from . import syntax as S
from .errors import PipefileError
from .grammar_file import grammar_digest
from .version import __version__

_MAX_ENTRIES = 256  # beyond this, the oldest entries are dropped when one is added


def _directory() -> str | None:
    if os.environ.get("PYRULE_PARSE_CACHE", "1") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pyrule", "parse")


# The code that makes the tree: a checkout keeps its version string across commits, so a changed
# parser must miss too (its files' stat, not their text: no reading at each start).
_PARSER = [os.path.join(os.path.dirname(__file__), name) for name in ("parse.py", "syntax.py")]


def _parser_stamp() -> str:
    stamps = []
    for path in _PARSER:
        try:
            st = os.stat(path)
            stamps.append(f"{st.st_mtime_ns}:{st.st_size}")
        except OSError:  # (e.g. a zip import: the version string alone)
            stamps.append("-")
    return ",".join(stamps)


def _key(filename: str, data: bytes) -> str:
    h = xxhash.xxh3_128()
    for part in (__version__, _parser_stamp(), grammar_digest(), sys.version, filename):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    h.update(data)
    return h.hexdigest()


def parse_file(path: str | os.PathLike[str]) -> S.Pipefile:
    """parse.parse_file, answered from the cache when this exact file was parsed before."""
    path = os.fspath(path)
    directory = _directory()
    if directory is None:
        return _parse(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PipefileError(f"cannot read {path}: {e.strerror}") from None
    entry = os.path.join(directory, _key(path, data) + ".pickle")
    try:  # unpickling runs code: only from a directory that no one else can write to
        trusted = _private(directory)
    except OSError:
        trusted = True  # not there yet: _store makes it, private
    if trusted:
        try:
            with open(entry, "rb") as f:
                tree = pickle.load(f)
            if isinstance(tree, S.Pipefile):
                return tree
        except Exception:  # noqa: BLE001 - missing, unreadable or damaged: parse instead
            pass
    tree = _parse(path)
    if trusted:
        _store(directory, entry, tree)
    return tree


def _private(directory: str) -> bool:
    st = os.stat(directory)
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _parse(path: str) -> S.Pipefile:
    from .parse import parse_file

    return parse_file(path)


def _store(directory: str, entry: str, tree: S.Pipefile) -> None:
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _private(directory):
            return
        tmp = f"{entry}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(tree, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)  # whole or not at all: a reader never sees half an entry
        entries = sorted((e for e in os.scandir(directory) if e.name.endswith(".pickle")),
                         key=lambda e: e.stat().st_mtime)
        for old in entries[:-_MAX_ENTRIES]:
            try:
                os.unlink(old.path)
            except FileNotFoundError:
                pass  # another pyrule pruned it first
    except (OSError, pickle.PicklingError, RecursionError):
        pass  # a read-only home, a full disk: the cache is only an optimisation

