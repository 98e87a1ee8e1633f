"""Stage 3: Rules + requested targets -> JobGraph.

Each requested file is resolved against an index of the rules' output patterns; each new job's
inputs are resolved in turn (an explicit stack, so long chains need no deep recursion). Rules
whose inputs cannot be made are dropped; of the rest the higher priority, then the more specific
pattern wins (fewer characters matched by wildcards, like Make's shortest stem).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping

from .checkpoints import CheckpointPending, CheckpointResult, CheckpointsProxy
from .errors import Location, PipefileError, UsageError, suggest
from .graph import NO_WILDCARDS, Job, JobGraph, Wildcards
from .paths import Namespace, Paths
from .patterns import Candidate, Pattern, PatternIndex, format_wildcards, template_of
from .project import STATE_DIR, outside
from .rules import FlaggedPath, Rule, Rules, UpTo
from .stat_cache import StatCache
from .substitute import Field, context, template
from .values import ValuePending, ValuesProxy, wildcards_used

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

_NEW, _ACTIVE, _DONE = 0, 1, 2
# How many jobs deep a chain of dependencies may be. Real chains are tens or hundreds of jobs
# (the benchmarks' longest is 200; iterative workflows a few thousand); a deeper one is a rule
# that matches its own inputs without end (`{x}.txt` from `{x}.x.txt`), which would otherwise
# plan until memory runs out.
MAX_DEPTH = 10_000
# Choosing between rules looks ahead at their inputs, recursively: this far, then a candidate
# counts as makeable and the walk (with MAX_DEPTH) finds out.
_LOOKAHEAD = 100
_UNKNOWN: Any = object()  # not in a map yet


def plan(rules: Rules, targets: list[str], until: list[str] | None = None, directory: str = ".",
         stats: StatCache | None = None) -> JobGraph:
    """The job graph of `targets` (the default targets when empty), cut to `until` if given."""
    planner = Planner(rules, stats if stats is not None else StatCache(), directory)
    if targets:
        return planner.plan(targets, until or [])
    return planner.plan(default_targets(rules), until or [], "default target", rules.default_loc)


def default_targets(rules: Rules) -> list[str]:
    if rules.defaults:
        return rules.defaults
    first = rules.first()
    if first is None:
        raise UsageError("the Pipefile has no rules", Location(rules.files[0], 1) if rules.files else None,
                         hint="add a rule, e.g. 'rule all:' with an input: section")
    return [first.name]


def normpath(path: str) -> str:
    if path.startswith("./") or "/." in path or "//" in path or path.endswith("/"):
        return os.path.normpath(path)
    return path


class Planner:
    def __init__(self, rules: Rules, stats: StatCache, directory: str = "."):
        self.rules = rules
        self.stats = stats
        self.directory = directory
        self.index = PatternIndex()
        self.patterns: dict[str, list[Pattern]] = {}
        self._shell_checks: dict[str, list[Field]] = {}  # what check_rule() left to check per job
        for rule in rules.rules.values():
            pats = [Pattern(p) for p in _flat(rule.outputs)]
            self.patterns[rule.name] = pats
            if rule.shell is not None:
                fields = template(rule.shell).check_rule(rule, pats[0].names if pats else [], rules.namespace)
                if fields:
                    self._shell_checks[rule.name] = fields
            for i, p in enumerate(pats):
                self.index.add((rule, i), p)
        self.jobs: dict[tuple[str, tuple[str, ...]], dict[Any, Job]] = {}  # see _job
        self.producer: dict[str, Job | None] = {}
        self._makeable: dict[str, bool] = {}
        # Checkpoints: which jobs asked which checkpoint job, and which checkpoint jobs ran here.
        self.asked: dict[Job, list[Job]] = {}
        self.completed: set[Job] = set()
        self._asking: list[Job] = []
        self._dir_outputs: dict[str, Job] = {}
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}  # wildcard names, one tuple the jobs share
        self._plain_env: dict[str, dict[str, str]] = {}  # rule name -> its env, without env functions
        # rule name -> its outputs' and inputs' str.format templates (_templates; None: not plain)
        self._compiled: dict[str, tuple[list[str] | None, list[str] | None]] = {}
        # rule name -> (params, resources) its jobs share when no value depends on the job (None: they do)
        self._static_values: dict[str, tuple[Namespace, Namespace] | None] = {}
        proxy = rules.namespace.get("checkpoints")
        if isinstance(proxy, CheckpointsProxy):
            proxy.resolver = self._checkpoint
        # Values (values.py): which jobs read which job's value while planning, and where values
        # are read from: the run's store once the runner sets it, else the store read-only.
        self.readers: dict[Job, list[Job]] = {}
        self.value_store: Any = None  # a state.State
        values = rules.namespace.get("values")
        if isinstance(values, ValuesProxy):
            values.resolver = self._value

    # --- targets ---------------------------------------------------------------------------

    def plan(self, targets: list[str], until: list[str], option: str = "target",
             loc: Location | None = None) -> JobGraph:
        roots = [self.target_job(t, option, loc) for t in targets]
        order = self._walk([j for j in roots if j is not None])
        graph = JobGraph(order, [j for j in roots if j is not None], {}, [], list(targets), planner=self)
        producers = graph.producers
        for job in order:
            for out in job.outputs:
                producers[out] = job
        graph.sources = [p for p, j in self.producer.items() if j is None]
        return self._cut(graph, until) if until else graph

    def release(self) -> None:
        """Planning is over and no job will be re-planned (a dry run, or a run in which no job
        asked a checkpoint or read a value): let go of the maps that only planning reads (path ->
        job, the jobs by wildcards: ~200 bytes a job) before deciding."""
        self.jobs = {}
        self.producer = {}
        self._makeable = {}
        self._dir_outputs = {}
        self.stats.drop_exists_only()  # (a dry run's sources: deciding reads them only if it stats them)

    def target_job(self, target: str, option: str = "target", loc: Location | None = None) -> Job | None:
        """The job for a rule name or a file named on the command line (None: an existing source)."""
        rule = self.rules.rules.get(target)
        if rule is not None:
            if rule.phony:
                used = wildcards_used(rule) if rule.returns_value else []
                if used:  # a value-only rule with wildcards: one of its jobs is named
                    example = f"{rule.name}[" + ",".join(f"{n}=..." for n in used) + "]"
                    raise UsageError(f"rule '{target}' has wildcards: name one of its jobs, like '{example}'", rule.loc)
                return self._job(rule, {})
            if self.patterns[rule.name][0].has_wildcards:
                example = self.patterns[rule.name][0].text
                raise UsageError(f"rule '{target}' has wildcards: name a file it makes, like '{example}'",
                                 rule.loc)
            return self._job(rule, {})
        if target.endswith("]"):  # `estimate[sample=a]`: a job of a rule that makes no file (a value)
            rule = self.rules.rules.get(target.partition("[")[0])
            if rule is not None and rule.phony:
                return self._job(rule, dict(sorted(_wildcards_in(target.partition("[")[2][:-1]).items())))
        path = normpath(target)
        if path not in self.producer and not self.index.lookup(path) and not self.stats.exists(path):
            names = list(self.rules.rules) + [p.text for ps in self.patterns.values() for p in ps if not p.has_wildcards]
            hint = suggest(target, names + _listdir(path)) or "name a rule (pyrule --list) or a file a rule makes"
            raise UsageError(f"unknown {option} '{target}': no rule is named so and no rule makes it", loc, hint)
        return self.producer_of(path, None)

    def _cut(self, graph: JobGraph, until: list[str]) -> JobGraph:
        """--until: keep only the jobs the named targets need, those targets' jobs included."""
        wanted = graph.select_all("--until", until)
        keep: set[Job] = set()
        stack = list(wanted)
        while stack:
            j = stack.pop()
            if j not in keep:
                keep.add(j)
                stack.extend(j.deps)
        graph.jobs = [j for j in graph.jobs if j in keep]
        graph.targets = list(dict.fromkeys(wanted))
        graph.producers = {p: j for p, j in graph.producers.items() if j in keep}
        return graph

    # --- resolution ------------------------------------------------------------------------

    def producer_of(self, path: str, needed_by: Job | None) -> Job | None:
        """The job that makes `path`, or None when it is a source; error when it can be neither."""
        known = self.producer.get(path, _UNKNOWN)  # (no KeyError raised: the first look at a path is a miss)
        if known is not _UNKNOWN:
            return known
        candidates = self.index.lookup(path)
        if not candidates:
            owner = self._directory_owner(path) if self._dir_outputs else None
            if owner is not None:  # a file inside a directory() output is made by that output's job
                return owner
            if not self.stats.exists(path):  # (not stat(): a dry run keeps a source as exists-only)
                raise self._missing(path, needed_by)
            self.producer[path] = None
            return None
        cand = candidates[0] if len(candidates) == 1 else self._choose(path, candidates, needed_by)
        rule, _ = cand.key
        return self._job(rule, cand.wildcards, path)

    def _choose(self, path: str, candidates: list[Candidate], needed_by: Job | None) -> Candidate:
        ranked = sorted(candidates, key=lambda c: (-c.key[0].priority, c.wildcard_chars))
        viable = [c for c in ranked if self._viable(c)]
        if not viable:
            # None can be made: no tie to break; the best-ranked one reports its missing input.
            return ranked[0]
        best = viable[0]
        rivals = [c for c in viable[1:] if c.key[0] is not best.key[0]
                  and c.key[0].priority == best.key[0].priority and c.wildcard_chars == best.wildcard_chars]
        if rivals:
            a, b = best.key[0], rivals[0].key[0]

            def named(r: Rule) -> str:  # (a rule made through the Python API may have no location)
                return f"'{r.name}' ({r.loc})" if r.loc else f"'{r.name}'"

            raise PipefileError(
                f"ambiguous: rules {named(a)} and {named(b)} can both make '{path}'"
                + (f" (needed by {needed_by.name})" if needed_by else ""),
                a.loc or b.loc, "give one of them a higher 'priority:', or make one output pattern more specific",
            )
        return best

    def _viable(self, cand: Candidate) -> bool:
        """Can every input of this candidate's job be made (or does it exist)?"""
        rule, _ = cand.key
        try:
            inputs = self._inputs(rule, cand.wildcards, None)
        except PipefileError:
            return False
        return all(self._can_make(p) for p in inputs)

    _lookahead = 0

    def _can_make(self, path: str) -> bool:
        if path in self.producer or self.stats.exists(path):
            return True
        known = self._makeable.get(path)
        if known is not None:
            return known
        if self._lookahead >= _LOOKAHEAD:
            return True  # not known this far ahead: the walk decides (and stops a chain without end)
        self._makeable[path] = False  # guards against cycles while checking
        self._lookahead += 1
        try:
            ok = any(self._viable(c) for c in self.index.lookup(path))
        finally:
            self._lookahead -= 1
        self._makeable[path] = ok
        return ok

    def _missing(self, path: str, needed_by: Job | None) -> PipefileError | UsageError:
        if needed_by is None:
            return UsageError(f"no rule to make '{path}'", hint="name a rule (pyrule --list) or a file a rule makes")
        why = f"needed by {needed_by.name}" + (f" for '{needed_by.outputs[0]}'" if needed_by.outputs else "")
        named = self.rules.rules.get(path)
        if named is not None and named.phony:  # `out: all` where `all` is a rule that makes no file
            chain = self._chain(self.jobs.get((path, ()), {}).get(()), needed_by)
            what = (f"dependency cycle: {' -> '.join([*chain, path])}: " if chain else "") + \
                f"'{path}' is a rule that makes no file, and an input must be a file ({why})"
            return PipefileError(what, needed_by.rule.where("input"),
                                 f"remove '{path}' from the inputs; to need the files rule '{path}' gathers, name them")
        near = suggest(os.path.basename(path), [os.path.basename(p) for p in _listdir(path)])
        hint = (f"{near} " if near else "") + "create the file, or add a rule whose output matches it"
        return PipefileError(f"no rule to make '{path}' ({why})", needed_by.rule.where("input"), hint)

    @staticmethod
    def _chain(start: Job | None, end: Job) -> list[str]:
        """Job names from `start` to `end` along the dependencies found so far ([] if none)."""
        if start is None:
            return []
        seen, stack = {start}, [(start, [start.name])]
        while stack:
            job, names = stack.pop()
            if job is end:
                return names
            for dep in job.deps:
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, [*names, dep.name]))
        return []

    # --- jobs ------------------------------------------------------------------------------

    def _job(self, rule: Rule, wildcards: Mapping[str, str], path: str | None = None) -> Job:
        """The job of `rule` for these wildcards (made once); `path`: the file it was asked for,
        one of its outputs, whose string the job keeps rather than an equal copy."""
        # The jobs by rule and wildcard names (in their order), then by the values: the value
        # itself (one wildcard) or the tuple of them, which the job's Wildcards keeps: no key
        # object a job (a tuple of the rule name, names and values was 64 bytes a job).
        names = tuple(wildcards)
        jobs = self.jobs.get((rule.name, names))
        if jobs is None:
            names = self._names.setdefault(names, names)
            jobs = self.jobs[(rule.name, names)] = {}
        key = next(iter(wildcards.values())) if len(names) == 1 else tuple(wildcards.values())
        job = jobs.get(key)
        if job is not None:
            return job
        outputs = self._formatted(rule, wildcards, 0)
        if outputs is None:
            outputs = Paths.from_items(_format_items(rule.outputs, wildcards))
        if path is not None and path.__class__ is str:
            for i, out in enumerate(outputs):
                if out == path and out.__class__ is str:
                    outputs[i] = path
                    break
        # Only a value that is empty or holds '.' or '/' can lead a path out of the project:
        # the common case (names, numbers) skips the checks below.
        risky = False
        for v in wildcards.values():
            if not v or "." in v or "/" in v:
                risky = True
                break
        if risky and any(_escapes(v) for v in wildcards.values()):
            bad = next(v for v in wildcards.values() if _escapes(v))
            raise PipefileError(f"rule '{rule.name}': wildcard value '{bad}' would reach outside the project",
                                rule.where("output"), "such paths are refused; name files inside the project")
        if risky:
            # Values harmless one by one can still combine with the pattern's own text into a
            # path out of the project or onto the project itself (`{name}.` with name='.' is
            # '..'): a failed or forced job would then remove it.
            neutral = {k: "x" for k in wildcards}
            for pattern, out in zip(_flat(rule.outputs), outputs):
                if outside(out) and not outside(format_wildcards(pattern, neutral)):
                    shown = ",".join(f"{k}={v}" for k, v in wildcards.items())
                    raise PipefileError(
                        f"rule '{rule.name}': with {shown} the output '{out}' would be "
                        + ("the project directory itself" if os.path.normpath(out) == "." else "outside the project"),
                        rule.where("output"), "such paths are refused; name files inside the project")
        _check_utf8(rule, "output", outputs)
        for out in outputs:
            # cheap tests first: most paths pass them (a non-ASCII name may have over 255 bytes in fewer characters)
            if len(out) > 255 or STATE_DIR in out or not out.isascii():
                _check_output_path(rule, out)
        shared = self._shared_values(rule)
        if len(names) == 1:  # (the common case, without a list to join)
            name = f"{rule.name}[{names[0]}={key}]"
        else:
            name = rule.name + ("[" + ",".join([f"{k}={v}" for k, v in wildcards.items()]) + "]" if wildcards else "")
        # Plain input templates (no input function, nothing named or flagged) need nothing of the
        # job: formatted now, without a placeholder list made and replaced.
        inputs = self._formatted(rule, wildcards, 1)
        job = Job(
            rule=rule,
            wildcards=Wildcards(self._names[names], key) if wildcards else NO_WILDCARDS,
            name=name,
            outputs=outputs,
            inputs=inputs if inputs is not None else Paths(),
            log=format_wildcards(rule.log, wildcards) if rule.log else None,
            params=shared[0] if shared is not None else Namespace(),
            resources=shared[1] if shared is not None else Namespace(),
            env=self._rule_env(rule),
        )
        jobs[key] = job
        producer = self.producer
        for out in outputs:
            producer[out] = job
            if out.__class__ is not str and "directory" in getattr(out, "flags", ()):
                self._dir_outputs[out] = job
        try:
            if shared is None:  # (else the job has its values: the pair its rule's jobs share)
                self._values(job)
            if inputs is None:
                job.inputs = self._inputs(rule, wildcards, job)
            _check_utf8(rule, "input", job.inputs)
            self._check_shell(job)
        except BaseException:
            del jobs[key]
            if not jobs:
                del self.jobs[(rule.name, names)]
            raise
        return job

    def _rule_env(self, rule: Rule) -> dict[str, str]:
        """The environment values of a rule without env functions: one dict its jobs share
        (_values() gives a job of a rule with env functions its own)."""
        env = self._plain_env.get(rule.name)
        if env is None:
            env = self._plain_env[rule.name] = {k: str(v) for k, v in rule.env.items() if not callable(v)}
        return env

    def _check_shell(self, job: Job) -> None:
        """Every `{...}` of the job's shell body can be substituted: a typo in a reference, or a
        path that cannot be written in its quotes, is an error before any job runs."""
        fields = self._shell_checks.get(job.rule.name)
        if fields and job.waits_for is None:  # (a job waiting for a checkpoint is checked when re-planned)
            ns = self.rules.namespace
            template(job.rule.shell).check(fields, context(job, ns), job.wildcards, ns, job.rule.name,
                                           job.rule.where("shell"))

    def _directory_owner(self, path: str) -> Job | None:
        if not self._dir_outputs:
            return None
        parent = os.path.dirname(path)
        while parent:
            job = self._dir_outputs.get(parent)
            if job is not None:
                return job
            parent = os.path.dirname(parent)
        return None

    # --- checkpoints -----------------------------------------------------------------------

    def _checkpoint(self, name: str, wildcards: dict[str, str]) -> CheckpointResult:
        """checkpoints.NAME.get(**wildcards), called from an input function."""
        rule = self.rules.rules[name]
        asking = self._asking[-1] if self._asking else None
        # (a wildcard left out would stay as written in the output paths: '{s}/list.txt')
        missing = [n for p in self.patterns[name] for n in p.names if n not in wildcards]
        if missing:
            raise PipefileError(f"checkpoints.{name}.get(): no value for wildcard '{missing[0]}'", rule.where("output"),
                                "pass every wildcard of the checkpoint's outputs, e.g. get(**wildcards)")
        job = self._job(rule, wildcards)
        if asking is not None and asking is not job:
            askers = self.asked.setdefault(job, [])
            if asking not in askers:
                askers.append(asking)
            # The asking job runs after the checkpoint even if it only reads its outputs in an
            # input function (a sample sheet) and none of them is among its inputs.
            if job not in asking.after:
                asking.after = [*asking.after, job]
        if job in self.completed or all(self.stats.exists(p) for p in job.outputs):
            return CheckpointResult(job.outputs, wildcards)
        raise CheckpointPending(job)

    # --- values ----------------------------------------------------------------------------

    def _value(self, name: str, wildcards: dict[str, str]) -> Any:
        """values.NAME.get(**wildcards), called from a params, resources, env or input function:
        the job's value; ValuePending while it has none (the asking job waits for it)."""
        rule = self.rules.rules[name]
        if rule.outputs:
            pats = self.patterns[name]
            missing = [n for p in pats for n in p.names if n not in wildcards]
            if missing:
                raise PipefileError(f"values.{name}.get(): no value for wildcard '{missing[0]}'", rule.where("output"),
                                    "pass every wildcard of the rule's outputs, e.g. get(**wildcards)")
            names = [n for p in pats for n in p.names]
            wildcards = {n: wildcards[n] for n in dict.fromkeys(names)}
        else:  # a value-only rule: its jobs are named by the wildcards they are asked with
            missing = [n for n in wildcards_used(rule) if n not in wildcards]
            if missing:
                raise PipefileError(f"values.{name}.get(): no value for wildcard '{missing[0]}' (rule '{name}' uses it)",
                                    rule.where("input") or rule.loc, "pass it, e.g. get(**wildcards)")
            wildcards = dict(sorted(wildcards.items()))
        job = self._job(rule, wildcards)
        asking = self._asking[-1] if self._asking else None
        if asking is not None and asking is not job:
            readers = self.readers.setdefault(job, [])
            if asking not in readers:
                readers.append(asking)
            if job not in asking.after:  # it runs after the job whose value it reads
                asking.after = [*asking.after, job]
            if job not in asking.reads:
                asking.reads = (*asking.reads, job)
        stored = self._stored(job.name)
        if stored is None:
            if job in self.completed:  # it ran in this run, and returned nothing
                raise PipefileError(f"values.{name}.get(): job {job.name} ran but returned no value (None)"
                                    + (f", which {asking.name} needs" if asking is not None else ""),
                                    rule.where("python") or rule.loc, "end its Python body with `return VALUE`")
            raise ValuePending(job)
        return stored.load()

    def _stored(self, name: str) -> Any:
        if self.value_store is None:
            from .state import State, StateError

            if not os.path.exists(os.path.join(STATE_DIR, "state.db")):
                return None
            try:
                self.value_store = State(STATE_DIR, readonly=True)
            except StateError:
                return None
        return self.value_store.value_of(name)

    def checkpoint_ran(self, checkpoint: Job) -> None:
        """The checkpoint job has run (its outputs may be new): `checkpoints.NAME.get()` answers."""
        self.completed.add(checkpoint)

    def replan(self, job: Job) -> list[Job]:
        """Resolve `job`'s inputs again (a checkpoint it asked has run): the jobs it now needs, in order."""
        job.waits_for = None
        job.deps = ()
        job.after = ()
        job.reads = ()
        self._values(job)
        job.inputs = self._inputs(job.rule, job.wildcards, job)
        self._check_shell(job)
        return self._walk([job])

    def _shared_values(self, rule: Rule) -> tuple[Namespace, Namespace] | None:
        """The rule's (params, resources) when all its jobs have the same (_static_values)."""
        try:
            return self._static_values[rule.name]
        except KeyError:
            shared = self._static_values[rule.name] = _static_values(rule)
            return shared

    def _values(self, job: Job) -> None:
        """The job's params, resources and env functions' values. A function among them may ask
        a checkpoint that has not run yet: the job then waits for it (as for an input function)
        and gets its values when it is re-planned."""
        rule = job.rule
        shared = self._shared_values(rule)
        if shared is not None:  # the same values for every job of the rule: one pair it shares
            job.params, job.resources = shared
            return
        env_functions = any(callable(v) for v in rule.env.values())
        self._asking.append(job)
        try:
            job.params = Namespace(_evaluated(rule, "params", rule.params, job.wildcards, job.name))
            job.resources = Namespace(_evaluated(rule, "resources", rule.resources, job.wildcards, job.name))
            for key in ("mem", "runtime"):
                if callable(rule.resources.get(key)):  # a function's "2G" or 30: as the literal's
                    job.resources[key] = _unit(rule, key, job.resources[key], job.name)
            cores = job.resources.get("cores")
            if isinstance(cores, UpTo):  # `cores = upto(N)`: what the budget gives, at most N
                job.resources["cores"] = cores.given(self.rules.cores_budget)
            if env_functions:
                job.env = {k: str(_call(rule, "env", v, job.wildcards, job.name) if callable(v) else v)
                           for k, v in rule.env.items()}
        except CheckpointPending as pending:
            job.waits_for = pending.job
        finally:
            self._asking.pop()

    def _formatted(self, rule: Rule, wildcards: Mapping[str, str], which: int) -> Paths | None:
        """The rule's outputs (which=0) or inputs (1) for these wildcards by its compiled
        templates, when every item is one plain unnamed path string; None: the general way."""
        try:
            compiled = self._compiled[rule.name]
        except KeyError:
            compiled = self._compiled[rule.name] = (_templates(rule.outputs), _templates(rule.inputs))
        templates = compiled[which]
        if templates is None or not wildcards:  # (no wildcards: nothing is formatted, `{{` stays)
            return None
        try:
            if len(templates) == 1:  # (the common case, without a list comprehension)
                path = templates[0].format_map(wildcards)
                return Paths((path if which == 0 else normpath(path),))
            if which == 0:
                return Paths([t.format_map(wildcards) for t in templates])
            return Paths([normpath(t.format_map(wildcards)) for t in templates])
        except KeyError:  # a field that is no wildcard of this job: format_wildcards leaves it as written
            return None

    def _inputs(self, rule: Rule, wildcards: Mapping[str, str], job: Job | None) -> Paths:
        fast = self._formatted(rule, wildcards, 1)
        if fast is not None:
            return fast
        items: list = []
        self._input_items(rule, wildcards, job, items)
        return self._input_paths(items, wildcards)

    def _input_items(self, rule: Rule, wildcards: Mapping[str, str], job: Job | None, items: list) -> None:
        for item_name, value in rule.inputs:
            if callable(value):
                if job is not None:
                    self._asking.append(job)
                try:
                    value = _call(rule, "input", value, wildcards, job.name if job else rule.name)
                except CheckpointPending as pending:
                    # Until the checkpoint has run, the job needs the checkpoint's outputs.
                    # (the checkpoint's outputs are among its inputs: see _checkpoint)
                    if job is not None:
                        job.waits_for = pending.job
                    continue
                finally:
                    if job is not None:
                        self._asking.pop()
                if isinstance(value, dict):
                    items.extend(value.items())
                    continue
                if not isinstance(value, str):
                    try:
                        value = [str(v) for v in value]
                    except TypeError:
                        raise PipefileError(f"rule '{rule.name}': input function returned {type(value).__name__}",
                                            rule.where("input"), "return a path or a list of paths") from None
            items.append((item_name, value))

    def _input_paths(self, items: list, wildcards: Mapping[str, str]) -> Paths:
        paths = Paths.from_items(_format_items(items, wildcards))
        if len(paths) > 1 and _all_normal(paths):  # (an expand() list of thousands: tested at once)
            return paths
        for i, p in enumerate(paths):
            n = normpath(p)
            if n is not p:
                paths[i] = n
        return paths

    def _walk(self, roots: list[Job]) -> list[Job]:
        """Resolve every job's inputs depth-first; return jobs in dependency order."""
        state: dict[Job, int] = {}
        order: list[Job] = []
        producer_of = self.producer_of
        for root in roots:
            if state.get(root, _NEW) != _NEW:
                continue
            state[root] = _ACTIVE
            # (job, its inputs still to resolve, its deps so far as a set: no quadratic `in list`)
            stack: list[tuple[Job, Any, set]] = [(root, _needs(root), set(root.deps))]
            while stack:
                job, it, seen = stack[-1]
                for path in it:
                    try:
                        dep = path if isinstance(path, Job) else producer_of(path, job)
                    except NameTooLong:
                        if len(stack) < 8:  # not a chain: the name itself is too long
                            raise
                        raise self._endless(stack, "until the name is too long for a file") from None
                    if dep is None:
                        continue
                    if dep not in seen:
                        seen.add(dep)
                        if isinstance(job.deps, list):
                            job.deps.append(dep)
                        else:  # its first
                            job.deps = [dep]
                    st = state.get(dep, _NEW)
                    if st == _NEW:
                        if len(stack) >= MAX_DEPTH:
                            raise self._endless(stack, f"over {MAX_DEPTH:,} jobs deep")
                        state[dep] = _ACTIVE
                        stack.append((dep, _needs(dep), set(dep.deps)))
                        break
                    if st == _ACTIVE:
                        raise self._cycle(stack, dep)
                else:
                    state[job] = _DONE
                    order.append(job)
                    stack.pop()
        return order

    def _cycle(self, stack: list[tuple[Job, Any, set]], dep: Job) -> PipefileError:
        path = [entry[0] for entry in stack]
        cycle = path[path.index(dep):] + [dep]
        return PipefileError(
            "dependency cycle: " + " -> ".join(j.name for j in cycle),
            dep.rule.where("input"), "a job cannot need its own output; break the cycle by renaming an output",
        )

    def _endless(self, stack: list[tuple[Job, Any, set]], how: str) -> PipefileError:
        """A chain of jobs that does not end: its first steps, and the rules that repeat."""
        jobs = [entry[0] for entry in stack]
        rules = list(dict.fromkeys(j.rule.name for j in jobs[-50:]))
        start = next(i for i, j in enumerate(jobs) if j.rule.name in rules)  # (after an `all`, say)
        steps = [f"{j.outputs[0] if j.outputs else j.name} ({j.name})" for j in jobs[start:start + 4]]
        shown = ", ".join(f"'{r}'" for r in rules[:3])
        who = f"rules {shown} keep matching their own" if len(rules) > 1 else f"rule {shown} keeps matching its own"
        last = jobs[-1].rule
        return PipefileError(
            f"a chain of inputs without end ({how}): {who} inputs:\n    "
            + "\n    needs ".join(steps) + "\n    needs ...",
            last.where("input") or last.loc,
            "make the input pattern unable to match the output again, e.g. constrain the wildcard "
            "('{x,[^.]+}'); a chain may be at most " + f"{MAX_DEPTH:,} jobs deep")


