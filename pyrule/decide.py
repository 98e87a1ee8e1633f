"""Stage 4: which jobs are stale, and exactly why.

A job runs when an output is missing or incomplete, when it is forced, when an upstream job
runs and changes its input, or when its signature differs from the one recorded at its last
success. The signature covers the rule body, params, env, the input and output lists and each
input's fingerprint: an xxh3 hash of the content (re-hashed only when size, mtime, inode or
ctime changed) or, with `check: mtime`, size and mtime. Since inputs are fingerprinted by content,
a rerun that reproduces identical bytes leaves its consumers up to date (early cutoff).
"""

from __future__ import annotations

import os
import stat as statmod
import sys
import time

import xxhash

from .code_identity import rule_identity
from .graph import Job
from .record import field, record
from .stat_cache import Stat, StatCache
from .state import State

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

_BLOCK = 1 << 22  # 4 MiB reads: xxh3 is far faster than the page cache, so fewer syscalls win
_SMALL = 1 << 16  # a file this small is read and hashed in one piece
_buffer: list[bytearray] = []  # the 4 MiB block, made when a large file first needs it (1-2 ms)
# The kernel stamps files from its coarse clock (CLOCK_REALTIME_COARSE, 5 on Linux; Python has
# no name for it): compared with that clock, "later than the stamp" is exact.
_COARSE = 5 if sys.platform.startswith("linux") else None
_SECOND = 1_000_000_000
_SHORT_WAIT = 20_000_000  # a no-op memo waits out this much of a racy file's tick, not more


def racily_clean(st) -> bool:
    """Whether a fingerprint taken now of a file with this stat result could miss a later change:
    a write within the same timestamp tick (a second on ext4 with 128-byte inodes, FAT, some NFS;
    a clock tick elsewhere) leaves size, mtime, ctime and inode as they are (git's "racy git")."""
    return unsettled_ns(st) > 0


def unsettled_ns(st) -> int:
    """How long (ns) a file with this stat result stays racily clean; 0 or less: no longer. The
    granularity is read off the stamps: whole seconds mean a coarse file system (2 s: FAT)."""
    stamp = max(st.st_mtime_ns, st.st_ctime_ns)
    if st.st_mtime_ns % _SECOND == 0 and st.st_ctime_ns % _SECOND == 0:
        tick = 2 * _SECOND
    else:
        tick = 1  # at most 0.1 s: one of the stamps is not a whole second
        while st.st_mtime_ns % (tick * 10) == 0 and st.st_ctime_ns % (tick * 10) == 0:
            tick *= 10
    now = time.clock_gettime_ns(_COARSE) if _COARSE is not None else time.time_ns() - 20_000_000
    return stamp + tick - now


def hash_file(path: str) -> str:
    with open(path, "rb", buffering=0) as f:
        data = f.read(_SMALL)
        if len(data) < _SMALL:  # a regular file reads short only at its end
            return xxhash.xxh3_128_hexdigest(data)
        h = xxhash.xxh3_128(data)
        if not _buffer:
            _buffer.append(bytearray(_BLOCK))  # reused: allocating 4 MiB per file would cost more
        block = _buffer[0]
        view = memoryview(block)
        while n := f.readinto(block):
            h.update(view[:n])
    return h.hexdigest()


class InputError(Exception):
    """An input that cannot be fingerprinted (unreadable, or a FIFO, socket or device): its job
    fails with this message, the rest of the run goes on."""


