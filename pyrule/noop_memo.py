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

When some paths changed, the memo still knows which jobs they belong to: it keeps the job graph
as the run that left it planned it (each job's inputs and outputs, as indexes into the paths),
whether each path existed, and a digest per 64 paths. A failed check then names the changed
paths (those of each 64 whose digest differs), and a run decides only the jobs they reach, with
every consumer of those downstream, planned with what they need upstream (class Partial); the
rest it trusts, as the memo would have. Where that could be wrong it decides the long way:
a path that appeared or vanished and that no job makes (planning reads existence, and only of
such paths can it change the graph), a directory, a planned job that differs from the memo's,
a dry run, --until, an open journal of a run that died, and graphs of fewer than
PARTIAL_MIN_JOBS jobs (the long way is cheap there, and records every job). The memo that such
a run leaves is the old one with the stat results of what it decided, and only if no other
process wrote to the store meanwhile (State.raised).

Decided the long way every time instead: rules with input, param, resource or env functions, or
checkpoints (their results depend on what they read, which pyrule cannot see); directories
among the paths (their fingerprint is their contents); --force and -B.
"""

from __future__ import annotations

import array
import marshal
import os
import stat as statmod
import zlib
from collections.abc import Iterable

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
_SUB = 64  # paths per sub-digest (kept with the graph): which paths of a changed chunk changed
_WIDTH = 5  # values a path takes in the packed stat results
_GRAPH_FORMAT = 2
# Below this many jobs the long way takes milliseconds, and a run decided in full records every
# job (gathers too) in its stats and report: the partial path is for big graphs.
PARTIAL_MIN_JOBS = 200
_ITEMSIZES = tuple(array.array(t).itemsize for t in "IQi")  # a memo from a machine where they differ: not read


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


def reads_values(rules: Rules) -> bool:
    """Whether a rule's Python body may read other jobs' values (`values.NAME.get()`): such a
    reader depends on a job without a path between them, which the memo's graph does not hold,
    so a partial decision could miss it (the long way decides). Functions that read values
    (input, params...) leave no memo at all (memo_key)."""
    return any(rule.python is not None and "values" in rule.python for rule in rules.rules.values())


def _pack(stats: Iterable[Any]) -> array.array:
    """The stat fields of each result (None: the path does not exist), _WIDTH values a path."""
    a = array.array("Q")
    extend = a.extend
    for st in stats:
        extend(_ABSENT if st is None else (st.st_mode, st.st_size, st.st_mtime_ns & _MASK, st.st_ino,
                                          st.st_ctime_ns & _MASK))
    return a


def _digests(values: array.array) -> list[str]:
    """One digest of the stat fields per _CHUNK paths, then one of the rest (perhaps none): the
    same for the cache a run decided on and for fresh stats."""
    full, n = _CHUNK * _WIDTH, len(values)
    with memoryview(values) as view:
        return [xxhash.xxh3_128_hexdigest(view[i:i + full]) for i in range(0, n - n % full + 1, full)]


def _sub_digests(values: array.array) -> array.array:
    """One 64-bit digest per _SUB paths."""
    step = _SUB * _WIDTH
    with memoryview(values) as view:
        return array.array("Q", [xxhash.xxh3_64_intdigest(view[i:i + step]) for i in range(0, len(values), step)])


def _modes(values: array.array) -> array.array:
    """Each path's mode (0: it did not exist)."""
    return array.array("I", values[::_WIDTH])


def _check(paths: list[str], expected: list[str], all_of_them: bool) -> tuple[array.array, list[int]]:
    """Stat the paths: (their packed results, the chunks whose digest differs). Stops at the first
    such chunk unless `all_of_them` (the partial path needs every path's result)."""
    chunks: list[bytes] = []  # (not one growing array: its copies when it grows would double the peak)
    a = array.array("Q")
    extend, stat, full = a.extend, os.stat, _CHUNK * _WIDTH
    changed: list[int] = []

    def seal() -> bool:
        """The chunk in `a` is done: compare it. False when the check may stop here."""
        data = a.tobytes()
        if xxhash.xxh3_128_hexdigest(data) != expected[len(chunks)]:
            changed.append(len(chunks))
        chunks.append(data)
        del a[:]
        return all_of_them or not changed

    for path in paths:  # the hot loop: 200,000 paths at 100,000 jobs
        try:
            st = stat(path)
        except (OSError, ValueError):
            extend(_ABSENT)
        else:
            extend((st.st_mode, st.st_size, st.st_mtime_ns & _MASK, st.st_ino, st.st_ctime_ns & _MASK))
        if len(a) == full and not seal():
            return a, changed
    seal()
    if changed:
        a.frombytes(b"".join(chunks))
    return a, changed


def save(state: State, key: str, generation: int, stats: StatCache, up_to_date: int, jobs: list[Job] | None = None
         ) -> bool:
    """Record the memo of a run that found `up_to_date` jobs up to date, from the stat results
    its decisions used (not fresh ones), with the graph of `jobs` for the partial path. False
    when a path rules it out or the store changed."""
    if any("\0" in path or (st is not None and statmod.S_ISDIR(st.st_mode)) for path, st in stats.items()):
        return False
    paths = zlib.compress("\0".join(stats).encode("utf-8", "surrogateescape"), 1)
    values = _pack(stats.values())
    graph = Graph.of(list(stats), values, jobs) if jobs is not None else None
    return state.save_noop_memo(key, generation, up_to_date, paths, "".join(_digests(values)),
                                None if graph is None else (xxhash.xxh3_128_hexdigest(paths), graph.encode()))


class Graph:
    """The job graph of a memo, as indexes into its paths: each job's outputs and inputs (gathers,
    which only follow their inputs' jobs, left out), each path's producer and consumers, whether
    each path existed (its mode), and a digest per _SUB paths of their stat fields. The structure
    is kept compressed as read (`shape`): a run that leaves the memo again rewrites only the rest."""

    shape: bytes | None = None

    def __init__(self, parts: list[Any]) -> None:
        (self.existed, self.subs, self.producer, self.cons_at, self.cons, self.ins_at, self.ins, self.outs_at,
         self.outs) = parts

    @classmethod
    def of(cls, paths: list[str], values: array.array, jobs: list[Job]) -> Graph | None:
        index = {p: i for i, p in enumerate(paths)}
        producer = array.array("i", [-1]) * len(paths)
        ins_at, ins, outs_at, outs = array.array("I", [0]), array.array("I"), array.array("I", [0]), array.array("I")
        n = 0
        for job in jobs:
            if not job.outputs:  # a gather (the only phony job of a graph with nothing to do)
                continue
            try:
                o, i = [index[p] for p in job.outputs], [index[p] for p in job.inputs]
            except KeyError:  # (every path is stat'ed by planning or deciding: not seen)
                return None
            for p in o:
                producer[p] = n
            outs.extend(o)
            outs_at.append(len(outs))
            ins.extend(i)
            ins_at.append(len(ins))
            n += 1
        cons_at = array.array("I", [0]) * (len(paths) + 1)
        for p in ins:
            cons_at[p + 1] += 1
        for p in range(len(paths)):
            cons_at[p + 1] += cons_at[p]
        cons, fill = array.array("I", [0]) * len(ins), cons_at[:-1]
        for j in range(n):
            for p in ins[ins_at[j]:ins_at[j + 1]]:
                cons[fill[p]] = j
                fill[p] += 1
        return cls([_modes(values), _sub_digests(values), producer, cons_at, cons, ins_at, ins, outs_at, outs])

    def encode(self) -> bytes:
        if self.shape is None:
            self.shape = zlib.compress(b"".join(a.tobytes() for a in (self.producer, self.cons_at, self.cons,
                                                                      self.ins_at, self.ins, self.outs_at, self.outs)), 1)
        sizes = [len(a) for a in (self.producer, self.cons_at, self.cons, self.ins_at, self.ins, self.outs_at)]
        stats = zlib.compress(self.existed.tobytes() + self.subs.tobytes(), 1)
        return marshal.dumps((_GRAPH_FORMAT, _ITEMSIZES, len(self.existed), sizes, self.shape, stats))

    @classmethod
    def decode(cls, blob: bytes) -> Graph | None:
        try:
            version, itemsizes, n, sizes, shape, stats = marshal.loads(blob)
            if version != _GRAPH_FORMAT or itemsizes != _ITEMSIZES:
                return None
            arrays = [array.array("I"), array.array("Q"), array.array("i")] + [array.array("I") for _ in range(6)]
            arrays[0].frombytes((raw := zlib.decompress(stats))[:n * arrays[0].itemsize])
            arrays[1].frombytes(raw[n * arrays[0].itemsize:])
            raw, at = zlib.decompress(shape), 0
            for a, size in zip(arrays[2:], [*sizes, None]):
                end = len(raw) if size is None else at + size * a.itemsize
                a.frombytes(raw[at:end])
                at = end
        except (ValueError, EOFError, TypeError, zlib.error):
            return None
        graph = cls(arrays)
        graph.shape = shape
        return graph

    def consumers(self, path: int) -> array.array:
        return self.cons[self.cons_at[path]:self.cons_at[path + 1]]

    def outputs(self, job: int) -> array.array:
        return self.outs[self.outs_at[job]:self.outs_at[job + 1]]

    def inputs(self, job: int) -> array.array:
        return self.ins[self.ins_at[job]:self.ins_at[job + 1]]

    def jobs_of(self, path: int) -> list[int]:
        """The jobs that make or read the path."""
        p = self.producer[path]
        return ([p] if p >= 0 else []) + list(self.consumers(path))

    def reach(self, jobs: Iterable[int]) -> set[int]:
        """The jobs and every job downstream of them (consumers of their outputs, and theirs)."""
        seen: set[int] = set()
        stack = list(jobs)
        while stack:
            j = stack.pop()
            if j not in seen:
                seen.add(j)
                for p in self.outputs(j):
                    stack.extend(self.consumers(p))
        return seen


class Partial:
    """A memo whose check failed at some paths: the jobs they reach (with their consumers) are to
    be decided, the other jobs are as the memo left them. `targets`: what to plan (one output of
    each such job); `why`: when None, why the long way instead."""

    def __init__(self, key: str, generation: int, up_to_date: int, blob: bytes, paths: list[str],
                 values: array.array, graph: Graph, changed: list[int]) -> None:
        self.key, self.generation, self.up_to_date, self.blob = key, generation, up_to_date, blob
        self.paths, self.values, self.graph, self.changed = paths, values, graph, changed
        self.why: str | None = None
        self.reached: set[int] = set()
        self.mine: set[int] = set()  # the memo's jobs in the planned graph (matches)
        self.index: dict[str, int] = {}  # path -> its position, for the paths the run met
        g = graph
        for i in changed:
            mode = values[i * _WIDTH]
            if mode and statmod.S_ISDIR(mode):
                self.why = f"{paths[i]} is a directory now"
                return
            if bool(mode) != bool(g.existed[i]) and g.producer[i] < 0:
                # Planning reads whether paths exist: that of a path no job makes can change the graph.
                self.why = f"{paths[i]} {'appeared' if mode else 'vanished'}"
                return
        self.reached = g.reach(j for i in changed for j in g.jobs_of(i))
        self.targets = [paths[g.outs[g.outs_at[j]]] for j in sorted(self.reached)]
        if not self.targets:
            self.why = "no job reads or makes the changed paths"

    @property
    def trusted(self) -> int:
        """How many jobs up to date the memo vouches for (the planned graph's aside)."""
        return max(0, self.up_to_date - len(self.mine))

    def matches(self, jobs: list[Job]) -> bool:
        """Whether the planned graph is the memo's graph where they meet: every job in it is the
        memo's job making the same outputs from the same inputs, the jobs to decide among them.
        Otherwise planning differs from the memo's: decide the long way."""
        index = self._index({p for job in jobs for paths in (job.outputs, job.inputs) for p in paths})
        g, mine = self.graph, set()
        for job in jobs:
            if not job.outputs or any(p not in index for p in (*job.outputs, *job.inputs)):
                return False
            j = g.producer[index[job.outputs[0]]]
            if j < 0 or list(g.outputs(j)) != [index[p] for p in job.outputs] or \
                    list(g.inputs(j)) != [index[p] for p in job.inputs]:
                return False
            mine.add(j)
        self.mine = mine
        return self.reached <= mine

    def _index(self, wanted: Iterable[str]) -> dict[str, int]:
        """Where each wanted path is among the memo's (one pass over them for those not known yet)."""
        rest = {p for p in wanted if p not in self.index}
        if rest:
            self.index.update((p, i) for i, p in enumerate(self.paths) if p in rest)
        return self.index

    def save(self, state: State, start: int | None, stats: StatCache) -> str | None:
        """Leave the memo again, with the stat results the run's decisions used (`stats`) and the
        check's for the rest; None when saved, else why not. `start`: the store's generation when
        the run began deciding."""
        if start != self.generation:
            return "the store changed after the memo was checked"
        now = state.generation()
        if now - start != state.raised:
            return "another process wrote to the store meanwhile"
        values, g, mine, index = array.array("Q", self.values), self.graph, self.mine, self._index(stats)
        if any(p not in index for p in stats):
            return "the run looked at paths the memo does not know"
        for path, st in stats.items():
            i = index[path]
            new = _ABSENT if st is None else (st.st_mode, st.st_size, st.st_mtime_ns & _MASK, st.st_ino,
                                              st.st_ctime_ns & _MASK)
            at = i * _WIDTH
            if tuple(values[at:at + _WIDTH]) == new:
                continue
            if (st is not None and statmod.S_ISDIR(st.st_mode)) or not all(j in mine for j in g.jobs_of(i)) \
                    or g.producer[i] < 0 and not len(g.consumers(i)):
                # a path that trusted jobs (or planning) read, changed after the check
                return f"{path} changed during the run"
            values[at:at + _WIDTH] = array.array("Q", new)
        g.existed, g.subs = _modes(values), _sub_digests(values)
        saved = state.save_noop_memo(self.key, now, self.up_to_date, self.blob, "".join(_digests(values)),
                                     (xxhash.xxh3_128_hexdigest(self.blob), g.encode()))
        return None if saved else "the store changed meanwhile"


def _up_to_date(decisions: Iterable[Decision]) -> int:
    """How many of these (up-to-date) decisions are of jobs, gathers left out."""
    return sum(1 for d in decisions if not (d.job.phony and not d.job.rule.has_body))


def _decide_again(again: Decider, jobs: list[Job], state: State, stats: StatCache) -> tuple[Decision | None, int]:
    """The first job of `jobs` that `again` finds stale (or would adopt), and else how many are up
    to date, as its decide_all would tell, without keeping a decision a job (at a million jobs,
    ~100 MB at the end of a build)."""
    up_to_date = 0
    for job in jobs:
        d = again.decide(job)
        if d.reason is not None or d.adopt:
            if again.temp_gone:  # decide_all may make an earlier job stale (a removed temp() it needs)
                from .decide import Decider

                d = next(x for x in Decider(state, stats).decide_all(jobs) if x.reason is not None or x.adopt)
            return d, 0
        if not (job.phony and not job.rule.has_body):
            up_to_date += 1
    return None, up_to_date


def leave(state: State, key: str, generation: int | None, stats: StatCache, jobs: list[Job], decider: Decider,
          decisions: list[Decision] | None, log: Callable[[str], None], partial: Partial | None = None) -> None:
    """At the end of a run, leave a memo if the same run again would find nothing to do, and say
    in the run log (`log`) why not. After a no-op (`decisions`: what `decider` decided), that is
    what the run decided; after a build, the graph (`jobs`) is decided again, on the store as it
    is now and on the same stat results (only the outputs just written are stat'ed again): a
    fraction of what the build cost. `generation`: the store's when the run began deciding.
    `partial`: the run decided only part of the graph (`jobs`), trusting the memo for the rest."""
    from .decide import Decider

    start = generation
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
            state.reread(keep=False)  # what another process recorded meanwhile counts too
            again = Decider(state, stats)
            stale, up_to_date = _decide_again(again, jobs, state, stats)
            if stale is not None:
                log(f"no-op memo not left: {stale.job.name} would run again ({stale.reason})")
                return
            settled = again.settled(earlier=decider)
        else:
            settled = decider.settled()
            up_to_date = _up_to_date(decisions)
        if not settled:
            # A file hashed within its timestamp tick may change without its stat showing it.
            log("no-op memo not left: a file changed within its timestamp tick, or its tick is not over")
            return
        stats.settle()  # (exists-only entries, if any: the memo keeps every path's whole result)
        if partial is not None:
            why = partial.save(state, start, stats)
            log("no-op memo left (after deciding part of the graph)" if why is None else f"no-op memo not left: {why}")
            return
        saved = save(state, key, generation, stats, up_to_date, jobs)
    except StateError as e:  # only a shortcut for the next run: this one is done
        log(f"no-op memo not left: {e.message}")
        return
    log("no-op memo left" if saved else "no-op memo not left: a directory among the paths, or the store changed meanwhile")


def unchanged(state: State, key: str) -> tuple[int, int] | None:
    """(jobs up to date, paths checked) if the memo under `key` still holds; else None, as soon
    as a chunk of paths differs (the long way follows: no need to stat the rest first)."""
    found = check(state, key, partial=False)
    return found if isinstance(found, tuple) else None


def check(state: State, key: str, partial: bool) -> tuple[int, int] | Partial | None:
    """(jobs up to date, paths checked) if the memo under `key` still holds. Else, if `partial`,
    the Partial that names the changed paths (its `why` says when the long way must decide
    instead); None: no memo, or no graph kept with it."""
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
    partial = partial and up_to_date >= PARTIAL_MIN_JOBS
    values, changed = _check(paths, expected, partial)
    if not changed:
        return up_to_date, len(paths)
    generation = state.generation()
    if not partial:
        return None
    raw = state.noop_memo_graph(key, generation, xxhash.xxh3_128_hexdigest(blob))
    graph = Graph.decode(raw) if raw is not None else None
    if graph is None or len(graph.existed) != len(paths):
        return None
    paths_changed: list[int] = []
    step = _SUB * _WIDTH
    with memoryview(values) as view:
        for chunk in changed:
            for sub in range(chunk * (_CHUNK // _SUB), min((chunk + 1) * (_CHUNK // _SUB), len(graph.subs))):
                if xxhash.xxh3_64_intdigest(view[sub * step:(sub + 1) * step]) != graph.subs[sub]:
                    paths_changed.extend(range(sub * _SUB, min((sub + 1) * _SUB, len(paths))))
    return Partial(key, generation, up_to_date, blob, paths, values, graph, paths_changed)