def _needs(job: Job):
    """What a job must wait for: its inputs' producers, then the checkpoints it asked."""
    return itertools.chain(job.inputs, job.after) if job.after else iter(job.inputs)


def job_target(rules: Rules, name: str) -> str | None:
    """The first output of the job named `name` (`square[i=7]`), as a target to plan; None
    when no rule's job can be so named."""
    for rule in rules.rules.values():
        if name.startswith(rule.name + "[") and name.endswith("]"):
            wildcards = _wildcards_in(name[len(rule.name) + 1:-1])
            outputs = _flat(rule.outputs)
            pattern = Pattern(outputs[0]) if outputs else None
            if pattern is not None and set(pattern.names) == set(wildcards):
                return normpath(pattern.format(wildcards))
    return None


def _wildcards_in(text: str) -> dict[str, str]:
    """`a=1,b=x` (a job name's brackets) as a dict."""
    wildcards: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep and key.isidentifier():
            wildcards[key] = value
        elif wildcards:  # a value holding a comma
            key = next(reversed(wildcards))
            wildcards[key] += "," + part
    return wildcards


def _flat(items) -> list[str]:
    out: list[str] = []
    for _, v in items:
        out.extend([v] if isinstance(v, str) else v)
    return out


def _format_items(items, wildcards: Mapping[str, str]) -> list:
    if not wildcards:
        return items
    return [(n, _format(v, wildcards) if isinstance(v, str) else [_format(x, wildcards) for x in v])
            for n, v in items]