class Fingerprints:
    """Fingerprints of files, reusing recorded hashes while size, mtime and inode are unchanged."""

    def __init__(self, state: State | None, stats: StatCache):
        self.state = state
        self.stats = stats
        self.cache = state.file_cache() if state else {}
        # Paths hashed while racily clean: this run uses the hash, the store keeps it unmatched
        # (verified next time), and a no-op memo re-verifies them first (verify_racy).
        self.racy: set[str] = set()
        self._rules: dict[int, tuple[str, dict[str, str], str, dict[str, str]]] = {}  # id(rule) -> rule_parts()
        self._values: dict[int, tuple[Any, str]] = {}  # top-level values Python bodies read, as text

    def rule_parts(self, job: Job) -> tuple[str, dict[str, str], str, dict[str, str]]:
        """The parts of a signature that are the rule's own (body hash, env, the top-level names
        its body uses): once per rule."""
        key = id(job.rule)
        parts = self._rules.get(key)
        if parts is None:
            env = job.env  # the rule's own unless an env function made it per job (see signature)
            body, names = rule_identity(job.rule, job.wildcards, self._values)
            parts = (xxhash.xxh3_64_hexdigest(body.encode("utf-8", "surrogateescape")), env, repr(env), names)
            self._rules[key] = parts
        return parts

    def values_read(self, job: Job) -> dict[str, list[str]]:
        """The values the job read while planned: producing job -> [hash, short text]."""
        out: dict[str, list[str]] = {}
        for producer in job.reads:
            stored = self.state.value_of(producer.name) if self.state is not None else None
            out[producer.name] = [stored.hash, stored.short] if stored is not None else ["none", "(none)"]
        return out

    def of(self, path: str, mode: str) -> str:
        st = self.stats.stat(path)
        if st is None:
            return "missing"
        if statmod.S_ISDIR(st.st_mode):
            return "dir:" + self._directory(path)
        if mode == "mtime":
            return f"m:{st.st_size}:{st.st_mtime_ns}"
        known = self.cache.get(path)
        if known is not None and known[0] == st.st_size and known[1] == st.st_mtime_ns and known[2] == st.st_ino:
            if known[3] == st.st_ctime_ns:
                return known[4]
            if known[3] is None:  # recorded before ctime was kept: trusted as then, once
                self._remember(path, st, known[4])
                return known[4]
            # Same size, mtime and inode but a new ctime: perhaps only chmod, perhaps content
            # written with the mtime set back (cp -p, rsync -t, tar x): hash it to know.
        if not statmod.S_ISREG(st.st_mode):  # reading a FIFO would wait for a writer forever
            raise InputError(f"cannot read input {path}: not a regular file or directory")
        try:
            digest = hash_file(path)
        except OSError as e:
            raise InputError(f"cannot read input {path}: {e.strerror or e}") from None
        self._remember(path, st, digest)
        return digest

    def _remember(self, path: str, st, digest: str) -> None:
        racy = racily_clean(st)
        if racy:
            self.racy.add(path)
        else:
            self.racy.discard(path)
        if self.state is not None:
            self.state.remember_file(path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, digest, racy)
        else:
            self.cache[path] = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, digest)

    def verify_racy(self) -> bool:
        """Hash again the files hashed while racily clean, now that their tick is over: True if
        each still has the content this run used (then trusted from now on); False if one changed
        or is still within its tick (then nothing may be concluded from its stat result)."""
        for path in sorted(self.racy):
            known = self.cache.get(path)
            try:
                st = Stat(os.stat(path))
            except FileNotFoundError:  # gone (a temp() output): decided by its absence now
                self.racy.discard(path)
                continue
            except OSError:
                return False
            # A fine-grained stamp: its tick ends in ms. `wait` only shrinks as the clock goes on,
            # so this sleeps about the first `wait`, at most _SHORT_WAIT (+ one 1 ms nap).
            wait = unsettled_ns(st)
            while 0 < wait <= _SHORT_WAIT:
                time.sleep(max(wait, 1_000_000) / 1e9)
                wait = unsettled_ns(st)
            try:
                if known is None or wait > 0 or \
                        (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns) != known[:4]:
                    return False
                digest = hash_file(path)
            except OSError:
                return False
            if digest != known[4]:
                return False
            self._remember(path, st, digest)
        return True

    @staticmethod
    def _directory(path: str) -> str:
        # A directory output is one output: its fingerprint is its listing (names, sizes, mtimes).
        h = xxhash.xxh3_64()
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                p = os.path.join(root, name)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                h.update(f"{os.path.relpath(p, path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


def signature(job: Job, fps: Fingerprints, known: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """The job's signature (a digest for quick comparison, and its parts for reasons).

    `known`: fingerprints to use for inputs that are gone on purpose (removed temp() files)."""
    mode = job.rule.check
    body, rule_env, env_repr, names = fps.rule_parts(job)
    env = job.env
    if env is not rule_env:  # evaluated for this job (an env function)
        env_repr = repr(env)
    params = {k: repr(v) for k, v in job.params.items()}
    parts = {
        "body": body,
        "params": params,
        "env": env,
        "inputs": list(job.inputs),
        "outputs": list(job.outputs),
        "fps": [known[p] if known and p in known else _ANCIENT if p.__class__ is not str and _is_ancient(p)
                else fps.of(p, mode) for p in job.inputs],
    }
    flat = "\x00".join((body, repr(params), env_repr, "\x01".join(job.inputs),
                        "\x01".join(job.outputs), "\x01".join(parts["fps"])))
    if names:  # only then: signatures recorded before names were part of them stay valid
        parts["names"] = names
        flat += "\x00" + repr(names)
    if job.reads:  # the values it read (values.py): their hashes, and short texts for reasons
        parts["values"] = read = fps.values_read(job)
        flat += "\x00" + "\x01".join(f"{k}={v[0]}" for k, v in read.items())
    rule = job.rule
    if rule.container is not None or rule.venv is not None:  # docs/environments.md
        from .containers import software

        parts["software"] = used = software(rule)
        flat += "\x00" + used
    return xxhash.xxh3_64_hexdigest(flat.encode("utf-8", "surrogateescape")), parts


_ANCIENT = "ancient"  # the fingerprint of an ancient() input: its changes never count


def _is_ancient(path: str) -> bool:
    return "ancient" in getattr(path, "flags", ())


@record(slots=True)  # one per job: no per-instance __dict__
class Decision:
    """Whether a job runs, and why (reason None: up to date, `why` says why)."""

    job: Job
    reason: str | None
    why: str = ""
    upstream: bool = False  # stale only because an upstream job runs: re-checked after it ends
    adopt: bool = False  # outputs exist without a record but are newer than the inputs
    # A gather (Job.gather) that is stale only because inputs of it will be built: not a job to
    # run of its own (-n and the counts leave it out), yet not up to date either.
    pending: bool = False
    # Up to date, but these temp() outputs were removed. (() when none: no empty list a job)
    temp_gone: Sequence[str] = ()
    # Only for adoption (recorded as if the job had run). Not kept otherwise: at 100k jobs the
    # signatures' parts held 100 MB for nothing.
    sig: tuple[str, dict[str, Any]] | None = field(default=None, repr=False)


class Decider:
    """Decides each job in dependency order; `will_run` grows as it goes. The runner tells it what
    happens meanwhile through its methods (force, mark_incomplete, ran), not by editing its sets."""

    def __init__(self, state: State | None, stats: StatCache, forced: set[Job] | None = None,
                 incomplete: set[str] | None = None, busy: dict[str, int] | None = None, adopt: bool = True):
        self.state = state
        self.stats = stats
        self.fps = Fingerprints(state, stats)
        self.forced = forced or set()
        self.incomplete = incomplete or set()
        self.incomplete_why: dict[str, str] = {}  # a reason other than an interrupted run (detached.py)
        self._returning: dict[str, bool] = {}  # rule name -> its python: body has a `return` (_returns)
        self.busy = busy or {}  # job name -> pid of the other pyrule process running it now
        self.will_run: set[Job] = set()
        # Outputs without a record, newer than the inputs, are accepted; not after a run whose
        # store was deleted during it (they may be half-written).
        self.adopt = adopt
        # temp() outputs removed after use by jobs that are otherwise up to date: their consumers
        # are judged on the fingerprint they recorded. `needed`: such jobs that must run anyway,
        # because a stale job needs those files (see decide_all).
        self.temp_gone: set[str] = set()
        self.needed: dict[Job, str] = {}

    def decide_all(self, jobs: list[Job]) -> list[Decision]:
        """Decide every job (in dependency order); then bring back the removed temp() outputs
        that a stale job needs, by running their (up-to-date) producers after all."""
        decisions = [self.decide(j) for j in jobs]
        if not self.temp_gone:
            return decisions
        by_job = {d.job: d for d in decisions}
        for d in reversed(decisions):  # consumers first: a producer revived here is seen later
            if d.reason is None:
                continue
            for dep in d.job.deps:
                dd = by_job.get(dep)
                if dd is not None and dd.reason is None and dd.temp_gone:
                    dd.reason = self.needed[dep] = f"temp output {dd.temp_gone[0]} was removed; {d.job.name} needs it"
                    self.will_run.add(dep)
        return decisions

    def force(self, job: Job) -> None:
        """The job runs whatever its signature says (-B, for a job that re-planning added)."""
        self.forced.add(job)

    def mark_incomplete(self, names: set[str]) -> None:
        """Jobs whose outputs a pyrule that died may have left half-written: they run, never adopted."""
        self.incomplete |= names

    def ran(self, job: Job) -> None:
        """The job ran and succeeded: its consumers are decided on their own signatures again
        (early cutoff), no longer as "upstream will run"."""
        self.will_run.discard(job)

    def signature(self, job: Job) -> tuple[str, dict[str, Any]]:
        """The job's signature on its inputs as they are now: the runner records it when the job
        starts. InputError if an input cannot be read."""
        return signature(job, self.fps)

    def settled(self, earlier: Decider | None = None) -> bool:
        """Whether every file hashed while racily clean, by this decider and `earlier` (the same
        run's, on the same files), still has the content decided on, now that its tick is over:
        only then may a no-op memo be left (Fingerprints.verify_racy)."""
        if earlier is not None:
            self.fps.racy |= earlier.fps.racy
        return not self.fps.racy or self.fps.verify_racy()

    def decide(self, job: Job, fresh: bool = False) -> Decision:
        try:
            d = self._decide(job, fresh)
        except InputError as e:  # stale: the runner fails it when it would start (jobs.JobLife.start)
            d = Decision(job, str(e))
        if d.reason is not None:
            self.will_run.add(job)
        else:
            self.will_run.discard(job)
        return d

    def _valued(self, job: Job) -> bool:
        """A job without outputs whose Python body returned a value at its last success: judged
        by its signature like any other job, not run whenever requested (values.py)."""
        rule = job.rule
        return rule.returns_value and self.state is not None \
            and self.state.value_of(job.name) is not None

    def _returns(self, rule) -> bool:
        """A `python:` body with a `return` of its own: its job's value comes from it (values.py)."""
        known = self._returning.get(rule.name)
        if known is None:
            from .bodyvalue import has_return

            known = self._returning[rule.name] = rule.python is not None and has_return(rule.python)
        return known

    def _decide(self, job: Job, fresh: bool) -> Decision:
        if job.waits_for is not None:
            what = "checkpoint" if job.waits_for.rule.checkpoint else "the value of"
            return Decision(job, f"waits for {what} {job.waits_for.name}", upstream=True)
        if job in self.forced:
            return Decision(job, "forced")
        if job.phony and not self._valued(job):
            if job.rule.has_body:
                if self._returns(job.rule):  # (judged by its signature once it has one: _valued)
                    return Decision(job, "no value recorded yet")
                return Decision(job, "phony rule: runs whenever requested")
            # A gather is only as done as its inputs: never "up to date" while one will be built.
            for dep in job.deps:
                if dep in self.will_run:
                    return Decision(job, f"upstream {dep.name} will run", upstream=True, pending=True)
            return Decision(job, None, why="gathers its inputs")
        if job.name in self.incomplete:
            return Decision(job, self.incomplete_why.get(job.name, "incomplete after an interrupted run"))
        if not fresh and job.name in self.busy:
            # Its outputs may be half-written: never adopt them; the runner waits for the job's
            # lock and decides again (fresh) once the other process is done with it.
            pid = self.busy[job.name]
            return Decision(job, "being built by another pyrule process" + (f" (pid {pid})" if pid else ""))
        if job in self.needed:
            return Decision(job, self.needed[job])
        missing = [p for p in job.outputs if self.stats.stat(p) is None]
        temps = job.flagged("temp") if missing else []
        for p in missing:
            if p not in temps:
                return Decision(job, f"output {p} missing")
        for dep in job.deps:
            if dep in self.will_run:
                return Decision(job, f"upstream {dep.name} will run", upstream=True)
        rec = self.state.record(job.name, fresh) if self.state else None
        if rec is None and job.phony:  # a value without a record (another program wrote it)
            return Decision(job, "no record of its last success")
        if missing and (rec is None or fresh):
            # Fresh: the job was stale when the run began, so consumers may need the file: rebuild.
            return Decision(job, f"output {missing[0]} missing")
        if rec is None and not self.adopt:
            return Decision(job, "no record of its outputs, which another pyrule may have left half-written "
                            "(the state store was deleted during its run)")
        if rec is None:
            newest_in = max((self.stats.stat(p).st_mtime_ns for p in job.inputs  # type: ignore[union-attr]  # stat checked
                             if self.stats.stat(p) and not _is_ancient(p)), default=0)
            oldest_out = min(self.stats.stat(p).st_mtime_ns for p in job.outputs)  # type: ignore[union-attr]  # none missing
            if oldest_out >= newest_in:
                return Decision(job, None, why="outputs exist and are newer than every input (adopted)", adopt=True,
                                sig=signature(job, self.fps))
            older = max((p for p in job.inputs if not _is_ancient(p)),
                        key=lambda p: self.stats.stat(p).st_mtime_ns if self.stats.stat(p) else 0)  # type: ignore[union-attr]  # stat checked
            return Decision(job, f"never built by pyrule, and input {older} is newer than its outputs")
        known = None
        if self.temp_gone and any(p in self.temp_gone for p in job.inputs):
            old = self.state.signature_of(job.name, rec)  # type: ignore[union-attr]  # a record: a store
            known = {p: fp for p, fp in zip(old.get("inputs", []), old.get("fps", [])) if p in self.temp_gone}
        sig = signature(job, self.fps, known)
        if sig[0] == rec.digest:
            if missing:
                self.temp_gone.update(missing)
                return Decision(job, None, why="signature unchanged; its temp() outputs were removed after use",
                                temp_gone=missing)
            return Decision(job, None, why="signature unchanged since its last success")
        rule = job.rule
        kind = "shell" if rule.shell is not None else "script" if rule.script is not None else "Python"
        return Decision(job, _difference(self.state.signature_of(job.name, rec), sig[1], rule.check, kind,  # type: ignore[union-attr]  # a record: a store
                                         f"script {rule.script} changed" if rule.script else "rule body changed"))


def _difference(old: dict[str, Any], new: dict[str, Any], mode: str, kind: str,
                body: str = "rule body changed") -> str:
    """The first recorded invariant that changed, in words."""
    if old.get("body") != new["body"]:
        return body
    if old.get("software") != new.get("software"):  # "container IMAGE@ID" or "venv FILE@DIGEST"
        a, b = old.get("software") or "(none)", new.get("software") or "(none)"
        if a.rpartition("@")[0] == b.rpartition("@")[0]:
            kind, _, name = a.rpartition("@")[0].partition(" ")
            return f"{'image' if kind == 'container' else 'environment'} {name} changed ({a.rpartition('@')[2]} → {b.rpartition('@')[2]})"
        return f"software changed: {a} → {b}"
    # (before params: a value is what changed the params computed from it)
    a, b = old.get("values", {}), new.get("values", {})
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name, [None, "(unread)"]), b.get(name, [None, "(unread)"])
        if x[0] != y[0]:
            return f"value of {name}: {x[1]} → {y[1]}"
    for key in ("params", "env", "names"):
        a, b = old.get(key, {}), new.get(key, {})
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                what = f"{key}.{name}" if key != "names" else f"top-level {name} in the {kind} body"
                return f"{what}: {a.get(name, '(unset)')} → {b.get(name, '(unset)')}"
    if old.get("inputs") != new["inputs"] or old.get("outputs") != new["outputs"]:
        which = "input" if old.get("inputs") != new["inputs"] else "output"
        a, b = old.get(which + "s", []), new[which + "s"]
        added = [p for p in b if p not in a]
        removed = [p for p in a if p not in b]
        change = ", ".join([*(f"+{p}" for p in added), *(f"-{p}" for p in removed)]) or "order"
        return f"{which} set changed ({change})"
    for path, a, b in zip(new["inputs"], old.get("fps", []), new["fps"]):
        if a != b:
            return f"input {path} changed ({'mtime' if mode == 'mtime' else 'content'})"
    return "signature changed"
