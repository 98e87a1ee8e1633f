"""A memo of a run that had nothing to do, so that the same run again can say so at once.

A no-op on 100,000 jobs plans the graph, reads every job's record and recomputes every
signature: seconds of Python where Make compares mtimes in C. But a run's decisions are a
function of (1) the rules, the requested targets and --until, (2) the state store, and (3) what
stat() said of the paths that planning and deciding looked at (contents are re-read only when
those fields change). A run that finds every job up to date records a memo: a key for (1), the
store's generation for (2) (raised by every job record written or removed and every job marked
running), and the paths of (3) with digests of the stat fields it saw, one per 4096 paths (mode,
size, mtime, inode, and ctime, which unlike mtime nothing can set back). The same run later,
at the same generation, whose paths stat the same, would decide the same: nothing to do. It
stats the paths, as Make does, and skips planning and deciding.

Decided the long way every time instead: rules with input, param, resource or env functions, or
checkpoints (their results depend on what they read, which pyrule cannot see); directories
among the paths (their fingerprint is their contents); --force and -B.
"""

from __future__ import annotations

import array
import os
import stat as statmod
import zlib
from collections.abc import Iterable, Iterator

import xxhash

from .code_identity import rule_identity
from .rules import Rule, Rules
from .stat_cache import StatCache
from .state import State, StateError
from .version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .decide import Decider, Decision
    from .graph import Job

_MASK = (1 << 64) - 1  # times before 1970 are negative: packed as unsigned, like the rest
_ABSENT = (0, 0, 0, 0, 0)  # a path that does not exist (no stat result has mode 0)
_CHUNK = 4096  # paths per digest: a changed file ends the check within its chunk


def memo_key(rules: Rules, targets: list[str], until: list[str]) -> str | None:
    """A digest of everything besides the store and the files that the run's decisions depend
    on; None when a rule's inputs come from functions (or a checkpoint), whose results cannot be
    compared without calling them."""
    h = xxhash.xxh3_128()
    h.update(repr((__version__, targets, until, rules.defaults)).encode("utf-8", "surrogateescape"))
    texts: dict[int, tuple[Any, str]] = {}  # top-level values as text, once for all rules
    for rule in rules.rules.values():
        text = _rule_text(rule, texts)
        if text is None:
            return None
        h.update(text.encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _rule_text(rule: Rule, texts: dict[int, tuple[Any, str]]) -> str | None:
    if rule.checkpoint or rule.func is not None or rule.container is not None or rule.venv is not None:
        return None  # (an image or environment may change with no file of the project changing)
    # A shell body's text is in its rule_identity (below); a Python body's text is kept here too,
    # so that even an edited comment in it retires the memo.
    parts: list[Any] = [rule.name, rule.log, rule.check, rule.retries, rule.priority, rule.python]
    for items in (rule.outputs, rule.inputs):
        for name, value in items:
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
                return None  # a function of the wildcards
            # temp()/protected()/directory() flags ride on str subclasses; repr() drops them
            parts.append((name, values, [sorted(v.flags) for v in values if type(v) is not str]))
    for values in (rule.params, rule.resources, rule.env):
        if any(callable(v) for v in values.values()):
            return None
        parts.append(values)  # repr(), as the job signature sees params
    # What the jobs' signatures take from the body, as they take it (no wildcards: the names a
    # job's wildcards would fill count too, a superset, no harm).
    parts.append(rule_identity(rule, values=texts))
    return repr(parts) + "\n"


def _digests(stats: Iterable[Any]) -> Iterator[str]:
    """One digest of the stat fields per _CHUNK results (None: the path does not exist), then
    one of the rest (perhaps none): the same for the cache a run decided on and for fresh stats."""
    a = array.array("Q")
    extend, full = a.extend, _CHUNK * len(_ABSENT)
    for st in stats:
        extend(_ABSENT if st is None else (st.st_mode, st.st_size, st.st_mtime_ns & _MASK, st.st_ino,
                                          st.st_ctime_ns & _MASK))
        if len(a) == full:
            yield xxhash.xxh3_128_hexdigest(a.tobytes())
            del a[:]
    yield xxhash.xxh3_128_hexdigest(a.tobytes())


def _stat_each(paths: list[str]) -> Iterator[os.stat_result | None]:
    stat = os.stat
    for path in paths:  # the hot loop: 200,000 paths at 100,000 jobs
        try:
            yield stat(path)
        except (OSError, ValueError):
            yield None


def save(state: State, key: str, generation: int, stats: StatCache, up_to_date: int) -> bool:
    """Record the memo of a run that found `up_to_date` jobs up to date, from the stat results
    its decisions used (not fresh ones). False when a path rules it out or the store changed."""
    if any("\0" in path or (st is not None and statmod.S_ISDIR(st.st_mode)) for path, st in stats.items()):
        return False
    paths = zlib.compress("\0".join(stats).encode("utf-8", "surrogateescape"), 1)
    return state.save_noop_memo(key, generation, up_to_date, paths, "".join(_digests(stats.values())))


def leave(state: State, key: str, generation: int | None, stats: StatCache, jobs: list[Job], decider: Decider,
          decisions: list[Decision] | None, log: Callable[[str], None]) -> None:
    """At the end of a run, leave a memo if the same run again would find nothing to do, and say
    in the run log (`log`) why not. After a no-op (`decisions`: what `decider` decided), that is
    what the run decided; after a build, the graph (`jobs`) is decided again, on the store as it
    is now and on the same stat results (only the outputs just written are stat'ed again): a
    fraction of what the build cost. `generation`: the store's when the run began deciding."""
    from .decide import Decider

    try:
        state.flush()
        if decisions is None:
            generation = state.generation()
        if generation is None or state.running():
            # Another process's job (or one a dead pyrule left): a run would wait for its
            # lock or clean it up, so no memo.
            log("no-op memo not left: jobs are marked running")
            return
        if decisions is None:
            state.reread()  # what another process recorded meanwhile counts too
            again = Decider(state, stats)
            decisions = again.decide_all(jobs)
            stale = next((d for d in decisions if d.reason is not None or d.adopt), None)
            if stale is not None:
                log(f"no-op memo not left: {stale.job.name} would run again ({stale.reason})")
                return
            settled = again.settled(earlier=decider)
        else:
            settled = decider.settled()
        if not settled:
            # A file hashed within its timestamp tick may change without its stat showing it.
            log("no-op memo not left: a file changed within its timestamp tick, or its tick is not over")
            return
        up_to_date = sum(1 for d in decisions if not (d.job.phony and not d.job.rule.has_body))
        saved = save(state, key, generation, stats, up_to_date)
    except StateError as e:  # only a shortcut for the next run: this one is done
        log(f"no-op memo not left: {e.message}")
        return
    log("no-op memo left" if saved else "no-op memo not left: a directory among the paths, or the store changed meanwhile")


def unchanged(state: State, key: str) -> tuple[int, int] | None:
    """(jobs up to date, paths checked) if the memo under `key` still holds; else None, as soon
    as a chunk of paths differs (the long way follows: no need to stat the rest first)."""
    memo = state.noop_memo(key)
    if memo is None:
        return None
    up_to_date, blob, digests = memo
    text = zlib.decompress(blob).decode("utf-8", "surrogateescape")
    paths = text.split("\0") if text else []
    width = len(xxhash.xxh3_128_hexdigest(b""))
    expected = [digests[i:i + width] for i in range(0, len(digests), width)]
    if len(expected) != len(paths) // _CHUNK + 1:
        return None
    for got, want in zip(_digests(_stat_each(paths)), expected):
        if got != want:
            return None
    return up_to_date, len(paths)