def _templates(items) -> list[str] | None:
    """One rule's outputs or inputs as str.format templates (format_wildcards' own), made once
    per rule rather than looked up per job; None unless every item is one unnamed, unflagged
    path string (a name, a list, flags or an input function take the general way)."""
    if any(name is not None or value.__class__ is not str for name, value in items):
        return None
    return [template_of(value) for _, value in items]


def _format(value: str, wildcards: Mapping[str, str]) -> str:
    """Fill in the wildcards; a temp()/protected()/directory() path keeps its flags."""
    text = format_wildcards(value, wildcards)
    return text if value.__class__ is str else FlaggedPath(text, value.flags)  # type: ignore[attr-defined]  # a FlaggedPath


def _call(rule: Rule, section: str, fn: Callable, wildcards: Mapping[str, str], job_name: str) -> Any:
    try:
        return fn(Namespace(wildcards))
    except (PipefileError, CheckpointPending):
        raise
    except Exception as e:  # noqa: BLE001 - user code
        where, called = rule.where(section), None
        inside = _user_line(e)
        if inside is not None and inside != where:  # the line that raised; the hint names the caller
            called = f"the function was called by the {section}: section at {where}" if where else None
            where = inside
        raise PipefileError(f"rule '{rule.name}': the {section} function failed for {job_name}: {type(e).__name__}: {e}",
                            where, called) from None


def phony_hint(job: Job, missing: list[str]) -> str:
    """For a job that did not create its one output named like its rule (`clean:` then
    `rm -rf build`, Make's phony target): how to write a rule that makes no file."""
    name = job.rule.name
    if len(job.outputs) != 1 or missing != [name] or os.path.lexists(name):
        return ""
    return (f"; '{name}' looks like a phony target (a name to run, not a file it makes): "
            f"write it as 'rule {name}:' with a 'shell:' section and no 'output:'")


def _user_line(e: BaseException) -> Location | None:
    """The deepest line of the user's code (a Pipefile or their module) in the traceback."""
    import linecache
    import sysconfig

    skip = (os.path.dirname(__file__), sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"])
    found = None
    tb = e.__traceback__
    while tb is not None:
        file = tb.tb_frame.f_code.co_filename
        if not file.startswith(skip) and not file.startswith("<"):
            found = (file, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None
    text = linecache.getline(*found)
    return Location(found[0], found[1], len(text) - len(text.lstrip()) + 1)  # (1 when the line is gone: '')


def _evaluated(rule: Rule, section: str, values: dict[str, Any], wildcards: Mapping[str, str], job_name: str) -> dict:
    out = {}
    for k, v in values.items():
        if callable(v):
            v = _call(rule, section, v, wildcards, job_name)
        elif isinstance(v, str) and wildcards:
            v = format_wildcards(v, wildcards)
        out[k] = v
    return out


def _unit(rule: Rule, key: str, value: Any, job_name: str) -> Any:
    """A `mem` or `runtime` a resources function returned, in bytes or seconds (as define.py
    reads the literal ones: "2G", a bare number of megabytes or minutes)."""
    from .units import parse_duration, parse_size

    try:
        return parse_size(value) if key == "mem" else parse_duration(value)
    except (ValueError, TypeError) as e:
        raise PipefileError(f"rule '{rule.name}': the resources function for {key} returned {value!r} for "
                            f"{job_name}: {e}", rule.where("resources"),
                            "return a size like \"2G\" (mem) or a duration like \"2h\" (runtime)") from None


def _static_values(rule: Rule) -> tuple[Namespace, Namespace] | None:
    """A rule's params and resources when they are the same for all its jobs (no function, no
    string that could name a wildcard, no `upto()`): then its jobs share one pair (at a million
    jobs, two dicts a job were ~300 MB). None when any value is the job's own."""
    if any(callable(v) for v in rule.env.values()):
        return None
    for v in (*rule.params.values(), *rule.resources.values()):
        if callable(v) or isinstance(v, UpTo) or (isinstance(v, str) and ("{" in v or "}" in v)):
            return None
    return Namespace(rule.params), Namespace(rule.resources)


def _joined(paths, sep: str) -> str:
    """The paths joined (to test a long list at C speed); "\0/" when one is no string (then the
    caller tests them one by one, as it would have)."""
    try:
        return sep.join(paths)
    except TypeError:
        return "\0/"


def _all_normal(paths) -> bool:
    """Whether normpath() leaves every path of the list as it is: tested on the list joined, as
    no path has './' at its start, '/.' or '//' in it, nor '/' at its end."""
    text = _joined(paths, "\n")
    return not (text.startswith("./") or "\n./" in text or "/." in text or "//" in text or "/\n" in text
                or text.endswith("/"))


def _escapes(value: str) -> bool:
    return value.startswith("/") or value == ".." or value.startswith("../") or "/../" in value or value.endswith("/..")


def _check_utf8(rule: Rule, section: str, paths) -> None:
    """File names that are not UTF-8 (undecodable bytes, as os.listdir gives them) cannot be
    recorded in the state store, the run log or the stats: refuse them up front."""
    if len(paths) > 1:  # (an expand() list of thousands: tested at once)
        text = _joined(paths, "")
        if text.isascii() and "\0" not in text:
            return
    for p in paths:
        if "\0" in p:  # no file name holds one (os.stat would raise ValueError)
            raise PipefileError(f"rule '{rule.name}': the {section} {str(p)!r} contains a NUL character",
                                rule.where(section) or rule.loc, "a path cannot hold '\\0'")
        if p.isascii():
            continue
        try:
            str(p).encode("utf-8")
        except UnicodeEncodeError:
            shown = str(p).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise PipefileError(f"rule '{rule.name}': the {section} '{shown}' is not a UTF-8 file name",
                                rule.where(section) or rule.loc,
                                "pyrule needs file names that are valid UTF-8; rename the file") from None


class NameTooLong(PipefileError):
    """An output path no file system can hold (a component over 255 bytes, or over 4095 in all)."""


def _check_output_path(rule: Rule, out: str) -> None:
    """Refuse an output inside .pyrule/ (pyrule's own state, locks and logs) or one no file can have."""
    parts = os.path.normpath(out).split("/")
    if parts[0] == STATE_DIR:
        raise PipefileError(f"rule '{rule.name}': the output '{out}' is inside {STATE_DIR}/, pyrule's own state",
                            rule.where("output"), "no job may write there; name a file elsewhere in the project")
    size = len(out.encode("utf-8", "surrogateescape"))
    if size > 4095 or any(len(p.encode("utf-8", "surrogateescape")) > 255 for p in parts):
        raise NameTooLong(f"rule '{rule.name}': the output '{out[:60]}...' ({size} bytes) is too long for a file name",
                          rule.where("output"), "a path may have at most 4095 bytes, each of its names 255")


def _listdir(path: str) -> list[str]:
    d = os.path.dirname(path)
    try:
        return [os.path.join(d, n) for n in os.listdir(d or ".")][:1000]
    except OSError:
        return []
